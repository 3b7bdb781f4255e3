"""Many features: W_neg beats every non-negative network once n is large (C7, C8; Theorem 8).

    python -m experiments negative_weights_many_features

For K > 18 every network with weights >= 0 has J_D >= 1/(36K) on P_(1,1) (Lemma 16), while W_neg's
J_D = (1/2)(1 - (1 - 2^-K) / ((1 + K/n)(1 + 1/n)^{d-2})) (Lemma 10) tends to 2^-K / 2. The figure
draws Lemma 10 against n for several K and d, the bound 1/(36K), the first width n (a multiple of
K) where W_neg gets below it, and exact-evaluator values (2^K enumerated input patterns, d = 2) at
the widths where that is affordable.
"""

from __future__ import annotations

import numpy as np

import theory
from experiments.common import COLORS, Check, rounding_bound
from theory.paper.distributions import p11
from theory.paper.negative_weights import (lemma10_criterion, lemma10_crossing_width, lemma16_bound,
                                     w_neg)

TITLE = "Many features: W_neg beats the non-negative bound 1/(36K) beyond a width"
CLAIMS = ("C7", "C8")

FEATURES = (19, 20, 22)
DEPTHS = (2, 3)
EXACT_BUDGET = 2 ** 31   # enumerated patterns x width, per exact evaluation


def compute(*, quick: bool, progress):
    features = FEATURES[:1] if quick else FEATURES
    curves = []
    for K in features:
        for d in DEPTHS:
            crossing = lemma10_crossing_width(K, d)
            widths = np.unique(np.geomspace(K, 4 * crossing, 60).astype(int) // K * K)
            widths = [int(n) for n in widths if n >= K]
            curves.append({"K": K, "d": d, "bound": lemma16_bound(K), "crossing": crossing,
                           "widths": widths,
                           "lemma10": [lemma10_criterion(K, n, d) for n in widths],
                           "limit": 2.0 ** -K / 2})
    exact = []
    for K in features:
        X, Y = p11(K)
        budget = EXACT_BUDGET // (64 if quick else 1)
        widths = [K * 2 ** j for j in range(0, 20) if 2 ** K * K * 2 ** j <= budget]
        for n in widths:
            progress(f"exact J_D of W_neg, K = {K}, n = {n}, d = 2 (2^{K} input patterns)")
            exact.append({"K": K, "n": n, "d": 2,
                          "exact": theory.dropout_criterion(w_neg(K, n, 2), X, Y),
                          "lemma10": lemma10_criterion(K, n, 2)})
    return ({"curves": curves, "exact": exact},
            {"features": features, "depths": DEPTHS, "exact_budget": EXACT_BUDGET,
             "keep_prob": 0.5})


def checks(data):
    gaps = [abs(e["exact"] - e["lemma10"]) / e["lemma10"] for e in data["exact"]]
    crossings = {f"K={c['K']},d={c['d']}": c["crossing"] for c in data["curves"]}
    first_and_before = all(
        lemma10_criterion(c["K"], c["crossing"], c["d"]) < c["bound"]
        <= lemma10_criterion(c["K"], c["crossing"] - c["K"], c["d"]) for c in data["curves"])
    decreasing = all(np.all(np.diff(c["lemma10"]) < 0) and min(c["lemma10"]) > c["limit"]
                     for c in data["curves"])
    return [
        Check("C7", "Lemma 10: J_D(W_neg) = (1/2)(1 - (1 - 2^-K)/((1 + K/n)(1 + 1/n)^{d-2}))",
              f"exact evaluator vs Lemma 10 at {len(gaps)} (K, n) points up to n = "
              f"{max(e['n'] for e in data['exact'])}: max relative gap {rounding_bound(max(gaps), 1e-11)}",
              "relative gap < 1e-10", max(gaps) < 1e-10),
        Check("C8", "for K > 18 and large n, W_neg beats every non-negative network (Theorem 8)",
              f"first widths below 1/(36K): {crossings}",
              "Lemma 10 < 1/(36K) at the crossing, >= at the width before; decreasing in n, "
              "above its limit 2^-K/2", bool(first_and_before and decreasing)),
    ]


def plot(result):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    palette = {19: COLORS["dropout"], 20: COLORS["weight_decay"], 22: COLORS["none"]}
    for c in result["curves"]:
        color, scale = palette.get(c["K"], COLORS["theory"]), 36 * c["K"]
        ax.loglog(c["widths"], np.multiply(c["lemma10"], scale), "-" if c["d"] == 2 else "--",
                  color=color,
                  label=f"Lemma 10, K = {c['K']}, d = {c['d']}: below from n = {c['crossing']}")
        ax.plot([c["crossing"]], [scale * lemma10_criterion(c["K"], c["crossing"], c["d"])], "*",
                color=color, ms=10)
    for e in result["exact"]:
        ax.plot(e["n"], 36 * e["K"] * e["exact"], "o", color=palette.get(e["K"], COLORS["theory"]),
                mfc="none", ms=6)
    ax.axhline(1.0, color="black", ls=":", lw=1.2,
               label="1/(36K): J_D of every network with weights >= 0 is above (Lemma 16)")
    ax.set_xlabel("width n (multiples of K)")
    ax.set_ylabel("36K · J_D(W_neg) on P_(1,1)  (log scale; bound = 1)")
    ax.set_title("C7, C8: Lemma 10 (lines; d = 2 solid, d = 3 dashed), scaled by 36K\n"
                 "stars: first width below the non-negative bound; circles: exact evaluator")
    ax.legend(fontsize=7.5, loc="upper right")
    fig.tight_layout()
    return fig
