"""Do dropout's minimisers on P_(1,1) need negative weights under each dropout? (ours; C9 for the
variants of :mod:`experiments.shared.variants`).

    python -m experiments variants_negative_weights   # writes figures/variants_negative_weights.*

The protocol of :mod:`experiments.shared.negative_weights_protocol` (K = 2, d = 2, n = 40, keep 1/2, SGD with batch
1 from Torch's initialisation, free weights against weights projected onto >= 0), run with each
variant's noise and judged with the exact J_D of the same variant, on P_(1,1) and on its
sum-of-inputs version (y = x1 + x2; values / 4, C4). For the paper's dropout Theorem 17 proves
every non-negative network has J_D >= 1/8 and W_neg beats it (C9); for the other variants no such
bound is known, so the column rests on SGD: "sgd-only" when most free runs end with a negative
weight below every non-negative run, "fails" when the non-negative runs do as well or better.
That is evidence about what SGD finds, not a bound on every network.
"""

from __future__ import annotations

import numpy as np

from experiments.common import COLORS, as_stored
from experiments.shared.negative_weights_protocol import (DEPTH, KEEP, WIDTH,
                                                          train_free_and_nonnegative)
from sgd.training import Schedule
from experiments.shared.variants import VARIANTS, cell
from theory.paper.distributions import p11
from theory.paper.negative_weights import NONNEGATIVE_BOUND_K2, wneg_optimal_output

TITLE = "Negative weights in dropout's minimisers on P_(1,1), under every dropout"
CLAIMS = ()

DATA = (("P_(1,1)", 1.0), ("y = x1 + x2", 4.0))


def compute(*, quick: bool, progress):
    seeds = 4 if quick else 16
    schedule = Schedule(steps=2000 if quick else 50_000, lr=0.02, lr_decay=1e-4,
                        log_every=1000 if quick else 10_000)
    X0, Y0 = p11(2)
    rows = []
    for i, variant in enumerate(VARIANTS):
        args = variant.engine_args([2] + [WIDTH] * (DEPTH - 1), KEEP)
        row = {"key": variant.key, "label": variant.label}
        for j, (name, scale) in enumerate(DATA):
            Y = Y0 if scale == 1.0 else X0.sum(axis=1)
            result = train_free_and_nonnegative(X0, Y, seeds, schedule, 600 + 10 * i + 3 * j,
                                                progress, f"{variant.label}, {name}", **args)
            row[name] = {kind: {"final_criterion": r["final_criterion"] / scale,
                                "min_weight": r["min_weight"]} for kind, r in result.items()}
        rows.append(row)
    data = {"rows": rows, "data": [name for name, _ in DATA], "bound": NONNEGATIVE_BOUND_K2,
            "wneg_at_width": wneg_optimal_output(2, WIDTH, DEPTH)[2]}
    config = {"K": 2, "n": WIDTH, "d": DEPTH, "keep_prob": KEEP, "seeds": seeds,
              "schedule": schedule._asdict(), "init": "torch default (abs for non-negative runs)"}
    data["cells"] = cells(as_stored(data))     # judged on the numbers the JSON holds
    return data, config


def _summary(result):
    """Medians and minima over the runs that stayed finite; a diverged run (J_D not finite) counts
    as not beating the non-negative runs and is reported."""
    free, nonneg = result["free"], result["nonneg"]
    free_j, nonneg_j = np.asarray(free["final_criterion"]), np.asarray(nonneg["final_criterion"])
    below = (free_j < np.nanmin(nonneg_j)) & (np.asarray(free["min_weight"]) < 0)
    return {"free_median": float(np.nanmedian(free_j)), "nonneg_min": float(np.nanmin(nonneg_j)),
            "nonneg_median": float(np.nanmedian(nonneg_j)), "free_below": int(below.sum()),
            "runs": int(free_j.size), "majority": bool(below.sum() > free_j.size / 2),
            "diverged": int(np.sum(~np.isfinite(free_j)) + np.sum(~np.isfinite(nonneg_j)))}


def cells(data) -> list:
    """Column (e) of the variants matrix."""
    out = []
    for row in data["rows"]:
        summaries = {name: _summary(row[name]) for name in data["data"]}
        stats = "; ".join(
            f"{name}: free runs median J_D {s['free_median']:.4f}, {s['free_below']}/{s['runs']} "
            f"end with a negative weight below every non-negative run (min "
            f"{s['nonneg_min']:.4f}, median {s['nonneg_median']:.4f})"
            + (f", {s['diverged']} run(s) diverged (J_D not finite; left out of medians)"
               if s["diverged"] else "")
            for name, s in summaries.items())
        seen = all(s["majority"] for s in summaries.values())
        value = summaries[data["data"][0]]["free_median"] - summaries[data["data"][0]]["nonneg_min"]
        if row["key"] == "paper":
            theorem = (f"Theorem 17: every non-negative network has J_D >= 1/8; W_neg with "
                       f"optimised output at n = 40 has exact J_D {data['wneg_at_width']:.4f}")
            holds = data["wneg_at_width"] < data["bound"] and seen
            out.append(cell(row["key"], "negative_weights", "holds" if holds else "fails", value,
                            f"{theorem}; SGD: {stats}",
                            witness={"network": "W_neg", "n": WIDTH, "d": DEPTH,
                                     "criterion": data["wneg_at_width"]},
                            figure="variants_negative_weights"))
            continue
        out.append(cell(
            row["key"], "negative_weights", "sgd-only" if seen else "fails", value,
            f"SGD, judged exactly: {stats}", figure="variants_negative_weights",
            witness={"sgd": summaries, "n": WIDTH, "d": DEPTH} if seen else None,
            reason=None if seen else "in SGD runs the non-negative networks reach a J_D as low "
                                     "as or lower than the free ones, so SGD gives negative "
                                     "weights no advantage (evidence about SGD, not a bound)"))
    return out


def plot(result):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(result["data"]), figsize=(12, 4.6), sharey=False)
    rows = result["rows"]
    for ax, name in zip(axes, result["data"]):
        for i, row in enumerate(rows):
            for offset, kind, color in ((-0.15, "free", COLORS["dropout"]),
                                        (0.15, "nonneg", COLORS["weight_decay"])):
                values = np.asarray(row[name][kind]["final_criterion"], dtype=float)
                if not np.all(np.isfinite(values)):
                    ax.annotate(f"{int(np.sum(~np.isfinite(values)))} diverged",
                                (i + offset, 0.02), ha="center", fontsize=7, color=color,
                                xycoords=("data", "axes fraction"))
                jitter = np.linspace(-0.06, 0.06, values.size)
                ax.plot(i + offset + jitter, values, "o", ms=3.5, color=color, alpha=0.7,
                        label=("free weights" if kind == "free" else "weights >= 0")
                        if i == 0 else None)
        ax.axhline(result["bound"], color=COLORS["paper"], lw=0.9, ls="--",
                   label="1/8: Theorem 17's bound for non-negative networks (paper's dropout)")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([row["label"].split(" (")[0].replace("'s ", "'s\n") for row in rows],
                           fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("exact J_D of the run's own dropout at the end of SGD")
        ax.set_title(f"{name}" + (" (values / 4)" if name != result["data"][0] else ""))
        ax.legend(fontsize=7.5)
    fig.suptitle("(ours) Dropout SGD on P_(1,1), K = 2, d = 2, n = 40: free against non-negative "
                 "networks under each dropout", fontsize=10.5)
    fig.tight_layout()
    return fig
