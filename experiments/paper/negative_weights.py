"""Dropout's minimisers use negative weights on P_(1,1) with two features (C9, C10, C11).

    python -m experiments negative_weights             # writes figures/negative_weights.*

Dropout SGD (keep 1/2, batch 1) on P_(1,1) with K = 2 (examples ((0,0), 0) and ((1,1), 1)), d = 2,
n = 40, from many seeds: free weights against weights projected onto >= 0 after every step. Each run
is judged with the exact J_D along training. Theorem 17: every non-negative network has J_D >= 1/8;
W_neg with optimised output gets below it from n = 18 (d = 2) and n = 26 (d = 3) on. The same
with labels y = x1 + x2 (the abstract's "sum of the inputs"; every value x4 by C4, bound 1/2), and
on a zero-embedding distribution (C11: K = 4, inputs with exactly two ones). C10: the non-negative
trained networks' psi(l) has non-decreasing increments.
"""

from __future__ import annotations

import numpy as np

import theory
from experiments.common import COLORS, Check, rounding_bound
from experiments.shared.negative_weights_protocol import (DEPTH, KEEP, WIDTH,
                                                          train_free_and_nonnegative)
from sgd.training import Schedule
from theory.paper.distributions import p11
from theory.paper.negative_weights import (NONNEGATIVE_BOUND_K2, WNEG_LIMIT_K2, two_hot_distribution,
                                     w_neg, wneg_optimal_output, wneg_threshold_width)
from theory.paper.supermodularity import psi

TITLE = "With two features, dropout's minimisers need negative weights"
CLAIMS = ("C9", "C10", "C11")

ZERO_EMBEDDING = dict(K=4, pairs=[(0, 1), (2, 3), (1, 2), (0, 3)])
WNEG_WIDTHS = {2: list(range(2, 81, 2)), 3: list(range(2, 81, 2))}


def compute(*, quick: bool, progress):
    seeds = 8 if quick else 64
    schedule = Schedule(steps=5000 if quick else 100_000, lr=0.02, lr_decay=1e-4,
                        log_every=500 if quick else 5000)
    X0, Y0 = p11(2)
    main = train_free_and_nonnegative(X0, Y0, seeds, schedule, 9, progress, "P_(1,1)")
    summed = train_free_and_nonnegative(X0, X0.sum(axis=1), seeds, schedule, 19, progress,
                                        "y = x1 + x2")
    Xz, Yz, _ = two_hot_distribution(ZERO_EMBEDDING["K"], ZERO_EMBEDDING["pairs"])
    # SGD samples rows uniformly: one zero row per pair row gives the zero example its mass 1/2.
    extra = len(ZERO_EMBEDDING["pairs"]) - 1
    Xz, Yz = np.concatenate([np.zeros((extra, Xz.shape[1])), Xz]), np.concatenate([np.zeros(extra), Yz])
    zero = train_free_and_nonnegative(Xz, Yz, seeds, schedule, 29, progress, "zero-embedding K = 4")

    progress("C10: psi of the non-negative trained networks")
    psi_values = [psi(tuple((W[i], b[i]) for W, b in main["nonneg"]["final_params"]),
                      keep_prob=KEEP) for i in range(seeds)]
    progress("W_neg with optimised output against n (symmetric exact form; exact evaluator)")
    wneg = {}
    for d, widths in WNEG_WIDTHS.items():
        values = [wneg_optimal_output(2, n, d)[2] for n in widths]
        checked = [n for n in widths if 2 + (d - 2) * n <= 16 and (n <= 10 or not quick)]
        exact = [theory.dropout_criterion(w_neg(2, n, d, output_weight=c, output_bias=b), X0, Y0)
                 for n in checked for c, b, _ in [wneg_optimal_output(2, n, d)]]
        wneg[str(d)] = {"widths": widths, "criterion": values, "exact_widths": checked,
                        "exact": exact}
    Kz = ZERO_EMBEDDING["K"]
    zero_widths = list(range(Kz, 161, Kz))
    wneg_zero = {"widths": zero_widths,
                 "criterion": [wneg_optimal_output(Kz, n, DEPTH, active_inputs=2)[2]
                               for n in zero_widths]}
    c, b, _ = wneg_optimal_output(Kz, WIDTH, DEPTH, active_inputs=2)
    wneg_zero["exact_at_training_width"] = theory.dropout_criterion(
        w_neg(Kz, WIDTH, DEPTH, output_weight=c, output_bias=b), Xz, Yz)

    def summary(result, scale=1.0):
        return {name: {"final_criterion": r["final_criterion"] / scale,
                       "min_weight": r["min_weight"],
                       "criterion_median": np.median(r["criterion"], axis=0) / scale,
                       "criterion_q25": np.percentile(r["criterion"], 25, axis=0) / scale,
                       "criterion_q75": np.percentile(r["criterion"], 75, axis=0) / scale}
                for name, r in result.items()}

    data = {"free": summary(main)["free"], "nonneg": summary(main)["nonneg"],
            "sum_of_inputs": summary(summed, scale=4.0), "sum_of_inputs_scale": 4.0,
            "zero_embedding": summary(zero), "zero_embedding_wneg": wneg_zero,
            "steps": list(range(schedule.log_every, schedule.steps + 1, schedule.log_every)),
            "wneg": wneg, "wneg_threshold_n": {str(d): wneg_threshold_width(d) for d in (2, 3)},
            "wneg_at_training_width": wneg_optimal_output(2, WIDTH, DEPTH)[2],
            "psi": psi_values, "bound": NONNEGATIVE_BOUND_K2, "limit": WNEG_LIMIT_K2}
    config = {"K": 2, "n": WIDTH, "d": DEPTH, "keep_prob": KEEP, "seeds": seeds,
              "schedule": schedule._asdict(), "zero_embedding": ZERO_EMBEDDING,
              "init": "torch default (abs for the non-negative runs)"}
    return data, config


