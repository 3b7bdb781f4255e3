"""The one statistical rule for every verdict that rests on SGD runs, fixed before the runs.

**Design.** Two arms (say, without and with dropout) trained on the same seeds: each seed gives
both arms the same data draw and the same initialisation, so the runs are paired and the evidence
is one difference per pair, oriented so that the claim under test predicts d > 0 (for example
d = test loss without dropout - test loss with dropout for "dropout lowers the test loss").

**Claims of a direction: the exact sign test.** Under no effect a nonzero difference is as likely
positive as negative, so the number of positive differences among the n nonzero ones is
Binomial(n, 1/2) (Dixon and Mood, "The statistical sign test", JASA 1946; ties are dropped). We use
it, not the paired t-test, because the differences of SGD outcomes are skewed and heavy-tailed
(a few runs diverge or land in another basin): the sign test assumes nothing about their
distribution and is exact at every n, at the price of some power. Its companion interval is the
distribution-free interval for the median difference between two order statistics, whose coverage
is an exact binomial sum >= the nominal level.

**Claims of no effect ("flat", "the same", "pointless"): two one-sided tests** (Schuirmann,
J. Pharmacokinet. Biopharm. 1987) of the mean paired difference against a margin +-delta fixed
before the runs from the claim's own words or the quantity's scale. Equivalence is shown when the
mean is significantly above -delta and significantly below +delta (t-tests at level alpha each),
which is the same as the 1 - 2 alpha confidence interval lying inside (-delta, delta). A t-test
here, because the claim is about the size of the mean effect, which the sign test cannot bound;
with the rule's n >= 32 pairs the mean is close to normal. That is an assumption, and a referee's
simulation shows it can fail for heavy tails (n = 32, lognormal sigma = 1 differences on the margin:
15% rejections at a nominal 5%). The rows that use it (real_input_scale's B50, B51) say so and give
the differences' skewness beside the verdict.

**Several rows, one family.** The rows of one study are one family of tests: Holm's step-down
correction (Holm, "A simple sequentially rejective multiple test procedure", Scand. J. Statist.
1979) keeps the chance of any false rejection among them at alpha. The direction of a rejected row
is read from its one-sided p-values; that this also bounds wrong-direction errors across the family
is proven under extra assumptions (independent, continuous statistics; Shaffer, Ann. Statist.
1980), which paired rows sharing seeds and discrete counts do not strictly meet: an assumption of
the rule, stated here.

**Power.** At n pairs, the sign test at level alpha (alpha / 2 per direction) has 80% power against
P(d > 0) = pi for every pi at or above :func:`sign_test_detectable_effect`; the row states it, so
"undecided" says how large an effect could have been missed.

**Verdicts** (:func:`direction_verdict`, :func:`no_effect_verdict`): "holds in SGD" for a
significant effect in the claimed direction (or equivalence shown for a claim of no effect), "fails
in SGD" for a significant effect in the refuting direction (for a claim of no effect: a mean
significantly beyond the margin), "undecided" otherwise. Not detecting an effect is never "fails".
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import optimize, stats

ALPHA = 0.05
"""The level of every test (two-sided claims split it between the directions)."""
MIN_PAIRS = 32
"""The fewest paired runs per comparison."""
POWER = 0.8


def _differences(differences) -> np.ndarray:
    d = np.asarray(differences, dtype=np.float64).ravel()
    if d.size == 0 or not np.all(np.isfinite(d)):
        raise ValueError(f"differences must be a non-empty array of finite numbers, got {d!r}")
    return d


class SignTest(NamedTuple):
    """The sign test of paired differences d (claimed direction: d > 0)."""

    pairs: int              # all pairs
    positive: int           # d > 0: the claimed direction
    negative: int           # d < 0
    p_greater: float        # one-sided p-value for d > 0 (exact binomial, ties dropped)
    p_less: float           # one-sided p-value for d < 0
    median: float
    ci_low: float           # distribution-free interval for the median difference
    ci_high: float
    coverage: float         # its exact coverage (>= 1 - alpha)

    @property
    def p_two_sided(self) -> float:
        """Either direction: what Holm's correction and the verdict use."""
        return min(1.0, 2.0 * min(self.p_greater, self.p_less))


