"""The dropout penalty is not monotonic in the dropout probability (C15).

    python -m experiments penalty_vs_keep_prob

The introduction claims the penalty can rise and then fall (or the reverse) as the drop
probability q = 1 - keep_prob grows; the COLT version proves nothing about it. We show it exactly:
the Figure 1 network (falls from 0 to -10 at q = 1/2, then rises and turns positive) and a network
of ours whose penalty rises, falls below zero and rises again
(:func:`theory.paper.negative_penalty.rise_fall_rise_network`). Lines: exact evaluator on a fine grid of q; markers: brute force
over every pattern of every node on a coarse grid.
"""

from __future__ import annotations

import numpy as np

import theory
from experiments.common import COLORS, Check, rounding_bound
from experiments.shared.analysis import interior_extrema
from theory.enumeration import brute_force_criterion
from theory.paper.negative_penalty import figure1_network, rise_fall_rise_network

TITLE = "The dropout penalty is not monotonic in the drop probability"
CLAIMS = ("C15",)

Q_FINE = np.round(np.linspace(0.0, 0.9, 91), 4)
Q_COARSE = np.round(np.linspace(0.0, 0.9, 10), 4)


def _curve(params, X, Y, qs):
    return [theory.dropout_penalty(params, X, Y, keep_prob=1 - q) for q in qs]


def compute(*, quick: bool, progress):
    cases = [("Figure 1 network: falls, then rises", *figure1_network()),
             ("rise_fall_rise_network (ours)", *rise_fall_rise_network())]
    out = []
    for name, p, x, y in cases:
        progress(f"exact penalty over {len(Q_FINE)} drop probabilities: {name}")
        risk = theory.risk(p, x, y)
        out.append({"name": name, "q": Q_FINE, "penalty": _curve(p, x, y, Q_FINE),
                    "q_brute": Q_COARSE,
                    "brute_force": [brute_force_criterion(p, x, y, [1.0], 1 - q) - risk
                                    for q in Q_COARSE],
                    "params": [[W, b] for W, b in p], "x": x[0], "y": float(y[0])})
    return {"cases": out}, {"q_fine": Q_FINE, "q_coarse": Q_COARSE}


def checks(data):
    cases = data["cases"]
    gaps = max(np.max(np.abs(np.subtract(c["brute_force"], np.asarray(c["penalty"])[
        [list(c["q"]).index(q) for q in c["q_brute"]]]))) for c in cases)
    extrema = [interior_extrema(c["penalty"]) for c in cases]
    described = "; ".join(
        f"{c['name']}: interior maxima at q = {[float(c['q'][i]) for i in mx]}, minima at q = "
        f"{[float(c['q'][i]) for i in mn]}" for c, (mx, mn) in zip(cases, extrema))
    return [Check("C15", "the penalty can rise then fall (or the reverse) as q grows",
                  f"{described}; brute force agrees to {rounding_bound(gaps, 1e-12)}",
                  "exact curves with an interior minimum and an interior maximum among them; "
                  "brute force within 1e-9",
                  bool(any(mn for _, mn in extrema) and any(mx for mx, _ in extrema)
                       and gaps < 1e-9))]


def plot(result):
    import matplotlib.pyplot as plt

    cases = result["cases"]
    fig, axes = plt.subplots(1, len(cases), figsize=(4.2 * len(cases), 4))
    for ax, case, color in zip(np.atleast_1d(axes), cases,
                               (COLORS["dropout"], COLORS["weight_decay"], COLORS["none"])):
        ax.plot(case["q"], case["penalty"], color=color, label="exact evaluator")
        ax.plot(case["q_brute"], case["brute_force"], "o", color=color, mfc="none",
                label="brute force")
        ax.axhline(0, color="grey", lw=0.8)
        linthresh = max(0.02, 0.1 * abs(min(case["penalty"])))
        ax.set_yscale("symlog", linthresh=linthresh)
        ax.set_xlabel("drop probability q = 1 - keep_prob")
        ax.set_ylabel(f"dropout penalty J_D - R (symlog, linear below {linthresh:.2g})")
        ax.set_title(f"{case['name']}\nx = {np.round(case['x'], 2).tolist()}, y = {case['y']:.2f}",
                     fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle("C15: exact penalty against the drop probability (single example)", fontsize=10.5)
    fig.tight_layout()
    return fig
