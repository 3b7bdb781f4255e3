"""Rescaling invariances: J_D is flat along (c W1, ..., W_d / c), J2 explodes (C2, C3, C4).

    python -m experiments rescaling_invariance

A random d = 3 network (K = 4, n = 6, Gaussian weights and biases of both signs) on 8 random
examples. Left: J_D (exact), the dropout penalty, R and J2 (lam = 0.1) along Theorem 5's path
W(c) = (c W1, c b1, W2, c b2, w / c, b) for c over two decades: J_D, the penalty and R stay put,
J2 grows like c^2. Right: the measured deviation of each identity from exact equality (relative),
for input scaling by a diagonal A (Theorem 4), cross-layer rescaling (Theorem 5) and output scaling
with labels times c (Theorem 6): rounding level, ~1e-16.
"""

from __future__ import annotations

import numpy as np

import theory
from experiments.common import COLORS, Check, rounding_bound
from theory.paper.invariances import rescale_layers, scale_inputs, scale_output

TITLE = "Dropout is invariant under rescalings that weight decay is not"
CLAIMS = ("C2", "C3", "C4")

LAM = 0.1


def _network(rng):
    sizes = [4, 6, 6, 1]
    return tuple((rng.normal(size=(o, i)), rng.normal(size=o)) for i, o in zip(sizes[:-1], sizes[1:]))


def compute(*, quick: bool, progress):
    rng = np.random.default_rng(5)
    params = _network(rng)
    X, Y = rng.normal(size=(8, 4)), rng.normal(size=8)
    cs = np.geomspace(0.1, 10.0, 9 if quick else 41)
    progress(f"J_D, R and J2 along the rescaling path at {len(cs)} points")
    path = {"c": cs, "J_D": [], "penalty": [], "R": [], "J2": []}
    for c in cs:
        moved = rescale_layers(params, [c, 1.0, 1.0 / c])
        path["J_D"].append(theory.dropout_criterion(moved, X, Y))
        path["penalty"].append(theory.dropout_penalty(moved, X, Y))
        path["R"].append(theory.risk(moved, X, Y))
        path["J2"].append(theory.l2_criterion(moved, X, Y, lam=LAM))
    norms = [float(np.sum(W ** 2)) for W, _ in params]
    risk = theory.risk(params, X, Y)
    path["J2_formula"] = [risk + 0.5 * LAM * (c * c * norms[0] + norms[1] + norms[2] / (c * c))
                          for c in cs]
    base = theory.dropout_criterion(params, X, Y)
    deviations = {"input scaling (Thm 4)": [], "cross-layer rescaling (Thm 5)": [],
                  "output scaling (Thm 6)": []}
    progress("identities on 20 random transformations each")
    for _ in range(5 if quick else 20):
        a = rng.uniform(0.1, 10.0, 4) * rng.choice([-1.0, 1.0], 4)
        deviations["input scaling (Thm 4)"].append(
            abs(theory.dropout_criterion(scale_inputs(params, a), X * a, Y) - base) / base)
        c = rng.uniform(0.1, 10.0, 3)
        deviations["cross-layer rescaling (Thm 5)"].append(
            abs(theory.dropout_criterion(rescale_layers(params, c), X, np.prod(c) * Y)
                - np.prod(c) ** 2 * base) / (np.prod(c) ** 2 * base))
        c = float(rng.uniform(0.1, 10.0))
        deviations["output scaling (Thm 6)"].append(
            abs(theory.dropout_criterion(scale_output(params, c), X, c * Y) - c * c * base)
            / (c * c * base))
    return ({"path": path, "deviations": deviations, "lam": LAM},
            {"sizes": [4, 6, 6, 1], "examples": 8, "seed": 5, "keep_prob": 0.5, "lam": LAM})


def checks(data):
    path, dev = data["path"], data["deviations"]
    flat = max(np.ptp(path[k]) / np.mean(path[k]) for k in ("J_D", "penalty", "R"))
    j2 = np.asarray(path["J2"])
    j2_gap = np.max(np.abs(j2 - path["J2_formula"]) / j2)
    worst = {k: max(v) for k, v in dev.items()}
    return [
        Check("C3", "J_D, penalty and R are constant along (c W1, W2, w/c); J2 is not",
              f"relative spread of J_D, penalty, R {rounding_bound(flat, 1e-13)}; J2 from "
              f"{j2.min():.3g} to {j2.max():.3g}, equal to R + (lam/2)(c^2|W1|^2 + |W2|^2 + "
              f"|w|^2/c^2) to {rounding_bound(j2_gap, 1e-13)}",
              "spread < 1e-12; J2 on its formula to 1e-12 and not flat (spread > 1)",
              bool(flat < 1e-12 and j2_gap < 1e-12 and np.ptp(j2) / j2.min() > 1)),
        Check("C2", "J_D(W', A x) = J_D(W, x) for W' = (W1 A^-1, ...), any full-rank diagonal A",
              f"max relative deviation {rounding_bound(worst['input scaling (Thm 4)'], 1e-13)} over "
              f"{len(dev['input scaling (Thm 4)'])} random A", "< 1e-12",
              worst["input scaling (Thm 4)"] < 1e-12),
        Check("C3", "D(W', x, R) = (c1...cd) D(W, x, R) for Theorem 5's W'",
              f"max relative deviation of J_D "
              f"{rounding_bound(worst['cross-layer rescaling (Thm 5)'], 1e-13)}",
              "< 1e-12", worst["cross-layer rescaling (Thm 5)"] < 1e-12),
        Check("C4", "output weights and labels times c: every criterion times c^2",
              f"max relative deviation {rounding_bound(worst['output scaling (Thm 6)'], 1e-13)}", "< 1e-12",
              worst["output scaling (Thm 6)"] < 1e-12),
    ]


def plot(result):
    import matplotlib.pyplot as plt

    path = result["path"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.4), gridspec_kw={"width_ratios": [3, 2]})
    for key, label, color, ls in (("J_D", "J_D (dropout criterion)", COLORS["dropout"], "-"),
                                  ("penalty", "dropout penalty J_D - R", COLORS["none"], "-"),
                                  ("R", "risk R", COLORS["extra1"], "--"),
                                  ("J2", f"J2 = R + (λ/2)||W||², λ = {result['lam']:g}",
                                   COLORS["weight_decay"], "-")):
        left.loglog(path["c"], path[key], ls, color=color, label=label)
    left.set_xlabel("c   (layer 1 scaled by c, output layer by 1/c)")
    left.set_ylabel("criterion (log scale)")
    left.set_title("C3: along Theorem 5's path J_D is flat, weight decay explodes")
    left.legend(fontsize=8)
    names = list(result["deviations"])
    for i, name in enumerate(names):
        values = np.maximum(result["deviations"][name], 1e-18)
        right.semilogy(np.full(len(values), i) + np.linspace(-0.15, 0.15, len(values)), values,
                       "o", color=COLORS["dropout"], ms=4, mfc="none")
    right.axhline(np.finfo(float).eps, color="grey", ls=":", label="float64 machine epsilon")
    right.set_xticks(range(len(names)), [n.replace(" (", "\n(") for n in names], fontsize=8)
    right.set_ylim(1e-18, 1e-10)
    right.set_ylabel("relative deviation from the identity")
    right.set_title("C2, C3, C4: the identities hold to rounding\n(exact J_D; values < 1e-18 drawn at 1e-18)")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig
