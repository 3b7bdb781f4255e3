"""The experiments: the one list of them, by family, in the order of the report.

- ``paper``: the paper's figures, in the order of the paper, each judging claims C1-C17;
- ``variants``: the paper's findings under the dropouts people use (B2-B32);
- ``beliefs``: what people believe about dropout, the practitioner's rules and the
  explicit-regulariser theories (B33-B49);
- ``real_data``: the paper's questions on scikit-learn's bundled data sets (B50-B64);
- ``convolutional``: where dropout goes in a small CNN on digits, with BatchNorm (B65-B72);
- ``practice``: the practitioner's questions (how many MC-dropout passes, how much longer to
  train, ...), B73 on.

Experiment NAME is the module ``experiments/FAMILY/NAME.py``; adding one is that module and its name
here. Its dependencies are what it imports (:mod:`experiments.dependencies`) and the cached results
it reads (its ``INPUTS``).
"""

import importlib

FAMILIES = {
    "paper": ("fig1_negative_penalty", "fig2_input_scale", "depth_penalty", "negative_weights",
              "negative_weights_many_features", "weight_decay_threshold", "rescaling_invariance",
              "penalty_vs_keep_prob"),
    "variants": ("variants_witnesses", "variants_depth", "variants_negative_weights",
                 "variants_matrix"),
    "beliefs": ("practitioner_claims", "approximations"),
    "real_data": ("real_input_scale", "real_label_noise", "real_cross_entropy", "real_depth"),
    "convolutional": ("cnn_dropout_between_convs", "cnn_classifier_dropout", "cnn_batchnorm_order"),
    "practice": ("mc_dropout_samples", "dropout_training_time", "underfitting_vs_keep",
                 "rate_choice"),
}
EXPERIMENTS = tuple(name for names in FAMILIES.values() for name in names)
FAMILY = {name: family for family, names in FAMILIES.items() for name in names}


def module_name(name: str) -> str:
    """The dotted module of experiment ``name``: experiments.FAMILY.NAME."""
    if name not in FAMILY:
        raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    return f"experiments.{FAMILY[name]}.{name}"


def load(name: str):
    """The module of experiment ``name``; it defines CLAIMS, TITLE, compute, plot and
    (when CLAIMS is not empty) checks."""
    return importlib.import_module(module_name(name))
