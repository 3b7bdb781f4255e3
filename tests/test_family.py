"""The dropout family (per-layer keep, DropConnect, Gaussian noise, groups): the exact engine against
independent brute force, Monte Carlo against exact, the identities that must hold between variants,
gradients against finite differences, and the training loop's loss against the exact criterion."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import theory
from sgd.training import noisy_loss, run_noise
from theory.network import random_network
from theory.enumeration import brute_force_criterion
from theory.noise import noise_shape

RTOL = 1e-10
Z = 5.0   # Monte Carlo: |mc - exact| <= 5 standard errors, fixed keys

# Every exact evaluation compiles one program per shape and per pattern of noiseless layers, so the
# tests share a few of each: d = 1, 2, 3 with N = 3 examples, random values, and a keep pattern per
# depth ("p" a random keep probability, 1 a layer without noise) that exercises every route.
SHAPES = ([2, 1], [2, 3, 1], [2, 2, 3, 1])
KEEP_PATTERNS = {
    "dropout": ("p", (1, "p"), ("p", 1, "p")),          # PyTorch's placement; a kept middle layer
    "dropconnect": ("p", ("p", "p"), ("p", 1, "p")),    # row masks in the tail; weights enumerated
    "gaussian": ("p", ("p", "p"), (1, "p", "p")),       # the last two dropout layers only
}
GROUPS = [[5, 5], None, [1, 2, 1]]                       # for SHAPES[2], all layers noisy


def variant_case(seed, noise, depth, pattern=None):
    """A random network of SHAPES[depth - 1] with negative weights, biases and inputs, unequal
    example probabilities and per-layer keeps following KEEP_PATTERNS (or ``pattern``)."""
    rng = np.random.default_rng(seed)
    params = random_network(rng, SHAPES[depth - 1])
    X, Y = rng.normal(size=(3, 2)) * 1.5, rng.normal(size=3) * 2
    pattern = np.atleast_1d(pattern or KEEP_PATTERNS[noise][depth - 1])
    keep = tuple(1.0 if v == "1" else float(rng.uniform(0.2, 0.9)) for v in pattern)
    return params, X, Y, rng.dirichlet(np.ones(3)), keep


@pytest.mark.parametrize("noise", ["dropout", "dropconnect", "gaussian"])
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("seed", range(2))
def test_exact_matches_brute_force_for_every_variant(noise, depth, seed):
    params, X, Y, weights, keep = variant_case(seed, noise, depth)
    expected = brute_force_criterion(params, X, Y, weights, keep, noise=noise)
    got = theory.dropout_criterion(params, X, Y, keep_prob=keep, noise=noise, weights=weights,
                                   method="enumerate")
    np.testing.assert_allclose(got, expected, rtol=RTOL)


@pytest.mark.parametrize("seed", range(4))
def test_group_dropout_matches_brute_force(seed):
    params, X, Y, weights, keep = variant_case(seed, "dropout", 3, ("p", "p", "p"))
    expected = brute_force_criterion(params, X, Y, weights, keep, groups=GROUPS)
    got = theory.dropout_criterion(params, X, Y, keep_prob=keep, groups=GROUPS, weights=weights,
                                   method="enumerate")
    np.testing.assert_allclose(got, expected, rtol=RTOL)


def test_one_node_per_group_is_node_dropout():
    params, X, Y, weights, keep = variant_case(200, "dropout", 3)
    singletons = [np.arange(n)[::-1] * 5 for n in SHAPES[2][:-1]]        # ids in any order
    assert theory.dropout_criterion(params, X, Y, keep_prob=keep, groups=singletons) == \
        theory.dropout_criterion(params, X, Y, keep_prob=keep)


@pytest.mark.parametrize("depth", [1, 2])
def test_last_layer_noise_is_the_same_for_every_kind(depth):
    """With only the last dropout layer noisy, DropConnect (one weight per node on the output) and
    Gaussian noise (same two moments) give node dropout's J_D exactly."""
    params, X, Y, _, keep = variant_case(300, "dropout", depth)     # keep (p,) or (1, p)
    node = theory.dropout_criterion(params, X, Y, keep_prob=keep)
    for noise in ("dropconnect", "gaussian"):
        np.testing.assert_allclose(theory.dropout_criterion(params, X, Y, keep_prob=keep,
                                                            noise=noise), node, rtol=1e-12)


