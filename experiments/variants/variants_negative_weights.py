"""Do dropout's minimisers on P_(1,1) need negative weights under each dropout? (ours; C9 for the
variants of :mod:`experiments.shared.variants`, column (e) of the variants matrix).

    python -m experiments variants_negative_weights   # writes figures/variants_negative_weights.*

The question is about the minimum of the exact J_D (K = 2, d = 2, n = 40, keep 1/2): is the least
J_D over every network below the least over networks whose weights are all >= 0 (biases free, as in
Theorem 17)? Settled by proof where we have one, by optimisation of the exact criterion otherwise:

- paper's dropout: Theorem 17 (every non-negative network has J_D >= 1/8) and W_neg with optimised
  output below it: holds.
- PyTorch's placement and group dropout (pairs): the exact minima over every network and over
  non-negative ones in closed form, with networks attaining them
  (:mod:`theory.paper.negative_weights_variants`; proofs in paper_notes.md).
- DropConnect and Gaussian dropout: no proof; multi-start optimisation of the exact, differentiable
  J_D (Adam on the exact criterion in two stages: free runs from Torch's initialisation and
  non-negative ones, projected onto weights >= 0 after every step, from its absolute values; then,
  at a tenth of the step, every weight free: the free runs go on and the non-negative runs' end
  points are freed), the record being the exact evaluator's value at the end. Rule, fixed before
  the runs:
  "holds in optimisation" when the best free network is below the best non-negative one by more
  than :data:`MARGIN` of the latter, else "fails in optimisation"; the spread of the starts is in
  the row.

The same optimisation runs for every variant, so the proofs are checked too: a run below a proven
minimum stops the study (it would mean a bug in the engine or in the proof). The data set with
y = x1 + x2 needs no run of its own: scaling the labels by 2 scales every network's J_D by 4 (C4),
so its minima are these times 4. The best networks found and the constructed minimisers are
stored in the JSON (params as nested lists) so that anyone can re-evaluate them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import theory
from experiments.common import COLORS, as_stored
from experiments.shared.exact_descent import adam_descent
from experiments.shared.variants import VARIANTS, cell
from sgd.initialisation import torch_default_init
from theory.evaluation import each_run
from theory.paper.distributions import p11
from theory.paper.negative_weights import NONNEGATIVE_BOUND_K2, w_neg, wneg_optimal_output
from theory.paper.negative_weights_variants import (dropconnect_averaging_criterion,
                                                    dropconnect_averaging_network,
                                                    group_dropout_free_minimiser,
                                                    group_dropout_minima,
                                                    group_dropout_nonnegative_minimiser,
                                                    hidden_only_minimiser, hidden_only_minimum)

TITLE = "Negative weights in dropout's minimisers on P_(1,1), under every dropout: the exact minima"
CLAIMS = ()

K, WIDTH, DEPTH, KEEP = 2, 40, 2, 0.5
MARGIN = 1e-3
"""Relative gap between the best free and the best non-negative J_D that "holds in optimisation"
needs: far above the optimiser's own resolution (the starts that reach a proven minimum do so to
< 1e-6 relative), far below the gaps a negative weight makes where a proof exists (0.7%, 11%)."""
KINDS = (("free", "free weights, from Torch's initialisation (both stages)"),
         ("free_from_nonnegative", "free weights, from where the non-negative runs ended"),
         ("nonnegative", "weights >= 0 (projected)"))
PROOF_MARKS = (("nonnegative_minimum", "k", "-", "proven minimum over non-negative networks"),
               ("nonnegative_bound", "k", ":", "Theorem 17's bound for non-negative networks"),
               ("free_minimum", COLORS["paper"], "--", "proven minimum over every network"))
TOLERANCE = 1e-9      # a run this far below a proven minimum contradicts the proof


def _project_nonnegative(params, nonnegative):
    """The weights of a run whose flag ``nonnegative`` is set, projected onto >= 0."""
    return tuple((jnp.where(nonnegative, jnp.maximum(W, 0.0), W), b) for W, b in params)


def _optimise(variant, starts, steps, seed):
    """Final params and exact J_D for every kind of :data:`KINDS` (``starts`` networks each).
    Stage 1: free and non-negative runs from Torch's initialisation (non-negative: its absolute
    values), step 0.03. Stage 2, every weight free, step 0.003: the free runs go on, and the
    non-negative runs' end points are freed (does freeing the signs help there?)."""
    X, Y = p11(K)
    args = variant.engine_args([K] + [WIDTH] * (DEPTH - 1), KEEP)

    def criterion(params, _=None):
        return theory.dropout_criterion(params, X, Y, **args)

    init = jax.vmap(lambda key: torch_default_init(key, K, WIDTH, DEPTH))(
        jax.random.split(jax.random.key(seed), starts))
    absolute = jax.tree_util.tree_map(jnp.abs, init)
    both = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), init, absolute)
    adam = adam_descent(criterion, steps, _project_nonnegative)
    evaluate = jax.jit(lambda params: each_run(criterion, params))
    first = adam(both, jnp.repeat(jnp.arange(2) == 1, starts), 0.03)
    second = adam(first, jnp.zeros(2 * starts, bool), 0.003)
    ends = {"nonnegative": (first, evaluate(first)), "free": (second, evaluate(second))}
    out = {}
    for kind, half in (("free", 0), ("nonnegative", 1), ("free_from_nonnegative", 1)):
        params, values = ends["nonnegative" if kind == "nonnegative" else "free"]
        runs = slice(half * starts, (half + 1) * starts)
        out[kind] = {"criterion": np.asarray(values[runs]),
                     "params": tuple((np.asarray(W[runs]), np.asarray(b[runs]))
                                     for W, b in params)}
    return out


