"""Theorem 18's exponential growth with depth under each dropout (ours; C12 for the variants of
:mod:`experiments.shared.variants`).

    python -m experiments variants_depth              # writes figures/variants_depth.*

The Theorem 18 network (x = 1^K, every weight c, biases 0, label y = 2^d; K = n = 4 so that pairs
of nodes make groups) at keep 1/2. Everything is >= 0, so for the Bernoulli variants no ReLU
clips: the exact evaluator's linear regime gives every depth, and our closed forms
(:func:`theory.paper.depth.theorem18_dropout_penalty` with per-layer keep and groups,
:func:`theory.paper.depth.theorem18_dropconnect_penalty`) must agree with it. Gaussian noise is
negative with positive probability, so ReLUs clip: exact for d <= 2 (the bivariate-normal route),
Monte Carlo with a standard error beyond (no exact route exists there). Plotted: P = penalty / y^2,
the growth beyond the labels' own 4^d.
"""

from __future__ import annotations

import jax
import numpy as np

import theory
from experiments.common import COLORS, as_stored, rounding_bound
from experiments.shared.variants import VARIANTS, cell
from theory.paper.depth import (dropconnect_growth_factor, theorem18_dropconnect_penalty,
                                theorem18_dropout_penalty, theorem18_network)

TITLE = "Theorem 18's exponential growth with depth, under every dropout"
CLAIMS = ()

K, WIDTH, KEEP = 4, 4, 0.5
GROWTH_DEPTHS = 3      # the per-layer factor is measured over the last GROWTH_DEPTHS layers


def _closed_form(variant, d, y):
    if variant.noise == "dropconnect":
        return theorem18_dropconnect_penalty(K, WIDTH, d, y, keep_prob=KEEP)
    if variant.noise == "gaussian":
        return None
    return theorem18_dropout_penalty(K, WIDTH, d, y, keep_prob=variant.keep_probs(d, KEEP),
                                     group_size=variant.group_size)


def limit_factor(variant):
    """The factor by which each extra layer multiplies 1 + P in the limit of depth (closed form)."""
    if variant.noise == "dropconnect":
        return dropconnect_growth_factor(WIDTH, keep_prob=KEEP)
    if variant.noise == "gaussian":
        return None
    return 1 + variant.group_size * (1 - KEEP) / (KEEP * WIDTH)


def _penalty(variant, d, y, samples, seed):
    """(penalty, standard error, how): exact wherever an exact route exists, else Monte Carlo."""
    params, X, Y = theorem18_network(K, WIDTH, d, y)
    args = variant.engine_args([K] + [WIDTH] * (d - 1), KEEP)
    if variant.noise != "gaussian":
        return theory.dropout_penalty(params, X, Y, method="linear", **args), 0.0, "exact"
    if d <= 2:
        return theory.dropout_penalty(params, X, Y, **args), 0.0, "exact"
    key = jax.random.fold_in(jax.random.key(seed), d)
    mean, se = theory.mc_dropout_criterion(key, params, X, Y, num_samples=samples, **args)
    return mean, se, "monte carlo"        # R = 0: the network fits its example, so J_D = penalty


def compute(*, quick: bool, progress):
    depths = list(range(1, 2 + 2 * GROWTH_DEPTHS if quick else 11))   # two factor windows
    samples = 2 ** 14 if quick else 2 ** 20
    rows = []
    for i, variant in enumerate(VARIANTS):
        progress(f"{variant.label}: depths {depths[0]}..{depths[-1]}")
        values = [_penalty(variant, d, 2.0 ** d, samples, seed=700 + i) for d in depths]
        rows.append({"key": variant.key, "label": variant.label,
                     "penalty": [v for v, _, _ in values], "standard_error": [s for _, s, _ in values],
                     "how": [h for _, _, h in values],
                     "closed_form": [_closed_form(variant, d, 2.0 ** d) for d in depths],
                     "limit_factor": limit_factor(variant)})
    data = {"depths": depths, "K": K, "n": WIDTH, "keep_prob": KEEP, "rows": rows,
            "mc_samples": samples}
    data["cells"] = cells(as_stored(data))     # judged on the numbers the JSON holds
    return data, {"K": K, "n": WIDTH, "keep_prob": KEEP, "label": "2^d", "mc_samples": samples,
                  "seeds": [700 + i for i in range(len(VARIANTS))]}


