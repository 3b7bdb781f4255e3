"""Negative, label-dependent and non-monotonic penalties under each dropout (ours; C13-C15 for the
variants of :mod:`experiments.shared.variants`).

    python -m experiments variants_witnesses          # writes figures/variants_witnesses.*

For every variant we search small random networks (weights and biases N(0, 1) rounded to 0.1;
x = (1, -1) as in Figure 1; depth 2, or 3 for PyTorch's placement, see below) for the one whose
penalty depends most on the label, |E[delta]| / sqrt(E[delta^2]) largest at keep 1/2, and give it
the label y = W(x) + E[delta^2] / E[delta] rounded to 0.1. By C14 the penalty is
E[delta^2] + 2 (W(x) - y) E[delta], about -E[delta^2] < 0 at that label, and its slope in y is
-2 E[delta] != 0: one witness for columns (a) and (b); its exact penalty against the drop
probability q (for Gaussian noise, variance q/p) is drawn too. Column (f) needs a witness of its
own: (a)'s penalty is 0 at q = 0, negative at q = 1/2 and large near q = 1, so an interior minimum
is forced and proves nothing more. The (f) witness has an interior MAXIMUM in q: among the same
kind of random networks and labels y = W(x) + c sqrt(E[delta^2]) (c on a grid), the one whose
exact penalty curve has the most prominent interior maximum (its height above the higher of the
lowest values on either side); it holds when that prominence exceeds PROMINENCE of the curve's
largest |value| (fixed a priori: visible in the figure and about 10^7 times the evaluator's
rounding) and brute force agrees at the maximum and at the two lows around it. Every value is exact
and checked against brute force (every pattern listed; Gaussian noise integrated by quadrature).

Why PyTorch's placement needs depth 3 (finding B32): when only the last hidden layer is noisy, the
hidden values h(x) are fixed, the output is linear in the noise, and the penalty is
(q/p) sum_j w_j^2 h_j(x)^2 for every kind of noise: never negative, free of the label, increasing
in q. We check that identity exactly on random networks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import theory
from experiments.common import COLORS, Finding, as_stored, rounding_bound
from experiments.shared.analysis import interior_extrema
from experiments.shared.variants import VARIANTS, cell
from theory.enumeration import brute_force_criterion
from theory.network import random_network

TITLE = "Under every dropout the penalty can be negative, label-dependent and non-monotonic in q"
CLAIMS = ()

X_WITNESS = np.array([[1.0, -1.0]])
WIDTH, KEEP = 3, 0.5
Q_GRID = np.round(np.linspace(0.0, 0.95, 96), 4)
Q_BRUTE = np.round(np.linspace(0.05, 0.95, 7), 4)
BRUTE_TOLERANCE = {"dropout": 1e-10, "dropconnect": 1e-10, "gaussian": 1e-7}
PROMINENCE = 1e-3
LABEL_OFFSETS = np.concatenate([np.linspace(-3, 3, 61), [-30, -10, 10, 30]])


def _depth(variant) -> int:
    return 2 if variant.inputs_noisy else 3


def _witness(variant, candidates, seed):
    """The candidate whose penalty depends most on the label, and the label that makes it < 0."""
    sizes = [X_WITNESS.shape[1]] + [WIDTH] * (_depth(variant) - 1)
    args = variant.engine_args(sizes, KEEP)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(candidates):
        params = random_network(rng, [*sizes, 1], decimals=1)
        f, e1, e2 = (float(v[0]) for v in theory.deviation_moments(params, X_WITNESS, **args))
        score = abs(e1) / np.sqrt(e2) if e2 > 0 else 0.0
        if best is None or score > best[0]:
            best = (score, params, f, e1, e2)
    _, params, f, e1, e2 = best
    return params, sizes, f, e1, e2, round(f + e2 / e1, 1)


def _study(variant, candidates, seed):
    params, sizes, f, e1, e2, y = _witness(variant, candidates, seed)
    Y = np.array([y])

    def penalty(q):
        return theory.dropout_penalty(params, X_WITNESS, Y, **variant.engine_args(sizes, 1 - q))

    def brute(q):
        args = variant.engine_args(sizes, 1 - q)
        return brute_force_criterion(params, X_WITNESS, Y, [1.0], args["keep_prob"],
                                     noise=variant.noise, groups=args["groups"]) - (f - y) ** 2

    labels = np.round(np.linspace(y - 4, y + 4, 9), 4)
    return {"key": variant.key, "label": variant.label, "depth": len(sizes),
            "params": [[W, b] for W, b in params], "x": X_WITNESS[0], "y": y, "W_x": f,
            "mean_delta": e1, "mean_delta_sq": e2, "penalty": penalty(1 - KEEP),
            "label_slope": -2 * e1, "q": Q_GRID, "penalty_by_q": [penalty(q) for q in Q_GRID],
            "q_brute": Q_BRUTE, "brute_by_q": [brute(q) for q in Q_BRUTE],
            "exact_at_q_brute": [penalty(q) for q in Q_BRUTE],
            "labels": labels,
            "penalty_by_label": [theory.dropout_penalty(params, X_WITNESS, [label],
                                                        **variant.engine_args(sizes, KEEP))
                                 for label in labels]}


def _prominent_maximum(curve):
    """(index, prominence) of the interior maximum of ``curve`` that stands highest above the
    higher of the lowest values on its two sides; (None, 0) if there is no interior maximum."""
    maxima, _ = interior_extrema(curve)
    best = (None, 0.0)
    for i in maxima:
        prominence = curve[i] - max(np.min(curve[:i]), np.min(curve[i + 1:]))
        if prominence > best[1]:
            best = (i, float(prominence))
    return best


def _keep_witness(variant, candidates, seed):
    """Column (f): the network and label whose exact penalty in q has the most prominent interior
    maximum, relative to the curve's largest |value|. E[delta] and E[delta^2] do not depend on the
    label, so one pass over the q grid per network serves every label."""
    sizes = [X_WITNESS.shape[1]] + [WIDTH] * (_depth(variant) - 1)
    rng = np.random.default_rng(seed)
    networks = [random_network(rng, [*sizes, 1], decimals=1) for _ in range(candidates)]

    def moments(params):
        def at(q):
            _, e1, e2 = theory.deviation_moments(params, X_WITNESS,
                                                 **variant.engine_args(sizes, 1.0 - q))
            return e1[0], e2[0]
        return jax.vmap(at)(jnp.asarray(Q_GRID))

    batch = jax.tree_util.tree_map(lambda *layers: jnp.stack(layers), *networks)
    e1, e2 = (np.asarray(v) for v in jax.jit(jax.vmap(moments))(batch))
    middle = int(np.argmin(np.abs(Q_GRID - (1 - KEEP))))
    best = (0.0, None)
    for i, params in enumerate(networks):
        scale = np.sqrt(e2[i, middle]) if e2[i, middle] > 0 else 1.0
        for c in LABEL_OFFSETS:
            curve = e2[i] - 2 * c * scale * e1[i]     # C14 with W(x) - y = -c scale
            index, prominence = _prominent_maximum(curve)
            relative = prominence / np.max(np.abs(curve)) if index is not None else 0.0
            if relative > best[0]:
                best = (relative, (params, c * scale, index))
    relative, (params, offset, index) = best
    f = float(theory.network_output(params, X_WITNESS)[0])
    return params, sizes, round(f + offset, 4), relative


def _keep_study(variant, candidates, seed):
    """The (f) witness: its exact penalty on the q grid, the maximum and the lows around it
    checked by brute force."""
    params, sizes, y, _ = _keep_witness(variant, candidates, seed)
    Y = np.array([y])
    curve = np.array([theory.dropout_penalty(params, X_WITNESS, Y,
                                             **variant.engine_args(sizes, 1 - q)) for q in Q_GRID])
    index, prominence = _prominent_maximum(curve)
    checked = [int(np.argmin(curve[:index])), index, index + 1 + int(np.argmin(curve[index + 1:]))]
    f = float(theory.network_output(params, X_WITNESS)[0])

    def brute(q):
        args = variant.engine_args(sizes, 1 - q)
        return brute_force_criterion(params, X_WITNESS, Y, [1.0], args["keep_prob"],
                                     noise=variant.noise, groups=args["groups"]) - (f - y) ** 2

    return {"depth": len(sizes), "params": [[W, b] for W, b in params], "y": y,
            "penalty_by_q": curve, "maximum_at": float(Q_GRID[index]),
            "prominence": prominence, "relative_prominence": prominence / np.max(np.abs(curve)),
            "q_checked": Q_GRID[checked], "exact_checked": curve[checked],
            "brute_checked": [brute(q) for q in Q_GRID[checked]]}


def _last_layer_identity(networks, seed):
    """Max relative gap between the exact penalty and (q/p) sum_j w_j^2 h_j(x)^2 when only the last
    hidden layer is noisy, over random networks, depths 2 and 3 and every noise kind (B32)."""
    rng = np.random.default_rng(seed)
    worst, label_gap, count = 0.0, 0.0, 0
    for i in range(networks):
        depth, keep = 2 + i % 2, float(rng.uniform(0.1, 0.9))
        params = random_network(rng, [3] + [4] * (depth - 1) + [1], decimals=1)
        X, Y = rng.normal(size=(5, 3)), rng.normal(size=5)
        hidden = np.asarray(X)
        for W, b in params[:-1]:
            hidden = np.maximum(hidden @ W.T + b, 0.0)
        formula = (1 - keep) / keep * np.mean(np.square(hidden) @ np.square(params[-1][0][0]))
        for noise in theory.NOISE_KINDS:
            args = {"keep_prob": (1.0,) * (depth - 1) + (keep,), "noise": noise}
            exact = theory.dropout_penalty(params, X, Y, **args)
            other_labels = theory.dropout_penalty(params, X, Y + rng.normal(size=5) * 10, **args)
            worst = max(worst, abs(exact - formula) / max(formula, 1e-300))
            label_gap = max(label_gap, abs(other_labels - exact) / max(formula, 1e-300))
            count += 1
    return {"cases": count, "max_relative_gap": worst, "max_label_effect": label_gap}


def compute(*, quick: bool, progress):
    candidates = 30 if quick else 200
    data = {"variants": []}
    for i, variant in enumerate(VARIANTS):
        progress(f"{variant.label}: searching {candidates} networks, then the exact penalty over "
                 f"{len(Q_GRID)} drop probabilities")
        study = _study(variant, candidates, seed=900 + i)
        study["keep_witness"] = _keep_study(variant, candidates, seed=950 + i)
        data["variants"].append(study)
    progress("B32: the penalty when only the last hidden layer is noisy")
    data["last_layer_identity"] = _last_layer_identity(20 if quick else 200, seed=932)
    config = {"x": X_WITNESS[0], "width": WIDTH, "keep_prob": KEEP, "candidates": candidates,
              "weights": "N(0, 1) rounded to 0.1", "seeds": [900 + i for i in range(len(VARIANTS))]}
    data["cells"] = cells(as_stored(data))     # judged on the numbers the JSON holds
    return data, config


def _brute_gap(study):
    return float(np.max(np.abs(np.subtract(study["brute_by_q"], study["exact_at_q_brute"]))))


def cells(data) -> list:
    """Columns (a), (b) and (f) of the variants matrix, one witness per variant."""
    out = []
    for study in data["variants"]:
        variant = next(v for v in VARIANTS if v.key == study["key"])
        gap = _brute_gap(study)
        exact_ok = gap < BRUTE_TOLERANCE[variant.noise]
        witness = {"depth": study["depth"], "params": study["params"], "x": study["x"],
                   "y": study["y"], "keep_prob": KEEP}
        checked = f"exact; brute force at {len(study['q_brute'])} values of q agrees to " \
                  f"{rounding_bound(gap, BRUTE_TOLERANCE[variant.noise])}"
        scope = "" if variant.inputs_noisy else \
            " (at d = 3; at d = 2 it is impossible: only the last hidden layer is noisy, B32)"
        negative = study["penalty"] < 0 and exact_ok
        out.append(cell(variant.key, "negative", "holds" if negative else "fails",
                        study["penalty"], f"penalty {study['penalty']:.4g} at y = {study['y']}, "
                        f"W(x) = {study['W_x']:.3g}{scope}; {checked}", witness=witness,
                        figure="variants_witnesses"))
        slope = study["label_slope"]
        out.append(cell(variant.key, "label", "holds" if abs(slope) > 1e-9 and exact_ok else "fails",
                        slope, f"d penalty / dy = -2 E[delta] = {slope:.4g}{scope}; {checked}",
                        witness=witness, figure="variants_witnesses"))
        keep = study["keep_witness"]
        keep_gap = float(np.max(np.abs(np.subtract(keep["brute_checked"], keep["exact_checked"]))))
        keep_ok = keep_gap < BRUTE_TOLERANCE[variant.noise]
        holds = keep["relative_prominence"] > PROMINENCE and keep_ok
        out.append(cell(
            variant.key, "keep", "holds" if holds else "fails", keep["maximum_at"],
            f"a second witness (d = {keep['depth']}, y = {keep['y']:g}): exact penalty on "
            f"{len(study['q'])} values of q in [0, {study['q'][-1]:g}] has an interior maximum at "
            f"q = {keep['maximum_at']:g}, {keep['prominence']:.3g} above the lower side "
            f"({keep['relative_prominence']:.1%} of the curve's largest |value|); brute force at "
            f"the maximum and the lows around it agrees to "
            f"{rounding_bound(keep_gap, BRUTE_TOLERANCE[variant.noise])}",
            witness={"depth": keep["depth"], "params": keep["params"], "x": study["x"],
                     "y": keep["y"]},
            reason=None if holds else "no witness found whose penalty has a prominent interior "
                                      "maximum in q", figure="variants_witnesses"))
    return out


def findings(data):
    identity = data["last_layer_identity"]
    holds = identity["max_relative_gap"] < 1e-10 and identity["max_label_effect"] < 1e-10
    return [Finding(
        "B32", "when only the last hidden layer is noisy (PyTorch's placement at d = 2; any of "
               "dropout, DropConnect, Gaussian), the penalty is (q/p) sum_j w_j^2 h_j(x)^2: "
               "never negative, free of the label, increasing in q",
        f"{identity['cases']} (network, noise) cases, depths 2 and 3: max relative gap to the "
        f"formula {rounding_bound(identity['max_relative_gap'], 1e-12)}; relabelling changes the "
        f"penalty by {rounding_bound(identity['max_label_effect'], 1e-12)}",
        "exact evaluator equals the formula and ignores the labels, to 1e-10 relative",
        "holds" if holds else "fails")]


def plot(result):
    import matplotlib.pyplot as plt

    studies = result["variants"]
    fig, axes = plt.subplots(3, len(studies), figsize=(3.6 * len(studies), 9.6))
    for (top, bottom, keep_axis), study in zip(axes.T, studies):
        keep = study["keep_witness"]
        keep_axis.plot(study["q"], keep["penalty_by_q"], color=COLORS["theory"], label="exact")
        keep_axis.plot(keep["q_checked"], keep["brute_checked"], "o", mfc="none",
                       color=COLORS["paper"], ms=5, label="brute force")
        keep_axis.axvline(keep["maximum_at"], color="grey", lw=0.8, ls=":")
        keep_axis.set_title(f"(f) witness: d = {keep['depth']}, y = {keep['y']:g}; maximum at "
                            f"q = {keep['maximum_at']:g}", fontsize=8.5)
        keep_axis.set_xlabel("drop probability q")
        top.plot(study["q"], study["penalty_by_q"], color=COLORS["dropout"], label="exact")
        top.plot(study["q_brute"], study["brute_by_q"], "o", mfc="none", color=COLORS["paper"],
                 ms=5, label="brute force")
        top.axhline(0, color="grey", lw=0.8)
        top.set_ylim(min(study["penalty_by_q"]) * 1.6, -min(study["penalty_by_q"]) * 2.5)
        top.set_title(f"{study['label']}\nd = {study['depth']}, x = (1, -1), y = {study['y']:g}",
                      fontsize=9)
        top.set_xlabel("drop probability q (Gaussian: variance q/p)")
        bottom.plot(study["labels"], study["penalty_by_label"], color=COLORS["weight_decay"])
        bottom.plot([study["y"]], [study["penalty"]], "o", color=COLORS["paper"],
                    label=f"witness: {study['penalty']:.3g}")
        bottom.axhline(0, color="grey", lw=0.8)
        bottom.set_xlabel(f"label y   (slope -2 E[delta] = {study['label_slope']:.3g})")
        bottom.legend(fontsize=7.5)
    axes[0, 0].set_ylabel("penalty J_D - R (exact)")
    axes[1, 0].set_ylabel("penalty at q = 1/2 (exact)")
    axes[2, 0].set_ylabel("penalty J_D - R (exact)")
    axes[2, 0].legend(fontsize=7.5)
    axes[0, 0].legend(fontsize=7.5)
    fig.suptitle("(ours) Witness networks per dropout: the penalty against q falls below 0 (top), "
                 "moves with the label (middle), and has an interior maximum in q (bottom: a "
                 "second witness)", fontsize=10.5)
    fig.tight_layout()
    return fig
