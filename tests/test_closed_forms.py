"""Every closed form of theory/ against the exact evaluator, on cases it was not derived from."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

import theory
from theory.network import random_network
from theory.paper.depth import (dropconnect_growth_factor, min_norm_l2_penalty,
                                theorem18_dropconnect_penalty, theorem18_dropout_penalty,
                                theorem18_l2_bound, theorem18_l2_penalty, theorem18_network)
from theory.paper.distributions import p11, point_and_origin
from theory.enumeration import brute_force_criterion, pattern_outputs
from theory.paper.invariances import scale_output
from theory.paper.label_dependence import label_decomposition, one_layer_penalty, theorem20_witness
from theory.paper.negative_penalty import figure1_network
from theory.paper.negative_weights_variants import (dropconnect_averaging_criterion,
                                                   dropconnect_averaging_network,
                                                   group_dropout_free_minimiser,
                                                   group_dropout_minima,
                                                   group_dropout_nonnegative_minimiser,
                                                   hidden_only_minimiser, hidden_only_minimum)
from theory.paper.negative_weights import (NONNEGATIVE_BOUND_K2, WNEG_LIMIT_K2, lemma10_criterion,
                                     lemma10_crossing_width, lemma16_bound, two_hot_distribution,
                                     w_neg, wneg_criterion, wneg_optimal_output,
                                     wneg_threshold_width)
from theory.network import network_output
from theory.paper.weight_decay import (lemma33_min_sq_weights, weight_decay_activation,
                                 weight_decay_aversion, weight_decay_optimal_criterion,
                                 weight_decay_optimum)

RTOL = 1e-10


# C1 -------------------------------------------------------------------------------------------
def test_c1_figure1_gives_54_and_64():
    params, X, Y = figure1_network()
    assert theory.dropout_criterion(params, X, Y) == pytest.approx(54.0, rel=1e-14)
    assert theory.risk(params, X, Y) == 64.0
    assert theory.dropout_penalty(params, X, Y) == pytest.approx(-10.0, rel=1e-14)
    outputs, probs, _ = pattern_outputs(params, X[0], 0.5)
    values, counts = np.unique(outputs, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist())) == {0.0: 13, 4.0: 2, 8.0: 1}
    np.testing.assert_allclose(probs, 1 / 16)


# C7 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("K,n,d", [(2, 4, 3), (3, 3, 3), (2, 2, 4), (4, 4, 3), (2, 4, 5)])
def test_c7_lemma10_matches_exact_deeper(K, n, d):
    X, Y = p11(K)
    np.testing.assert_allclose(theory.dropout_criterion(w_neg(K, n, d), X, Y),
                               lemma10_criterion(K, n, d), rtol=RTOL)


@pytest.mark.parametrize("K,n,d,keep_prob,c,b", [
    (2, 4, 2, 0.3, 0.7, -0.2), (3, 6, 3, 0.8, 0.05, 0.4), (2, 6, 3, 0.6, -0.1, 1.5),
    (1, 3, 4, 0.45, 0.2, 0.0)])
def test_c7_symmetric_form_matches_exact_any_keep_prob_and_output(K, n, d, keep_prob, c, b):
    X, Y = point_and_origin(np.ones(K), 1.7)
    params = w_neg(K, n, d, output_weight=c, output_bias=b)
    np.testing.assert_allclose(
        theory.dropout_criterion(params, X, Y, keep_prob=keep_prob),
        wneg_criterion(K, n, d, keep_prob=keep_prob, output_weight=c, output_bias=b, label=1.7),
        rtol=RTOL)


@pytest.mark.parametrize("K,d", [(2, 2), (5, 3), (10, 4)])
def test_c7_lemma10_tends_to_half_of_2_to_minus_K(K, d):
    """0 < J_D - 2^-K/2 = (1 - 2^-K)(1 - 1/g)/2 <= (g - 1)/2, g = (1 + K/n)(1 + 1/n)^(d-2) -> 1."""
    limit = 2.0 ** -K / 2
    gaps = []
    for n in (K, 10 * K, 1000 * K, 10 ** 6 * K):
        g = (1 + K / n) * (1 + 1 / n) ** (d - 2)
        gaps.append(lemma10_criterion(K, n, d) - limit)
        assert 0 < gaps[-1] <= (g - 1) / 2 * (1 + 1e-12)
    assert np.all(np.diff(gaps) < 0)


def test_c7_printed_K_squared_output_weight_is_not_lemma10():
    """Erratum: with c = K^2 / (...) instead of K / (...), Lemma 10's value does not come out."""
    K, n, d = 3, 6, 3
    X, Y = p11(K)
    c_printed = K ** 2 / (2 * n ** (d - 1) * (1 + K / n) * (1 + 1 / n) ** (d - 2))
    printed = theory.dropout_criterion(w_neg(K, n, d, output_weight=c_printed), X, Y)
    assert abs(printed - lemma10_criterion(K, n, d)) > 0.1


