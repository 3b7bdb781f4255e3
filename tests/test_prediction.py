"""MC dropout's prediction (theory.prediction): the exact moments against every pattern listed in
NumPy (theory.enumeration, which shares no code with the engine), simulated MC dropout against the
exact moments within standard errors of the same draws, and the pass-count bounds against the exact
binomial law of a 0/1 prediction."""

import jax
import numpy as np
import pytest
from scipy import stats

import theory
from theory.enumeration import dropconnect_pattern_outputs, pattern_outputs
from theory.network import random_network
from theory.prediction import (coverage_upper_bound, mc_prediction_averages, prediction_moments,
                               samples_normal, samples_sufficient)

Z = 5.0


def _brute_predictions(loss, outputs):
    """What a pass predicts, written out in NumPy: the output, its sigmoid or its softmax."""
    if loss == "square":
        return outputs
    if loss == "logistic":
        return 1.0 / (1.0 + np.exp(-outputs))
    top = outputs.max(axis=1, keepdims=True)
    e = np.exp(outputs - top)
    return e / e.sum(axis=1, keepdims=True)


def _brute_moments(params, X, keep, loss, noise="dropout", groups=None):
    rows = []
    for x in X:
        if noise == "dropconnect":
            D, P, _ = dropconnect_pattern_outputs(params, x, keep, every_output=True)
        else:
            D, P, _ = pattern_outputs(params, x, keep, groups, every_output=True)
        s = _brute_predictions(loss, D)                                   # (patterns, outputs)
        mu = P @ s
        dev = np.abs(s - mu)
        rows.append((mu, P @ dev ** 2, P @ dev ** 3, dev[P > 0].max(axis=0)))
    moments = [np.stack(m) for m in zip(*rows)]
    return moments if loss == "cross_entropy" else [m[:, 0] for m in moments]


@pytest.mark.parametrize("loss,noise,sizes,keep,groups", [
    ("cross_entropy", "dropout", [3, 4, 3, 3], (0.7, 0.5, 0.6), None),
    ("cross_entropy", "dropout", [4, 4, 2], (1.0, 0.3), (None, [0, 1, 1, 0])),
    ("logistic", "dropout", [2, 3, 3, 1], (0.8, 0.5, 0.4), None),
    ("square", "dropout", [3, 5, 1], (0.6, 0.5), None),
    ("cross_entropy", "dropconnect", [2, 3, 2], (0.6, 0.8), None),
])
def test_prediction_moments_equal_every_pattern_listed(loss, noise, sizes, keep, groups):
    rng = np.random.default_rng(len(sizes) + sum(sizes))
    params = random_network(rng, sizes)
    X = rng.normal(size=(4, sizes[0])) * 1.5
    engine = prediction_moments(params, X, keep_prob=keep, noise=noise, groups=groups, loss=loss)
    brute = _brute_moments(params, X, keep, loss, noise, groups)
    for got, want in zip(engine, brute):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    assert np.all(engine.variance > 0)          # a case where the noise matters


def test_square_loss_mean_and_variance_are_output_moments():
    rng = np.random.default_rng(5)
    params = random_network(rng, [3, 6, 4, 1])
    X = rng.normal(size=(5, 3))
    engine = prediction_moments(params, X, keep_prob=(0.9, 0.5, 0.7))
    mean, var = theory.output_moments(params, X, keep_prob=(0.9, 0.5, 0.7))
    np.testing.assert_allclose(engine.mean, mean, rtol=1e-10)
    np.testing.assert_allclose(engine.variance, var, rtol=1e-10)


@pytest.mark.parametrize("loss,sizes,keep", [("cross_entropy", [3, 5, 3], (1.0, 0.5)),
                                             ("square", [2, 4, 4, 1], (0.8, 0.6, 0.5))])
def test_simulated_mc_dropout_agrees_with_the_exact_moments(loss, sizes, keep):
    rng = np.random.default_rng(9)
    params = random_network(rng, sizes)
    X = rng.normal(size=(6, sizes[0]))
    exact = prediction_moments(params, X, keep_prob=keep, loss=loss)
    repeats, passes = 4000, (1, 10)
    averages = mc_prediction_averages(jax.random.key(3), params, X, keep_prob=keep, loss=loss,
                                      passes=passes, repeats=repeats)
    assert averages.shape == (len(passes), repeats) + exact.mean.shape
    for j, K in enumerate(passes):
        mean = averages[j].mean(axis=0)
        se = averages[j].std(axis=0, ddof=1) / np.sqrt(repeats)
        assert np.all(np.abs(mean - exact.mean) <= Z * se + 1e-15)
        # The variance of a K-pass average is sigma^2 / K; its estimate's standard error is about
        # sqrt(2 / (repeats - 1)) of it for near-normal averages, more for skewed ones: pooled over
        # the examples and outputs with nonzero variance, the ratio must be within Z of them.
        ratio = averages[j].var(axis=0, ddof=1) / (exact.variance / K)
        assert abs(np.mean(ratio[exact.variance > 0]) - 1) <= Z * np.sqrt(2 / (repeats - 1))


@pytest.mark.parametrize("q", [0.5, 0.9, 0.98])
def test_pass_count_bounds_hold_for_the_exact_binomial_law(q):
    """A pass predicting 1 with probability q, else 0: the K-pass average is Binomial(K, q) / K."""
    variance, third = q * (1 - q), q * (1 - q) * (q ** 2 + (1 - q) ** 2)
    largest, tol = max(q, 1 - q), 0.05

    def coverage(K):
        k = np.arange(K + 1)
        return stats.binom.pmf(k, K, q)[np.abs(k / K - q) <= tol + 1e-12].sum()

    for K in (1, 5, 20, 100, 400, 1000):
        assert coverage(K) <= coverage_upper_bound(K, variance, third, tol) + 1e-12
    enough = int(samples_sufficient(variance, largest, tol))
    assert coverage(enough) >= 0.95
    assert enough >= samples_normal(variance, tol)     # the rigorous count is the larger


def test_a_deterministic_prediction_needs_one_pass():
    assert samples_normal(0.0, 0.01) == 1 and samples_sufficient(0.0, 0.0, 0.01) == 1
    assert coverage_upper_bound(3, 0.0, 0.0, 0.01) == 1.0


def test_bad_input_is_refused_by_name():
    rng = np.random.default_rng(1)
    params = random_network(rng, [2, 3, 1])
    X = rng.normal(size=(2, 2))
    for bad in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="tolerance"):
            samples_normal(1.0, bad)
    with pytest.raises(ValueError, match="confidence"):
        samples_sufficient(1.0, 1.0, 0.1, confidence=1.0)
    with pytest.raises(ValueError, match="samples"):
        coverage_upper_bound(0.5, 1.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="gaussian"):
        prediction_moments(params, X, noise="gaussian")
    with pytest.raises(ValueError, match="patterns"):
        prediction_moments(params, X, keep_prob=0.5, max_patterns=4)
    with pytest.raises(ValueError, match="passes"):
        mc_prediction_averages(jax.random.key(0), params, X, passes=(10, 5))
    with pytest.raises(ValueError, match="repeats"):
        mc_prediction_averages(jax.random.key(0), params, X, repeats=0)
