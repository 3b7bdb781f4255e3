"""Exponential growth of the dropout penalty with depth: the Theorem 18 network (C12).

Input x = 1^K, label 0 <= y <= K n^{d-1}, the single example P_{x,y}. Every weight is
c = y^{1/d} / (K^{1/d} n^{(d-1)/d}), every bias 0, so W(x) = c^d K n^{d-1} = y and R = 0. Under
dropout the output is c^d k_0 k_1 ... k_{d-1} / p^d with independent counts k_0 ~ Bin(K, p),
k_j ~ Bin(n, p) of kept nodes; E[k^2] / (k p)^2 = 1 + q/(p k) gives (general keep probability p,
our generalisation of the paper's p = 1/2)

    J_D = dropout penalty = y^2 ((1 + q/(p K)) (1 + q/(p n))^{d-1} - 1)     (>= y^2/(K+1) at p = 1/2)
    J2  = L2 penalty      = (lam/2) c^2 (K n + n^2 (d-2) + n) <= (lam y^{2/d} / 2) (K n + n^2 (d-2) + n).
"""

from __future__ import annotations

import numpy as np

from theory.paper.distributions import point_mass


def _check(K, n, d, y):
    for name, value in (("K", K), ("n", n), ("d", d)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if not (0 <= y <= K * float(n) ** (d - 1)):
        raise ValueError(f"y must lie in [0, K n^(d-1)] = [0, {K * float(n) ** (d - 1)}], got {y!r}")


def _num_weights(K, n, d):
    return K if d == 1 else K * n + n * n * (d - 2) + n


def theorem18_weight(K: int, n: int, d: int, y: float) -> float:
    """c = y^{1/d} / (K^{1/d} n^{(d-1)/d}), the common weight of the Theorem 18 network (C12)."""
    _check(K, n, d, y)
    return (y / (K * float(n) ** (d - 1))) ** (1.0 / d)


def theorem18_network(K: int, n: int, d: int, y: float):
    """(params, X, Y): the Theorem 18 network with every weight c, biases 0, and P_{1^K, y} (C12)."""
    c = theorem18_weight(K, n, d, y)
    sizes = [K] + [n] * (d - 1) + [1]
    params = tuple((np.full((n_out, n_in), c), np.zeros(n_out))
                   for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    X, Y = point_mass(np.ones(K), y)
    return params, X, Y


def theorem18_dropout_penalty(K: int, n: int, d: int, y: float, *, keep_prob=0.5) -> float:
    """y^2 ((1 + q/(pK)) (1 + q/(pn))^{d-1} - 1): J_D = penalty of the Theorem 18 network (C12)."""
    _check(K, n, d, y)
    r = (1.0 - keep_prob) / keep_prob
    return y * y * ((1 + r / K) * (1 + r / n) ** (d - 1) - 1)


def theorem18_l2_penalty(K: int, n: int, d: int, y: float, *, lam) -> float:
    """(lam/2) c^2 (number of weights): J2 = L2 penalty of the Theorem 18 network (C12)."""
    return 0.5 * lam * theorem18_weight(K, n, d, y) ** 2 * _num_weights(K, n, d)


def theorem18_l2_bound(K: int, n: int, d: int, y: float, *, lam) -> float:
    """Theorem 18's bound (lam y^{2/d} / 2) (K n + n^2 (d-2) + n) on the L2 penalty (C12)."""
    _check(K, n, d, y)
    return 0.5 * lam * y ** (2.0 / d) * _num_weights(K, n, d)
