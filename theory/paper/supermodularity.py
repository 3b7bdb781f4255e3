"""Supermodularity of non-negative ReLU networks (C10; Lemmas 12 and 14).

A network whose weights are all >= 0 and whose activations are convex, continuous and non-decreasing
computes a supermodular function: f(x) + f(x + d1 + d2) >= f(x + d1) + f(x + d2) for d1, d2 >= 0.
Consequently psi_W(l), the mean dropout output on the all-ones input given that exactly l of the
K inputs are kept, has non-decreasing increments in l. This is the step behind the lower bounds of
Lemma 16 and Theorem 17 (C8, C9).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from theory.criteria import output_moments
from theory.network import as_params, network_output
from theory.noise import check_keep_prob


def supermodularity_gap(params, x, d1, d2) -> float:
    """f(x) + f(x + d1 + d2) - f(x + d1) - f(x + d2); >= 0 for non-negative networks (Lemma 12)."""
    x, d1, d2 = (np.asarray(v, np.float64) for v in (x, d1, d2))
    f = np.asarray(network_output(as_params(params), np.stack([x, x + d1 + d2, x + d1, x + d2])))
    return float(f[0] + f[1] - f[2] - f[3])


def psi(params, *, keep_prob=0.5):
    """psi_W(l) for l = 0..K (Lemma 14): the expected dropout output on 1^K given exactly l inputs
    kept, averaged over which l (all subsets of that size are equally likely), hidden nodes dropped
    with probability q as usual. Exact; enumerates the C(K, l) subsets, so keep K small."""
    params = as_params(params)
    p = check_keep_prob(keep_prob)
    K = params[0][0].shape[1]
    keep = (1.0,) + (p,) * (len(params) - 1)   # inputs kept: each row fixes the input pattern
    values = []
    for l in range(K + 1):
        rows = np.array([[1.0 / p if i in kept else 0.0 for i in range(K)]
                         for kept in combinations(range(K), l)])
        mean, _ = output_moments(params, rows, keep_prob=keep, method="enumerate")
        values.append(float(np.mean(mean)))
    return np.array(values)
