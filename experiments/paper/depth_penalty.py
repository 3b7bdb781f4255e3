"""The dropout penalty grows exponentially with depth, the L2 penalty does not (C12).

    python -m experiments depth_penalty                # writes figures/depth_penalty.*

Left: the Theorem 18 network (x = 1^K, K = 5, label y = 2^d, every weight c, biases 0): its dropout
penalty y^2 ((1 + q/(pK)) (1 + q/(pn))^{d-1} - 1) for several widths n and keep probabilities
(lines, closed form) against the exact evaluator on the same networks (markers), beside its
L2 penalty (lam/2) c^2 (number of weights) with lam = 1.
Middle (ours): networks trained by SGD with a small weight decay to fit Theorem 18's example,
x = 1^K, y = 2^d (K = n = 5), with every bias held at 0 as in the theorem (a bias alone could fit
one example, and decay would then drive every weight to 0). How SGD fits labels that grow like 2^d:
the weights start at y^{1/d} |Torch's initialisation| (non-negative, so no ReLU is dead on 1^K) and
are projected onto W >= 0 after every step (the Theorem 18 network and the minimum-norm fit are
non-negative; the exact evaluator's linear regime then costs polynomial time at any depth); the
step is 0.02 y^{2/d-2} and the decay lam_d = 0.01 y^{2-2/d}. By positive homogeneity (C3, C4) this
is exactly SGD on W / y^{1/d} fitting the label 1 with step 0.02 and decay 0.01, so every depth is
equally hard for SGD. Markers: median (and range) over seeds of the exact dropout penalty (keep
1/2) and of the L2 penalty (1/2)||W||^2 of the runs that fit (risk < 1e-3 y^2); lines: Theorem 18's
closed form and the minimum-norm L2 penalty (d/2) (y/sqrt(K))^{2/d}.
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
GROWTH = dict(K=5, n=5, step=0.02, decay=0.01, relative_fit_tolerance=1e-3)


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


def _sgd_growth(depths, seeds, steps, progress):
    """SGD with weight decay and biases held at 0 fitting x = 1^K, y = 2^d at each depth (ours)."""
    K, n = GROWTH["K"], GROWTH["n"]
    out = {"depths": depths, "K": K, "n": n, "runs": seeds, "dropout_penalty_runs": [],
           "l2_penalty_runs": [], "relative_risk_runs": [], "fitted": []}
    for d in depths:
        progress(f"SGD growth at depth {d}: {seeds} seeds x {steps} steps, y = 2^{d}")
        y, X = 2.0 ** d, jnp.ones((seeds, 1, K))
        init_keys = jax.random.split(jax.random.fold_in(jax.random.key(1818), d), seeds)
        start = jax.vmap(lambda k: torch_default_init(k, K, n, d))(init_keys)
        start = tuple((y ** (1 / d) * jnp.abs(W), jnp.zeros_like(b)) for W, b in start)
        regime = Regime(keep_prob=1.0, lam=GROWTH["decay"] * y ** (2 - 2 / d), zero_biases=1.0,
                        nonnegative=1.0)
        schedule = Schedule(steps=steps, lr=GROWTH["step"] * y ** (2 / d - 2), lr_decay=0.0,
                            log_every=steps)
        keys = jax.random.split(jax.random.fold_in(jax.random.key(2818), d), seeds)
        trained = train(keys, start, X, jnp.full((seeds, 1), y), stack_runs([regime] * seeds),
                        schedule)
        final = jax.tree_util.tree_map(np.asarray, final_checkpoint(trained.params))
        runs = [tuple((W[i], b[i]) for W, b in final) for i in range(seeds)]
        x, label = np.ones((1, K)), np.array([y])
        risk = np.array([theory.risk(run, x, label) for run in runs])
        # Every weight >= 0 and every bias 0: the linear regime, exact in polynomial time (C13).
        penalty = np.array([theory.dropout_penalty(run, x, label, method="linear") for run in runs])
        out["relative_risk_runs"].append(risk / y ** 2)
        out["fitted"].append(risk / y ** 2 < GROWTH["relative_fit_tolerance"])
        out["dropout_penalty_runs"].append(penalty)
        out["l2_penalty_runs"].append(np.asarray(l2_penalties(final, LAM)))
    fitted = out["fitted"]
    out["dropout_penalty"] = [_median(v, f) for v, f in zip(out["dropout_penalty_runs"], fitted)]
    out["l2_penalty"] = [_median(v, f) for v, f in zip(out["l2_penalty_runs"], fitted)]
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
              "sgd_growth": {**GROWTH, "label": "2^d", "biases": "held at 0",
                             "weights": "projected onto >= 0", "init": "y^(1/d) |torch default|",
                             "step": "0.02 y^(2/d-2)", "decay": "0.01 y^(2-2/d)", "momentum": 0.5,
                             "seeds": len(data["sgd_growth"]["fitted"][0])},
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


def findings(data):
    """B1: SGD-fitted networks show Theorem 18's exponential growth; their L2 penalty does not."""
    growth = data["sgd_growth"]
    depths = growth["depths"]
    median = np.asarray(growth["dropout_penalty"])
    ratio = median / np.asarray(growth["closed_form"])
    l2_ratio = np.asarray(growth["l2_penalty"]) / np.asarray(growth["min_norm_l2"])
    fitted = [int(np.sum(f)) for f in growth["fitted"]]
    increments = np.diff(np.log(median))
    holds = bool(np.all(increments >= np.log(4)) and np.all((ratio >= 0.99) & (ratio <= 1.5))
                 and np.all(np.abs(l2_ratio - 1) <= 0.01))
    return [Finding(
        "B1", f"SGD with weight decay (biases held at 0) fitting x = 1^K, y = 2^d (K = n = "
              f"{growth['K']}) finds networks whose dropout penalty grows exponentially in d, "
              "like Theorem 18's, while their L2 penalty grows linearly",
        f"runs that fit, of {growth['runs']}: {fitted}; median penalty / closed form at d = "
        f"{depths[0]}..{depths[-1]}: {np.round(ratio, 3).tolist()} (each layer multiplies it by "
        f">= {np.exp(increments.min()):.2f}); median L2 / minimum-norm L2: "
        f"{np.round(l2_ratio, 4).tolist()}",
        "median penalty at least quadruples per layer (y^2 = 4^d) and stays within [0.99, 1.5] "
        "of y^2((1 + q/(pK))(1 + q/(pn))^{d-1} - 1); L2 within 1% of (d/2)(y/sqrt(K))^{2/d}",
        "holds" if holds else "fails")]


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
    ax.semilogy(depths, growth["closed_form"], color=COLORS["theory"],
                label="Theorem 18 closed form, dropout penalty")
    ax.semilogy(depths, growth["min_norm_l2"], "--", color=COLORS["theory"],
                label="minimum-norm fit, L2 penalty (d/2)(y/√K)^{2/d}")
    for key, label, color, marker in (
            ("dropout_penalty_runs", "dropout penalty J_D - R (exact, p = 1/2)", COLORS["dropout"],
             "o"),
            ("l2_penalty_runs", "L2 penalty (1/2)||W||²", COLORS["weight_decay"], "s")):
        runs = [np.asarray(v)[np.asarray(f)] for v, f in zip(growth[key], growth["fitted"])]
        median = np.array([np.median(v) for v in runs])
        spread = np.array([[median[i] - v.min(), v.max() - median[i]] for i, v in enumerate(runs)]).T
        ax.errorbar(depths, median, yerr=spread, fmt=marker, color=color, ms=5, capsize=3,
                    label=f"{label}: SGD, median and range")
    fits = sum(int(np.sum(f)) for f in growth["fitted"])
    ax.set_xlabel(f"depth d   (label y = 2^d; {fits} of {len(depths) * growth['runs']} runs fit, "
                  "risk < 1e-3 y²)")
    ax.set_ylabel("penalty (log scale)")
    ax.set_title(f"(ours) SGD + weight decay fits x = 1^K, y = 2^d (K = n = {growth['K']}, "
                 f"{growth['runs']} seeds)\nbiases held at 0: the penalty grows like Theorem 18's")
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