def _network(params, index=None):
    """params (one network, or network ``index`` of a batch) as nested lists for the JSON."""
    pick = (lambda a: a) if index is None else (lambda a: a[index])
    return [[np.asarray(pick(W)).tolist(), np.asarray(pick(b)).tolist()] for W, b in params]


def _proofs(variant, X, Y):
    """Proven minima (free, non-negative) and the constructed networks, with their exact J_D."""
    args = variant.engine_args([K] + [WIDTH] * (DEPTH - 1), KEEP)

    def exact(params):
        return float(theory.dropout_criterion(params, X, Y, **args))

    if variant.key == "paper":
        c, b, value = wneg_optimal_output(K, WIDTH, DEPTH)
        network = w_neg(K, WIDTH, DEPTH, output_weight=c, output_bias=b)
        return {"kind": "Theorem 17 and W_neg", "nonnegative_bound": NONNEGATIVE_BOUND_K2,
                "free_witness": {"network": _network(network), "criterion": exact(network),
                                 "closed_form": value}}
    if variant.key == "pytorch":
        minimum = hidden_only_minimum(WIDTH, KEEP)
        network = hidden_only_minimiser(WIDTH, KEEP)
        return {"kind": "closed-form minimum over every network", "free_minimum": minimum,
                "nonnegative_minimum": minimum,
                "nonnegative_witness": {"network": _network(network), "criterion": exact(network),
                                        "closed_form": minimum}}
    if variant.key == "groups":
        free, nonnegative = group_dropout_minima(WIDTH, KEEP, variant.group_size)
        free_net = group_dropout_free_minimiser(WIDTH, KEEP, variant.group_size)
        nonneg_net = group_dropout_nonnegative_minimiser(WIDTH, KEEP, variant.group_size)
        return {"kind": "closed-form minima, free and non-negative", "free_minimum": free,
                "nonnegative_minimum": nonnegative,
                "free_witness": {"network": _network(free_net), "criterion": exact(free_net),
                                 "closed_form": free},
                "nonnegative_witness": {"network": _network(nonneg_net),
                                        "criterion": exact(nonneg_net), "closed_form": nonnegative}}
    if variant.key == "dropconnect":
        network = dropconnect_averaging_network(WIDTH, KEEP)
        return {"kind": "a constructed non-negative network (no proven minimum)",
                "nonnegative_construction": {"network": _network(network),
                                             "criterion": exact(network),
                                             "closed_form": dropconnect_averaging_criterion(
                                                 WIDTH, KEEP)}}
    return None