# C8 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("K,d", [(19, 2), (19, 3), (24, 4)])
def test_c8_lemma10_crossing_width_is_the_first(K, d):
    n = lemma10_crossing_width(K, d)
    assert n % K == 0
    assert lemma10_criterion(K, n, d) < lemma16_bound(K) <= lemma10_criterion(K, n - K, d)


def test_c8_lemma10_matches_exact_at_K_19():
    X, Y = p11(19)
    np.testing.assert_allclose(theory.dropout_criterion(w_neg(19, 38, 2), X, Y),
                               lemma10_criterion(19, 38, 2), rtol=RTOL)


def test_c8_bound_needs_K_above_18():
    with pytest.raises(ValueError, match="K > 18"):
        lemma16_bound(18)


# C9 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,d,keep_prob", [(4, 2, 0.5), (10, 2, 0.35), (4, 3, 0.5), (6, 3, 0.7)])
def test_c9_optimised_output_matches_exact_and_is_optimal(n, d, keep_prob):
    c, b, value = wneg_optimal_output(2, n, d, keep_prob=keep_prob)
    X, Y = p11(2)
    exact = theory.dropout_criterion(w_neg(2, n, d, output_weight=c, output_bias=b), X, Y,
                                     keep_prob=keep_prob)
    np.testing.assert_allclose(exact, value, rtol=RTOL)
    for dc, db in [(1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)]:   # a minimum of the quadratic
        assert wneg_criterion(2, n, d, keep_prob=keep_prob, output_weight=c + dc * c,
                              output_bias=b + db) > value


def test_c9_theorem17_limit_one_tenth_with_bias_one_fifth():
    _, b, value = wneg_optimal_output(2, 2 * 10 ** 6, 3)
    assert value == pytest.approx(WNEG_LIMIT_K2, abs=1e-5) and b == pytest.approx(0.2, abs=1e-5)
    fixed = wneg_criterion(2, 2 * 10 ** 6, 2, output_bias=0.2,
                           output_weight=wneg_optimal_output(2, 2 * 10 ** 6, 2)[0])
    assert fixed == pytest.approx(WNEG_LIMIT_K2, abs=1e-5)


def test_c9_threshold_widths():
    """W_neg with optimised output first beats 1/8 at n = 18 (d = 2; n = 16 ties it exactly) and
    n = 26 (d = 3). The d = 2 values are checked with the exact evaluator."""
    assert wneg_threshold_width(2) == 18 and wneg_threshold_width(3) == 26
    X, Y = p11(2)
    for n, beats in [(16, False), (18, True)]:
        c, b, _ = wneg_optimal_output(2, n, 2)
        exact = theory.dropout_criterion(w_neg(2, n, 2, output_weight=c, output_bias=b), X, Y)
        assert (exact < NONNEGATIVE_BOUND_K2 - 1e-12) is beats
    assert wneg_optimal_output(2, 16, 2)[2] == pytest.approx(NONNEGATIVE_BOUND_K2, rel=1e-12)
    assert wneg_optimal_output(2, 24, 3)[2] > NONNEGATIVE_BOUND_K2


