"""Brute force: the dropout output under every pattern of every non-output node, in plain NumPy.

The reference the exact evaluator is tested against, and the source of the per-pattern outputs of
Figure 1 (C1). It shares no code with :mod:`theory.exact`: no node is marginalised, all
2^(K + n_1 + ... + n_{d-1}) patterns R are listed, and D(W, x, R) is computed for each. Use it only
for tiny networks (the cost is exponential in the number of nodes).
"""

from __future__ import annotations

import numpy as np

BRUTE_FORCE_MAX_NODES = 22


def all_patterns(num_nodes: int) -> np.ndarray:
    """Every 0/1 keep-vector over ``num_nodes`` nodes, shape (2^num_nodes, num_nodes)."""
    if num_nodes > BRUTE_FORCE_MAX_NODES:
        raise ValueError(f"brute force over {num_nodes} nodes needs 2^{num_nodes} patterns; "
                         f"the limit is {BRUTE_FORCE_MAX_NODES} nodes")
    return (np.arange(2 ** num_nodes)[:, None] >> np.arange(num_nodes)) & 1


def pattern_outputs(params, x, keep_prob):
    """D(W, x, R) and P(R) for every pattern R; also the patterns (one row each, inputs first).

    ``params`` is a sequence of float64 (W, b) pairs; x has shape (K,).
    """
    sizes = [np.shape(params[0][0])[1]] + [np.shape(W)[0] for W, _ in params[:-1]]
    patterns = all_patterns(sum(sizes))
    probs = np.prod(np.where(patterns == 1, keep_prob, 1.0 - keep_prob), axis=1)
    a = np.broadcast_to(np.asarray(x, np.float64), (len(patterns), sizes[0]))
    start = 0
    for layer, (W, b) in enumerate(params):
        kept = patterns[:, start:start + sizes[layer]]
        start += sizes[layer]
        a = (a * kept / keep_prob) @ np.asarray(W).T + np.asarray(b)
        if layer < len(params) - 1:
            a = np.maximum(a, 0.0)
    return a[:, 0], probs, patterns


def brute_force_criterion(params, X, Y, weights, keep_prob) -> float:
    """J_D = sum_x P(x) sum_R P(R) (D(W, x, R) - y)^2 by listing every pattern."""
    total = 0.0
    for x, y, weight in zip(X, Y, weights):
        outputs, probs, _ = pattern_outputs(params, x, keep_prob)
        total += weight * (probs @ np.square(outputs - y))
    return float(total)
