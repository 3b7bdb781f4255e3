"""Exponential growth of the dropout penalty with depth: the Theorem 18 network (C12).

Input x = 1^K, label 0 <= y <= K n^{d-1}, the single example P_{x,y}. Every weight is
c = y^{1/d} / (K^{1/d} n^{(d-1)/d}), every bias 0, so W(x) = c^d K n^{d-1} = y and R = 0. Under
dropout the output is c^d k_0 k_1 ... k_{d-1} / p^d with independent counts k_0 ~ Bin(K, p),
k_j ~ Bin(n, p) of kept nodes; E[k^2] / (k p)^2 = 1 + q/(p k) gives (general keep probability p,
our generalisation of the paper's p = 1/2)

    J_D = dropout penalty = y^2 ((1 + q/(p K)) (1 + q/(p n))^{d-1} - 1)     (>= y^2/(K+1) at p = 1/2)
    J2  = L2 penalty      = (lam/2) c^2 (K n + n^2 (d-2) + n) <= (lam y^{2/d} / 2) (K n + n^2 (d-2) + n).

The same network under the other dropouts (ours; the network stays in the linear regime, everything
>= 0, for every Bernoulli variant, so these are exact):
* one keep probability p_l per dropout layer l (inputs, hidden 1..d-1; PyTorch's placement keeps the
  inputs, p_0 = 1) and nodes dropped in groups of g consecutive nodes: the kept count of layer l is
  g Bin(n_l / g, p_l), so J_D = y^2 (prod_l (1 + g q_l / (p_l n_l)) - 1);
* DropConnect: with s_l = E[h_j^2] / E[h_j]^2 and t_l = E[h_j h_k] / E[h_j]^2 (j != k) for the units
  of layer l (s_0 = t_0 = 1 at the inputs), independent weight masks give
  s_{l+1} = s_l / (p n_l) + (1 - 1/n_l) t_l and t_{l+1} = s_l / n_l + (1 - 1/n_l) t_l, and
  J_D = y^2 (s_d - 1): each layer multiplies it, in the end, by the spectral radius of that 2x2 map,
  smaller than node dropout's 1 + q/(p n).
Gaussian noise is negative with positive probability, so ReLUs clip and no such form holds.
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


def theorem18_dropout_penalty(K: int, n: int, d: int, y: float, *, keep_prob=0.5,
                              group_size: int = 1) -> float:
    """y^2 ((1 + q/(pK)) (1 + q/(pn))^{d-1} - 1): J_D = penalty of the Theorem 18 network (C12).

    ``keep_prob`` may give one keep probability per dropout layer (inputs, hidden 1..d-1), and
    ``group_size`` g drops nodes in groups of g consecutive nodes (g must divide K and n): then
    J_D = y^2 (prod_l (1 + g q_l / (p_l n_l)) - 1) (ours).
    """
    _check(K, n, d, y)
    keep = np.broadcast_to(np.asarray(keep_prob, np.float64), (d,))
    if not isinstance(group_size, (int, np.integer)) or group_size < 1 or K % group_size \
            or (d > 1 and n % group_size):
        raise ValueError(f"group_size must be an integer >= 1 dividing K = {K} and n = {n}, "
                         f"got {group_size!r}")
    sizes = np.array([K] + [n] * (d - 1), np.float64)
    return y * y * (np.prod(1 + group_size * (1 - keep) / (keep * sizes)) - 1)


def theorem18_dropconnect_penalty(K: int, n: int, d: int, y: float, *, keep_prob=0.5) -> float:
    """J_D - R of the Theorem 18 network under DropConnect, y^2 (s_d - 1) (ours; module docstring)."""
    _check(K, n, d, y)
    s = t = 1.0
    for width in [K] + [n] * (d - 1):
        s, t = s / (keep_prob * width) + (1 - 1 / width) * t, s / width + (1 - 1 / width) * t
    return y * y * (s - 1)


def dropconnect_growth_factor(n: int, *, keep_prob=0.5) -> float:
    """The factor by which each extra width-n layer multiplies s_l, in the limit of depth: the
    spectral radius of (s, t) -> (s / (p n) + (1 - 1/n) t, s / n + (1 - 1/n) t) (ours)."""
    step = np.array([[1 / (keep_prob * n), 1 - 1 / n], [1 / n, 1 - 1 / n]])
    return float(np.max(np.abs(np.linalg.eigvals(step))))


def theorem18_l2_penalty(K: int, n: int, d: int, y: float, *, lam) -> float:
    """(lam/2) c^2 (number of weights): J2 = L2 penalty of the Theorem 18 network (C12)."""
    return 0.5 * lam * theorem18_weight(K, n, d, y) ** 2 * _num_weights(K, n, d)


def theorem18_l2_bound(K: int, n: int, d: int, y: float, *, lam) -> float:
    """Theorem 18's bound (lam y^{2/d} / 2) (K n + n^2 (d-2) + n) on the L2 penalty (C12)."""
    _check(K, n, d, y)
    return 0.5 * lam * y ** (2.0 / d) * _num_weights(K, n, d)


def min_norm_l2_penalty(K: int, d: int, y: float, *, lam) -> float:
    """(lam/2) d (y/sqrt(K))^{2/d}: the smallest L2 penalty of any network with zero biases and
    W(1^K) = y (ours, for C12's comparison with SGD).

    |W(1^K)| <= ||1^K|| prod_l ||W_l||_F = sqrt(K) prod_l s_l, and for a fixed product the sum of the
    s_l^2 is least when they are equal (AM-GM). A balanced rank-one network reaches it, for example
    every layer constant; Theorem 18's network (every weight c) is constant too but not balanced
    across layers of different fan-in, so its L2 penalty is larger; its dropout penalty is the same.
    """
    if not isinstance(d, (int, np.integer)) or d < 1 or not isinstance(K, (int, np.integer)) or K < 1:
        raise ValueError(f"K and d must be integers >= 1, got K = {K!r}, d = {d!r}")
    return 0.5 * lam * d * (abs(y) / np.sqrt(K)) ** (2.0 / d)
