"""Exact minima of J_D on P_(1,1) (K = 2, d = 2) under two variants of dropout (ours; column (e) of
the variants matrix, Theorem 17's question (C9) asked of other dropouts).

Notation: keep probability p, q = 1 - p, lambda = q/p; n hidden units; unit j contributes
v_j(x) = w_j h_j(x) to the mean output, h_j >= 0 its ReLU, w_j its output weight, b the output
bias. A non-negative network has every weight >= 0 (biases free, as in Theorem 17). The proofs are
written out in paper_notes.md ("Negative weights under other dropouts").

PyTorch's placement (inputs kept, hidden units dropped). Only the last hidden layer is noisy, so
J_D = (1/2) sum_x [(f(x) - y)^2 + lambda sum_j v_j(x)^2] (B32). Both values of one unit have the
sign of w_j, so (v_j(1) - v_j(0))^2 <= v_j(1)^2 + v_j(0)^2; with D = f(1) - f(0) = sum_j (v_j(1) -
v_j(0)), Cauchy-Schwarz and (f(1) - 1)^2 + f(0)^2 >= (1 - D)^2 / 2 give, for EVERY network,

    J_D >= (1/2) min_D [(1 - D)^2 / 2 + lambda D^2 / n] = q / (2 (p n + 2 q)),

and a non-negative network attains it (:func:`hidden_only_minimiser`): negative weights never help.

Group dropout (pairs; more generally groups of g >= 2 consecutive units, the two inputs one group).
Given x = (1, 1) the inputs are both kept (each 1/p) with probability p or both dropped; given the
inputs, only the hidden groups are noisy, with variance lambda sum_groups (sum_{j in group} v_j)^2
>= mu S^2 for S = sum_j v_j (Cauchy-Schwarz over n/g groups), mu = lambda g / n. With f0 = b + S0
(inputs zero) and f2 = b + S2 (inputs kept),

    J_D >= F(b, S0, S2) = (p/2)[(f2 - 1)^2 + mu S2^2] + (q/2)[(f0 - 1)^2 + mu S0^2]
                          + (1/2)[f0^2 + mu S0^2],

a convex quadratic with equality when every group carries the same sums. Its minimum over all
(b, S0, S2) is (2q + mu (2 - p)) / (4 (1 + mu)(2 - p)), at b = 1/2, S0 = -p / (2 (1 + mu)(2 - p)) < 0,
S2 = 1 / (2 (1 + mu)); a network attains it by pairing in every group a unit that fires only on the
kept inputs with one that fires only on zero inputs and has a negative output weight
(:func:`group_dropout_free_minimiser`). A non-negative network has S0 >= 0; since F's unconstrained
minimiser has S0 < 0, the minimum over S0 >= 0 lies on S0 = 0: (q + mu) / (2 (2 - p + 2 mu)),
attained by :func:`group_dropout_nonnegative_minimiser`. The gap is
mu p^2 / (4 (1 + mu)(2 - p)(2 - p + 2 mu)) > 0: negative weights help at every width.
"""

from __future__ import annotations

import numpy as np


def _check(n, keep_prob, group_size=1):
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not 0 < keep_prob < 1:
        raise ValueError(f"keep_prob must be in (0, 1) (the minima are for a noisy network), "
                         f"got {keep_prob!r}")
    if group_size < 1 or n % group_size:
        raise ValueError(f"n must be a multiple of group_size, got n={n}, group_size={group_size}")


def _network(W1, b1, w, b):
    return ((np.asarray(W1, np.float64), np.asarray(b1, np.float64)),
            (np.asarray(w, np.float64).reshape(1, -1), np.asarray([b], np.float64)))


def _averaging_criterion(n, lam):
    """J_D of :func:`_averaging_network` when each unit's contribution has relative variance lam:
    lam / (2 (n + 2 lam)) (the bound of the module docstring, with lam for q/p)."""
    return lam / (2 * (n + 2 * lam))


def _averaging_network(n, lam):
    """Every unit computes (x1 + x2)/2 (mean 1 on x = 1^2, 0 on x = 0), output weights
    1/(n + 2 lam), output bias lam/(n + 2 lam): non-negative, J_D = _averaging_criterion(n, lam)."""
    return _network(np.full((n, 2), 0.5), np.zeros(n), np.full(n, 1 / (n + 2 * lam)),
                    lam / (n + 2 * lam))


