"""The experiments, in the order of the paper, with the claims each one judges, then ours (the
variants_* studies, practitioner_claims and approximations: findings beyond the paper, B rows of
REPORT.md)."""

import importlib

EXPERIMENTS = (
    "fig1_negative_penalty",
    "fig2_input_scale",
    "depth_penalty",
    "negative_weights",
    "negative_weights_many_features",
    "weight_decay_threshold",
    "rescaling_invariance",
    "penalty_vs_keep_prob",
    "variants_witnesses",
    "variants_depth",
    "variants_negative_weights",
    "variants_matrix",
    "practitioner_claims",
    "approximations",
    "real_input_scale",
    "real_label_noise",
    "real_cross_entropy",
    "real_depth",
)


def load(name: str):
    """The module of experiment ``name``; it defines CLAIMS, TITLE, compute, plot and
    (when CLAIMS is not empty) checks."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"experiments.{name}")