def checks(data):
    bound, out = data["bound"], []
    for label, result in (("P_(1,1)", data), ("y = x1 + x2 (values / 4)", data["sum_of_inputs"]),
                          ("zero-embedding K = 4", data["zero_embedding"])):
        free, nonneg = result["free"], result["nonneg"]
        free_j, nonneg_j = np.asarray(free["final_criterion"]), np.asarray(nonneg["final_criterion"])
        negative = int(np.sum(np.asarray(free["min_weight"]) < 0))
        claim = "C11" if label.startswith("zero") else "C9"
        out.append(Check(
            claim, f"{label}: non-negative networks have J_D >= 1/8; minimisers use negative weights",
            f"non-negative runs: min final J_D {nonneg_j.min():.4f}; free runs: {negative}/"
            f"{free_j.size} end with a negative weight, {int(np.sum(free_j < bound))}/{free_j.size} "
            f"below 1/8 (median {np.median(free_j):.4f})",
            "every non-negative run >= 1/8 and a majority of free runs below 1/8 with a "
            "negative weight", bool(nonneg_j.min() >= bound
                                    and np.sum((free_j < bound) & (np.asarray(free["min_weight"])
                                                                   < 0)) > free_j.size / 2)))
    thresholds = data["wneg_threshold_n"]
    exact_gap = max(np.max(np.abs(np.subtract(v["exact"], np.asarray(v["criterion"])[
        [v["widths"].index(n) for n in v["exact_widths"]]]))) for v in data["wneg"].values())
    out.append(Check(
        "C9", "W_neg (output weight and bias optimised) beats 1/8 for large n; tends to 1/10",
        f"first n beating 1/8: {thresholds['2']} (d = 2), {thresholds['3']} (d = 3); at n = "
        f"{data['wneg']['2']['widths'][-1]}: "
        f"{data['wneg']['2']['criterion'][-1]:.4f}, {data['wneg']['3']['criterion'][-1]:.4f}; "
        f"exact evaluator vs symmetric form max gap {rounding_bound(exact_gap, 1e-12)}",
        "thresholds exist, values decrease towards 1/10, exact agrees to 1e-10",
        bool(exact_gap < 1e-10 and data["wneg"]["3"]["criterion"][-1] < bound)))
    psi_values = np.asarray(data["psi"])
    worst = float(np.min(np.diff(psi_values, n=2, axis=1)))
    out.append(Check("C10", "psi_W(l) has non-decreasing increments for non-negative W (Lemma 14)",
                     f"min second difference over {len(psi_values)} trained non-negative networks "
                     f"{worst:.2e}", "exact; >= -1e-12", worst >= -1e-12))
    zero = data["zero_embedding_wneg"]
    out.append(Check("C11", "one W_neg gets close to 1/10 on every zero-embedding at once",
                     f"optimised W_neg (K = 4, two ones): {zero['criterion'][-1]:.4f} at n = "
                     f"{zero['widths'][-1]}; exact at n = {WIDTH}: "
                     f"{zero['exact_at_training_width']:.4f}",
                     "decreasing in n and below 1/8 at the largest n",
                     bool(np.all(np.diff(zero["criterion"]) < 0) and zero["criterion"][-1] < bound)))
    return out