@pytest.mark.parametrize("noise", ["dropout", "dropconnect"])
def test_linear_regime_route_for_groups_and_dropconnect(noise):
    rng = np.random.default_rng(400)
    params = random_network(rng, SHAPES[2], nonnegative=True)
    X, Y = np.abs(rng.normal(size=(3, 2))), rng.normal(size=3)
    keep = (0.3, 1.0, 0.6) if noise == "dropconnect" else (0.3, 0.6, 0.8)
    grouping = GROUPS if noise == "dropout" else None
    kwargs = dict(keep_prob=keep, noise=noise, groups=grouping)
    linear = theory.dropout_criterion(params, X, Y, method="linear", **kwargs)
    np.testing.assert_allclose(linear, theory.dropout_criterion(params, X, Y, method="enumerate",
                                                                **kwargs), rtol=RTOL)
    np.testing.assert_allclose(linear, brute_force_criterion(params, X, Y, np.full(3, 1 / 3), keep,
                                                             noise=noise, groups=grouping),
                               rtol=RTOL)


@pytest.mark.parametrize("noise,analytic_last_layer", [
    ("dropout", False), ("dropconnect", False), ("gaussian", True)])
def test_monte_carlo_agrees_with_exact_for_every_variant(key, noise, analytic_last_layer):
    params, X, Y, weights, keep = variant_case(7, noise, 3, ("p", "p", "p")
                                               if noise == "dropout" else None)
    groups = GROUPS if noise == "dropout" else None
    exact = theory.dropout_criterion(params, X, Y, keep_prob=keep, noise=noise, groups=groups,
                                     weights=weights)
    mean, se = theory.mc_dropout_criterion(key, params, X, Y, keep_prob=keep, noise=noise,
                                           groups=groups, num_samples=20_000, weights=weights,
                                           analytic_last_layer=analytic_last_layer)
    assert abs(mean - exact) <= Z * se


def test_gaussian_noise_beyond_the_last_two_layers_has_no_exact_route_but_monte_carlo(key):
    rng = np.random.default_rng(8)
    params = random_network(rng, [2, 3, 3, 1])
    X, Y = rng.normal(size=(2, 2)), rng.normal(size=2)
    with pytest.raises(ValueError, match="no exact route.*Gaussian.*mc_dropout_criterion"):
        theory.dropout_criterion(params, X, Y, keep_prob=0.5, noise="gaussian")
    mean, se = theory.mc_dropout_criterion(key, params, X, Y, keep_prob=0.5, noise="gaussian",
                                           num_samples=1000)
    assert np.isfinite(mean) and se > 0


def test_kept_layers_are_not_enumerated():
    rng = np.random.default_rng(9)
    wide = random_network(rng, [50, 500, 1])
    assert theory.num_enumerated_patterns(wide, keep_prob=(1.0, 0.5)) == 1
    assert theory.num_enumerated_patterns(wide, keep_prob=(1.0, 0.5), noise="dropconnect") == 1
    deep = random_network(rng, [30, 12, 5, 1])
    assert theory.num_enumerated_patterns(deep, keep_prob=(1.0, 0.5, 0.5)) == 2 ** 12
    assert theory.num_enumerated_patterns(deep) == 2 ** 42
    grouped = [None, np.repeat(np.arange(3), 4), None]
    assert theory.num_enumerated_patterns(deep, keep_prob=(1.0, 0.5, 0.5), groups=grouped) == 8
    X, Y = rng.normal(size=(3, 30)), rng.normal(size=3)
    np.testing.assert_allclose(  # 2^42 patterns without the keep-1 inputs: only 2^12 enumerated
        theory.dropout_criterion(deep, X, Y, keep_prob=(1.0, 0.5, 0.5)),
        theory.dropout_criterion(deep, X, Y, keep_prob=(1.0, 0.5, 0.5), method="enumerate",
                                 max_patterns=2 ** 12), rtol=0)


def test_pytorch_placement_at_width_500_matches_monte_carlo(key):
    """d = 2, inputs kept, K = 50, n = 500: one pattern, checked against sampling every node."""
    rng = np.random.default_rng(10)
    params = random_network(rng, [50, 500, 1], scale=0.1)
    X, Y = rng.normal(size=(8, 50)), rng.normal(size=8)
    exact = theory.dropout_criterion(params, X, Y, keep_prob=(1.0, 0.5))
    mean, se = theory.mc_dropout_criterion(key, params, X, Y, keep_prob=(1.0, 0.5),
                                           num_samples=2000)
    assert abs(mean - exact) <= Z * se