def test_c9_sum_of_inputs_labels_scale_everything_by_four():
    """y = x1 + x2 doubles the label of (1, 1): by C4 every value is multiplied by 4."""
    for n, d in [(6, 2), (8, 3)]:
        c, b, value = wneg_optimal_output(2, n, d)
        c2, b2, value2 = wneg_optimal_output(2, n, d, label=2.0)
        assert (c2, b2, value2) == pytest.approx((2 * c, 2 * b, 4 * value), rel=1e-12)
        X, Y = p11(2)
        params = scale_output(w_neg(2, n, d, output_weight=c, output_bias=b), 2.0)
        np.testing.assert_allclose(theory.dropout_criterion(params, X, X.sum(axis=1)), 4 * value,
                                   rtol=RTOL)


# C11 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pairs,probs", [([(0, 1)], None), ([(0, 3), (1, 2), (2, 3)], [1, 2, 5]),
                                         ([(1, 3), (0, 2)], None)])
def test_c11_one_wneg_serves_every_zero_embedding(pairs, probs):
    K, n, d = 4, 8, 3
    c, b, value = wneg_optimal_output(K, n, d, active_inputs=2)
    X, Y, weights = two_hot_distribution(K, pairs, probs)
    exact = theory.dropout_criterion(w_neg(K, n, d, output_weight=c, output_bias=b), X, Y,
                                     weights=weights)
    np.testing.assert_allclose(exact, value, rtol=RTOL)
    assert wneg_optimal_output(K, K * 10 ** 6, d, active_inputs=2)[2] == pytest.approx(
        WNEG_LIMIT_K2, abs=1e-5)


# C12 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("K,n,d,y,keep_prob", [
    (2, 3, 3, 5.0, 0.5), (3, 2, 4, 7.0, 0.3), (1, 4, 2, 2.5, 0.8), (2, 2, 5, 10.0, 0.5),
    (4, 3, 1, 3.0, 0.6)])
def test_c12_closed_form_matches_enumeration(K, n, d, y, keep_prob):
    params, X, Y = theorem18_network(K, n, d, y)
    np.testing.assert_allclose(network_output(params, X), Y, rtol=1e-12)
    expected = theorem18_dropout_penalty(K, n, d, y, keep_prob=keep_prob)
    for method in ("enumerate", "linear"):
        np.testing.assert_allclose(theory.dropout_criterion(params, X, Y, keep_prob=keep_prob,
                                                            method=method), expected, rtol=RTOL)
    np.testing.assert_allclose(theory.l2_criterion(params, X, Y, lam=0.3),
                               theorem18_l2_penalty(K, n, d, y, lam=0.3), rtol=RTOL)


@pytest.mark.parametrize("d", [2, 6, 12])
def test_c12_wide_and_deep_via_linear_route(d):
    K, n, y = 5, 40, float(np.exp(d))
    params, X, Y = theorem18_network(K, n, d, y)
    penalty = theorem18_dropout_penalty(K, n, d, y)
    np.testing.assert_allclose(theory.dropout_penalty(params, X, Y), penalty, rtol=1e-9)
    assert penalty >= y * y / (K + 1)
    assert theorem18_l2_penalty(K, n, d, y, lam=1.0) <= theorem18_l2_bound(K, n, d, y, lam=1.0)
    assert max(abs(W).max() for W, _ in params) <= 1.0


