"""Exact theory of dropout in deep ReLU networks (Helmbold & Long, COLT 2017 / JMLR 2018).

Importing :mod:`theory` enables float64 in JAX (``jax_enable_x64``), the one place the suite does so:
exact expectations are compared at rtol 1e-10. Arrays that should stay float32 (training) must be
created with an explicit dtype.

Notation: the paper's p is our ``keep_prob`` (the probability of KEEPING a node); q = 1 - keep_prob.

The engine (this package's modules) computes the exact criteria for the whole dropout family
(:mod:`theory.noise`: per-layer keep probabilities, dropout, DropConnect, Gaussian noise, groups)
under the square loss (the paper's) or the logistic and cross-entropy losses (:mod:`theory.losses`);
:mod:`theory.paper` holds the paper's constructions and closed forms, claim by claim.
"""

import jax

jax.config.update("jax_enable_x64", True)

from theory.criteria import (deviation_moments, dropout_criterion, dropout_penalty,  # noqa: E402
                             l2_criterion, l2_penalty, network_output, num_enumerated_patterns,
                             output_moments, risk)
from theory.exact import MAX_PATTERNS  # noqa: E402
from theory.losses import LOSSES  # noqa: E402
from theory.monte_carlo import mc_dropout_criterion  # noqa: E402
from theory.noise import NOISE_KINDS  # noqa: E402
from theory.prediction import mc_prediction_averages, prediction_moments  # noqa: E402
from theory.torch_adapter import from_torch  # noqa: E402
from theory.report import DropoutReport, dropout_report  # noqa: E402

__all__ = [
    "DropoutReport", "LOSSES", "MAX_PATTERNS", "NOISE_KINDS", "deviation_moments",
    "dropout_criterion", "dropout_penalty", "dropout_report",
    "from_torch", "l2_criterion", "l2_penalty", "mc_dropout_criterion", "mc_prediction_averages",
    "network_output", "num_enumerated_patterns", "output_moments", "prediction_moments", "risk",
]
