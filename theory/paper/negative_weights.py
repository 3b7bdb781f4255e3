"""Negative weights: the first-one gadget, W_neg and its exact dropout criterion (C7-C9, C11).

Section 4 of Helmbold & Long 2017. On P_(1,1) every non-negative network has J_D >= 1/8 when K = 2
(Theorem 17, C9) and J_D >= 1/(36K) when K > 18 (Lemma 16, C8), while W_neg, which uses negative
weights, gets close to 2^-K / 2 (Lemma 10, C7) or, with output bias 1/5 and K = 2, to 1/10 (C9).

First-one gadget (Lemma 9): K hidden nodes; node i has weight -1 on inputs i' < i, +1 on input i and
0 after, bias 0, so on a 0/1 input it outputs 1 exactly when input i is the first nonzero one.
W_neg: hidden layer 1 is n/K copies of the gadget, every later hidden layer has all weights 1, every
output weight is c, biases 0 (output bias b, 0 in the paper's W_neg, 1/5 in Theorem 17).

Symmetric exact form (ours, checked against the exact evaluator in the tests). On an input with
``a`` ones (a = K for P_(1,1), a = 2 for the zero-embeddings of C11), under dropout with keep
probability p each gadget copy has exactly one active node, of value 1/p, iff some one-input is kept
(event A, probability 1 - q^a). Hence the output is b + c Z with

    Z = 1[A] k_1 k_2 ... k_{d-1} / p^d,  k_1 ~ Bin(n/K, p),  k_j ~ Bin(n, p) (j >= 2), independent,
    E[Z] = (1 - q^a) (n/K) n^{d-2} / p,   E[Z^2] = (1 - q^a) m_1 m_n^{d-2} / p^(2d),
    m_k = E[Bin(k, p)^2] = k p (q + k p),

and on P_(x,y) the criterion is (1/2) b^2 + (1/2) [ (b - y)^2 + 2 (b - y) c E[Z] + c^2 E[Z^2] ].
"""

from __future__ import annotations

import numpy as np

NONNEGATIVE_BOUND_K2 = 1.0 / 8.0
"""Theorem 17 (C9): every network with weights >= 0 has J_D >= 1/8 on P_(1,1) with K = 2."""

WNEG_LIMIT_K2 = 1.0 / 10.0
"""Theorem 17 (C9): W_neg with output bias 1/5 has J_D -> 1/10 as n grows (K = 2)."""