def test_c12_dropout_penalty_exponential_l2_polynomial():
    K, n = 2, 4
    dropout = [theorem18_dropout_penalty(K, n, d, float(np.exp(d))) for d in range(2, 30)]
    l2 = [theorem18_l2_penalty(K, n, d, float(np.exp(d)), lam=1.0) for d in range(2, 30)]
    ratios = np.diff(np.log(dropout))
    assert np.all(ratios > 1.9)           # each extra layer multiplies the penalty by > e^1.9
    assert l2[-1] / l2[0] < 30 ** 2       # while the L2 penalty grows at most polynomially


@pytest.mark.parametrize("K,n,d,keep_prob,group_size", [
    (2, 2, 2, 0.5, 2), (2, 2, 3, (1.0, 0.5, 0.3), 1), (4, 2, 2, (0.7, 0.4), 2), (2, 2, 3, 0.6, 2)])
def test_c12_variant_closed_form_matches_brute_force(K, n, d, keep_prob, group_size):
    """Ours: Theorem 18's network under per-layer keep (PyTorch's placement) and group dropout."""
    y = 3.0
    params, X, Y = theorem18_network(K, n, d, y)
    groups = [np.arange(width) // group_size for width in [K] + [n] * (d - 1)]
    keep = np.broadcast_to(keep_prob, (d,))
    expected = theorem18_dropout_penalty(K, n, d, y, keep_prob=keep_prob, group_size=group_size)
    outputs, probs, _ = pattern_outputs(params, X[0], keep, groups)
    np.testing.assert_allclose(probs @ np.square(outputs - y), expected, rtol=RTOL)


@pytest.mark.parametrize("K,n,d,keep_prob", [(2, 2, 2, 0.5), (3, 2, 2, 0.3), (1, 2, 3, 0.6)])
def test_c12_dropconnect_closed_form_matches_brute_force(K, n, d, keep_prob):
    """Ours: Theorem 18's network under DropConnect, every weight's mask listed."""
    y = 2.0
    params, X, Y = theorem18_network(K, n, d, y)
    np.testing.assert_allclose(brute_force_criterion(params, X, Y, [1.0], keep_prob,
                                                     noise="dropconnect"),
                               theorem18_dropconnect_penalty(K, n, d, y, keep_prob=keep_prob),
                               rtol=RTOL)


def test_c12_variant_closed_forms_deep_via_linear_route():
    K, n, d, y = 4, 6, 9, 2.0 ** 9
    params, X, Y = theorem18_network(K, n, d, y)
    np.testing.assert_allclose(theory.dropout_penalty(params, X, Y, noise="dropconnect"),
                               theorem18_dropconnect_penalty(K, n, d, y), rtol=1e-9)
    groups = [np.arange(width) // 2 for width in [K] + [n] * (d - 1)]
    np.testing.assert_allclose(theory.dropout_penalty(params, X, Y, groups=groups),
                               theorem18_dropout_penalty(K, n, d, y, group_size=2), rtol=1e-9)
    ratio = (theorem18_dropconnect_penalty(K, n, 40, 1.0) + 1) / \
        (theorem18_dropconnect_penalty(K, n, 39, 1.0) + 1)
    np.testing.assert_allclose(ratio, dropconnect_growth_factor(n), rtol=1e-9)
    assert 1 < dropconnect_growth_factor(n) < 1 + 1 / n


def test_c12_min_norm_l2_is_the_least_over_balanced_rescalings():
    """No cross-layer rescaling (C3) of Theorem 18's network beats (d/2)(y/sqrt K)^{2/d}, and the
    balanced one reaches it."""
    K, n, d, y = 3, 4, 4, 6.0
    params, X, Y = theorem18_network(K, n, d, y)
    norms = np.array([np.sum(W ** 2) for W, _ in params])
    best = minimize(lambda u: 0.5 * np.sum(np.exp(2 * (u - u.mean())) * norms), np.zeros(d)).fun
    np.testing.assert_allclose(best, min_norm_l2_penalty(K, d, y, lam=1.0), rtol=1e-6)


# C5, C6 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("x,lam,n", [([1.0, 2.0], 0.3, 3), ([0.5, -0.5, 2.0], 0.1, 1),
                                     ([3.0], 1.0, 4), ([0.2, 0.1], 0.5, 2)])
