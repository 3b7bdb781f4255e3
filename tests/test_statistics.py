"""The statistical rule of the SGD-based verdicts (experiments/shared/statistics.py), checked
against SciPy's own tests, brute-force sums and a hand-worked example."""

import numpy as np
import pytest
from scipy import stats

from experiments.shared import statistics as rule


def test_sign_test_is_scipys_exact_binomial_test_with_ties_dropped():
    rng = np.random.default_rng(0)
    for n, shift in [(32, 0.0), (40, 0.4), (33, -0.5), (7, 1.0)]:
        d = np.round(rng.normal(shift, 1.0, n), 1)           # rounding makes some ties (zeros)
        test = rule.sign_test(d)
        positive, nonzero = int(np.sum(d > 0)), int(np.sum(d != 0))
        assert test.p_greater == pytest.approx(
            stats.binomtest(positive, nonzero, alternative="greater").pvalue, rel=1e-12)
        assert test.p_less == pytest.approx(
            stats.binomtest(positive, nonzero, alternative="less").pvalue, rel=1e-12)
        assert test.p_two_sided == pytest.approx(
            min(1.0, 2 * min(test.p_greater, test.p_less)), rel=1e-12)


def test_median_interval_is_the_widest_exact_order_statistic_interval_needed():
    """Coverage by brute force over every sign pattern of the order statistics: P(d_(k) <= m <=
    d_(n+1-k)) = P(k <= #below m <= n - k) under a continuous law with median m."""
    for n in (6, 10, 32, 50):
        low, high, coverage = rule.median_interval(np.arange(n, dtype=float))
        k = int(low) + 1
        assert high == n - k
        exact = sum(stats.binom.pmf(j, n, 0.5) for j in range(k, n - k + 1))
        assert coverage == pytest.approx(exact, rel=1e-12) and coverage >= 0.95
        assert 1 - 2 * stats.binom.cdf(k, n, 0.5) < 0.95        # k + 1 would fall short
    assert rule.median_interval(np.arange(5.0))[:2] == (-np.inf, np.inf)


