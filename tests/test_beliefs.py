"""The practitioner's beliefs and the explicit-regulariser theories (findings B33-B49): every exact quantity
against brute force over all patterns, Monte Carlo within its own standard error."""

import jax
import numpy as np
import pytest

import theory
from helpers import random_case
from theory.network import random_network
from theory.enumeration import all_patterns, pattern_outputs
from theory.beliefs.explicit_regularisers import (explicit_regulariser, single_drop_penalty_rate,
                                                 unit_sensitivities)
from theory.beliefs.inference_gap import penalty_split
from theory.beliefs.noise_before_relu import before_relu_moments
from theory.paper.label_dependence import one_layer_penalty
from theory.paper.negative_penalty import figure1_network
from theory.beliefs.variance_shift import one_layer_train_variance, preactivation_variances

Z = 5.0


def _brute_mean_and_variance(params, X, keep_prob):
    """Mean and variance of D(W, x, R) over every pattern, per row of X (brute force)."""
    mean, var = [], []
    for x in X:
        outputs, probs, _ = pattern_outputs(params, x, keep_prob)
        m = probs @ outputs
        mean.append(m)
        var.append(probs @ np.square(outputs - m))
    return np.array(mean), np.array(var)


@pytest.mark.parametrize("seed", range(8))
def test_penalty_split_against_brute_force(seed):
    params, X, Y, weights, keep_prob = random_case(seed)
    split = penalty_split(params, X, Y, keep_prob=keep_prob)
    mean, var = _brute_mean_and_variance(params, X, keep_prob)
    plain = theory.network_output(params, X)
    np.testing.assert_allclose(split.gap, mean - plain, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(split.variance, var, rtol=1e-10, atol=1e-10)
    brute_penalty = [probs @ np.square(out - y) - (f - y) ** 2 for (out, probs, _), f, y in
                     zip((pattern_outputs(params, x, keep_prob) for x in X), plain, Y)]
    np.testing.assert_allclose(split.penalty, brute_penalty, rtol=1e-10, atol=1e-10)
    assert weights @ split.penalty == pytest.approx(
        theory.dropout_penalty(params, X, Y, keep_prob=keep_prob, weights=weights), rel=1e-12,
        abs=1e-12)


def test_figure1_penalty_is_gap_term_plus_variance():
    """C1's -10 = (m - W)(m + W - 2y) + Var = 1 * (1 + 0 - 16) + 5."""
    params, X, Y = figure1_network()
    split = penalty_split(params, X, Y)
    assert (split.gap[0], split.gap_term[0], split.variance[0]) == pytest.approx((1, -15, 5))


@pytest.mark.parametrize("seed", range(4))
def test_gap_is_zero_for_one_layer_and_last_layer_noise(seed):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=4)
    one_layer = random_network(rng, [3, 1])
    assert np.max(np.abs(penalty_split(one_layer, X, Y, keep_prob=0.3).gap)) < 1e-12
    deep = random_network(rng, [3, 4, 4, 1])
    for noise in theory.NOISE_KINDS:
        split = penalty_split(deep, X, Y, keep_prob=(1.0, 1.0, 0.4), noise=noise)
        assert np.max(np.abs(split.gap)) < 1e-12
    assert np.max(np.abs(penalty_split(deep, X, Y, keep_prob=0.4).gap)) > 1e-3


@pytest.mark.parametrize("seed", range(4))
def test_bernoulli_dropout_commutes_with_relu_pattern_by_pattern(seed):
    """max(B z / p, 0) = B max(z, 0) / p for every pattern: noise before the ReLU of every hidden
    layer (listed here pattern by pattern) gives the after-ReLU outputs of the brute force."""
    rng = np.random.default_rng(seed)
    params = random_network(rng, [3, 3, 2, 1])
    x, keep = rng.normal(size=3), 0.6
    after, probs, patterns = pattern_outputs(params, x, keep)
    sizes = [3, 3, 2]
    for pattern, expected in zip(patterns, after):
        masks = np.split(pattern, np.cumsum(sizes)[:-1])
        a = x * masks[0] / keep
        for layer, (W, b) in enumerate(params[:-1]):
            a = np.maximum((W @ a + b) * masks[layer + 1] / keep, 0.0)
        assert params[-1][0][0] @ a + params[-1][1][0] == pytest.approx(expected, rel=1e-13,
                                                                        abs=1e-13)
    assert len(all_patterns(sum(sizes))) == len(patterns)


@pytest.mark.parametrize("seed", range(3))
def test_bernoulli_before_relu_equals_engine_after_relu(seed):
    rng = np.random.default_rng(seed)
    params = random_network(rng, [3, 4, 5, 1])
    X = rng.normal(size=(6, 3))
    mean, var = before_relu_moments(params, X, keep_prob=0.3, noise="dropout")
    engine_mean, engine_var = theory.output_moments(params, X, keep_prob=(1.0, 1.0, 0.3))
    np.testing.assert_allclose(mean, engine_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, engine_var, rtol=1e-12, atol=1e-12)