def test_c5_c6_closed_forms_match_the_optimum_network(x, lam, n):
    x = np.asarray(x)
    params = weight_decay_optimum(x, lam, n)
    X, Y = point_and_origin(x, 1.0)
    A = weight_decay_activation(x, lam)
    np.testing.assert_allclose(network_output(params, X), [(1 + A) / 2, (1 - A) / 2], atol=1e-15)
    np.testing.assert_allclose(theory.l2_criterion(params, X, Y, lam=lam),
                               weight_decay_optimal_criterion(x, lam), rtol=RTOL)
    np.testing.assert_allclose(theory.risk(params, X, Y), weight_decay_aversion(x, lam),
                               rtol=RTOL)
    np.testing.assert_allclose(sum(np.sum(W ** 2) for W, _ in params),
                               lemma33_min_sq_weights(A, x), rtol=RTOL)
    assert (A == 0) == (2 * lam > np.linalg.norm(x))


def _best_l2_criterion(x, lam, n, starts, seed):
    """min over d = 2 networks of J2 on P_(x,1), by L-BFGS from random starts (float64)."""
    x = np.asarray(x)
    X, Y = point_and_origin(x, 1.0)
    K = x.size
    shapes = [(n, K), (n,), (1, n), (1,)]
    sizes = [int(np.prod(s)) for s in shapes]

    def unflatten(theta):
        parts = jnp.split(theta, np.cumsum(sizes)[:-1])
        W1, b1, w, b = (part.reshape(shape) for part, shape in zip(parts, shapes))
        return ((W1, b1), (w, b))

    def j2(theta):
        params = unflatten(theta)
        r = jnp.mean(jnp.square(network_output(params, X) - Y))
        return r + 0.5 * lam * (jnp.sum(params[0][0] ** 2) + jnp.sum(params[1][0] ** 2))

    value_and_grad = jax.jit(jax.value_and_grad(j2))
    rng = np.random.default_rng(seed)
    best = np.inf
    for _ in range(starts):
        result = minimize(lambda t: [np.asarray(v) for v in value_and_grad(jnp.asarray(t))],
                          rng.normal(size=sum(sizes)), jac=True, method="L-BFGS-B",
                          options=dict(maxiter=2000, gtol=1e-12, ftol=1e-15))
        best = min(best, result.fun)
    return best


@pytest.mark.parametrize("x,lam", [([1.0, 2.0], 0.3), ([0.3, 0.4], 0.4), ([2.0, 0.0, 1.0], 0.05)])
def test_c5_c6_no_network_found_beats_the_closed_form(x, lam):
    """Theorem 7 and the collapse threshold, tested as optimisation: L-BFGS from 12 random starts
    over all d = 2 networks reaches Eq. 12 and never goes below it."""
    best = _best_l2_criterion(x, lam, n=3, starts=12, seed=0)
    closed = weight_decay_optimal_criterion(x, lam)
    assert best >= closed - 1e-9
    assert best <= closed + 1e-6


# C14, C17 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_c14_decomposition_matches_brute_force_for_any_label(seed):
    rng = np.random.default_rng(seed)
    params = random_network(rng, [3, 3, 2, 1])
    x = rng.normal(size=3)
    keep_prob = float(rng.uniform(0.2, 0.9))
    decomposition = label_decomposition(params, x, keep_prob=keep_prob)
    f = float(network_output(params, x[None])[0])
    for y in (-3.0, 0.0, 1.5, 10.0):
        brute = brute_force_criterion(params, x[None], [y], [1.0], keep_prob) - (f - y) ** 2
        np.testing.assert_allclose(decomposition.penalty(y), brute, rtol=1e-9, atol=1e-10)