def _check_architecture(K, n, d):
    for name, value, low in (("K", K, 1), ("n", n, 1), ("d", d, 2)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if n % K:
        raise ValueError(f"n must be a multiple of K (n/K copies of the gadget), got n={n}, K={K}")


def first_one_gadget(K: int):
    """Lemma 9's gadget: W of shape (K, K) with -1 below the diagonal, 1 on it; biases 0 (C7)."""
    W = np.tril(-np.ones((K, K)), k=-1) + np.eye(K)
    return W, np.zeros(K)


def wneg_output_weight(K: int, n: int, d: int) -> float:
    """c = K / (2 n^{d-1} (1 + K/n) (1 + 1/n)^{d-2}), with K (not the printed K^2: erratum, C7)."""
    _check_architecture(K, n, d)
    return K / (2.0 * n ** (d - 1) * (1 + K / n) * (1 + 1 / n) ** (d - 2))


def w_neg(K: int, n: int, d: int, *, output_weight=None, output_bias=0.0):
    """The W_neg network (C7): params for K inputs, d >= 2 layers, n hidden nodes per layer.

    ``output_weight`` defaults to :func:`wneg_output_weight`; ``output_bias`` to 0 (use 1/5 for the
    Theorem 17 variant, C9).
    """
    _check_architecture(K, n, d)
    c = wneg_output_weight(K, n, d) if output_weight is None else float(output_weight)
    gadget, _ = first_one_gadget(K)
    params = [(np.tile(gadget, (n // K, 1)), np.zeros(n))]
    params += [(np.ones((n, n)), np.zeros(n)) for _ in range(d - 2)]
    params.append((np.full((1, n), c), np.array([float(output_bias)])))
    return tuple(params)


def lemma10_criterion(K: int, n: int, d: int) -> float:
    """Lemma 10 (C7): J_D(W_neg) on P_(1,1) at p = 1/2,
    (1/2) (1 - (1 - 2^-K) / ((1 + K/n) (1 + 1/n)^{d-2}))."""
    _check_architecture(K, n, d)
    return 0.5 * (1 - (1 - 2.0 ** -K) / ((1 + K / n) * (1 + 1 / n) ** (d - 2)))


def wneg_z_moments(K: int, n: int, d: int, *, keep_prob=0.5, active_inputs=None):
    """E[Z] and E[Z^2] of W_neg's output per unit output weight (see the module docstring)."""
    _check_architecture(K, n, d)
    p = float(keep_prob)
    q = 1.0 - p
    a = K if active_inputs is None else active_inputs
    fires = 1.0 - q ** a
    copies = n // K

    def second(k):
        return k * p * (q + k * p)

    mean = fires * copies * n ** (d - 2) / p
    mean_sq = fires * second(copies) * second(n) ** (d - 2) / p ** (2 * d)
    return mean, mean_sq


def wneg_criterion(K: int, n: int, d: int, *, keep_prob=0.5, output_weight=None, output_bias=0.0,
                   label=1.0, active_inputs=None) -> float:
    """Exact J_D of W_neg on P_(x,label), x a 0/1 input with ``active_inputs`` ones (default K),
    by the symmetric (binomial-count) form; O(1) whatever n and d."""
    c = wneg_output_weight(K, n, d) if output_weight is None else float(output_weight)
    b, y = float(output_bias), float(label)
    mean, mean_sq = wneg_z_moments(K, n, d, keep_prob=keep_prob, active_inputs=active_inputs)
    return 0.5 * b * b + 0.5 * ((b - y) ** 2 + 2 * (b - y) * c * mean + c * c * mean_sq)


def wneg_optimal_output(K: int, n: int, d: int, *, keep_prob=0.5, label=1.0, active_inputs=None):
    """(c, b, J_D): W_neg's common output weight c and output bias b minimising J_D on P_(x,label).

    Setting the gradient of the quadratic to zero gives c = y E[Z] / (2 E[Z^2] - E[Z]^2) and
    b = (y - c E[Z]) / 2. (Individual output weights could do better for d = 2, where the output
    node reads the gadget nodes directly and they fire with different probabilities.)
    """
    mean, mean_sq = wneg_z_moments(K, n, d, keep_prob=keep_prob, active_inputs=active_inputs)
    y = float(label)
    c = y * mean / (2 * mean_sq - mean * mean)
    b = (y - c * mean) / 2
    value = wneg_criterion(K, n, d, keep_prob=keep_prob, output_weight=c, output_bias=b, label=y,
                           active_inputs=active_inputs)
    return c, b, value


def wneg_threshold_width(d: int, *, K: int = 2, bound=NONNEGATIVE_BOUND_K2, keep_prob=0.5,
                         max_width: int = 100_000) -> int:
    """The smallest n (a multiple of K) at which W_neg with optimised output weight and bias has
    J_D < ``bound`` on P_(1,1) (C9's open question, for the default K = 2 and bound 1/8)."""
    for n in range(K, max_width + 1, K):
        if wneg_optimal_output(K, n, d, keep_prob=keep_prob)[2] < bound:
            return n
    raise ValueError(f"no width up to max_width={max_width} beats the bound {bound}")


def lemma16_bound(K: int) -> float:
    """Lemma 16 (C8): for K > 18 every network with weights >= 0 has J_D >= 1/(36K) on P_(1,1)."""
    if K <= 18:
        raise ValueError(f"Lemma 16 holds for K > 18, got K={K}")
    return 1.0 / (36.0 * K)


def lemma10_crossing_width(K: int, d: int) -> int:
    """The smallest n (a multiple of K) with Lemma 10's J_D(W_neg) below 1/(36K) (C7 with C8).

    Lemma 10's value decreases in n, so a doubling search then bisection over n/K finds it.
    """
    bound = lemma16_bound(K)
    if 0.5 * 2.0 ** -K >= bound:
        raise ValueError(f"W_neg's limit 2^-K/2 does not beat 1/(36K) for K={K}")
    high = 1
    while lemma10_criterion(K, K * high, d) >= bound:
        high *= 2
    low = high // 2
    while high - low > 1:
        mid = (low + high) // 2
        if lemma10_criterion(K, K * mid, d) >= bound:
            low = mid
        else:
            high = mid
    return K * high


def two_hot_distribution(K: int, pairs, probs=None):
    """A zero-embedding distribution of C11: 1/2 on (0, 0) and 1/2 spread over 0/1 inputs with ones
    at the given index pairs, each labelled 1. Returns X, Y, weights."""
    pairs = [tuple(pair) for pair in pairs]
    if not pairs or any(len(pair) != 2 or pair[0] == pair[1] or not all(0 <= i < K for i in pair)
                        for pair in pairs):
        raise ValueError(f"pairs must be non-empty pairs of distinct input indices in [0, {K})")
    probs = np.full(len(pairs), 1.0 / len(pairs)) if probs is None else np.asarray(probs, float)
    X = np.zeros((len(pairs) + 1, K))
    for row, (i, j) in enumerate(pairs, start=1):
        X[row, [i, j]] = 1.0
    Y = np.concatenate([[0.0], np.ones(len(pairs))])
    return X, Y, np.concatenate([[0.5], 0.5 * probs / probs.sum()])
