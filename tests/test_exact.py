"""The exact evaluator against independent brute force, and the cheaper exact routes against it."""

import numpy as np
import pytest

import theory
import theory.exact
from helpers import random_case
from theory.network import as_params, random_network, widths
from theory.noise import as_noise
from theory.paper.distributions import p11
from theory.enumeration import brute_force_criterion, pattern_outputs
from theory.paper.negative_weights import lemma10_criterion, w_neg, wneg_criterion

RTOL = 1e-10


@pytest.mark.parametrize("seed", range(40))
def test_criterion_matches_brute_force_on_random_networks(seed):
    params, X, Y, weights, keep_prob = random_case(seed)
    expected = brute_force_criterion(params, X, Y, weights, keep_prob)
    got = theory.dropout_criterion(params, X, Y, keep_prob=keep_prob, weights=weights,
                                   method="enumerate")
    np.testing.assert_allclose(got, expected, rtol=RTOL)


@pytest.mark.parametrize("seed", range(12))
def test_penalty_and_risk_match_brute_force(seed):
    params, X, Y, weights, keep_prob = random_case(100 + seed)
    plain = np.array([pattern_outputs(params, x, 1.0)[0][-1] for x in X])  # the all-kept pattern
    risk = weights @ np.square(plain - Y)
    expected = brute_force_criterion(params, X, Y, weights, keep_prob) - risk
    np.testing.assert_allclose(theory.risk(params, X, Y, weights=weights), risk, rtol=RTOL)
    np.testing.assert_allclose(
        theory.dropout_penalty(params, X, Y, keep_prob=keep_prob, weights=weights), expected,
        rtol=RTOL, atol=RTOL * max(1.0, abs(risk)))


