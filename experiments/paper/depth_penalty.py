"""The dropout penalty grows exponentially with depth, the L2 penalty does not (C12).

    python -m experiments depth_penalty                # writes figures/depth_penalty.*

Left: the Theorem 18 network (x = 1^K, K = 5, label y = 2^d, every weight c, biases 0): its dropout
penalty y^2 ((1 + q/(pK)) (1 + q/(pn))^{d-1} - 1) for several widths n and keep probabilities
(lines, closed form) against the exact evaluator on the same networks (markers), beside its
L2 penalty (lam/2) c^2 (number of weights) with lam = 1.
Middle (ours, B1): networks trained by SGD with a small weight decay to fit Theorem 18's example,
x = 1^K, y = 2^d (K = n = 5), in three arms (GROWTH_ARMS): weights projected onto >= 0 with every
bias held at 0 (Theorem 18's setting, started at y^{1/d} |Torch's initialisation|, so no ReLU is
dead on 1^K; its fits are non-negative and the exact linear route applies at any depth); weights
free with biases held at 0; weights and biases free, both decayed (Torch's weight decay; the
layer-l biases started at y^{l/d} times Torch's). The step is 0.02 y^{2/d-2} and the decay
lam_d = 0.01 y^{2-2/d}: by positive homogeneity (C3, C4) this is SGD on W / y^{1/d} fitting the
label 1 with step 0.02 and decay 0.01, so every depth is equally hard for SGD. Markers: median
(and range) over the runs that fit (risk < 1e-3 y^2) of 1 + P, P = the exact dropout penalty
(keep 1/2) / y^2 (Monte Carlo with its standard error where enumeration is too large), and of the
L2 penalty (1/2)||W||^2; lines: Theorem 18's 1 + P (geometric) and the minimum-norm L2 penalty
(d/2) (y/sqrt(K))^{2/d}. B1 asks whether P grows geometrically (log(1 + P) linear in d) while the
L2 penalty grows like a power of d (log-concave), by least-squares t-tests on every fitted run.
Right: networks of width 3 with K = 3 inputs trained by SGD without regularisation to fit P_(1,1)
at each depth, from Torch's initialisation: their exact dropout
penalty and L2 penalty (median and interquartile range over seeds), and the risk that dropout
training itself reaches at each depth.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import theory
from experiments.common import COLORS, Check, Finding, rounding_bound
from experiments.shared import statistics
from sgd.initialisation import torch_default_init
from sgd.training import Regime, Schedule, final_checkpoint, stack_runs, train
from theory.evaluation import exact_risk_and_dropout_criterion, l2_penalties
from theory.paper.depth import (min_norm_l2_penalty, theorem18_dropout_penalty, theorem18_l2_bound,
                                theorem18_l2_penalty, theorem18_network)
from theory.paper.distributions import p11

TITLE = "Dropout's penalty grows exponentially with depth; weight decay's does not"
CLAIMS = ("C12",)

K_THEORY, WIDTHS, LAM = 5, (2, 5, 20), 1.0
K_TRAIN, N_TRAIN, FIT_TOLERANCE = 3, 3, 1e-6
GROWTH = dict(K=5, n=5, step=0.02, decay=0.01, relative_fit_tolerance=1e-3,
              exact_patterns=2 ** 20, mc_samples=2 ** 16, curvature_margin=0.01)
"""B1's protocol. ``curvature_margin``, fixed before the free arms were run: geometric growth
within it means the per-layer factor of 1 + P drifts by at most 2% per layer (|2 gamma| <= 0.02 in
log), while a power law d^k has a log-curvature of about -k / (2 d^2) ~ -0.025 k over d = 1..8."""
GROWTH_ARMS = {
    "projected": {"label": "weights projected onto >= 0, biases held at 0 (Theorem 18's setting)",
                  "regime": dict(nonnegative=1.0, zero_biases=1.0)},
    "free": {"label": "weights free (no projection), biases held at 0",
             "regime": dict(zero_biases=1.0)},
    "free_biases": {"label": "weights and biases free, biases decayed too (Torch's weight decay)",
                    "regime": dict(decay_biases=1.0)},
}


def _theorem18(depths, progress):
    curves = []
    for n, keep_prob in [(n, 0.5) for n in WIDTHS] + [(5, 0.8)]:
        progress(f"Theorem 18 networks, n = {n}, keep_prob = {keep_prob}")
        closed, exact, l2 = [], [], []
        for d in depths:
            y = 2.0 ** d
            params, X, Y = theorem18_network(K_THEORY, n, d, y)
            closed.append(theorem18_dropout_penalty(K_THEORY, n, d, y, keep_prob=keep_prob))
            exact.append(theory.dropout_penalty(params, X, Y, keep_prob=keep_prob))
            l2.append(theorem18_l2_penalty(K_THEORY, n, d, y, lam=LAM))
        curves.append({"n": n, "keep_prob": keep_prob, "closed_form": closed, "exact": exact,
                       "l2_penalty": l2})
    return curves


def _trained(depths, seeds, schedule, progress):
    out = {"depths": depths, "dropout_penalty": [], "l2_penalty": [], "risk": [], "fitted": [],
           "dropout_trained_risk": [], "dropout_trained_criterion": []}
    X0, Y0 = p11(K_TRAIN)
    keeps = (1.0, 0.5)                  # trained without dropout, then with; one call for both
    X, Y = jnp.tile(X0, (2 * seeds, 1, 1)), jnp.tile(Y0, (2 * seeds, 1))
    regime = stack_runs([Regime(keep_prob=keep) for keep in keeps for _ in range(seeds)])
    for d in depths:
        progress(f"SGD at depth {d}: {seeds} seeds x 2 regimes x {schedule.steps} steps")
        init_keys = jax.random.split(jax.random.fold_in(jax.random.key(18), d), seeds)
        params = jax.vmap(lambda k: torch_default_init(k, K_TRAIN, N_TRAIN, d))(init_keys)
        keys = jnp.concatenate([jax.random.split(jax.random.fold_in(jax.random.key(1018),
                                                                    2 * d + (keep < 1)), seeds)
                                for keep in keeps])
        trained = train(keys, jax.tree_util.tree_map(lambda a: jnp.concatenate([a, a]), params),
                        X, Y, regime, schedule)
        final = final_checkpoint(trained.params)
        risk, j_d = (np.asarray(v) for v in exact_risk_and_dropout_criterion(final, X, Y, 0.5))
        plain = slice(0, seeds)
        out["fitted"].append(risk[plain] < FIT_TOLERANCE)
        out["risk"].append(risk[plain])
        out["dropout_penalty"].append(j_d[plain] - risk[plain])
        out["l2_penalty"].append(np.asarray(l2_penalties(final, LAM))[plain])
        out["dropout_trained_risk"].append(risk[seeds:])
        out["dropout_trained_criterion"].append(j_d[seeds:])
    return out


def _growth_starts(arm, base, y, d):
    """An arm's initial networks: Torch's initialisation scaled to fit y (weights by y^{1/d}; for the
    free-bias arm the layer-l biases by y^{l/d}, the same homogeneous rescaling)."""
    if arm == "projected":
        return tuple((y ** (1 / d) * jnp.abs(W), jnp.zeros_like(b)) for W, b in base)
    if arm == "free":
        return tuple((y ** (1 / d) * W, jnp.zeros_like(b)) for W, b in base)
    return tuple((y ** (1 / d) * W, y ** ((layer + 1) / d) * b)
                 for layer, (W, b) in enumerate(base))


def _growth_penalty(run, x, label, arm, key):
    """The dropout penalty (keep 1/2) of one fitted network and its standard error: exact (linear
    route for the non-negative arm, enumeration up to GROWTH["exact_patterns"] patterns), else
    Monte Carlo with the last layer integrated analytically."""
    if arm == "projected":          # every weight >= 0, biases 0: the linear regime (C13)
        return theory.dropout_penalty(run, x, label, method="linear"), 0.0
    if theory.num_enumerated_patterns(run) <= GROWTH["exact_patterns"]:
        return theory.dropout_penalty(run, x, label), 0.0
    mean, se = theory.mc_dropout_criterion(key, run, x, label, num_samples=GROWTH["mc_samples"],
                                           analytic_last_layer=True)
    return mean - theory.risk(run, x, label), se


def _sgd_growth(depths, seeds, steps, progress):
    """SGD with weight decay fitting x = 1^K, y = 2^d at each depth, in the three arms of
    GROWTH_ARMS (ours, B1): one train call per depth for every arm."""
    K, n = GROWTH["K"], GROWTH["n"]
    arms = list(GROWTH_ARMS)
    out = {"depths": depths, "K": K, "n": n, "runs": seeds, "arms": arms,
           **{key: {arm: [] for arm in arms} for key in
              ("dropout_penalty_runs", "penalty_se_runs", "l2_penalty_runs", "relative_risk_runs",
               "fitted")}}
    for d in depths:
        progress(f"SGD growth at depth {d}: {len(arms)} arms x {seeds} seeds x {steps} steps, "
                 f"y = 2^{d}")
        y = 2.0 ** d
        init_keys = jax.random.split(jax.random.fold_in(jax.random.key(1818), d), seeds)
        base = jax.vmap(lambda k: torch_default_init(k, K, n, d))(init_keys)
        start = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a),
                                       *[_growth_starts(arm, base, y, d) for arm in arms])
        regime = stack_runs([Regime(keep_prob=1.0, lam=GROWTH["decay"] * y ** (2 - 2 / d),
                                    **GROWTH_ARMS[arm]["regime"])
                             for arm in arms for _ in range(seeds)])
        schedule = Schedule(steps=steps, lr=GROWTH["step"] * y ** (2 / d - 2), lr_decay=0.0,
                            log_every=steps)
        keys = jax.random.split(jax.random.fold_in(jax.random.key(2818), d), len(arms) * seeds)
        trained = train(keys, start, jnp.ones((len(arms) * seeds, 1, K)),
                        jnp.full((len(arms) * seeds, 1), y), regime, schedule)
        final = jax.tree_util.tree_map(np.asarray, final_checkpoint(trained.params))
        l2 = np.asarray(l2_penalties(final, LAM))
        x, label = np.ones((1, K)), np.array([y])
        for a, arm in enumerate(arms):
            runs = [tuple((W[i], b[i]) for W, b in final) for i in range(a * seeds, (a + 1) * seeds)]
            risk = np.array([theory.risk(run, x, label) for run in runs]) / y ** 2
            fitted = risk < GROWTH["relative_fit_tolerance"]
            penalty = [_growth_penalty(run, x, label, arm, jax.random.fold_in(
                jax.random.key(3818), 1000 * d + a * seeds + i))
                for i, (run, fit) in enumerate(zip(runs, fitted)) if fit]     # fitted runs only
            out["relative_risk_runs"][arm].append(risk)
            out["fitted"][arm].append(fitted)
            out["dropout_penalty_runs"][arm].append(np.array([p for p, _ in penalty]))
            out["penalty_se_runs"][arm].append(np.array([se for _, se in penalty]))
            out["l2_penalty_runs"][arm].append(l2[a * seeds:(a + 1) * seeds])
    out["closed_form"] = [theorem18_dropout_penalty(K, n, d, 2.0 ** d) for d in depths]
    out["min_norm_l2"] = [min_norm_l2_penalty(K, d, 2.0 ** d, lam=LAM) for d in depths]
    return out


def _median(values, fitted):
    """Median over the runs that fit the data (R < FIT_TOLERANCE); NaN when none did."""
    values = np.asarray(values)[np.asarray(fitted)]
    return float(np.median(values)) if values.size else float("nan")


def compute(*, quick: bool, progress):
    theory_depths = list(range(1, 5 if quick else 13))
    train_depths = list(range(2, 4 if quick else 9))
    seeds = 4 if quick else 16
    schedule = Schedule(steps=2000 if quick else 20_000, log_every=1000)
    data = {"theorem18": {"depths": theory_depths, "K": K_THEORY, "lam": LAM,
                          "curves": _theorem18(theory_depths, progress)}}
    data["sgd_growth"] = _sgd_growth(list(range(1, 5 if quick else 9)), 4 if quick else 16,
                                     2000 if quick else 20_000, progress)
    trained = _trained(train_depths, seeds, schedule, progress)
    data["trained"] = trained
    fitted = [np.asarray(f) for f in trained["fitted"]]
    data["headline"] = {
        "depths": train_depths, "width": N_TRAIN, "K": K_TRAIN, "data": "P_(1,1)",
        "runs_fitted": [int(f.sum()) for f in fitted], "runs": seeds,
        "dropout_penalty": [_median(v, f) for v, f in zip(trained["dropout_penalty"], fitted)],
        "l2_penalty": [_median(v, f) for v, f in zip(trained["l2_penalty"], fitted)]}
    config = {"theorem18": {"K": K_THEORY, "widths": WIDTHS, "label": "2^d", "lam": LAM},
              "sgd_growth": {**GROWTH, "label": "2^d",
                             "arms": {arm: a["label"] for arm, a in GROWTH_ARMS.items()},
                             "init": "y^(1/d) torch default (its |.| for the projected arm; "
                                     "layer-l biases y^(l/d) b for the free-bias arm)",
                             "step": "0.02 y^(2/d-2)", "decay": "0.01 y^(2-2/d)", "momentum": 0.5,
                             "seeds": data["sgd_growth"]["runs"]},
              "trained": {"K": K_TRAIN, "n": N_TRAIN, "data": "P_(1,1)", "seeds": seeds,
                          "fit_tolerance": FIT_TOLERANCE,
                          "schedule": schedule._asdict(), "init": "torch default", "seed": 18}}
    return data, config


def checks(data):
    curves = data["theorem18"]["curves"]
    depths = np.asarray(data["theorem18"]["depths"])
    worst = max(np.max(np.abs(np.subtract(c["exact"], c["closed_form"])) /
                       np.abs(c["closed_form"])) for c in curves)
    half = [c for c in curves if c["keep_prob"] == 0.5]
    scale = 4.0 ** depths           # y^2 with y = 2^d
    factor_gap, factors = 0.0, []
    for c in curves:
        one_plus_P = 1 + np.asarray(c["exact"]) / scale
        limit = 1 + (1 - c["keep_prob"]) / (c["keep_prob"] * c["n"])
        factor_gap = max(factor_gap, float(np.max(np.abs(one_plus_P[1:] / one_plus_P[:-1] / limit
                                                          - 1))))
        factors.append(f"n = {c['n']}, keep {c['keep_prob']:g}: {limit:.4f}")
    l2_factors = [np.asarray(c["l2_penalty"][1:]) / np.asarray(c["l2_penalty"][:-1]) for c in half]
    falling = all(np.all(np.diff(f) < 0) for f in l2_factors)
    within_bound = all(l2 <= theorem18_l2_bound(K_THEORY, c["n"], int(d), 2.0 ** d, lam=LAM)
                       for c in half for d, l2 in zip(depths, c["l2_penalty"]))
    return [
        Check("C12", "J_D = y^2 ((1 + q/(pK))(1 + q/(pn))^{d-1} - 1) for the Theorem 18 network",
              f"max relative gap exact vs closed form {rounding_bound(worst, 1e-12)} over {len(curves)} curves x "
              f"{len(depths)} depths (keep 0.5 and 0.8)", "relative gap < 1e-9", worst < 1e-9),
        Check("C12", "with y = 2^d the penalty grows exponentially in d, L2 polynomially",
              f"beyond the label's own y^2 = 4^d, each layer multiplies 1 + P (P = penalty / y^2, "
              f"exact) by a constant ({'; '.join(factors)}; max deviation "
              f"{rounding_bound(factor_gap, 1e-12)} at d = {depths[0]}..{depths[-1]}); the L2 "
              f"penalty's per-layer factor falls from {l2_factors[0][0]:.2f} to "
              f"{l2_factors[0][-1]:.3f}",
              "the exact 1 + P grows by the same factor 1 + q/(pn) > 1 at every step (to 1e-9: "
              "geometric, not polynomial, beyond y^2); the L2 penalty's per-layer factors fall "
              "at every step (polynomial) and stay within Theorem 18's bound "
              "(lam y^{2/d}/2)(Kn + n^2(d-2) + n), linear in d for y = 2^d",
              bool(factor_gap < 1e-9 and falling and within_bound)),
    ]


def _growth_tests(growth, arm):
    """B1's tests for one arm, over its fitted runs: P = penalty / y^2 (as 1 + P) and the L2
    penalty against d (experiments.shared.statistics.growth_test)."""
    depths = np.concatenate([[d] * len(v) for d, v in
                             zip(growth["depths"], growth["dropout_penalty_runs"][arm])])
    P = np.concatenate(growth["dropout_penalty_runs"][arm]) / 4.0 ** depths       # y^2 = 4^d
    l2 = np.concatenate([np.asarray(v)[np.asarray(f)] for v, f in
                         zip(growth["l2_penalty_runs"][arm], growth["fitted"][arm])])
    margin = GROWTH["curvature_margin"]
    return (statistics.growth_test(depths, 1 + P, margin), statistics.growth_test(depths, l2, margin),
            P, depths)


def _arm_verdict(P_test, l2_test, p_slower_adjusted):
    if p_slower_adjusted < statistics.ALPHA:
        return "fails in SGD"
    if P_test.slope_low > 0 and P_test.p_geometric < statistics.ALPHA \
            and l2_test.p_concave < statistics.ALPHA:
        return "holds in SGD"
    return "undecided"


def findings(data):
    """B1: SGD-fitted networks of Theorem 18's example: does P = penalty / y^2 grow geometrically
    in d while the L2 penalty grows like a power of d? Three arms, one verdict (every arm holds:
    holds; any arm significantly slower than geometric after Holm: fails; else undecided)."""
    growth = data["sgd_growth"]
    arms = growth["arms"]
    tests = {arm: _growth_tests(growth, arm) for arm in arms}
    slower = statistics.holm([tests[arm][0].p_slower for arm in arms])
    verdicts = {arm: _arm_verdict(tests[arm][0], tests[arm][1], p) for arm, p in zip(arms, slower)}
    se = [v for arm in arms for runs in growth["penalty_se_runs"][arm] for v in runs]
    penalties = [v for arm in arms for runs in growth["dropout_penalty_runs"][arm] for v in runs]
    relative_se = max((s / abs(p) for s, p in zip(se, penalties) if s > 0), default=0.0)
    parts = []
    for arm, p_adjusted in zip(arms, slower):
        P_test, l2_test, P, depths = tests[arm]
        median = [float(np.median(P[depths == d])) if np.any(depths == d) else float("nan")
                  for d in growth["depths"]]
        parts.append(
            f"{GROWTH_ARMS[arm]['label']}: fitted {[int(np.sum(f)) for f in growth['fitted'][arm]]}"
            f" of {growth['runs']}; median P at d = {growth['depths'][0]}..{growth['depths'][-1]}: "
            f"{np.round(median, 3).tolist()}; 1 + P grows by a factor "
            f"{np.exp(P_test.slope):.3f} per layer (95% CI [{np.exp(P_test.slope_low):.3f}, "
            f"{np.exp(P_test.slope_high):.3f}]), log-curvature {P_test.curvature:+.4f} (90% CI "
            f"[{P_test.curvature_low:+.4f}, {P_test.curvature_high:+.4f}]; TOST p = "
            f"{P_test.p_geometric:.2g}, slower than geometric p = {P_test.p_slower:.2g}, Holm "
            f"{p_adjusted:.2g}); L2 log-curvature {l2_test.curvature:+.4f} (concave p = "
            f"{l2_test.p_concave:.2g}): {verdicts[arm]}")
    closed = 1 + np.asarray(growth["closed_form"]) / 4.0 ** np.asarray(growth["depths"])
    return [Finding(
        "B1", f"SGD with weight decay fitting x = 1^K, y = 2^d (K = n = {growth['K']}) finds "
              "networks whose dropout penalty relative to y^2, P = penalty / y^2, grows "
              "geometrically in d (as Theorem 18's network's does, by a factor "
              f"{closed[1] / closed[0]:.2f} per layer), while their L2 penalty grows like a power "
              "of d. Method: step 0.02 y^(2/d - 2), decay 0.01 y^(2 - 2/d), 20,000 steps, start "
              "y^(1/d) x Torch's initialisation (the same problem at every depth by positive "
              "homogeneity)",
        "; ".join(parts) + f". Penalties exact (linear route, or enumeration up to "
        f"{GROWTH['exact_patterns']:,} patterns)" + (
            f", else Monte Carlo ({GROWTH['mc_samples']:,} samples, largest relative SE "
            f"{relative_se:.2g})" if relative_se > 0 else ""),
        f"per arm, over its fitted runs (risk < {GROWTH['relative_fit_tolerance']:g} y^2): least-"
        "squares t-tests on log(1 + P) against d: slope > 0 and the quadratic curvature within "
        f"+-{GROWTH['curvature_margin']:g} (TOST, alpha 0.05; experiments/shared/statistics.py) "
        "and the L2 penalty's log-curvature < 0 (slower than geometric): holds; curvature of "
        f"log(1 + P) significantly below -{GROWTH['curvature_margin']:g} (Holm over the arms): "
        "fails; else undecided. The row's verdict: holds if every arm holds, fails if any fails",
        statistics.combined_verdict(verdicts.values()))]


def observations(data):
    """What the SGD-trained networks show (ours, beyond the paper's claims; not judged)."""
    head = data["headline"]
    dp, l2 = np.round(head["dropout_penalty"], 3).tolist(), np.round(head["l2_penalty"], 3).tolist()
    risk = np.round(np.median(data["trained"]["dropout_trained_risk"], axis=1), 3).tolist()
    return [f"depth_penalty: networks fitted by plain SGD to P_(1,1) with K = {K_TRAIN} (width "
            f"{N_TRAIN}, depths {head['depths'][0]}..{head['depths'][-1]}; runs that fit, of "
            f"{head['runs']}: {head['runs_fitted']}) have median dropout penalties {dp} and L2 "
            f"penalties (lam = 1) {l2} (medians over few runs are noisy at depth >= 6). "
            "Nothing like the Theorem 18 network's growth appears: that needs labels "
            "exp(Theta(d)), and with y = 2^d SGD from Torch's initialisation (lr 0.01) kills "
            "every ReLU beyond d = 3 and fits nothing. Dropout "
            f"training's own risk by depth (median): {risk}; 0.25 is the risk of the constant "
            "output 1/2, so deep dropout-trained networks give up the signal."]


def _plot_sgd_growth(ax, growth):
    depths = np.asarray(growth["depths"])
    closed = 1 + np.asarray(growth["closed_form"]) / 4.0 ** depths
    ax.semilogy(depths, closed, color=COLORS["theory"], lw=2,
                label="Theorem 18's network: 1 + P (geometric)")
    ax.semilogy(depths, np.asarray(growth["min_norm_l2"]), "--", color=COLORS["theory"],
                label="minimum-norm fit: L2 penalty (d/2)(y/√K)^{2/d}")
    styles = {"projected": ("o", COLORS["dropout"]), "free": ("s", COLORS["extra1"]),
              "free_biases": ("^", COLORS["none"])}
    for offset, arm in zip((-0.15, 0.0, 0.15), growth["arms"]):
        marker, color = styles[arm]
        P = [np.asarray(v) / 4.0 ** d for d, v in zip(depths, growth["dropout_penalty_runs"][arm])]
        l2 = [np.asarray(v)[np.asarray(f)] for v, f in zip(growth["l2_penalty_runs"][arm],
                                                          growth["fitted"][arm])]
        for values, fill, what in ((P, color, "1 + P"), (l2, "none", "L2")):
            shown = [(d + offset, 1 + v if what == "1 + P" else v) for d, v in zip(depths, values)
                     if len(v)]
            median = [np.median(v) for _, v in shown]
            spread = np.array([[m - v.min(), v.max() - m] for m, (_, v) in zip(median, shown)]).T
            ax.errorbar([x for x, _ in shown], median, yerr=spread, fmt=marker, color=color,
                        mfc=fill, ms=5, capsize=2,
                        label=f"{what}, {arm.replace('_', ' ')}" if what == "1 + P" else None)
    ax.set_xlabel("depth d   (label y = 2^d; filled: 1 + P = 1 + penalty / y², open: L2 penalty "
                  "(1/2)||W||²; median and range of the runs that fit)")
    ax.set_ylabel("log scale")
    ax.set_title(f"(ours, B1) SGD + weight decay fits x = 1^K, y = 2^d (K = n = {growth['K']}, "
                 f"{growth['runs']} seeds per arm):\nprojected (Theorem 18's setting) and free "
                 "weights, free biases")
    ax.legend(fontsize=7, loc="upper left")


def plot(result):
    import matplotlib.pyplot as plt

    t18, trained = result["theorem18"], result["trained"]
    depths = np.asarray(t18["depths"])
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(17, 4.8))
    palette = [COLORS["dropout"], COLORS["none"], COLORS["extra1"], COLORS["theory"]]
    for curve, color in zip(t18["curves"], palette):
        label = f"n = {curve['n']}, p = {curve['keep_prob']}"
        left.semilogy(depths, curve["closed_form"], color=color, label=f"dropout, {label}")
        left.semilogy(depths, curve["exact"], "o", color=color, ms=5, mfc="none")
        if curve["keep_prob"] == 0.5:
            left.semilogy(depths, curve["l2_penalty"], "--", color=color, lw=1.2,
                          label=f"L2 (λ = {t18['lam']:g}), n = {curve['n']}")
    left.set_xlabel("depth d (layers, output included)")
    left.set_ylabel("penalty (log scale)")
    left.set_title(f"C12, Theorem 18 networks: K = {t18['K']}, x = 1^K, y = 2^d, R = 0\n"
                   "lines: closed forms;  circles: exact evaluator (p = keep probability)")
    left.legend(fontsize=7, ncol=2, loc="upper left")
    _plot_sgd_growth(middle, result["sgd_growth"])
    tdepths = np.asarray(trained["depths"])
    head = result["headline"]
    for key, label, color, marker in (
            ("dropout_penalty", "dropout penalty J_D - R", COLORS["dropout"], "o"),
            ("l2_penalty", "L2 penalty (λ/2)||W||², λ = 1", COLORS["weight_decay"], "s")):
        fitted = [np.asarray(v)[np.asarray(f)] for v, f in zip(trained[key], trained["fitted"])]
        q25, q75 = (np.array([np.percentile(v, q) if v.size else np.nan for v in fitted])
                    for q in (25, 75))
        right.semilogy(tdepths, head[key], marker=marker, color=color,
                       label=f"{label}, SGD-fitted (median, IQR)")
        right.fill_between(tdepths, q25, q75, color=color, alpha=0.2)
    risk = np.asarray(trained["dropout_trained_risk"])
    right.semilogy(tdepths, np.median(risk, axis=1), "^-", color=COLORS["extra1"],
                   label="risk R reached by dropout training (median)")
    for d, fit in zip(tdepths, head["runs_fitted"]):
        right.annotate(f"{fit}/{head['runs']}", (d, 3e-3), ha="center", fontsize=7,
                       color="grey")
    right.set_ylim(1e-3, 1e2)
    right.set_xlabel(f"depth d   (grey: runs of plain SGD that fit, R < {FIT_TOLERANCE:g})")
    right.set_ylabel("value at the end of training (log scale)")
    right.set_title(f"(ours) SGD-trained, width {N_TRAIN}, on P_(1,1) with K = {K_TRAIN}: "
                    "penalties exact\nthe dropout penalty of fitted networks does not explode")
    right.legend(fontsize=7.5, loc="upper left")
    fig.tight_layout()
    return fig
