"""Weight decay depends on the input scale: Theorem 7, its collapse threshold and Lemma 33 (C5, C6).

For d = 2, any n, lam > 0 and P_(x,1) (mass 1/2 on (x, 1), 1/2 on (0, 0)), an optimiser of
J2 = R + (lam/2) ||W||^2 adds an activation A to the output on x, with output bias (1 - A)/2:

    A = 1 - 2 lam / |x|  if 2 lam <= |x|,  else 0 (every weight 0, output bias 1/2: collapse)
    least ||W||^2 giving activation A on x:      2 A / |x|                  (Lemma 33)
    J2 at the optimum:  (1/2)[((1-A)/2)^2 + ((1+A)/2 - 1)^2] + (lam/2)(2A/|x|)   (Eq. 12)
    its risk (the weight-decay aversion):  (1 - A)^2 / 4 = min(1/4, lam^2 / (x.x))  (Theorem 7)

The optimum is realised by one hidden node with weights sqrt(A/|x|) x/|x| and output weight
sqrt(A/|x|), the other hidden nodes zero (:func:`weight_decay_optimum`).
"""

from __future__ import annotations

import numpy as np


def _norm(x) -> float:
    norm = float(np.linalg.norm(np.asarray(x, np.float64)))
    if not norm > 0:
        raise ValueError("x must be a nonzero input vector")
    return norm


def weight_decay_activation(x, lam) -> float:
    """A = max(0, 1 - 2 lam / |x|), the optimiser's activation on x (C6)."""
    return max(0.0, 1.0 - 2.0 * float(lam) / _norm(x))


def lemma33_min_sq_weights(A, x) -> float:
    """Lemma 33 (C6): the least sum of squared weights of a d = 2 network with activation A on x."""
    return 2.0 * float(A) / _norm(x)


def weight_decay_optimal_criterion(x, lam) -> float:
    """Eq. 12 (C6): J2 of the weight-decay optimiser on P_(x,1)."""
    A = weight_decay_activation(x, lam)
    risk = 0.5 * (((1 - A) / 2) ** 2 + ((1 + A) / 2 - 1) ** 2)
    return risk + 0.5 * float(lam) * lemma33_min_sq_weights(A, x)


def weight_decay_aversion(x, lam) -> float:
    """Theorem 7 (C5): the weight-decay aversion of P_(x,1), min(1/4, lam^2 / (x.x))."""
    return min(0.25, float(lam) ** 2 / _norm(x) ** 2)


def weight_decay_optimum(x, lam, n: int):
    """A d = 2 network with n hidden nodes attaining Eq. 12 on P_(x,1) (C6)."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    x = np.asarray(x, np.float64)
    A = weight_decay_activation(x, lam)
    scale = np.sqrt(A / _norm(x))
    W1 = np.zeros((n, x.size))
    W1[0] = scale * x / _norm(x)
    w = np.zeros((1, n))
    w[0, 0] = scale
    return (W1, np.zeros(n)), (w, np.array([(1 - A) / 2]))