@pytest.mark.parametrize("seed", range(6))
def test_output_moments_match_brute_force(seed):
    params, X, _, _, keep_prob = random_case(200 + seed)
    mean, var = theory.output_moments(params, X, keep_prob=keep_prob)
    for i, x in enumerate(X):
        outputs, probs, _ = pattern_outputs(params, x, keep_prob)
        expected_mean = probs @ outputs
        np.testing.assert_allclose(mean[i], expected_mean, rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(var[i], probs @ np.square(outputs - expected_mean),
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_linear_regime_route_matches_enumeration(seed):
    rng = np.random.default_rng(300 + seed)
    sizes = [int(rng.integers(1, 4))] + [int(rng.integers(1, 4)) for _ in range(seed % 4)] + [1]
    params = random_network(rng, sizes, nonnegative=True)
    X = np.abs(rng.normal(size=(3, sizes[0])))
    Y = rng.normal(size=3)
    kwargs = dict(keep_prob=float(rng.uniform(0.1, 1.0)), weights=rng.dirichlet(np.ones(3)))
    linear = theory.dropout_criterion(params, X, Y, method="linear", **kwargs)
    np.testing.assert_allclose(linear, theory.dropout_criterion(params, X, Y, method="enumerate",
                                                                **kwargs), rtol=RTOL)
    np.testing.assert_allclose(linear, brute_force_criterion(params, X, Y, kwargs["weights"],
                                                             kwargs["keep_prob"]), rtol=RTOL)


def test_auto_uses_linear_route_beyond_enumeration():
    rng = np.random.default_rng(7)
    params = random_network(rng, [8, 30, 30, 1], nonnegative=True, scale=0.2)  # 2^38 patterns
    X = np.abs(rng.normal(size=(2, 8)))
    Y = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="2\\^38"):
        theory.dropout_criterion(params, X, Y, method="enumerate")
    assert theory.dropout_criterion(params, X, Y) == theory.dropout_criterion(
        params, X, Y, method="linear")


@pytest.mark.parametrize("groups", [None, [None, [0, 1, 1, 2, 0, 3], None]])
def test_result_does_not_depend_on_chunking(monkeypatch, groups):
    """Tiny budgets: one pattern per chunk, and the split route (node dropout) loops over prefix
    patterns and over masks of its half A one at a time, with groups in the split layer or not."""
    rng = np.random.default_rng(5)
    params = random_network(rng, [3, 6, 4, 1])                      # 2^9 enumerated patterns
    X, Y = rng.normal(size=(3, 3)), rng.normal(size=3)
    weights, keep = rng.dirichlet(np.ones(3)), (0.7, 0.4, 0.6)
    kwargs = dict(keep_prob=keep, groups=groups, weights=weights, method="enumerate")
    whole = theory.dropout_criterion(params, X, Y, **kwargs)
    monkeypatch.setattr(theory.exact, "CHUNK_ELEMENTS", 16)
    monkeypatch.setattr(theory.exact, "SPLIT_ELEMENTS", 16)
    noise = theory.noise.as_noise((3, 6, 4), keep, groups=groups)
    plan = theory.exact.make_plan(params, noise, num_examples=3)
    assert plan.split_bits and plan.split_chunk == 1 and plan.chunk == 1
    chunked = theory.dropout_criterion(params, X, Y, **kwargs)
    np.testing.assert_allclose(chunked, whole, rtol=RTOL)
    np.testing.assert_allclose(chunked, brute_force_criterion(params, X, Y, weights, keep,
                                                              groups=groups), rtol=RTOL)


@pytest.mark.parametrize("groups", [None, [None, None, [0, 1, 2, 3, 4] * 2, None]])
def test_split_route_matches_per_pattern_route_beyond_brute_force(groups):
    """2^17 patterns (2^12 with groups), 40 examples: subset sums against every pattern on its own."""
    rng = np.random.default_rng(8)
    params = as_params(random_network(rng, [3, 4, 10, 6, 1]))
    X = rng.normal(size=(40, 3))
    noise = as_noise(widths(params), (0.8, 0.5, 0.3, 0.6), "dropout", groups)
    split, per_pattern = (theory.exact.delta_moments(params, X, noise, split_route=route)
                          for route in (True, False))
    assert theory.exact.make_plan(params, noise, 40).split_bits > 0     # the split route ran
    for ours, reference in zip(split, per_pattern):
        np.testing.assert_allclose(ours, reference, rtol=RTOL, atol=1e-12)


def test_enumeration_limit_message_counts_patterns_and_points_to_monte_carlo():
    params = random_network(np.random.default_rng(0), [3, 30, 4, 1])
    X, Y = np.ones((1, 3)), np.ones(1)
    with pytest.raises(ValueError, match=r"2\^33 = 8,589,934,592 .*mc_dropout_criterion"):
        theory.dropout_criterion(params, X, Y)
    assert theory.num_enumerated_patterns(params) == 2 ** 33
    with pytest.raises(ValueError, match="max_patterns = 1,024"):
        theory.dropout_criterion(random_network(np.random.default_rng(0), [11, 2, 1]),
                                 np.ones((1, 11)), Y, max_patterns=1024)


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("n_over_K", [1, 50, 2000])
def test_wneg_d2_at_widths_beyond_brute_force(K, n_over_K):
    """d = 2 enumerates only 2^K input patterns whatever n: checked against Lemma 10 and the
    binomial-count form, two derivations that share nothing with the evaluator (C7)."""
    n = K * n_over_K
    X, Y = p11(K)
    got = theory.dropout_criterion(w_neg(K, n, 2), X, Y)
    np.testing.assert_allclose(got, lemma10_criterion(K, n, 2), rtol=RTOL)
    np.testing.assert_allclose(got, wneg_criterion(K, n, 2), rtol=RTOL)


def test_wneg_d3_matches_brute_force():
    X, Y = p11(2)
    params = w_neg(2, 6, 3, output_bias=0.2)
    np.testing.assert_allclose(theory.dropout_criterion(params, X, Y),
                               brute_force_criterion(params, X, Y, [0.5, 0.5], 0.5), rtol=RTOL)


def test_2_to_the_20_patterns_agree_with_monte_carlo(key):
    rng = np.random.default_rng(20)
    params = random_network(rng, [20, 30, 1], scale=0.5)
    X, Y = rng.normal(size=(2, 20)), rng.normal(size=2)
    assert theory.num_enumerated_patterns(params) == 2 ** 20
    exact = theory.dropout_criterion(params, X, Y)
    mean, se = theory.mc_dropout_criterion(key, params, X, Y, num_samples=200_000)
    assert abs(mean - exact) <= 5 * se