def median_interval(differences, alpha: float = ALPHA) -> tuple[float, float, float]:
    """(low, high, coverage): the distribution-free confidence interval for the median of the
    differences between order statistics d_(k) and d_(n+1-k), with k the largest index whose
    exact coverage 1 - 2 P(Binomial(n, 1/2) <= k - 1) is still >= 1 - alpha; the whole range
    (-inf, inf) when even k = 1 falls short (n < 6 at alpha = 0.05)."""
    d = np.sort(_differences(differences))
    n = d.size
    k = 0
    while k + 1 <= n // 2 and 1.0 - 2.0 * stats.binom.cdf(k, n, 0.5) >= 1.0 - alpha:
        k += 1
    if k == 0:
        return -np.inf, np.inf, 1.0
    return float(d[k - 1]), float(d[n - k]), float(1.0 - 2.0 * stats.binom.cdf(k - 1, n, 0.5))


def sign_test(differences, alpha: float = ALPHA) -> SignTest:
    """The exact sign test of paired differences (module doc), with the median's interval."""
    d = _differences(differences)
    positive, negative = int(np.sum(d > 0)), int(np.sum(d < 0))
    nonzero = positive + negative
    if nonzero == 0:
        p_greater = p_less = 1.0
    else:
        p_greater = float(stats.binom.sf(positive - 1, nonzero, 0.5))     # P(X >= positive)
        p_less = float(stats.binom.cdf(positive, nonzero, 0.5))           # P(X <= positive)
    low, high, coverage = median_interval(d, alpha)
    return SignTest(d.size, positive, negative, p_greater, p_less, float(np.median(d)), low, high,
                    coverage)


class EquivalenceTest(NamedTuple):
    """Two one-sided t-tests of the mean paired difference against the margin +-delta."""

    pairs: int
    mean: float
    margin: float
    p_equivalent: float     # max of the two one-sided p-values: equivalence shown when < alpha
    p_beyond: float         # p-value for |mean| > margin (the mean's side, doubled)
    ci_low: float           # the 1 - 2 alpha interval for the mean
    ci_high: float


def equivalence_test(differences, margin: float, alpha: float = ALPHA) -> EquivalenceTest:
    """TOST (module doc) for a claim of no effect within +-``margin`` (> 0, fixed in advance)."""
    d = _differences(differences)
    if not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a finite number > 0, fixed before the runs, got {margin!r}")
    if d.size < 2:
        raise ValueError("an equivalence test needs at least 2 differences")
    n, mean = d.size, float(np.mean(d))
    se = float(np.std(d, ddof=1) / np.sqrt(n))
    t = stats.t(df=n - 1)
    if se == 0.0:                                   # every difference equal: no sampling error
        inside = abs(mean) < margin
        return EquivalenceTest(n, mean, margin, 0.0 if inside else 1.0,
                               0.0 if abs(mean) > margin else 1.0, mean, mean)
    p_above_lower = float(t.sf((mean + margin) / se))      # H0: mean <= -margin
    p_below_upper = float(t.cdf((mean - margin) / se))     # H0: mean >= +margin
    # H0: |mean| <= margin. The side is chosen by the data (the mean's sign), so its one-sided
    # p-value is doubled: the size stays alpha at every point of the null (alpha / 2 per side).
    p_beyond = min(1.0, 2.0 * float(t.sf((abs(mean) - margin) / se)))
    half = float(t.ppf(1.0 - alpha)) * se
    return EquivalenceTest(n, mean, margin, max(p_above_lower, p_below_upper), p_beyond,
                           mean - half, mean + half)