def test_c14_witness_penalty_is_a_falling_line_through_zero():
    params, x = theorem20_witness()
    outputs, _, patterns = pattern_outputs(params, x, 0.5)
    hidden_only = patterns[:, 2:].all(axis=1)
    assert float(network_output(params, x[None])[0]) == 0.0          # both hidden nodes clip
    only_negative_dropped = hidden_only & (patterns[:, 0] == 1) & (patterns[:, 1] == 0)
    assert np.all(outputs[only_negative_dropped] > 0)
    decomposition = label_decomposition(params, x)
    assert decomposition.mean_delta > 0 and decomposition.slope < 0
    y_zero = decomposition.mean_delta_sq / (2 * decomposition.mean_delta)   # penalty(y) = 0
    X, Y = x[None], np.array([y_zero])
    assert abs(theory.dropout_penalty(params, X, Y)) < 1e-12
    assert theory.dropout_penalty(params, X, Y - 1) > 0 > theory.dropout_penalty(params, X, Y + 1)


@pytest.mark.parametrize("seed", range(4))
def test_c17_one_layer_penalty_is_exact_nonnegative_and_label_free(seed):
    rng = np.random.default_rng(seed)
    params = random_network(rng, [4, 1])
    X = rng.normal(size=(5, 4))
    weights = rng.dirichlet(np.ones(5))
    keep_prob = float(rng.uniform(0.1, 1.0))
    closed = one_layer_penalty(params, X, keep_prob=keep_prob, weights=weights)
    assert closed >= 0
    for Y in (rng.normal(size=5), 100 * rng.normal(size=5)):
        np.testing.assert_allclose(theory.dropout_penalty(params, X, Y, keep_prob=keep_prob,
                                                          weights=weights), closed, rtol=1e-9)


# C16 ------------------------------------------------------------------------------------------
def test_c16_torch_default_initialisation(key):
    """Every weight and bias uniform on +-1/sqrt(fan_in): bounds, shapes and a KS test per layer."""
    from scipy.stats import kstest

    from sgd.initialisation import torch_default_init

    params = torch_default_init(key, 5, 400, 3)
    assert [W.shape for W, _ in params] == [(400, 5), (400, 400), (1, 400)]
    for (W, b), fan_in in zip(params[:2], (5, 400)):
        bound = fan_in ** -0.5
        values = np.concatenate([np.ravel(W), np.ravel(b)])
        assert np.all(np.abs(values) <= bound)
        assert kstest(values, "uniform", args=(-bound, 2 * bound)).pvalue > 1e-3
    again = torch_default_init(key, 5, 400, 3)
    assert all(np.array_equal(W, W2) for (W, _), (W2, _) in zip(params, again))


# Column (e) under PyTorch's placement and group dropout (theory.paper.negative_weights_variants) --