def test_dropconnect_d2_is_linear_in_width(key):
    """DropConnect at d = 2 enumerates n 2^K row masks, so K = 6 with 60 hidden units is exact
    (brute force over every weight would need 2^420 patterns)."""
    rng = np.random.default_rng(11)
    params = random_network(rng, [6, 60, 1], scale=0.3)
    X, Y = rng.normal(size=(3, 6)), rng.normal(size=3)
    assert theory.num_enumerated_patterns(params, noise="dropconnect") == 2 ** 6
    exact = theory.dropout_criterion(params, X, Y, keep_prob=(0.6, 0.8), noise="dropconnect")
    mean, se = theory.mc_dropout_criterion(key, params, X, Y, keep_prob=(0.6, 0.8),
                                           noise="dropconnect", num_samples=2000)
    assert abs(mean - exact) <= Z * se


def _finite_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("noise", ["dropout", "dropconnect", "gaussian"])
def test_gradients_match_finite_differences(noise):
    """jax.grad in the parameters (along two random directions) and in each noisy layer's keep
    probability, against central differences."""
    params, X, Y, _, keeps = variant_case(12, noise, 3)
    rng = np.random.default_rng(12)
    noisy = [layer for layer in range(3) if keeps[layer] < 1]   # keep 1 stays a number: not noisy

    def criterion(p, noisy_keeps):
        k = list(keeps)
        for layer, value in zip(noisy, noisy_keeps):
            k[layer] = value
        return theory.dropout_criterion(p, X, Y, keep_prob=tuple(k), noise=noise)

    at_keeps = [keeps[layer] for layer in noisy]
    grads, keep_grads = jax.grad(criterion, argnums=(0, 1))(params, at_keeps)
    for _ in range(2):
        direction = jax.tree_util.tree_map(lambda a: rng.normal(size=a.shape), params)
        along = sum(np.sum(np.asarray(g) * v) for g, v in zip(jax.tree_util.tree_leaves(grads),
                                                              jax.tree_util.tree_leaves(direction)))
        moved = lambda t: criterion(jax.tree_util.tree_map(lambda a, v: a + t * v, params,  # noqa
                                                           direction), at_keeps)
        np.testing.assert_allclose(along, _finite_difference(moved, 0.0), rtol=1e-6, atol=1e-8)
    for i in range(len(noisy)):
        def at(t, i=i):
            return criterion(params, at_keeps[:i] + [t] + at_keeps[i + 1:])
        np.testing.assert_allclose(keep_grads[i], _finite_difference(at, at_keeps[i]), rtol=1e-6,
                                   atol=1e-8)


@pytest.mark.parametrize("noise", ["dropout", "dropconnect", "gaussian"])
def test_gradient_is_finite_where_an_example_is_zero(noise):
    """P_(1,1) holds x = 0, where every pre-activation of the last hidden layer is a constant: its
    standard deviation sqrt(0) must not send an infinite derivative into the gradient (it did for
    Gaussian noise: NaN in every first-layer weight). Against central differences."""
    from theory.paper.distributions import p11

    X, Y = p11(2)
    rng = np.random.default_rng(13)
    params = random_network(rng, [2, 6, 1], scale=0.7)
    criterion = lambda p: theory.dropout_criterion(p, X, Y, keep_prob=0.5, noise=noise)  # noqa
    grads = jax.grad(criterion)(params)
    direction = jax.tree_util.tree_map(lambda a: rng.normal(size=a.shape), params)
    along = sum(np.sum(np.asarray(g) * v) for g, v in zip(jax.tree_util.tree_leaves(grads),
                                                          jax.tree_util.tree_leaves(direction)))
    moved = lambda t: criterion(jax.tree_util.tree_map(lambda a, v: a + t * v, params,  # noqa
                                                       direction))
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))
    np.testing.assert_allclose(along, _finite_difference(moved, 0.0), rtol=1e-6, atol=1e-8)