def test_gaussian_before_relu_against_monte_carlo(key):
    rng = np.random.default_rng(7)
    params = random_network(rng, [3, 4, 1])
    X = rng.normal(size=(3, 3))
    keep = 0.4
    mean, var = before_relu_moments(params, X, keep_prob=keep, noise="gaussian")
    (W, b), (w, b_out) = params
    z = X @ W.T + b
    xi = 1 + np.sqrt((1 - keep) / keep) * np.asarray(
        jax.random.normal(key, (400_000, 1, W.shape[0]), np.float64))
    out = np.maximum(xi * z, 0.0) @ w[0] + b_out[0]           # (samples, examples)
    se = out.std(axis=0) / np.sqrt(out.shape[0])
    assert np.all(np.abs(out.mean(axis=0) - mean) <= Z * se)
    sq = np.square(out - out.mean(axis=0))
    assert np.all(np.abs(sq.mean(axis=0) - var) <= Z * sq.std(axis=0) / np.sqrt(out.shape[0]))
    after_mean, _ = theory.output_moments(params, X, keep_prob=(1.0, keep), noise="gaussian")
    assert np.max(np.abs(mean - after_mean)) > 1e-2        # the placements differ


def test_explicit_regulariser_is_exact_for_one_layer_and_last_layer_noise():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=5)
    one_layer = random_network(rng, [3, 1])
    assert explicit_regulariser(one_layer, X, keep_prob=0.3) == pytest.approx(
        one_layer_penalty(one_layer, X, keep_prob=0.3), rel=1e-12)
    deep = random_network(rng, [3, 4, 3, 1])
    last = explicit_regulariser(deep, X, keep_prob=0.3, layers=(2,))
    for noise in theory.NOISE_KINDS:
        assert last == pytest.approx(theory.dropout_penalty(
            deep, X, Y, keep_prob=(1.0, 1.0, 0.3), noise=noise), rel=1e-10)


def test_explicit_regulariser_is_the_small_noise_limit_of_gaussian_dropout():
    """Wei, Kakade and Ma's expansion is second order in the noise: for Gaussian noise of variance
    s on every layer, exact penalty / s -> Omega / (q/p) as s -> 0 (exact Gaussian route, d = 2).
    The nearest ReLU kink is 0.012 from a pre-activation here, so s must be small against it."""
    rng = np.random.default_rng(11)
    params = random_network(rng, [3, 5, 1])
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=4)
    omega = explicit_regulariser(params, X, keep_prob=0.5)        # q/p = 1
    for s in (1e-6, 1e-8):
        keep = 1 / (1 + s)
        exact = theory.dropout_penalty(params, X, Y, keep_prob=keep, noise="gaussian")
        assert exact / s == pytest.approx(omega, rel=10 * s)


def test_explicit_regulariser_on_figure1_sees_nothing():
    """Every hidden pre-activation of Figure 1 is exactly 0: no sensitivity, Omega = 0, exact -10."""
    params, X, _ = figure1_network()
    assert explicit_regulariser(params, X) == 0.0
    assert all(np.all(g == 0) for g in unit_sensitivities(params, X))


def test_explicit_regulariser_rejects_bad_layers():
    params, X, _ = figure1_network()
    with pytest.raises(ValueError, match="layers"):
        explicit_regulariser(params, X, layers=(2,))


@pytest.mark.parametrize("seed", range(3))
def test_variance_shift_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    params = random_network(rng, [3, 3, 3, 1])
    X = rng.normal(size=(6, 3))
    keep = 0.6
    for layer in (1, 2):
        train, test = preactivation_variances(params, X, layer, keep_prob=keep)
        W, b = params[layer - 1]
        for j in range(W.shape[0]):
            cut = params[:layer - 1] + ((W[j:j + 1], b[j:j + 1]),)
            values = [pattern_outputs(cut, x, keep) for x in X]
            second = np.mean([probs @ np.square(out) for out, probs, _ in values])
            first = np.mean([probs @ out for out, probs, _ in values])
            assert train[j] == pytest.approx(second - first ** 2, rel=1e-10)
        predicted = one_layer_train_variance(params, X, layer, keep_prob=keep)
        if layer == 1:           # only the inputs are noisy: Li et al.'s calculation is exact
            np.testing.assert_allclose(predicted, train, rtol=1e-10)
        assert np.all(test <= train + 1e-12)


def test_variance_shift_rejects_output_layer():
    params, X, _ = figure1_network()
    with pytest.raises(ValueError, match="hidden layer"):
        preactivation_variances(params, X, 2)


@pytest.mark.parametrize("sizes", [[3, 4, 1], [3, 3, 3, 1]])
def test_single_drop_rate_is_the_small_drop_rate_limit_of_the_exact_penalty(sizes):
    """lim_{q -> 0} penalty / q (single drops, ours) against the exact penalty at q = 1e-7, labels
    off the network's outputs so that the label term counts; in the linear regime (no ReLU can
    flip) it equals Wei, Kakade and Ma's Omega / (q/p) exactly."""
    rng = np.random.default_rng(31)
    params = random_network(rng, sizes)
    X = rng.uniform(-1, 1, (16, 3))
    Y = theory.network_output(params, X) + rng.normal(size=16)
    q = 1e-7
    exact = theory.dropout_penalty(params, X, Y, keep_prob=1 - q) / q
    assert single_drop_penalty_rate(params, X, Y) == pytest.approx(exact, rel=1e-5)
    linear = tuple((np.abs(W), np.zeros_like(b)) for W, b in params)
    positive = np.abs(X)
    assert single_drop_penalty_rate(linear, positive, theory.network_output(linear, positive)) \
        == pytest.approx(explicit_regulariser(linear, positive, keep_prob=0.5), rel=1e-12)
