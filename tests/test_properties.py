"""Property tests of C10, C13, C8/C9 (non-negative lower bounds), C15 and C17 on random networks."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import theory
from helpers import best_output_scale_and_bias, networks
from theory.paper.distributions import p11
from theory.enumeration import brute_force_criterion
from theory.paper.negative_penalty import figure1_network
from theory.paper.negative_weights import NONNEGATIVE_BOUND_K2, lemma16_bound
from theory.paper.supermodularity import psi, supermodularity_gap

NONNEG = arrays(np.float64, 3, elements=st.floats(0, 2))


@given(networks(3, depths=(2, 3, 4), nonnegative_weights=True),
       arrays(np.float64, 3, elements=st.floats(-2, 2)), NONNEG, NONNEG)
def test_c10_nonnegative_networks_are_supermodular(params, x, d1, d2):
    assert supermodularity_gap(params, x, d1, d2) >= -1e-12


@given(networks(4, depths=(2, 3), nonnegative_weights=True), st.sampled_from([0.3, 0.5, 0.9]))
def test_c10_psi_has_nondecreasing_increments(params, keep_prob):
    values = psi(params, keep_prob=keep_prob)
    assert np.all(np.diff(values, n=2) >= -1e-12 * max(1.0, np.abs(values).max()))


def test_c10_supermodularity_needs_nonnegative_weights():
    params = ((np.array([[1.0, -1.0]]), np.zeros(1)), (np.ones((1, 1)), np.zeros(1)))
    assert supermodularity_gap(params, np.zeros(2), np.array([1.0, 0]), np.array([0, 1.0])) < 0


@given(networks(3, nonnegative_weights=True, nonnegative_biases=True),
       arrays(np.float64, (2, 3), elements=st.floats(0, 2)), st.sampled_from([0.2, 0.5, 0.9]))
def test_c13_no_negative_penalty_when_everything_is_nonnegative(params, X, keep_prob):
    Y = np.array([3.0, -1.0])
    f, e1, e2 = theory.criteria.deviation_moments(params, X, keep_prob=keep_prob,
                                                  method="enumerate")
    np.testing.assert_allclose(e1, 0.0, atol=1e-11 * max(1.0, np.abs(f).max()))  # E_R D = W(x)
    assert theory.dropout_penalty(params, X, Y, keep_prob=keep_prob, method="enumerate") >= -1e-12


@given(networks(2, depths=(2, 3), max_width=4, nonnegative_weights=True))
def test_c9_nonnegative_networks_stay_above_one_eighth(params):
    """Theorem 17 on random non-negative networks, each with its best output scale and bias."""
    X, Y = p11(2)
    assert theory.dropout_criterion(params, X, Y) >= NONNEGATIVE_BOUND_K2
    assert best_output_scale_and_bias(params, X, Y, keep_prob=0.5) >= NONNEGATIVE_BOUND_K2 - 1e-12


@given(st.sampled_from([19, 24]).flatmap(
    lambda K: st.tuples(st.just(K), networks(K, depths=(2, 3), widths=st.sampled_from([1, 5, 30]),
                                             nonnegative_weights=True, nonnegative_biases=True))))
def test_c8_nonnegative_networks_stay_above_one_over_36K(case):
    K, params = case
    X, Y = p11(K)
    assert best_output_scale_and_bias(params, X, Y, keep_prob=0.5) >= lemma16_bound(K)


def test_c15_penalty_is_not_monotonic_in_the_drop_probability():
    """Figure 1's network: the penalty falls from 0 (q = 0) to -10 (q = 1/2), then rises above 0."""
    params, X, Y = figure1_network()
    risk = theory.risk(params, X, Y)
    keep = np.array([1.0, 0.9, 0.7, 0.5, 0.3, 0.1, 0.05])
    penalty = np.array([theory.dropout_penalty(params, X, Y, keep_prob=p) for p in keep])
    brute = np.array([brute_force_criterion(params, X, Y, [1.0], p) - risk for p in keep])
    np.testing.assert_allclose(penalty, brute, rtol=1e-10, atol=1e-12)
    assert penalty[0] == 0 and penalty[3] == pytest.approx(-10.0)
    assert np.argmin(penalty) not in (0, len(keep) - 1) and penalty[-1] > 0


def test_c15_rise_fall_rise_network_has_an_interior_maximum_and_minimum():
    from theory.paper.negative_penalty import rise_fall_rise_network

    params, X, Y = rise_fall_rise_network()
    q = np.array([0.0, 0.08, 0.39, 0.9])
    penalty = [theory.dropout_penalty(params, X, Y, keep_prob=1 - v) for v in q]
    brute = [brute_force_criterion(params, X, Y, [1.0], 1 - v) - theory.risk(params, X, Y)
             for v in q]
    np.testing.assert_allclose(penalty, brute, rtol=1e-10, atol=1e-12)
    assert penalty[0] == 0 < penalty[1] and penalty[2] < 0 < penalty[3]