def _check_against_proofs(label, runs, proof):
    """Stop if a run went below a proven minimum: the engine or the proof would be wrong."""
    proof = proof or {}
    floors = {"nonnegative": proof.get("nonnegative_minimum", proof.get("nonnegative_bound")),
              "free": proof.get("free_minimum"),
              "free_from_nonnegative": proof.get("free_minimum")}
    for kind, floor in floors.items():
        if floor is None:
            continue
        lowest = float(np.min(runs[kind]["criterion"]))
        if lowest < floor - TOLERANCE:
            raise RuntimeError(f"{label}: a {kind} run reached J_D {lowest!r}, below the proven "
                               f"minimum {floor!r}; the engine or the proof is wrong")


def compute(*, quick: bool, progress):
    starts = 2 if quick else 8
    steps = 200 if quick else 2000        # per stage (free and non-negative; then freed)
    X, Y = p11(K)
    rows = []
    for i, variant in enumerate(VARIANTS):
        gaussian = variant.noise == "gaussian"      # its exact route costs ~30x a Bernoulli one
        variant_starts, variant_steps = ((max(starts // 4, 1), steps // 4) if gaussian
                                         else (starts, steps))
        progress(f"{variant.label}: Adam on the exact J_D, {variant_starts} starts x "
                 f"{len(KINDS)} kinds x {variant_steps} steps")
        runs = _optimise(variant, variant_starts, variant_steps, seed=600 + 10 * i)
        proof = _proofs(variant, X, Y)
        _check_against_proofs(variant.label, runs, proof)
        row = {"key": variant.key, "label": variant.label, "steps": variant_steps, "proof": proof}
        for kind, _ in KINDS:
            values = runs[kind]["criterion"]
            best = int(np.argmin(values))
            row[kind] = {"criterion": values, "best": float(values[best]),
                         "best_network": _network(runs[kind]["params"], best)}
        rows.append(row)
    data = {"rows": rows, "kinds": [list(kind) for kind in KINDS], "margin": MARGIN}
    config = {"K": K, "n": WIDTH, "d": DEPTH, "keep_prob": KEEP, "starts": starts,
              "steps": steps, "gaussian": {"starts": max(starts // 4, 1), "steps": steps // 4},
              "optimiser": "Adam on the exact J_D, stage 1 step 0.03, stage 2 (all free) "
                           "step 0.003, each halved every steps/4",
              "init": "torch default; non-negative starts are its absolute values"}
    data["cells"] = cells(as_stored(data))     # judged on the numbers the JSON holds
    return data, config


def _spread(row) -> str:
    parts = []
    for kind, label in KINDS:
        values = np.asarray(row[kind]["criterion"], dtype=float)
        parts.append(f"{label}: best {values.min():.6f}, median {np.median(values):.6f}")
    return (f"optimisation of the exact J_D ({len(row['free']['criterion'])} starts each, "
            f"{row['steps']} Adam steps per stage): " + "; ".join(parts))


def cells(data) -> list:
    """Column (e) of the variants matrix."""
    out = []
    for row in data["rows"]:
        best_free = min(row["free"]["best"], row["free_from_nonnegative"]["best"])
        best_nonneg = row["nonnegative"]["best"]
        proof = row["proof"]
        spread = _spread(row)
        if row["key"] == "paper":
            witness = proof["free_witness"]["criterion"]
            holds = witness < proof["nonnegative_bound"]
            out.append(cell(
                row["key"], "negative_weights", "holds" if holds else "fails",
                witness - proof["nonnegative_bound"],
                f"Theorem 17: every non-negative network has J_D >= 1/8; W_neg with optimised "
                f"output at n = {WIDTH} has exact J_D {witness:.6f}; {spread}",
                witness={"network": "W_neg", "params": proof["free_witness"]["network"],
                         "criterion": witness}, figure="variants_negative_weights"))
        elif proof is not None and "free_minimum" in proof:
            free, nonneg = proof["free_minimum"], proof["nonnegative_minimum"]
            holds = free < nonneg
            constructed = proof["free_witness" if holds else "nonnegative_witness"]
            out.append(cell(
                row["key"], "negative_weights", "holds" if holds else "fails", free - nonneg,
                f"exact minimum over every network {free:.6f}, over non-negative networks "
                f"{nonneg:.6f} (proofs in paper_notes.md; the constructed "
                f"{'free' if holds else 'non-negative'} minimiser's exact J_D "
                f"{constructed['criterion']:.6f}); {spread}; no run below a proven minimum",
                witness={"params": constructed["network"], "criterion": constructed["criterion"]},
                reason=None if holds else "a non-negative network attains the exact minimum over "
                                          "every network, so no minimiser needs a negative weight",
                figure="variants_negative_weights"))
        else:
            out.append(_optimisation_cell(row, best_free, best_nonneg, spread, data["margin"]))
    return out


def _optimisation_cell(row, best_free, best_nonneg, spread, margin):
    """A cell without a proof: the best free network found against the best non-negative one
    (found, or constructed where a construction exists)."""
    construction = (row["proof"] or {}).get("nonnegative_construction")
    nonneg_witness = {"params": row["nonnegative"]["best_network"], "criterion": best_nonneg}
    constructed = ""
    if construction is not None:
        constructed = (f"; a constructed non-negative network (every unit averages the inputs) "
                       f"has exact J_D {construction['criterion']:.6f}")
        if construction["criterion"] < best_nonneg:
            best_nonneg = construction["criterion"]
            nonneg_witness = {"params": construction["network"], "criterion": best_nonneg}
    gap = (best_nonneg - best_free) / best_nonneg
    holds = gap > margin
    best_kind = min(("free", "free_from_nonnegative"), key=lambda k: row[k]["best"])
    return cell(
        row["key"], "negative_weights", "holds in optimisation" if holds else
        "fails in optimisation", best_free - best_nonneg,
        f"no proof: best free {best_free:.6f} against best non-negative {best_nonneg:.6f} "
        f"(free {'below' if gap > 0 else 'above'} by {abs(gap):.1%} of the latter){constructed}; "
        f"{spread}",
        witness={"params": row[best_kind]["best_network"], "criterion": best_free} if holds
        else nonneg_witness,
        reason=None if holds else "no free network found beats the best non-negative one by "
                                  f"more than {margin:.1%} (evidence from optimisation, not a "
                                  "bound)",
        figure="variants_negative_weights")


def plot(result):
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, axes = plt.subplots(1, len(rows), figsize=(15, 4.8))
    colors = {"free": COLORS["dropout"], "free_from_nonnegative": "#6a3d9a",
              "nonnegative": COLORS["weight_decay"]}
    handles = {}
    for ax, row in zip(axes, rows):
        for position, (kind, label) in enumerate(result["kinds"]):
            values = np.asarray(row[kind]["criterion"], dtype=float)
            jitter = np.linspace(-0.12, 0.12, values.size)
            handles[label], = ax.plot(position + jitter, values, "o", ms=4.5, color=colors[kind],
                                      alpha=0.75, ls="none")
        proof = row["proof"] or {}
        for key, color, style, label in PROOF_MARKS:
            if key in proof:
                handles[label] = ax.axhline(proof[key], color=color, ls=style, lw=1.3)
        for key, marker, label in (
                ("free_witness", ">", "constructed free network (W_neg; group dropout's free "
                                      "minimiser)"),
                ("nonnegative_construction", "<", "constructed non-negative network "
                                                  "(DropConnect; no proven minimum)")):
            if key in proof:
                handles[label], = ax.plot(-0.45 if key == "free_witness" else 2.45,
                                          proof[key]["criterion"], marker=marker, ms=9,
                                          color=COLORS["paper"] if key == "free_witness" else "k",
                                          ls="none")
        ax.set_xticks(range(3))
        ax.set_xticklabels(["free", "freed", ">= 0"], fontsize=8.5)
        ax.set_xlim(-0.7, 2.7)
        ax.set_title(row["label"].split(" (")[0].replace(", nodes", "\nnodes"), fontsize=9.5)
        ax.tick_params(axis="y", labelsize=8)
    axes[0].set_ylabel("exact J_D at the end of the optimisation")
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("(ours) P_(1,1), K = 2, d = 2, n = 40, keep 1/2: does a free network beat every "
                 "non-negative one? (each panel its own scale)", fontsize=10.5)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    return fig