def test_equivalence_test_is_two_one_sided_t_tests():
    rng = np.random.default_rng(1)
    d = rng.normal(0.05, 0.2, 40)
    test = rule.equivalence_test(d, margin=0.15)
    lower = stats.ttest_1samp(d, -0.15, alternative="greater").pvalue
    upper = stats.ttest_1samp(d, 0.15, alternative="less").pvalue
    assert test.p_equivalent == pytest.approx(max(lower, upper), rel=1e-10)
    interval = stats.t.interval(0.90, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert (test.ci_low, test.ci_high) == pytest.approx(interval, rel=1e-10)
    # equivalence shown exactly when the 90% interval lies inside the margin
    assert (test.p_equivalent < 0.05) == (-0.15 < test.ci_low and test.ci_high < 0.15)
    assert rule.no_effect_verdict(test, test.p_equivalent, test.p_beyond) == "holds in SGD"
    far = rule.equivalence_test(d + 0.5, margin=0.15)
    assert rule.no_effect_verdict(far, far.p_equivalent, far.p_beyond) == "fails in SGD"
    wide = rule.equivalence_test(rng.normal(0.1, 1.0, 32), margin=0.15)
    assert rule.no_effect_verdict(wide, wide.p_equivalent, wide.p_beyond) == "undecided"


def test_holm_adjustment_by_hand():
    """Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max
    0.02, 0.03, 0.06, 0.06, returned in the order given."""
    np.testing.assert_allclose(rule.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(rule.holm([0.5, 0.9]), [1.0, 1.0])      # monotone, capped at 1


def test_detectable_effect_is_where_the_power_reaches_eighty_percent():
    for n in (6, 32, 64):
        pi = rule.sign_test_detectable_effect(n)
        c = min(c for c in range(n + 1) if stats.binom.sf(c - 1, n, 0.5) <= 0.025)
        assert stats.binom.sf(c - 1, n, pi) == pytest.approx(0.8, abs=1e-9)
        assert stats.binom.sf(c - 1, n, pi - 1e-3) < 0.8
    assert rule.sign_test_detectable_effect(5) == 1.0     # 5 pairs: p >= 1/16 two-sided


def test_direction_verdicts_never_read_absence_of_evidence_as_failure():
    rng = np.random.default_rng(2)
    clear = rule.sign_test(rng.normal(1.0, 1.0, 32))
    assert rule.direction_verdict(clear, clear.p_two_sided) == "holds in SGD"
    against = rule.sign_test(rng.normal(-1.0, 1.0, 32))
    assert rule.direction_verdict(against, against.p_two_sided) == "fails in SGD"
    nothing = rule.sign_test(np.array([1.0, -1.0] * 16))
    assert rule.direction_verdict(nothing, nothing.p_two_sided) == "undecided"
    assert "16 of 32 pairs" in rule.describe_sign_test(nothing, nothing.p_two_sided)


@pytest.mark.parametrize("bad", [[], [1.0, np.nan], [np.inf]])
def test_bad_differences_are_refused(bad):
    with pytest.raises(ValueError, match="differences must be a non-empty array of finite"):
        rule.sign_test(bad)


def test_beyond_the_margin_spends_alpha_over_both_sides():
    """The side of |mean| > margin is chosen by the data, so its p-value is doubled (a referee's
    counterexample: undoubled, a null point rejected 9.1% of the time at a nominal 5%)."""
    d = np.random.default_rng(3).normal(0.6, 0.5, 32)
    test = rule.equivalence_test(d, margin=0.3)
    one_sided = stats.ttest_1samp(d, 0.3, alternative="greater").pvalue
    assert test.p_beyond == pytest.approx(min(1.0, 2 * one_sided), rel=1e-10)


def test_detectable_effect_is_stated_for_the_nonzero_pairs_the_test_uses():
    test = rule.sign_test(np.r_[np.zeros(20), np.ones(12)])
    words = rule.describe_sign_test(test, test.p_two_sided)
    assert "12 nonzero pairs detect P(d > 0) >= 0.87" in words
    with pytest.raises(ValueError, match="p_values must be a 1-D sequence"):
        rule.holm([0.1, np.nan])


def test_combined_verdict_needs_every_test_to_hold_and_any_to_fail():
    assert rule.combined_verdict(["holds in SGD", "holds in SGD"]) == "holds in SGD"
    assert rule.combined_verdict(["holds in SGD", "undecided"]) == "undecided"
    assert rule.combined_verdict(["holds in SGD", "fails in SGD"]) == "fails in SGD"
    assert rule.combined_verdict(["undecided", "undecided"]) == "undecided"


def test_growth_test_is_least_squares_against_scipy_and_separates_geometric_from_power_law():
    """The straight line's slope and its interval are scipy.stats.linregress's; the curvature of a
    geometric law is equivalent to 0 within the margin, that of a power law (d^2) is negative."""
    rng = np.random.default_rng(7)
    d = np.repeat(np.arange(1, 9), 12).astype(float)
    geometric = 1.6 ** d * np.exp(rng.normal(0, 0.05, d.size))
    test = rule.growth_test(d, geometric, margin=0.01)
    line = stats.linregress(d, np.log(geometric))
    half = stats.t.ppf(0.975, d.size - 2) * line.stderr
    assert (test.slope, test.slope_low, test.slope_high) == pytest.approx(
        (line.slope, line.slope - half, line.slope + half), rel=1e-10)
    assert test.p_geometric < 0.05 and test.p_slower > 0.05
    assert -0.01 < test.curvature_low and test.curvature_high < 0.01     # TOST = 90% interval
    power = d ** 2 * np.exp(rng.normal(0, 0.05, d.size))
    slow = rule.growth_test(d, power, margin=0.01)
    assert slow.p_concave < 1e-6 and slow.p_slower < 1e-6 and slow.p_geometric > 0.5
    with pytest.raises(ValueError, match="values > 0"):
        rule.growth_test(d, -geometric, margin=0.01)
    with pytest.raises(ValueError, match="margin"):
        rule.growth_test(d, geometric, margin=0.0)
