"""Monte Carlo against the exact evaluator, tolerance from the estimator's own standard error."""

import jax
import numpy as np
import pytest

import theory
from helpers import random_case
from theory.paper.depth import theorem18_dropout_penalty, theorem18_network
from theory.paper.distributions import p11
from theory.paper.negative_penalty import figure1_network
from theory.paper.negative_weights import w_neg, wneg_criterion, wneg_optimal_output

Z = 5.0  # |mc - exact| <= 5 standard errors; with fixed keys the outcome is deterministic


@pytest.mark.parametrize("analytic_last_layer", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_mc_agrees_with_exact_on_random_networks(key, seed, analytic_last_layer):
    params, X, Y, weights, keep_prob = random_case(seed)
    exact = theory.dropout_criterion(params, X, Y, keep_prob=keep_prob, weights=weights)
    mean, se = theory.mc_dropout_criterion(
        jax.random.fold_in(key, seed), params, X, Y, keep_prob=keep_prob, weights=weights,
        num_samples=50_000, analytic_last_layer=analytic_last_layer)
    assert abs(mean - exact) <= Z * se + 1e-12 * abs(exact)  # se = 0 when nothing is random


def test_mc_penalty_on_figure1(key):
    params, X, Y = figure1_network()
    mean, se = theory.mc_dropout_criterion(key, params, X, Y, num_samples=100_000)
    assert abs((mean - theory.risk(params, X, Y)) - (-10.0)) <= Z * se


def test_mc_on_wneg_beyond_enumeration(key):
    """d = 3, n = 26 (the C9 threshold width) needs 2^28 patterns: only the symmetric form is exact."""
    c, b, _ = wneg_optimal_output(2, 26, 3)
    params, (X, Y) = w_neg(2, 26, 3, output_weight=c, output_bias=b), p11(2)
    with pytest.raises(ValueError, match="2\\^28"):
        theory.dropout_criterion(params, X, Y)
    mean, se = theory.mc_dropout_criterion(key, params, X, Y, num_samples=200_000)
    assert abs(mean - wneg_criterion(2, 26, 3, output_weight=c, output_bias=b)) <= Z * se


def test_mc_on_theorem18_network(key):
    params, X, Y = theorem18_network(3, 4, 4, 20.0)
    mean, se = theory.mc_dropout_criterion(key, params, X, Y, keep_prob=0.7, num_samples=100_000)
    assert abs(mean - theorem18_dropout_penalty(3, 4, 4, 20.0, keep_prob=0.7)) <= Z * se


def test_standard_error_is_calibrated(key):
    """Over 60 independent small runs, the mean squared z-score is near 1 (chi-square with 60
    degrees of freedom: 0.55..1.6 holds with probability > 0.999). A misscaled SE fails this."""
    params, X, Y, weights, keep_prob = random_case(1)  # d = 3, keep_prob 1/2
    exact = theory.dropout_criterion(params, X, Y, keep_prob=keep_prob, weights=weights)
    z = []
    for i in range(60):
        mean, se = theory.mc_dropout_criterion(jax.random.fold_in(key, 1000 + i), params, X, Y,
                                               keep_prob=keep_prob, weights=weights,
                                               num_samples=400)
        z.append((mean - exact) / se)
    assert 0.55 <= np.mean(np.square(z)) <= 1.6


def test_mc_is_deterministic_given_key(key):
    params, X, Y, weights, keep_prob = random_case(1)
    first = theory.mc_dropout_criterion(key, params, X, Y, num_samples=1000)
    assert first == theory.mc_dropout_criterion(key, params, X, Y, num_samples=1000)
    assert first != theory.mc_dropout_criterion(jax.random.fold_in(key, 1), params, X, Y,
                                                num_samples=1000)


def test_mc_rejects_bad_key_and_sample_count(key):
    params, X, Y = figure1_network()
    with pytest.raises(TypeError, match="key"):
        theory.mc_dropout_criterion(0, params, X, Y, num_samples=10)
    with pytest.raises(ValueError, match="num_samples"):
        theory.mc_dropout_criterion(key, params, X, Y, num_samples=1)
