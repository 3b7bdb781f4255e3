"""The logistic and cross-entropy losses (theory.losses): exact against brute force for every
Bernoulli variant, Monte Carlo against exact, the square loss through both exact routes, Jensen's
inequality where it must hold, gradients, and the errors for combinations that make no sense."""

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import theory
from helpers import networks
from theory.network import random_network
from theory.enumeration import brute_force_criterion
from theory.exact import delta_moments, expected_losses
from theory.noise import as_noise

RTOL = 1e-10
Z = 5.0   # Monte Carlo: |mc - exact| <= 5 standard errors, fixed keys
LOSSES = ("logistic", "cross_entropy")
SHAPES = ([2, 1], [2, 3, 1], [2, 2, 3, 1])   # last entry: outputs (3 classes under cross-entropy)


def loss_case(seed, loss, depth):
    """A random network of SHAPES[depth - 1] (3 outputs under cross-entropy), 3 examples with
    unequal probabilities, labels suited to the loss, per-layer keeps in (0.2, 0.9)."""
    rng = np.random.default_rng(seed)
    sizes = SHAPES[depth - 1][:-1] + [3 if loss == "cross_entropy" else 1]
    params = random_network(rng, sizes)
    X = rng.normal(size=(3, 2)) * 1.5
    Y = rng.integers(0, sizes[-1] if loss == "cross_entropy" else 2, size=3).astype(float)
    keep = tuple(float(p) for p in rng.uniform(0.2, 0.9, size=depth))
    return params, X, Y, rng.dirichlet(np.ones(3)), keep


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("noise", ["dropout", "dropconnect"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_exact_matches_brute_force(loss, noise, depth):
    params, X, Y, weights, keep = loss_case(depth, loss, depth)
    expected = brute_force_criterion(params, X, Y, weights, keep, noise=noise, loss=loss)
    got = theory.dropout_criterion(params, X, Y, keep_prob=keep, noise=noise, weights=weights,
                                   loss=loss)
    np.testing.assert_allclose(got, expected, rtol=RTOL)


@pytest.mark.parametrize("loss", LOSSES)
def test_groups_and_a_kept_layer_match_brute_force(loss):
    params, X, Y, weights, (p0, _, p2) = loss_case(7, loss, 3)
    groups = [[5, 5], None, [1, 2, 1]]
    keep = (p0, 1.0, p2)
    expected = brute_force_criterion(params, X, Y, weights, keep, groups=groups, loss=loss)
    got = theory.dropout_criterion(params, X, Y, keep_prob=keep, groups=groups, weights=weights,
                                   loss=loss)
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    assert theory.num_enumerated_patterns(params, keep_prob=keep, groups=groups, loss=loss) \
        == 2 ** (1 + 0 + 2)


@pytest.mark.parametrize("loss", LOSSES)
def test_penalty_is_criterion_minus_risk_and_risk_is_the_noiseless_loss(loss):
    params, X, Y, weights, keep = loss_case(3, loss, 2)
    outputs = forward(params, X)
    if loss == "logistic":
        expected_risk = weights @ np.log1p(np.exp(-(2 * Y - 1) * outputs[:, 0]))
    else:
        expected_risk = weights @ (np.log(np.exp(outputs).sum(1)) - outputs[np.arange(3),
                                                                            Y.astype(int)])
    risk = theory.risk(params, X, Y, weights=weights, loss=loss)
    np.testing.assert_allclose(risk, expected_risk, rtol=RTOL)
    criterion = theory.dropout_criterion(params, X, Y, keep_prob=keep, weights=weights, loss=loss)
    penalty = theory.dropout_penalty(params, X, Y, keep_prob=keep, weights=weights, loss=loss)
    np.testing.assert_allclose(penalty, criterion - risk, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(theory.l2_criterion(params, X, Y, lam=0.3, weights=weights,
                                                   loss=loss),
                               risk + theory.l2_penalty(params, lam=0.3), rtol=RTOL)


def forward(params, X):
    """The outputs (N, C) without noise, in NumPy."""
    a = X
    for W, b in params[:-1]:
        a = np.maximum(a @ W.T + b, 0.0)
    return a @ params[-1][0].T + params[-1][1]


@pytest.mark.parametrize("noise", ["dropout", "dropconnect"])
def test_square_loss_by_full_enumeration_equals_the_integrated_last_layer(noise):
    """The non-square route with the square loss plugged in must give the paper's route."""
    params, X, Y, _, keep = loss_case(11, "logistic", 3)
    Y = Y * 3.0 - 1.0
    spec = as_noise((2, 2, 3), keep, noise, None)
    f, e1, e2 = delta_moments(params, X, spec)
    integrated = np.square(f - Y) + e2 + 2 * (f - Y) * e1
    np.testing.assert_allclose(expected_losses(params, X, Y, spec, "square"), integrated,
                               rtol=RTOL)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("noise", ["dropout", "dropconnect"])
def test_monte_carlo_agrees_with_exact(key, loss, noise):
    params, X, Y, weights, keep = loss_case(5, loss, 3)
    exact = theory.dropout_criterion(params, X, Y, keep_prob=keep, noise=noise, weights=weights,
                                     loss=loss)
    mean, se = theory.mc_dropout_criterion(key, params, X, Y, keep_prob=keep, noise=noise,
                                           weights=weights, num_samples=40_000, loss=loss)
    assert se > 0
    assert abs(mean - exact) <= Z * se


@pytest.mark.parametrize("loss", LOSSES)
def test_gaussian_noise_monte_carlo_against_quadrature_at_depth_1(key, loss):
    """d = 1: the logits are x-weighted sums of independent N(1, s) noise, so jointly Gaussian with
    mean W x + b and covariance s W diag(x^2) W^T; E l by Gauss-Hermite quadrature (2-D for three
    classes: the softmax loss depends on two logit differences)."""
    rng = np.random.default_rng(2)
    C = 3 if loss == "cross_entropy" else 1
    params = ((rng.normal(size=(C, 2)), rng.normal(size=C)),)
    x, y, keep = np.array([1.2, -0.7]), (2 if loss == "cross_entropy" else 1), 0.6
    W, b = params[0]
    mean, cov = W @ x + b, (1 - keep) / keep * (W * x ** 2) @ W.T
    nodes, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    if C == 1:
        logits = mean[0] + np.sqrt(cov[0, 0]) * nodes
        expected = w @ np.logaddexp(0, -(2 * y - 1) * logits)
    else:   # cov has rank 2 (two inputs): logits = mean + A z, z standard normal in 2-D
        A = W * x * np.sqrt((1 - keep) / keep)
        z = np.stack(np.meshgrid(nodes, nodes, indexing="ij"), -1).reshape(-1, 2)
        logits = mean + z @ A.T
        expected = np.outer(w, w).ravel() @ (np.logaddexp.reduce(logits, axis=1) - logits[:, y])
    got, se = theory.mc_dropout_criterion(key, params, x[None], [y], keep_prob=keep,
                                          noise="gaussian", num_samples=40_000, loss=loss)
    assert abs(got - expected) <= Z * se


@given(networks(2, depths=(1,)), st.floats(0.1, 1.0), st.sampled_from(["dropout", "dropconnect"]))
def test_jensen_penalty_is_nonnegative_at_depth_1(params, keep, noise):
    """At d = 1 the output is linear in the noise, whose mean is 1, and the logistic loss is convex:
    E l(D) >= l(E D) = l(W(x)), so the dropout penalty cannot be negative (for either label)."""
    X = np.array([[1.0, -2.0], [0.5, 0.3]])
    for Y in ([0.0, 1.0], [1.0, 1.0]):
        penalty = theory.dropout_penalty(params, X, Y, keep_prob=keep, noise=noise,
                                         loss="logistic")
        assert penalty >= -1e-12


@pytest.mark.parametrize("loss", LOSSES)
def test_label_dependence_only_through_the_inference_gap(loss):
    """B62 and its logistic analogue: changing the label y to c moves the penalty by the logits'
    inference gap, -(E[D_c] - W_c) + (E[D_y] - W_y) (for the logistic loss, c = 1 - y: the gap of
    the output). With only the last hidden layer noisy (d = 2, inputs kept) the gap is 0, so the
    penalty is free of the labels; with an earlier noisy layer it is not."""
    rng = np.random.default_rng(9)
    outputs = 3 if loss == "cross_entropy" else 1
    X = rng.normal(size=(4, 2)) * 1.5
    labels = [np.full(4, float(c)) for c in range(max(outputs, 2))]
    for sizes, keep, free in (([2, 4, outputs], (1.0, 0.4), True),
                              ([2, 3, 3, outputs], (1.0, 0.4, 0.6), False)):
        params = random_network(rng, sizes)
        penalties = [theory.dropout_penalty(params, X, Y, keep_prob=keep, loss=loss)
                     for Y in labels]
        (W, b), hidden = params[-1], params[:-1]
        # E[D_k] - W_k(x) of output k from the square-loss route, one output row at a time
        gaps = [np.mean(theory.deviation_moments(hidden + ((W[k:k + 1], b[k:k + 1]),), X,
                                                 keep_prob=keep)[1]) for k in range(outputs)]
        if loss == "logistic":          # l(D, 0) - l(D, 1) = softplus(D) - softplus(-D) = D
            expected = [gaps[0], 0.0]
        else:
            expected = [gaps[0] - gaps[c] for c in range(outputs)]
        np.testing.assert_allclose(np.subtract(penalties, penalties[-1 if loss == "logistic" else 0]),
                                   expected, rtol=1e-9, atol=1e-12)
        spread = max(penalties) - min(penalties)
        assert (spread < 1e-12) if free else (spread > 1e-3), (sizes, penalties)


def test_inference_gaps_of_every_output_match_brute_force():
    """theory.evaluation.exact_inference_gaps (runs x examples x outputs) against the mean over
    every pattern, listed; and gap_y - gap_c is the cross-entropy penalty's change of label."""
    from theory.enumeration import pattern_outputs
    from theory.evaluation import exact_inference_gaps, exact_per_example_penalties

    rng = np.random.default_rng(21)
    keep = (1.0, 0.4, 0.6)
    runs = [random_network(rng, [2, 3, 3, 3]) for _ in range(2)]
    params = jax.tree_util.tree_map(lambda *a: np.stack(a), *runs)
    X = rng.normal(size=(2, 4, 2))
    gaps = np.asarray(exact_inference_gaps(params, X, keep))
    assert np.abs(gaps).max() > 1e-3            # a hidden layer before the last is noisy
    for r, network in enumerate(runs):
        for i, x in enumerate(X[r]):
            outputs, probs, _ = pattern_outputs(network, x, keep, every_output=True)
            plain = x
            for layer, (W, b) in enumerate(network):       # W(x): no dropout
                plain = plain @ np.asarray(W).T + np.asarray(b)
                plain = np.maximum(plain, 0.0) if layer < len(network) - 1 else plain
            np.testing.assert_allclose(gaps[r, i], probs @ outputs - plain, rtol=1e-10,
                                       atol=1e-13)
    by_label = [np.asarray(exact_per_example_penalties(params, X, np.full((2, 4), float(c)), keep,
                                                       loss="cross_entropy")) for c in range(3)]
    for c in range(3):
        np.testing.assert_allclose(by_label[c] - by_label[0], gaps[..., 0] - gaps[..., c],
                                   rtol=1e-9, atol=1e-12)


def test_gradient_matches_finite_differences():
    params, X, Y, weights, keep = loss_case(4, "cross_entropy", 2)

    def criterion(w_out):
        return theory.dropout_criterion(params[:-1] + ((w_out, params[-1][1]),), X, Y,
                                        keep_prob=keep, weights=weights, loss="cross_entropy")

    w_out = params[-1][0]
    grad = np.asarray(jax.grad(criterion)(w_out))
    step = 1e-6
    direction = np.random.default_rng(0).normal(size=w_out.shape)
    numeric = (criterion(w_out + step * direction) - criterion(w_out - step * direction)) / (2 * step)
    np.testing.assert_allclose(np.sum(grad * direction), numeric, rtol=1e-6)


def test_pattern_count_includes_the_last_hidden_layer():
    params, _, _, _, _ = loss_case(0, "logistic", 3)          # K = 2, n_1 = 2, n_2 = 3
    assert theory.num_enumerated_patterns(params) == 2 ** (2 + 2)
    assert theory.num_enumerated_patterns(params, loss="logistic") == 2 ** (2 + 2 + 3)
    assert theory.num_enumerated_patterns(params, loss="logistic", noise="dropconnect") \
        == 2 ** (4 + 6 + 3)


def test_bad_combinations_are_clear_errors(key):
    params, X, Y, _, _ = loss_case(0, "logistic", 2)
    multi, _, Yc, _, _ = loss_case(0, "cross_entropy", 2)
    with pytest.raises(ValueError, match="loss must be one of"):
        theory.dropout_criterion(params, X, Y, loss="hinge")
    with pytest.raises(ValueError, match=r"labels Y in \{0, 1\}"):
        theory.dropout_criterion(params, X, Y + 0.5, loss="logistic")
    with pytest.raises(ValueError, match="integer class labels Y in 0..2"):
        theory.risk(multi, X, Yc + 1, loss="cross_entropy")
    with pytest.raises(ValueError, match="C >= 2 outputs"):
        theory.dropout_criterion(params, X, Y, loss="cross_entropy")
    with pytest.raises(ValueError, match="exactly one output"):
        theory.dropout_criterion(multi, X, Yc, loss="logistic")
    with pytest.raises(ValueError, match="Gaussian noise.*mc_dropout_criterion"):
        theory.dropout_criterion(params, X, Y, noise="gaussian", loss="logistic")
    with pytest.raises(ValueError, match="method='linear' applies to loss='square' only"):
        theory.dropout_criterion(params, X, Y, method="linear", loss="logistic")
    with pytest.raises(ValueError, match="analytic_last_layer=False"):
        theory.mc_dropout_criterion(key, params, X, Y, num_samples=10, loss="logistic",
                                    analytic_last_layer=True)
    with pytest.raises(ValueError, match=r"2\^9 = 512 enumerated patterns.*max_patterns = 100"):
        theory.dropout_criterion(params, X, Y, noise="dropconnect", loss="logistic",
                                 max_patterns=100)