def hidden_only_minimum(n: int, keep_prob: float = 0.5) -> float:
    """min of J_D on P_(1,1), K = 2, d = 2, over every network, inputs kept and hidden units dropped
    (PyTorch's placement): q / (2 (p n + 2 q))."""
    _check(n, keep_prob)
    return _averaging_criterion(n, (1 - keep_prob) / keep_prob)


def hidden_only_minimiser(n: int, keep_prob: float = 0.5):
    """A non-negative network attaining :func:`hidden_only_minimum`: every unit computes
    (x1 + x2)/2, output weights 1/(n + 2 lambda), output bias lambda/(n + 2 lambda)."""
    _check(n, keep_prob)
    return _averaging_network(n, (1 - keep_prob) / keep_prob)


def _group_mu(n, keep_prob, group_size):
    if group_size < 2:
        raise ValueError(f"group_size must be >= 2 (the two inputs form one group), "
                         f"got {group_size!r}")
    _check(n, keep_prob, group_size)
    return (1 - keep_prob) / keep_prob * group_size / n


def group_dropout_minima(n: int, keep_prob: float = 0.5, group_size: int = 2) -> tuple:
    """(min over every network, min over non-negative networks) of J_D on P_(1,1), K = 2, d = 2,
    under group dropout of ``group_size`` consecutive units (the inputs one group)."""
    mu, p = _group_mu(n, keep_prob, group_size), keep_prob
    q = 1 - p
    free = (2 * q + mu * (2 - p)) / (4 * (1 + mu) * (2 - p))
    nonnegative = (q + mu) / (2 * (2 - p + 2 * mu))
    return free, nonnegative


def group_dropout_free_minimiser(n: int, keep_prob: float = 0.5, group_size: int = 2):
    """A network attaining the free minimum: in every group, unit 1 fires only when the inputs are
    kept (weights p/2 on each, so it outputs 1 there), unit 2 only on zero inputs (weights -1, bias
    1) with a negative output weight; the group's other units are off."""
    mu, p = _group_mu(n, keep_prob, group_size), keep_prob
    groups = n // group_size
    S0, S2 = -p / (2 * (1 + mu) * (2 - p)), 1 / (2 * (1 + mu))
    W1, b1, w = np.zeros((n, 2)), np.zeros(n), np.zeros(n)
    first, second = np.arange(0, n, group_size), np.arange(1, n, group_size)
    W1[first], w[first] = p / 2, S2 / groups
    W1[second], b1[second], w[second] = -1.0, 1.0, S0 / groups
    return _network(W1, b1, w, 0.5)


def group_dropout_nonnegative_minimiser(n: int, keep_prob: float = 0.5, group_size: int = 2):
    """A non-negative network attaining the non-negative minimum: every unit fires only when the
    inputs are kept (weights p/2, output 1 there), output weights S2/n, output bias
    (q + mu)/(2 - p + 2 mu)."""
    mu, p = _group_mu(n, keep_prob, group_size), keep_prob
    S2 = 1 / (2 - p + 2 * mu)
    return _network(np.full((n, 2), p / 2), np.zeros(n), np.full(n, S2 / n),
                    (1 - p + mu) / (2 - p + 2 * mu))


def _dropconnect_lambda(keep_prob):
    """The relative variance of one averaging unit's contribution w m_out (m_1 x_1 + m_2 x_2)/(2 p^2)
    under DropConnect: (1 + p) / (2 p^2) - 1."""
    return (1 + keep_prob) / (2 * keep_prob ** 2) - 1


def dropconnect_averaging_criterion(n: int, keep_prob: float = 0.5) -> float:
    """Exact J_D of :func:`dropconnect_averaging_network` under DropConnect on every weight:
    lambda' / (2 (n + 2 lambda')), lambda' = (1 + p) / (2 p^2) - 1 (the PyTorch-placement argument
    with lambda' for lambda). A construction, not a proven minimum."""
    _check(n, keep_prob)
    return _averaging_criterion(n, _dropconnect_lambda(keep_prob))


def dropconnect_averaging_network(n: int, keep_prob: float = 0.5):
    """A non-negative network for DropConnect on P_(1,1): every unit averages the two inputs, output
    weights 1/(n + 2 lambda'), output bias lambda'/(n + 2 lambda')."""
    _check(n, keep_prob)
    return _averaging_network(n, _dropconnect_lambda(keep_prob))
