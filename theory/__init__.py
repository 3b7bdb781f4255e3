"""Exact theory of dropout in deep ReLU networks (Helmbold & Long, COLT 2017 / JMLR 2018).

Importing :mod:`theory` enables float64 in JAX (``jax_enable_x64``), the one place the suite does so:
exact expectations are compared at rtol 1e-10. Arrays that should stay float32 (training) must be
created with an explicit dtype.

Notation: the paper's p is our ``keep_prob`` (the probability of KEEPING a node); q = 1 - keep_prob.
"""

import jax

jax.config.update("jax_enable_x64", True)

from theory.criteria import (deviation_moments, dropout_criterion, dropout_penalty,  # noqa: E402
                             l2_criterion, l2_penalty, output_moments, risk)
from theory.exact import MAX_PATTERNS, num_enumerated_patterns  # noqa: E402
from theory.monte_carlo import mc_dropout_criterion  # noqa: E402
from theory.network import network_output  # noqa: E402

__all__ = [
    "MAX_PATTERNS", "deviation_moments", "dropout_criterion", "dropout_penalty", "l2_criterion",
    "l2_penalty", "mc_dropout_criterion", "network_output", "num_enumerated_patterns",
    "output_moments", "risk",
]
