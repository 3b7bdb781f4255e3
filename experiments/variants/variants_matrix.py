"""The paper's findings against each dropout, at a glance (ours; findings B2-B31).

    python -m experiments variants_matrix             # after the three studies it reads

Rows: the dropouts of :mod:`experiments.shared.variants`; columns: the paper's findings (a)-(f).
Columns (a), (b), (f) are the cells that the study variants_witnesses writes into its cached
results, (c) variants_depth's and (e) variants_negative_weights' (each study judges its own cells);
column (d) is computed here: the exact J_D of random networks before and after
random input scalings W' = (W1 A^-1, ...) with inputs A x (C2, Theorem 4) and cross-layer
rescalings (c1 W1, c1 b1, c2 W2, c1 c2 b2, ...) with c1...cd = 1 (C3, Theorem 5). Every variant
multiplies nodes or weights by noise independent of their scale, so both must hold exactly.
"""

from __future__ import annotations

import numpy as np

import theory
from experiments.common import Finding, rounding_bound
from experiments.shared.variants import COLUMNS, VARIANTS, cell
from theory.network import random_network
from theory.paper.invariances import rescale_layers, scale_inputs

TITLE = "The paper's findings under every dropout: the matrix"
CLAIMS = ()
INPUTS = ("variants_witnesses", "variants_depth", "variants_negative_weights")

VERDICT_COLORS = {"holds": "#9ecae1", "holds in optimisation": "#deebf7", "fails": "#fc9272",
                  "fails in optimisation": "#fee0d2"}


def _rescaling_deviation(variant, trials, seed):
    """Max relative change of the exact J_D over random input scalings and cross-layer rescalings."""
    rng = np.random.default_rng(seed)
    depth = 2 if variant.noise == "gaussian" else 3     # Gaussian: exact only up to d = 2
    sizes = [3] + [4] * (depth - 1)
    args = variant.engine_args(sizes, 0.6)
    worst = 0.0
    for _ in range(trials):
        params = random_network(rng, [*sizes, 1])
        X, Y = rng.normal(size=(6, 3)), rng.normal(size=6)
        base = theory.dropout_criterion(params, X, Y, **args)
        a = rng.choice([-1.0, 1.0], size=3) * rng.uniform(0.2, 5.0, size=3)
        c = rng.uniform(0.2, 5.0, size=depth)
        c /= np.prod(c) ** (1 / depth)
        for changed, inputs in ((scale_inputs(params, a), X * a), (rescale_layers(params, c), X)):
            value = theory.dropout_criterion(changed, inputs, Y, **args)
            worst = max(worst, abs(value - base) / abs(base))
    return worst, depth


def compute(*, quick: bool, progress, inputs):
    trials = 3 if quick else 20
    matrix = []
    for i, variant in enumerate(VARIANTS):
        progress(f"{variant.label}: J_D under {trials} input scalings and cross-layer rescalings")
        worst, depth = _rescaling_deviation(variant, trials, seed=800 + i)
        matrix.append(cell(variant.key, "rescaling", "holds" if worst < 1e-10 else "fails",
                           rounding_bound(worst, 1e-12),
                           f"max relative change of the exact J_D {rounding_bound(worst, 1e-12)} "
                           f"over {trials} random networks (d = {depth}, keep 0.6) x (one input "
                           "scaling A with signs, one cross-layer rescaling)",
                           witness={"trials": trials, "depth": depth}, figure="variants_matrix",
                           reason=None if worst < 1e-10 else "J_D changed under a rescaling"))
    matrix += [matrix_cell for source in INPUTS for matrix_cell in inputs[source]["cells"]]
    order = {c["id"]: c for c in matrix}
    cells = [order[key] for key in sorted(order, key=lambda k: int(k[1:]))]
    data = {"rows": [{"key": v.key, "label": v.label} for v in VARIANTS],
            "columns": [{"key": key, "label": label, "criterion": criterion}
                        for key, label, criterion in COLUMNS],
            "cells": cells}
    return data, {"rescaling_trials": trials, "inputs": list(INPUTS)}


def findings(data):
    rows = {r["key"]: r["label"] for r in data["rows"]}
    columns = {c["key"]: c for c in data["columns"]}
    return [Finding(c["id"], f"{rows[c['row']]}: {columns[c['column']]['label']}",
                    c["evidence"] + (f" Reason: {c['reason']}." if "reason" in c else ""),
                    columns[c["column"]]["criterion"], c["verdict"], c["figure"])
            for c in data["cells"]]


def _short(cell_data) -> str:
    value, column = cell_data["value"], cell_data["column"]
    if column == "negative":
        return f"penalty {value:.3g}"
    if column == "label":
        return f"slope {value:.3g}"
    if column == "depth":
        return f"x{value:.3f} per layer"
    if column == "rescaling":
        return f"change {value}"
    if column == "negative_weights":
        return f"min free - min >= 0:\n{value:+.2g}"
    return f"maximum at q = {value:g}" if value is not None else "no maximum found"


def plot(result):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    rows, columns = result["rows"], result["columns"]
    fig, ax = plt.subplots(figsize=(15, 1.2 + 1.05 * len(rows)))
    position = {(c["row"], c["column"]): c for c in result["cells"]}
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            c = position[(row["key"], column["key"])]
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=VERDICT_COLORS[c["verdict"]],
                                   edgecolor="white", lw=2))
            ax.text(j + 0.5, i + 0.5, f"{c['id']}: {c['verdict']}\n{_short(c)}", ha="center",
                    va="center", fontsize=8.5)
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks(np.arange(len(columns)) + 0.5)
    ax.set_xticklabels([c["label"].replace(" the penalty", "\nthe penalty")
                        .replace(" with depth", "\nwith depth").replace(" leaves", "\nleaves")
                        .replace(" in q:", " in q:\n")
                        .replace(" use negative", "\nuse negative") for c in columns], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(np.arange(len(rows)) + 0.5)
    ax.set_yticklabels([r["label"] for r in rows], fontsize=8.5)
    ax.grid(False)
    ax.legend(handles=[Patch(color=VERDICT_COLORS[v], label=label) for v, label in (
        ("holds", "holds (exact witness, check or proof)"),
        ("holds in optimisation", "holds in optimisation of the exact J_D"),
        ("fails", "fails (exact; reason in REPORT.md)"),
        ("fails in optimisation", "fails in optimisation of the exact J_D"))],
        loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=4, fontsize=8.5)
    ax.set_title("(ours) Helmbold & Long's findings under the dropouts people use; numbers from "
                 "the exact evaluator (PyTorch's placement: at d = 3; at d = 2 see B32)",
                 fontsize=10.5, pad=42)
    fig.tight_layout()
    return fig