class GrowthTest(NamedTuple):
    """Is log(value) linear in x (geometric growth) or concave (slower, like a power of x)?"""

    points: int
    slope: float            # of the straight-line least-squares fit of log(value) on x
    slope_low: float        # its 1 - alpha interval
    slope_high: float
    curvature: float        # gamma of the fit log(value) = a + b x + gamma x^2
    curvature_low: float    # its 1 - 2 alpha interval (the TOST interval)
    curvature_high: float
    margin: float
    p_geometric: float      # TOST of |gamma| < margin: geometric within the margin when < alpha
    p_slower: float         # one-sided p-value for gamma < -margin (slower than geometric)
    p_concave: float        # one-sided p-value for gamma < 0


def growth_test(x, values, margin: float, alpha: float = ALPHA) -> GrowthTest:
    """Least-squares t-tests on log(values) against x (one point per run): the straight line's slope
    (growth at all) and the curvature gamma of a quadratic fit. Geometric growth, value ~ c r^x, has
    gamma = 0; a power of x, value ~ c x^k, has log(value) = log c + k log x, concave (gamma < 0).
    Equivalence of gamma to 0 within +-``margin`` (fixed before the runs) is tested by two one-sided
    t-tests, as :func:`equivalence_test` does for a mean. The t-tests assume independent, normal
    residuals of log(value) around the fit (the runs are independent; the normality is an
    assumption, stated where the test is used)."""
    x, v = np.asarray(x, np.float64).ravel(), np.asarray(values, np.float64).ravel()
    if x.shape != v.shape or x.size < 4 or not np.all(np.isfinite(x)) \
            or not np.all(np.isfinite(v) & (v > 0)):
        raise ValueError("x and values must be equal-length arrays of at least 4 finite numbers, "
                         "the values > 0")
    if not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a finite number > 0, fixed before the runs, got {margin!r}")
    y = np.log(v)

    def fit(columns):
        A = np.column_stack(columns)
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        dof = y.size - A.shape[1]
        sigma2 = float(np.sum(np.square(y - A @ coef)) / dof)
        return coef, np.sqrt(np.diag(sigma2 * np.linalg.inv(A.T @ A))), dof

    (_, slope), (_, slope_se), dof = fit([np.ones_like(x), x])
    (_, _, gamma), (_, _, gamma_se), dof2 = fit([np.ones_like(x), x, x * x])
    t1, t2 = stats.t(df=dof), stats.t(df=dof2)
    half_slope = float(t1.ppf(1 - alpha / 2)) * slope_se
    half_gamma = float(t2.ppf(1 - alpha)) * gamma_se
    p_above_lower = float(t2.sf((gamma + margin) / gamma_se))
    p_below_upper = float(t2.cdf((gamma - margin) / gamma_se))
    return GrowthTest(x.size, float(slope), float(slope - half_slope), float(slope + half_slope),
                      float(gamma), float(gamma - half_gamma), float(gamma + half_gamma), margin,
                      max(p_above_lower, p_below_upper), float(t2.cdf((gamma + margin) / gamma_se)),
                      float(t2.cdf(gamma / gamma_se)))


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values (module doc), in the order given: reject where adjusted < alpha."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"p_values must be a 1-D sequence of numbers in [0, 1], got {p_values!r}")
    order = np.argsort(p, kind="stable")
    m = p.size
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def sign_test_detectable_effect(pairs: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest P(d > 0) that the sign test at level ``alpha`` (two-sided: alpha / 2 per
    direction) detects with probability ``power`` from ``pairs`` nonzero differences; 1.0 when no
    effect can be detected at that n."""
    # It rejects for d > 0 when at least c differences are positive, c the smallest count with
    # P(Binomial(pairs, 1/2) >= c) <= alpha / 2.
    c = next((c for c in range(pairs + 1) if stats.binom.sf(c - 1, pairs, 0.5) <= alpha / 2),
             None)
    if c is None or stats.binom.sf(c - 1, pairs, 1.0 - 1e-15) < power:
        return 1.0
    return float(optimize.brentq(lambda pi: stats.binom.sf(c - 1, pairs, pi) - power, 0.5,
                                 1.0 - 1e-15, xtol=1e-12))


VERDICTS = ("holds in SGD", "fails in SGD", "undecided")


def direction_verdict(test: SignTest, p_adjusted: float, alpha: float = ALPHA) -> str:
    """"holds in SGD" when the sign test is significant (``p_adjusted``: its two-sided p-value
    after Holm) in the claimed direction d > 0, "fails in SGD" when in the opposite one, else
    "undecided"."""
    if p_adjusted >= alpha:
        return "undecided"
    return "holds in SGD" if test.p_greater < test.p_less else "fails in SGD"


def no_effect_verdict(test: EquivalenceTest, p_adjusted_equivalent: float,
                      p_adjusted_beyond: float, alpha: float = ALPHA) -> str:
    """"holds in SGD" when equivalence within the margin is shown after Holm, "fails in SGD" when
    the mean is significantly beyond the margin, else "undecided"."""
    if p_adjusted_equivalent < alpha:
        return "holds in SGD"
    if p_adjusted_beyond < alpha:
        return "fails in SGD"
    return "undecided"


def combined_verdict(verdicts) -> str:
    """One row judged by several tests (measures or data sets): "holds in SGD" when every test
    does, "fails in SGD" when any is significant the other way, else "undecided"."""
    verdicts = list(verdicts)
    if all(v == "holds in SGD" for v in verdicts):
        return "holds in SGD"
    return "fails in SGD" if "fails in SGD" in verdicts else "undecided"


def describe_sign_test(test: SignTest, p_adjusted: float, what: str = "d") -> str:
    """The row's statistics in words: counts, p-values, the interval and the detectable effect (of
    the nonzero differences, the ones the sign test uses)."""
    nonzero = test.positive + test.negative
    return (f"{test.positive} of {test.pairs} pairs with {what} > 0 ({test.negative} < 0); exact "
            f"sign test p = {test.p_two_sided:.2g} (Holm {p_adjusted:.2g}); median "
            f"{test.median:.3g}, CI [{test.ci_low:.3g}, {test.ci_high:.3g}] (exact coverage "
            f"{test.coverage:.1%}); {nonzero} {'nonzero ' if nonzero < test.pairs else ''}pairs "
            f"detect P({what} > 0) >= {sign_test_detectable_effect(nonzero):.2f} with {POWER:.0%} "
            "power (before Holm)")


def equivalence_detectable_margin(test: EquivalenceTest, alpha: float = ALPHA,
                                  power: float = POWER) -> float:
    """The margin within which TOST shows equivalence with probability ``power`` when the true mean
    difference is 0, at the test's own standard error (t quantiles):
    (t_{1 - alpha} + t_{1 - (1 - power)/2}) se."""
    t = stats.t(df=test.pairs - 1)
    se = (test.ci_high - test.ci_low) / (2 * float(t.ppf(1.0 - alpha)))
    return float((t.ppf(1.0 - alpha) + t.ppf(1.0 - (1.0 - power) / 2)) * se)


def describe_equivalence_test(test: EquivalenceTest, p_adjusted_equivalent: float,
                              p_adjusted_beyond: float, what: str = "d") -> str:
    """The row's statistics in words for a claim of no effect."""
    return (f"mean {what} {test.mean:+.3g} over {test.pairs} pairs, {1 - 2 * ALPHA:.0%} CI "
            f"[{test.ci_low:+.3g}, {test.ci_high:+.3g}] against the margin +-{test.margin:g}; "
            f"TOST p = {test.p_equivalent:.2g} (Holm {p_adjusted_equivalent:.2g}), beyond the "
            f"margin p = {test.p_beyond:.2g} (Holm {p_adjusted_beyond:.2g}); {test.pairs} pairs "
            f"show equivalence within +-{equivalence_detectable_margin(test):.3g} with "
            f"{POWER:.0%} power when the true mean is 0")