def test_gradient_in_one_keep_probability():
    """The derivative of the Figure 1 penalty in p at p = 1/2 (d/dp of J_D, exact)."""
    from theory.paper.negative_penalty import figure1_network

    params, X, Y = figure1_network()
    grad = jax.grad(lambda p: theory.dropout_criterion(params, X, Y, keep_prob=p))(0.5)
    fd = _finite_difference(lambda p: theory.dropout_criterion(params, X, Y, keep_prob=p), 0.5)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def _all_raw(noise_kind, units_per_layer, keep):
    """Every pattern of every unit as raw draws (Bernoulli: 0 = kept, 1 = dropped; Gaussian: the
    two-point Gauss-Hermite nodes +-1) with its probability."""
    total = sum(int(np.prod(u)) for u in units_per_layer)
    bits = (np.arange(2 ** total)[:, None] >> np.arange(total)) & 1
    raws, probs, start = [], np.ones(len(bits)), 0
    for layer, shape in enumerate(units_per_layer):
        size = int(np.prod(shape))
        layer_bits = bits[:, start:start + size]
        start += size
        if noise_kind == "gaussian":
            raws.append(np.where(layer_bits, 1.0, -1.0).reshape((-1,) + shape))
            probs = probs * 0.5 ** size
        else:
            raws.append(np.where(layer_bits, 0.0, 1.0).reshape((-1,) + shape))
            probs = probs * np.prod(np.where(layer_bits, keep[layer], 1 - keep[layer]), axis=1)
    return raws, probs


@pytest.mark.parametrize("noise,keep,groups", [
    ("dropout", (0.5, 1.0, 0.6), None), ("dropout", (0.5, 0.7, 0.6), GROUPS),
    ("dropconnect", (0.5, 1.0, 0.6), None), ("gaussian", (1.0, 1.0, 0.6), None)])
def test_training_loss_averaged_over_every_pattern_is_the_exact_criterion(noise, keep, groups):
    """The SGD step's loss (sgd.training.noisy_loss), averaged over every noise pattern,
    is J_D. Gaussian noise on the last layer makes the loss quadratic in the noise, which the
    two-point Gauss-Hermite rule integrates exactly."""
    rng = np.random.default_rng(13)
    params = random_network(rng, SHAPES[2])
    X, Y = rng.normal(size=(3, 2)), rng.normal(size=3)
    spec = run_noise(jax.tree_util.tree_map(lambda a: a[None], params), noise, groups)
    shapes = [noise_shape(spec, layer, params) for layer in range(3)]
    raws, probs = _all_raw(noise, shapes, keep)
    keep_vector = jnp.asarray(keep)
    loss = jax.vmap(jax.vmap(lambda x, y, *raw: noisy_loss(spec, params, x, y, list(raw),
                                                          keep_vector),
                             in_axes=(None, None) + (0,) * 3), in_axes=(0, 0) + (None,) * 3)
    losses = loss(jnp.asarray(X), jnp.asarray(Y), *[jnp.asarray(r) for r in raws])   # (N, P)
    np.testing.assert_allclose(np.mean(np.asarray(losses) @ probs),
                               theory.dropout_criterion(params, X, Y, keep_prob=keep, noise=noise,
                                                        groups=groups), rtol=RTOL)