def _p11_variant(n, keep_prob, inputs_noisy, group_size):
    """keep_prob and groups as the variants give them, written out (K = 2, d = 2)."""
    keeps = (keep_prob if inputs_noisy else 1.0, keep_prob)
    groups = None if group_size == 1 else [np.arange(2) // group_size,
                                           np.arange(n) // group_size]
    return keeps, groups


@pytest.mark.parametrize("n,keep_prob", [(4, 0.5), (6, 0.3), (8, 0.8)])
def test_variant_minimisers_on_p11_attain_their_closed_forms_by_brute_force(n, keep_prob):
    """Each minimiser's J_D, listed pattern by pattern, is its closed form; the free group-dropout
    minimiser uses a negative weight, the others none."""
    X, Y = p11(2)
    half = np.full(2, 0.5)
    keeps, _ = _p11_variant(n, keep_prob, False, 1)
    network = hidden_only_minimiser(n, keep_prob)
    assert min(W.min() for W, _ in network) >= 0
    np.testing.assert_allclose(brute_force_criterion(network, X, Y, half, keeps),
                               hidden_only_minimum(n, keep_prob), rtol=1e-12)
    keeps, groups = _p11_variant(n, keep_prob, True, 2)
    free, nonnegative = group_dropout_minima(n, keep_prob)
    for network, value in ((group_dropout_free_minimiser(n, keep_prob), free),
                           (group_dropout_nonnegative_minimiser(n, keep_prob), nonnegative)):
        np.testing.assert_allclose(brute_force_criterion(network, X, Y, half, keeps, groups=groups),
                                   value, rtol=1e-12)
    assert group_dropout_free_minimiser(n, keep_prob)[1][0].min() < 0
    assert min(W.min() for W, _ in group_dropout_nonnegative_minimiser(n, keep_prob)) >= 0
    assert free < nonnegative


@pytest.mark.parametrize("n,keep_prob", [(2, 0.3), (3, 0.5), (3, 0.8)])
def test_dropconnect_averaging_network_attains_its_closed_form_by_brute_force(n, keep_prob):
    """DropConnect's non-negative construction on P_(1,1), every weight's mask listed."""
    X, Y = p11(2)
    network = dropconnect_averaging_network(n, keep_prob)
    assert min(W.min() for W, _ in network) >= 0
    np.testing.assert_allclose(
        brute_force_criterion(network, X, Y, np.full(2, 0.5), (keep_prob, keep_prob),
                              noise="dropconnect"),
        dropconnect_averaging_criterion(n, keep_prob), rtol=1e-12)


def _best_p11_criterion(n, keeps, groups, *, nonnegative, starts, seed):
    """min over d = 2 networks (weights >= 0 if ``nonnegative``; biases free) of the exact J_D on
    P_(1,1), by L-BFGS-B from random starts."""
    X, Y = p11(2)
    shapes = [(n, 2), (n,), (1, n), (1,)]
    sizes = [int(np.prod(s)) for s in shapes]

    def criterion(theta):
        W1, b1, w, b = (part.reshape(shape) for part, shape in
                        zip(jnp.split(theta, np.cumsum(sizes)[:-1]), shapes))
        return theory.dropout_criterion(((W1, b1), (w, b)), X, Y, keep_prob=keeps, groups=groups)

    value_and_grad = jax.jit(jax.value_and_grad(criterion))
    weight = np.concatenate([np.full(size, i % 2 == 0) for i, size in enumerate(sizes)])
    bounds = [(0, None) if nonnegative and is_weight else (None, None) for is_weight in weight]
    rng = np.random.default_rng(seed)
    best = np.inf
    for _ in range(starts):
        start = rng.uniform(-1, 1, size=sum(sizes))
        start = np.where(weight & nonnegative, np.abs(start), start)
        result = minimize(lambda t: [np.asarray(v) for v in value_and_grad(jnp.asarray(t))],
                          start, jac=True, method="L-BFGS-B", bounds=bounds,
                          options=dict(maxiter=3000, gtol=1e-12, ftol=1e-15))
        best = min(best, result.fun)
    return best


def test_no_network_found_beats_the_variant_minima():
    """The lower bounds of the proofs, tested as optimisation (n = 4, keep 1/2): L-BFGS-B from 8
    random starts never goes below them, and the non-negative runs reach their minimum."""
    n, p = 4, 0.5
    keeps, _ = _p11_variant(n, p, False, 1)
    for nonnegative in (False, True):
        best = _best_p11_criterion(n, keeps, None, nonnegative=nonnegative, starts=8, seed=1)
        assert hidden_only_minimum(n, p) - 1e-10 <= best
    assert best <= hidden_only_minimum(n, p) + 1e-6
    keeps, groups = _p11_variant(n, p, True, 2)
    free, nonnegative = group_dropout_minima(n, p)
    assert _best_p11_criterion(n, keeps, groups, nonnegative=False, starts=8, seed=2) >= free - 1e-10
    best = _best_p11_criterion(n, keeps, groups, nonnegative=True, starts=8, seed=3)
    assert nonnegative - 1e-10 <= best <= nonnegative + 1e-6
