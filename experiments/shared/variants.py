"""The dropouts the "Beyond the paper" studies compare, and the findings each is judged on.

A row of the variants matrix (figures/variants_matrix.png) is a :class:`Variant`; a column is one of
the paper's findings (:data:`COLUMNS`). Every study passes a variant to the engine through
:meth:`Variant.engine_args`, so the exact evaluator, Monte Carlo and SGD see the same noise
(:mod:`theory.noise`). The matrix cell of (row, column) is the finding with ID
:func:`cell_id`, stable and listed in CLAIMS.md ("Beyond the paper").
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Variant(NamedTuple):
    """One dropout: the noise kind, whether the inputs carry it, and the size of node groups."""

    key: str
    label: str
    noise: str                # "dropout", "dropconnect" or "gaussian" (theory.NOISE_KINDS)
    inputs_noisy: bool        # False: the inputs are kept (PyTorch's placement)
    group_size: int = 1       # > 1: consecutive nodes of every noisy layer dropped together

    def keep_probs(self, depth: int, keep_prob: float) -> tuple:
        """One keep probability per dropout layer (inputs, hidden 1..d-1)."""
        return ((keep_prob if self.inputs_noisy else 1.0),) + (keep_prob,) * (depth - 1)

    def engine_args(self, sizes, keep_prob: float) -> dict:
        """keep_prob, noise and groups for theory's criteria and sgd.training.train, for a
        network whose dropout layers have sizes ``sizes`` = (K, n_1, ..., n_{d-1})."""
        groups = None
        if self.group_size > 1:
            groups = [np.arange(width) // self.group_size for width in sizes]
        return {"keep_prob": self.keep_probs(len(sizes), keep_prob), "noise": self.noise,
                "groups": groups}


VARIANTS = (
    Variant("paper", "paper's dropout (inputs and hidden nodes)", "dropout", True),
    Variant("pytorch", "PyTorch's placement (hidden nodes only)", "dropout", False),
    Variant("dropconnect", "DropConnect (every weight)", "dropconnect", True),
    Variant("gaussian", "Gaussian dropout, nodes x N(1, q/p)", "gaussian", True),
    Variant("groups", "group dropout (pairs of nodes)", "dropout", True, 2),
)

COLUMNS = (   # (key, heading, the criterion that decides a cell)
    ("negative", "(a) the penalty can be negative",
     "the witness's exact penalty is < 0 (brute force agrees)"),
    ("label", "(b) the penalty depends on the label",
     "the witness's exact slope in y, -2 E[delta] (C14), is != 0"),
    ("depth", "(c) exponential growth with depth",
     "on Theorem 18's network with y = 2^d, 1 + P (P = penalty / y^2) grows geometrically: the "
     "closed form's per-layer factor tends to a limit > 1 and the exact values' factor over the "
     "last 3 layers is within 1% of it; without a closed form (Gaussian, Monte Carlo), the factor "
     "over the last 3 layers exceeds 1 and is not below the previous 3 layers' (3 standard "
     "errors each)"),
    ("rescaling", "(d) rescaling leaves J_D unchanged",
     "max relative change of the exact J_D under random diagonal input scalings A (C2) and "
     "cross-layer rescalings c (C3) < 1e-10"),
    ("negative_weights", "(e) minimisers on P_(1,1) use negative weights",
     "the minimum of the exact J_D over every network is below the minimum over non-negative "
     "networks (K = 2, d = 2, n = 40, keep 1/2): by proof where one exists (paper's dropout: "
     "Theorem 17 and W_neg; PyTorch's placement and group dropout: closed-form minima), else by "
     "multi-start optimisation of the exact J_D (best free below best non-negative by > 0.1%)"),
    ("keep", "(f) the penalty is not monotonic in q: an interior maximum",
     "the witness's exact penalty has an interior extremum on 96 values of q in [0, 0.95]"),
)


def cell_id(variant_key: str, column_key: str) -> str:
    """The stable finding ID of a matrix cell: B2..B31, row by row (B1 is the SGD depth growth)."""
    rows = [v.key for v in VARIANTS]
    columns = [c for c, _, _ in COLUMNS]
    return f"B{2 + rows.index(variant_key) * len(columns) + columns.index(column_key)}"


def cell(variant_key: str, column_key: str, verdict: str, value, evidence: str, *,
         witness=None, reason=None, figure: str) -> dict:
    """A matrix cell: verdict (one of experiments.common.VERDICTS), its number, what it rests on,
    and the witness network (holds) or the reason (fails)."""
    out = {"id": cell_id(variant_key, column_key), "row": variant_key, "column": column_key,
           "verdict": verdict, "value": value, "evidence": evidence, "figure": figure}
    if witness is not None:
        out["witness"] = witness
    if reason is not None:
        out["reason"] = reason
    return out