def growth(data, row, end=None):
    """The per-layer factor of 1 + P (P = penalty / y^2) over the GROWTH_DEPTHS layers ending at
    depth index ``end`` (default: the last), and its standard error (delta method; 0 when exact).
    For Theorem 18's network 1 + P is a product of per-layer factors, so it grows geometrically
    exactly when this factor stays above 1; a polynomial P would have factors falling to 1."""
    depths = np.asarray(data["depths"])
    scale = 4.0 ** depths
    P, se = np.asarray(row["penalty"]) / scale, np.asarray(row["standard_error"]) / scale
    hi = len(depths) - 1 if end is None else end
    lo = hi - GROWTH_DEPTHS
    if lo < 0:
        raise ValueError(f"the factor over {GROWTH_DEPTHS} layers ending at depth index {hi} needs "
                         f"depths before it; the study has {len(depths)} depths")
    factor = ((1 + P[hi]) / (1 + P[lo])) ** (1 / GROWTH_DEPTHS)
    log_se = np.hypot(se[hi] / (1 + P[hi]), se[lo] / (1 + P[lo])) / GROWTH_DEPTHS
    return float(factor), float(factor * log_se)


def _closed_form_gap(row):
    pairs = [(v, c) for v, c in zip(row["penalty"], row["closed_form"]) if c is not None]
    return max((abs(v - c) / abs(c) for v, c in pairs if c != 0), default=None)


def cells(data) -> list:
    """Column (c) of the variants matrix. Closed form: its limit factor L > 1 (geometric growth,
    not polynomial), the exact evaluator on the closed form at every depth (< 1e-9) and the exact
    factor over the last layers within 1% of L. Gaussian (no closed form): the Monte Carlo factor
    over the last layers above 1 by > 3 standard errors and not below the factor over the layers
    before by > 3 standard errors (a polynomial's factors fall towards 1)."""
    out = []
    depths = data["depths"]
    window = f"d = {depths[-1 - GROWTH_DEPTHS]}..{depths[-1]}"
    for row in data["rows"]:
        factor, se = growth(data, row)
        gap = _closed_form_gap(row)
        if gap is not None:
            limit = row["limit_factor"]
            holds = limit > 1 and gap < 1e-9 and abs(factor / limit - 1) < 0.01
            evidence = (f"each layer multiplies 1 + P (P = penalty / y^2) by {factor:.4f} over "
                        f"{window}, against the closed form's limit {limit:.4f}; exact (linear "
                        f"regime) at d = {depths[0]}..{depths[-1]}, closed form agrees to "
                        f"{rounding_bound(gap, 1e-12)}")
        else:
            before, se_before = growth(data, row, end=len(depths) - 1 - GROWTH_DEPTHS)
            holds = factor - 1 > 3 * se and factor - before > -3 * np.hypot(se, se_before)
            evidence = (f"each layer multiplies 1 + P (P = penalty / y^2) by {factor:.3f} +- "
                        f"{se:.3f} over {window} and by {before:.3f} +- {se_before:.3f} over "
                        f"d = {depths[-1 - 2 * GROWTH_DEPTHS]}..{depths[-1 - GROWTH_DEPTHS]} "
                        f"(no closed form); exact at d <= 2, Monte Carlo beyond "
                        f"({data['mc_samples']} samples)")
        out.append(cell(
            row["key"], "depth", "holds" if holds else "fails", factor, evidence,
            witness={"network": "Theorem 18", "K": K, "n": WIDTH, "y": "2^d", "keep_prob": KEEP},
            reason=None if holds else "1 + P does not grow by a steady factor > 1 per layer",
            figure="variants_depth"))
    return out


def plot(result):
    import matplotlib.pyplot as plt

    depths = np.asarray(result["depths"])
    fig, ax = plt.subplots(figsize=(7.5, 5))
    palette = [COLORS["dropout"], COLORS["none"], COLORS["weight_decay"], COLORS["theory"],
               COLORS["extra1"]]
    for row, color in zip(result["rows"], palette):
        P = np.asarray(row["penalty"]) / 4.0 ** depths
        se = np.asarray(row["standard_error"]) / 4.0 ** depths
        keep = P > 0                      # PyTorch's placement carries no noise at d = 1
        if row["closed_form"][0] is not None:
            ax.semilogy(depths[keep], (np.asarray(row["closed_form"]) / 4.0 ** depths)[keep],
                        color=color, label=f"{row['label']}: closed form (ours)")
            ax.semilogy(depths[keep], P[keep], "o", mfc="none", color=color, ms=6)
        else:
            ax.errorbar(depths[keep], P[keep], yerr=3 * se[keep], fmt="s--", color=color, ms=4,
                        capsize=3, label=f"{row['label']}: exact (d <= 2), Monte Carlo ± 3 s.e.")
    ax.set_xlabel("depth d (label y = 2^d)")
    ax.set_ylabel("P = dropout penalty / y² (log scale)")
    ax.set_title(f"(ours) Theorem 18 network, K = n = {result['K']}, keep 1/2: the penalty "
                 "outgrows y² = 4^d\nunder every dropout (circles: exact evaluator)")
    ax.legend(fontsize=7.5, loc="upper left")
    fig.tight_layout()
    return fig
