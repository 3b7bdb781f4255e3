"""The SGD engine's kernel (sgd/kernel.py) against independent references: its Threefry
against jax.random's, its hand-written gradient against jax.grad of the noisy loss built from
theory.noise, its update against optax, its random stream's frequencies against their
probabilities (tolerances from the standard error of the same draws), and a run's numbers against
the same run trained in another batch."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import theory  # noqa: F401  (float64)
from sgd import kernel
from sgd.initialisation import torch_default_init
from sgd.training import Regime, Schedule, _lanes_last, random_fields, run_noise, stack_runs, train
from theory.network import random_network
from theory.losses import pointwise_loss
from theory.noise import as_noise, noisy_outputs

Z = 5.0   # frequencies: within 5 standard errors

# One compiled program per case instead of one per operation (the kernel's functions run eagerly
# otherwise, compiling each of their hundreds of operations on its own).
chunk_draws = jax.jit(kernel.chunk_draws, static_argnums=(0, 6, 7, 8))
loss_and_gradient = jax.jit(kernel.loss_and_gradient, static_argnums=(0, 1))


def test_threefry_is_jax_random_threefry_bit_for_bit():
    from jax.extend.random import threefry_2x32

    rng = np.random.default_rng(0)
    for _ in range(5):
        key = rng.integers(0, 2 ** 32, 2, dtype=np.uint32)
        count = rng.integers(0, 2 ** 32, 64, dtype=np.uint32)
        expected = np.asarray(threefry_2x32(jnp.asarray(key), jnp.asarray(count)))
        a, b = kernel.threefry2x32(key[0], key[1], count[:32], count[32:])
        np.testing.assert_array_equal(np.concatenate([a, b]), expected)


CASES = [("dropout", None, (0.6, 1.0, 0.3)), ("dropout", [[0, 0], [0, 1, 0], [1, 1, 0]],
                                              (0.5, 0.7, 0.4)),
         ("dropconnect", None, (0.5, 0.8, 0.3)), ("gaussian", None, (0.7, 0.4, 0.5))]
LOSS_CASES = [(*case, "square") for case in CASES] + [
    (kind, None, keep, loss) for loss in ("logistic", "cross_entropy")
    for kind, keep in (("dropout", (0.6, 1.0, 0.3)), ("dropconnect", (0.5, 0.8, 0.3)))]


@pytest.mark.parametrize("kind,groups,keep,loss", LOSS_CASES)
def test_hand_written_gradient_is_autodiff_of_the_noisy_loss(kind, groups, keep, loss):
    """loss_and_gradient on a tile of 3 lanes (3 networks, examples and noise draws) against
    jax.value_and_grad of l(D(W, x, R), y) as theory.noise defines D and theory.losses l, lane by
    lane (three outputs under cross-entropy)."""
    rng = np.random.default_rng(1)
    outputs = 3 if loss == "cross_entropy" else 1
    shapes = [2, 3, 3, outputs]
    spec = as_noise((2, 3, 3), keep, kind, groups)
    lanes = 3
    nets = [random_network(rng, shapes) for _ in range(lanes)]
    xs = rng.normal(size=(lanes, 2))
    ys = rng.normal(size=lanes) if loss == "square" else \
        rng.integers(0, max(outputs, 2), size=lanes).astype(float)
    values, multipliers = [[] for _ in range(lanes)], []
    for layer, p in enumerate(keep):
        W = nets[0][layer][0]
        size = W.shape if kind == "dropconnect" else (spec.num_groups(layer, W.shape[1]),)
        if kind == "gaussian":
            draws = 1.0 + np.sqrt((1 - p) / p) * rng.normal(size=(lanes,) + size)
            per_node = draws
        else:
            draws = rng.uniform(size=(lanes,) + size) < p
            per_node = draws / p
            if spec.groups[layer] is not None:
                per_node = per_node[:, np.asarray(spec.groups[layer])]
        for lane in range(lanes):
            values[lane].append(jnp.asarray(draws[lane]))
        multipliers.append(jnp.asarray(np.moveaxis(per_node, 0, -1)))
    tile = tuple((jnp.asarray(np.stack([n[l][0] for n in nets], -1)),
                  jnp.asarray(np.stack([n[l][1] for n in nets], -1))) for l in range(len(keep)))
    value, grads = loss_and_gradient(kind, loss, tile, jnp.asarray(xs.T), jnp.asarray(ys),
                                     multipliers)
    for lane in range(lanes):
        def reference(params):
            outputs = noisy_outputs(spec, params, jnp.asarray(xs[lane]), values[lane], keep)
            return pointwise_loss(loss, outputs, ys[lane].astype(int) if loss == "cross_entropy"
                                  else ys[lane])
        params = tuple((jnp.asarray(W), jnp.asarray(b)) for W, b in nets[lane])
        expected_value, expected = jax.value_and_grad(reference)(params)
        np.testing.assert_allclose(value[lane], expected_value, rtol=1e-12)
        for (gW, gb), (eW, eb) in zip(grads, expected):
            np.testing.assert_allclose(gW[..., lane], eW, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(gb[..., lane], eb, rtol=1e-12, atol=1e-14)


def test_update_is_optax_sgd_with_torch_momentum_decay_and_projections():
    """Five steps of sgd_update against optax (scale(1 - dampening), trace(momentum),
    scale_by_schedule(-lr_t)) with lam W (and lam b for decayed biases) added to the gradient,
    then the projections, for lanes with different hyperparameters (learning-rate scales too)."""
    rng = np.random.default_rng(2)
    lanes = 4
    regime = Regime(keep_prob=jnp.ones(lanes), lam=jnp.array([0.0, 0.3, 0.3, 0.1]),
                    decay_biases=jnp.array([0.0, 1.0, 0.0, 1.0]),
                    nonnegative=jnp.array([0.0, 0.0, 1.0, 0.0]),
                    zero_biases=jnp.array([0.0, 0.0, 0.0, 1.0]),
                    dampening=jnp.array([0.5, 0.0, 0.5, 0.5]),
                    lr_scale=jnp.array([1.0, 1.0, 0.5, 2.0]))
    schedule = Schedule(lr=0.05, lr_decay=0.1, momentum=0.5)
    params = ((jnp.asarray(rng.normal(size=(3, 2, lanes))), jnp.asarray(rng.normal(size=(3, lanes)))),)
    grads = [((jnp.asarray(rng.normal(size=(3, 2, lanes))), jnp.asarray(rng.normal(size=(3, lanes)))),)
             for _ in range(5)]
    ours, velocity = params, jax.tree_util.tree_map(jnp.zeros_like, params)
    for t, g in enumerate(grads):
        lr = schedule.lr / (1 + schedule.lr_decay * t)
        ours, velocity = kernel.sgd_update(ours, velocity, g, lr, schedule.momentum, regime)
    for lane in range(lanes):
        r = jax.tree_util.tree_map(lambda a: a[lane], regime)
        opt = optax.chain(optax.scale(1.0 - r.dampening), optax.trace(decay=schedule.momentum),
                          optax.scale_by_schedule(
                              lambda t: -r.lr_scale * schedule.lr / (1.0 + schedule.lr_decay * t)))
        p = jax.tree_util.tree_map(lambda a: a[..., lane], params)
        state = opt.init(p)
        for g in grads:
            g = jax.tree_util.tree_map(lambda a: a[..., lane], g)
            g = tuple((gW + r.lam * W, gb + r.lam * r.decay_biases * b)
                      for (gW, gb), (W, b) in zip(g, p))
            updates, state = opt.update(g, state, p)
            p = optax.apply_updates(p, updates)
            p = tuple((jnp.where(r.nonnegative > 0, jnp.maximum(W, 0), W),
                       jnp.where(r.zero_biases > 0, 0.0, b)) for W, b in p)
        for a, b in zip(jax.tree_util.tree_leaves(p),
                        jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda a: a[..., lane],
                                                                         ours))):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("kind,p", [("dropout", 0.3), ("dropout", 0.375), ("gaussian", 0.3)])
def test_random_stream_frequencies(kind, p):
    """chunk_draws over 4000 steps x 8 lanes: every example drawn with frequency 1/N, every node kept
    with frequency p (dropout, in 32-bit words at p = 0.3 and in 3-bit fields at p = 3/8; a layer
    at p = 1 always kept), Gaussian multipliers of mean 1 and variance q/p; each within 5 standard
    errors of the same draws."""
    lanes, steps, N = 8, 4000, 5
    regime = Regime(keep_prob=jnp.tile(jnp.array([p, 1.0]), (lanes, 1)))
    fields, bits = random_fields(regime, lanes, 2, kind)
    assert fields == ((32 if p == 0.3 or kind == "gaussian" else 3,), ())
    keep = jnp.broadcast_to(jnp.array([p, 1.0])[None, :, None], (steps, 2, lanes))
    spec = as_noise((3, 4), 0.5, kind)
    key = jnp.asarray(np.random.default_rng(3).integers(0, 2 ** 32, (2, lanes), dtype=np.uint32))
    X = jnp.broadcast_to(jnp.arange(N, dtype=jnp.float64)[:, None, None], (N, 3, lanes))
    x, y, (m0, m1) = chunk_draws(spec, key, jnp.arange(steps), keep, X, X[:, 0], (3, 4), (4, 1),
                                 fields, jnp.asarray(bits.T))
    counts = np.bincount(np.asarray(y, int).ravel(), minlength=N) / y.size
    se = np.sqrt((1 / N) * (1 - 1 / N) / y.size)
    assert np.all(np.abs(counts - 1 / N) <= Z * se), counts
    assert np.array_equal(np.asarray(x[:, 0]), np.asarray(y))        # inputs and label agree
    assert m1 is None                                                # no run has noise there
    m0 = np.asarray(m0)
    if kind == "dropout":
        kept = m0 > 0
        np.testing.assert_array_equal(m0[kept], 1 / p)
        se = np.sqrt(p * (1 - p) / kept.size)
        assert abs(kept.mean() - p) <= Z * se
    else:
        variance = (1 - p) / p
        assert abs(m0.mean() - 1) <= Z * np.sqrt(variance / m0.size)
        sample_var = m0.var()
        assert abs(sample_var - variance) <= Z * np.std((m0 - m0.mean()) ** 2) / np.sqrt(m0.size)


def _reference_kept(key, steps, first_word, size, p):
    """Whether each draw 0..size-1 of a layer whose words start at ``first_word`` keeps its node at
    each of ``steps``, from jax.random's own Threefry and the stated rule: m = the smallest m <= 16
    with p 2^m an integer (else 32), floor(32 / m) fields of m bits to a word from the low bits up,
    kept iff the field is below p 2^m (exact rational arithmetic); p = 1 keeps every node."""
    from fractions import Fraction
    from jax.extend.random import threefry_2x32

    p = Fraction(p)
    if p == 1:
        return np.ones((len(steps), size), bool)
    m = next((m for m in range(17) if (p * 2 ** m).denominator == 1), 32)
    per_word = 32 // m
    kept = np.zeros((len(steps), size), bool)
    for s, step in enumerate(steps):
        words = first_word + np.arange(size) // per_word
        counts = np.concatenate([np.full(size, step), words // 2]).astype(np.uint32)
        a, b = np.split(np.asarray(threefry_2x32(jnp.asarray(key, jnp.uint32),
                                                 jnp.asarray(counts))), 2)
        for unit in range(size):
            word = int((a if words[unit] % 2 == 0 else b)[unit])
            field = (word >> (m * (unit % per_word))) & ((1 << m) - 1)
            kept[s, unit] = field < p * 2 ** m
    return kept


@pytest.mark.parametrize("kind", ["dropout", "dropconnect"])
def test_masks_follow_the_stated_layout_bit_for_bit(kind):
    """Every mask of a tile whose lanes mix packed fields (p = 1/2, 3/4, 3/8, 3 / 2^16) with 32-bit
    words (p = 0.3, 0.9) and p = 1, against masks rebuilt draw by draw from jax.random's
    Threefry and the rule in sgd/kernel.py's docstring; layer 0's draws start at word 1 (word 0
    picks the example), layer 1's after all of layer 0's possible words."""
    keeps = np.array([[0.5, 0.75], [0.75, 0.3], [0.3, 1.0], [1.0, 0.5], [0.375, 0.375],
                      [3 / 2 ** 16, 0.5], [0.9, 0.25], [0.5, 1.0]])
    lanes, widths, n_outs = len(keeps), (23, 4), (4, 1)
    fields, bits = random_fields(Regime(keep_prob=jnp.asarray(keeps)), lanes, 2, kind)
    spec = as_noise((23, 4), 0.5, kind)
    key = np.random.default_rng(4).integers(0, 2 ** 32, (2, lanes), dtype=np.uint32)
    steps = np.array([0, 1, 7, 4321])
    keep = jnp.broadcast_to(jnp.asarray(keeps.T)[None], (len(steps), 2, lanes))
    X = jnp.zeros((3, 23, lanes))
    _, _, masks = chunk_draws(spec, jnp.asarray(key), jnp.asarray(steps), keep, X, X[:, 0],
                              widths, n_outs, fields, jnp.asarray(bits.T))
    sizes = [w * o if kind == "dropconnect" else w for w, o in zip(widths, n_outs)]
    first_words = [1, 1 + sizes[0]]
    for layer, mask in enumerate(masks):
        kept = np.asarray(mask).reshape(len(steps), sizes[layer], lanes) > 0
        for lane in range(lanes):
            np.testing.assert_array_equal(kept[..., lane], _reference_kept(
                key[:, lane], steps, first_words[layer], sizes[layer], keeps[lane, layer]))


@pytest.mark.parametrize("noise", ["dropout", "dropconnect"])
def test_a_run_does_not_depend_on_its_batch(noise):
    """A run trained alone (one tile, padded) gives bit for bit what it gives in the 3rd lane of a
    140-run call (five tiles), whatever the other runs' regimes (under the engine's own compiler
    options: tests/test_compile_options.py)."""
    runs = 140
    keys = jax.random.split(jax.random.key(5), runs)
    params = jax.vmap(lambda k: torch_default_init(k, 3, 4, 3))(keys)
    X = jax.random.uniform(jax.random.key(6), (runs, 6, 3), jnp.float64, -1, 1)
    Y = jnp.prod(jnp.sign(X), axis=-1)
    choices = [Regime(keep_prob=0.5), Regime(lam=0.1, decay_biases=1.0), Regime(),
               Regime(keep_prob=0.7, nonnegative=1.0), Regime(dampening=0.0, keep_prob=0.8)]
    regime = stack_runs([choices[i % len(choices)] for i in range(runs)])
    schedule = Schedule(steps=600, log_every=200)
    together = train(keys, params, X, Y, regime, schedule, noise=noise)
    pick = jax.tree_util.tree_map(lambda a: a[3:4], (keys, params, X, Y, regime))
    alone = train(*pick, schedule, noise=noise)
    for a, b in zip(jax.tree_util.tree_leaves(alone), jax.tree_util.tree_leaves(together)):
        np.testing.assert_array_equal(a, b[3:4])
    assert _lanes_last(jnp.zeros((runs, 2)), runs).shape == (5, 2, kernel.LANES)
    assert run_noise(params, noise).kind == noise