def test_training_runs_dropconnect_and_a_keep_schedule():
    """train() with DropConnect (one mask per weight) and per-layer keep probabilities; a keep
    schedule that is constant gives the constant run, a curriculum (keep falling from 1 towards
    its target) another run. The constant run and the flat schedule draw the same masks and do the
    same arithmetic, but in two XLA programs, which may contract a multiply-add differently: equal
    to 1e-12 after 200 steps (the curriculum moves them by more than 1e-3). Gaussian noise and
    groups change only the noise values, which noisy_loss turns into losses as tested over every
    pattern above."""
    from sgd.initialisation import torch_default_init
    from sgd.training import Regime, Schedule, keep_schedule, stack_runs, train

    runs, steps = 2, 200
    keys = jax.random.split(jax.random.key(5), runs)
    params = jax.vmap(lambda k: torch_default_init(k, 3, 4, 2))(keys)
    X = jax.random.normal(jax.random.key(6), (runs, 8, 3))
    Y = jnp.sum(X, axis=-1)
    schedule = Schedule(steps=steps, log_every=100)
    target = np.array([0.8, 0.5])       # inputs dropped too: with them kept, d = 2 DropConnect is
    constant = train(keys, params, X, Y, stack_runs([Regime(keep_prob=jnp.asarray(target))] * runs),
                     schedule, noise="dropconnect")                         # node dropout exactly
    assert np.all(np.isfinite(np.asarray(constant.sgd_loss)))
    flat = stack_runs([Regime(keep_by_step=keep_schedule(np.tile(target, (steps, 1)), steps))] * runs)
    again = train(keys, params, X, Y, flat, schedule, noise="dropconnect")
    for a, b in zip(jax.tree_util.tree_leaves(constant), jax.tree_util.tree_leaves(again)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    curriculum = stack_runs([Regime(keep_by_step=keep_schedule(       # same shapes: no compile
        lambda t: target + (1 - target) * jnp.exp(-t / 50.0)[:, None], steps))] * runs)
    other = train(keys, params, X, Y, curriculum, schedule, noise="dropconnect")
    assert np.all(np.isfinite(np.asarray(other.sgd_loss)))
    assert np.max(np.abs(other.sgd_loss - constant.sgd_loss)) > 1e-3
    with pytest.raises(ValueError, match="200 values"):
        keep_schedule(np.ones(10), steps)
    with pytest.raises(ValueError, match="KEEP probabilities"):
        keep_schedule(np.zeros(steps), steps)


def _relu_product_30_digits(mu1, mu2, s1, s2, rho):
    """E[X^+ Y^+] by mpmath quadrature at 30 digits: X = mu1 + s1 U, and E[Y^+ | U] in closed form
    (Y's residual standard deviation s2 sqrt(1 - rho^2)); the kink of E[Y | U] = 0 split off."""
    import mpmath as mp

    mp.mp.dps = 30
    mu1, mu2, s1, s2, rho = (mp.mpf(v) for v in (mu1, mu2, s1, s2, rho))
    residual = s2 * mp.sqrt((1 - rho) * (1 + rho))

    def positive_part_mean(m):
        return max(m, 0) if residual == 0 else m * mp.ncdf(m / residual) + residual * mp.npdf(
            m / residual)

    def integrand(u):
        return (mu1 + s1 * u) * positive_part_mean(mu2 + s2 * rho * u) * mp.npdf(u)

    lower = -mu1 / s1
    points = [lower] + ([-mu2 / (s2 * rho)] if rho != 0 and -mu2 / (s2 * rho) > lower else [])
    return float(mp.quad(integrand, points + [mp.inf]))


def test_bivariate_relu_moments_against_30_digit_quadrature_and_scipy():
    """theory.gaussian_relu: E[X^+ Y^+] against 30-digit quadrature at random points, at
    correlations near and at +-1 (the ill-conditioned corner), zero means and zero standard
    deviations; Phi_2 against scipy.stats.multivariate_normal."""
    from scipy import stats

    from theory.gaussian_relu import bivariate_normal_cdf, relu_product_mean

    rng = np.random.default_rng(14)
    cases = []
    for i in range(24):
        mu1, mu2 = rng.normal(size=2) * 1.5
        s1, s2 = np.exp(rng.normal(size=2) * 0.5)
        rho = [rng.uniform(-1, 1), 1.0, -1.0, 1 - 1e-13, -1 + 1e-9, 1 - 1e-5][i % 6]
        if i % 7 == 0:
            mu1 = 0.0
        if i % 11 == 0:
            mu2 = mu1 * s2 / s1                   # equal standardised means: the worst cancellation
        cases.append((mu1, mu2, s1, s2, rho))
    got = np.asarray(jax.jit(relu_product_mean)(*np.array([(m1, m2, a, b, r * a * b)
                                                  for m1, m2, a, b, r in cases]).T))
    expected = [_relu_product_30_digits(*case) for case in cases]
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)
    positive_mean = -0.2 * stats.norm.cdf(-0.2 / 1.3) + 1.3 * stats.norm.pdf(-0.2 / 1.3)
    np.testing.assert_allclose(jax.jit(relu_product_mean)(0.7, -0.2, 0.0, 1.3, 0.0),
                               0.7 * positive_mean, rtol=1e-14)   # X = 0.7, a constant
    h, k = rng.normal(size=(2, 30)) * 2
    h[:5] = 0.0
    rho = rng.uniform(-0.99, 0.99, size=30)
    np.testing.assert_allclose(
        np.asarray(jax.jit(bivariate_normal_cdf)(h, k, rho)),
        [stats.multivariate_normal(cov=[[1, r], [r, 1]]).cdf([a, b]) for a, b, r in zip(h, k, rho)],
        rtol=0, atol=1e-12)