def _plot_training(curve, result, bound, limit):
    """C9: exact J_D along SGD, free against non-negative runs."""
    steps = np.asarray(result["steps"])
    for name, color, label in (("free", COLORS["dropout"], "free weights"),
                               ("nonneg", COLORS["weight_decay"], "weights projected >= 0")):
        r = result[name]
        curve.plot(steps, r["criterion_median"], color=color, label=f"{label} (median, IQR)")
        curve.fill_between(steps, r["criterion_q25"], r["criterion_q75"], color=color, alpha=0.25)
    curve.axhline(bound, color="black", ls="--", lw=1, label="1/8: bound for weights >= 0 (Thm 17)")
    curve.axhline(result["wneg_at_training_width"], color=COLORS["theory"], ls=":",
                  label=f"W_neg, n = {WIDTH}, output optimised")
    curve.axhline(limit, color="grey", ls="-.", lw=1, label="1/10: W_neg as n grows")
    curve.set_xlabel("SGD step")
    curve.set_ylabel("exact J_D on P_(1,1)")
    curve.set_ylim(0.09, 0.2)
    curve.set_title(f"C9: dropout SGD, K = 2, d = {DEPTH}, n = {WIDTH}, "
                    f"{len(result['free']['final_criterion'])} seeds each")
    curve.legend(fontsize=7.5)


def _plot_final(final, result, bound):
    """C9, C11: every run's final J_D on the three data sets."""
    groups = [("P_(1,1)", result), ("y = x1 + x2, ÷4", result["sum_of_inputs"]),
              ("zero-emb. K = 4", result["zero_embedding"])]
    rng = np.random.default_rng(0)
    for g, (label, r) in enumerate(groups):
        for offset, name, color in ((-0.18, "free", COLORS["dropout"]),
                                    (0.18, "nonneg", COLORS["weight_decay"])):
            values = np.asarray(r[name]["final_criterion"])
            final.plot(g + offset + rng.uniform(-0.08, 0.08, values.size), values, ".",
                       color=color, ms=4, alpha=0.7,
                       label=("free" if name == "free" else "weights >= 0") if g == 0 else None)
    final.axhline(bound, color="black", ls="--", lw=1)
    final.set_xticks(range(3), [label for label, _ in groups])
    final.set_ylabel("final exact J_D (one dot per run)")
    final.set_title("C9, C11: every non-negative run stays above 1/8 (dashed)")
    final.legend(fontsize=8)


def _plot_min_weight(weights, result, bound):
    """C9: final J_D against the smallest weight of each run."""
    for name, color in (("free", COLORS["dropout"]), ("nonneg", COLORS["weight_decay"])):
        r = result[name]
        weights.plot(r["min_weight"], r["final_criterion"], "o", color=color, ms=4, mfc="none",
                     label="free" if name == "free" else "weights >= 0")
    weights.axhline(bound, color="black", ls="--", lw=1)
    weights.axvline(0, color="grey", lw=0.8)
    weights.set_xlabel("smallest weight of the trained network")
    weights.set_ylabel("final exact J_D")
    weights.set_title("C9: the runs below 1/8 are those with negative weights")
    weights.legend(fontsize=8)


def _plot_wneg(wneg, result, bound, limit):
    """C9's open question: W_neg's J_D against the width."""
    for (d, v), color in zip(sorted(result["wneg"].items()), (COLORS["dropout"], COLORS["none"])):
        wneg.plot(v["widths"], v["criterion"], color=color, label=f"W_neg, K = 2, d = {d}")
        wneg.plot(v["exact_widths"], v["exact"], "o", color=color, ms=4, mfc="none")
        n_star = result["wneg_threshold_n"][d]
        wneg.axvline(n_star, color=color, ls=":", lw=1)
        wneg.annotate(f"n = {n_star}", (n_star, 0.16), rotation=90, fontsize=8, color=color,
                      ha="right")
    zero = result["zero_embedding_wneg"]
    wneg.plot(zero["widths"], zero["criterion"], color=COLORS["extra1"],
              label="W_neg, K = 4, two-hot inputs (C11), d = 2")
    wneg.axhline(bound, color="black", ls="--", lw=1, label="1/8")
    wneg.axhline(limit, color="grey", ls="-.", lw=1, label="1/10")
    wneg.set_xlim(0, 82)
    wneg.set_ylim(0.09, 0.26)
    wneg.set_xlabel("width n")
    wneg.set_ylabel("J_D, output weight and bias optimised")
    wneg.set_title("C9 open question: first width at which W_neg beats 1/8\n"
                   "lines: symmetric exact form; circles: exact evaluator")
    wneg.legend(fontsize=7.5)


def plot(result):
    import matplotlib.pyplot as plt

    bound, limit = result["bound"], result["limit"]
    fig, axes = plt.subplots(2, 2, figsize=(11.5, 8.2))
    (curve, final), (weights, wneg) = axes
    _plot_training(curve, result, bound, limit)
    _plot_final(final, result, bound)
    _plot_min_weight(weights, result, bound)
    _plot_wneg(wneg, result, bound, limit)
    fig.tight_layout()
    return fig
