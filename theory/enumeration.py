"""Brute force: every noise pattern of every node or weight, in plain NumPy; the tests' reference.

It shares no code with the fast paths (:mod:`theory.noise`, :mod:`theory.exact`,
:mod:`theory.linear_regime`): nothing is marginalised, every pattern R of every unit is listed with
its probability and D(W, x, R) is computed for each. Use it only for tiny networks (the cost is
exponential in the number of units). Also the source of the per-pattern outputs of Figure 1 (C1).

* ``noise="dropout"``: one unit per node (or per group) of the inputs and every hidden layer,
  2^(K + n_1 + ... + n_{d-1}) patterns without groups.
* ``noise="dropconnect"``: one unit per weight of every layer, the output layer included.
* ``noise="gaussian"`` has no patterns; :func:`gaussian_reference_moments` integrates numerically
  instead (SciPy's adaptive quadrature, one Gaussian integral per pair of hidden units).

``keep_prob`` is one number or one per dropout layer (inputs, hidden 1..d-1), as in :mod:`theory`.
``loss`` (:func:`brute_force_criterion`) is "square", "logistic" or "cross_entropy", written out
here again in NumPy (:func:`loss_of_outputs`) rather than taken from :mod:`theory.losses`.
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


def _per_layer(keep_prob, depth):
    return [float(keep_prob)] * depth if np.ndim(keep_prob) == 0 else [float(p) for p in keep_prob]


def pattern_outputs(params, x, keep_prob, groups=None, *, every_output=False):
    """Node (or group) dropout: D(W, x, R) and P(R) for every pattern R, and the patterns (one row
    each, inputs first; one column per group when ``groups`` is given).

    ``params`` is a sequence of float64 (W, b) pairs; x has shape (K,). D has shape (P,), or
    (P, C) with ``every_output`` (a network with C outputs).
    """
    d = len(params)
    sizes = [np.shape(params[0][0])[1]] + [np.shape(W)[0] for W, _ in params[:-1]]
    keep = _per_layer(keep_prob, d)
    ids = [np.arange(n) if groups is None or groups[layer] is None else np.asarray(groups[layer])
           for layer, n in enumerate(sizes)]
    labels = [np.unique(i) for i in ids]
    patterns = all_patterns(sum(len(u) for u in labels))
    column_keep = np.concatenate([np.full(len(u), keep[layer]) for layer, u in enumerate(labels)])
    probs = np.prod(np.where(patterns == 1, column_keep, 1.0 - column_keep), axis=1)
    a = np.broadcast_to(np.asarray(x, np.float64), (len(patterns), sizes[0]))
    start = 0
    for layer, (W, b) in enumerate(params):
        group_kept = patterns[:, start:start + len(labels[layer])]
        start += len(labels[layer])
        kept = group_kept[:, np.searchsorted(labels[layer], ids[layer])]
        a = (a * kept / keep[layer]) @ np.asarray(W).T + np.asarray(b)
        if layer < d - 1:
            a = np.maximum(a, 0.0)
    return (a if every_output else a[:, 0]), probs, patterns


def dropconnect_pattern_outputs(params, x, keep_prob, *, every_output=False):
    """DropConnect: D(W, x, R) and P(R) for every pattern R of every weight (the output layer's
    included); the weights read from dropout layer l are kept with p_l and scaled by 1/p_l.
    D as in :func:`pattern_outputs`."""
    d = len(params)
    keep = _per_layer(keep_prob, d)
    counts = [np.size(W) for W, _ in params]
    patterns = all_patterns(sum(counts))
    column_keep = np.concatenate([np.full(c, keep[layer]) for layer, c in enumerate(counts)])
    probs = np.prod(np.where(patterns == 1, column_keep, 1.0 - column_keep), axis=1)
    a = np.broadcast_to(np.asarray(x, np.float64), (len(patterns), len(x)))
    start = 0
    for layer, (W, b) in enumerate(params):
        W = np.asarray(W)
        masks = patterns[:, start:start + W.size].reshape((-1,) + W.shape)
        start += W.size
        a = np.einsum("pji,pi->pj", W * masks / keep[layer], a) + np.asarray(b)
        if layer < d - 1:
            a = np.maximum(a, 0.0)
    return (a if every_output else a[:, 0]), probs, patterns


def loss_of_outputs(loss: str, outputs, y):
    """l(D, y) for outputs (P, C): square (D - y)^2, logistic log(1 + e^(-(2y - 1) D)) or
    cross-entropy log sum_c e^(D_c) - D_y."""
    if loss == "square":
        return np.square(outputs[:, 0] - y)
    if loss == "logistic":
        return np.logaddexp(0.0, -(2.0 * y - 1.0) * outputs[:, 0])
    top = outputs.max(axis=1)
    return top + np.log(np.exp(outputs - top[:, None]).sum(axis=1)) - outputs[:, int(y)]


def _relu_product_by_quadrature(mu1, mu2, var1, var2, cov):
    """E[max(X, 0) max(Y, 0)] for a bivariate normal, by integrating over X (adaptive quadrature)
    with E[max(Y, 0) | X] in closed form; the kinks are break points of the integration."""
    from scipy import integrate, stats          # here: importing SciPy takes a second

    def positive_mean(m, v):
        if v <= 0:
            return max(m, 0.0)
        s = np.sqrt(v)
        return m * stats.norm.cdf(m / s) + s * stats.norm.pdf(m / s)

    if var1 <= 0:
        return max(mu1, 0.0) * positive_mean(mu2, var2)
    s1 = np.sqrt(var1)
    slope = cov / var1
    residual = max(var2 - cov * slope, 0.0)

    def integrand(u):                          # u standard normal, X = mu1 + s1 u
        return (mu1 + s1 * u) * positive_mean(mu2 + slope * s1 * u, residual) * stats.norm.pdf(u)

    cuts = [max(-mu1 / s1, -40.0)]           # X > 0; beyond 40 standard deviations phi is 0
    if slope != 0:             # where E[Y | X] = 0: a kink, or a bend as sharp as Y's residual
        kink = -(mu2 / (slope * s1))
        if cuts[0] < kink < 40.0:
            cuts.append(kink)
    cuts.append(max(cuts[-1], 40.0))
    return sum(integrate.quad(integrand, lo, hi, epsabs=1e-15, epsrel=1e-13, limit=400)[0]
               for lo, hi in zip(cuts[:-1], cuts[1:]))


def gaussian_reference_moments(params, x, keep_prob):
    """Gaussian noise, by numerical integration: (E[D], E[D^2]) for one input x.

    Needs every dropout layer before the last two to be noiseless (keep 1). The network is run
    without noise up to dropout layer d-2; then z = W (xi * a) + b is jointly Gaussian (mean W a + b,
    covariance s_{d-2} W diag(a^2) W^T), h = max(z, 0), and D = sum_k w_k zeta_k h_k + b_out with
    zeta_k ~ N(1, s_{d-1}) independent: E[D^2] needs E[h_j h_k], integrated pair by pair.
    """
    d = len(params)
    keep = _per_layer(keep_prob, d)
    s = [(1 - p) / p for p in keep]
    if any(v != 0 for v in s[:max(d - 2, 0)]):
        raise ValueError("the Gaussian reference needs keep 1 on dropout layers 0..d-3")
    a = np.asarray(x, np.float64)
    for W, b in params[:-2]:
        a = np.maximum(np.asarray(W) @ a + np.asarray(b), 0.0)
    w, b_out = np.asarray(params[-1][0])[0], float(np.asarray(params[-1][1])[0])
    if d == 1:
        mean = w @ a + b_out
        return mean, mean ** 2 + s[0] * np.sum(np.square(w * a))
    W, b = np.asarray(params[-2][0]), np.asarray(params[-2][1])
    mu = W @ a + b
    cov = s[d - 2] * (W * a ** 2) @ W.T
    n = len(mu)
    second = np.array([[_relu_product_by_quadrature(mu[j], mu[k], cov[j, j], cov[k, k], cov[j, k])
                        for k in range(n)] for j in range(n)])
    mean_h = np.array([_relu_product_by_quadrature(mu[j], 1.0, cov[j, j], 0.0, 0.0)
                       for j in range(n)])               # E[h_j] = E[h_j max(1, 0)]
    mean = w @ mean_h + b_out
    raw = w @ second @ w + s[d - 1] * np.square(w) @ np.diag(second)
    return mean, raw + 2 * b_out * (w @ mean_h) + b_out ** 2


def brute_force_criterion(params, X, Y, weights, keep_prob, *, noise="dropout", groups=None,
                          loss="square") -> float:
    """J_D = sum_x P(x) E_R l(D(W, x, R), y) by listing every pattern (l the square loss by
    default; Gaussian noise: integrating, square loss only)."""
    total = 0.0
    for x, y, weight in zip(X, Y, weights):
        if noise == "gaussian":
            if loss != "square":
                raise ValueError("the Gaussian reference integrates the square loss only")
            mean, second = gaussian_reference_moments(params, x, keep_prob)
            total += weight * (second - 2 * y * mean + y ** 2)
            continue
        if noise == "dropconnect":
            outputs, probs, _ = dropconnect_pattern_outputs(params, x, keep_prob, every_output=True)
        else:
            outputs, probs, _ = pattern_outputs(params, x, keep_prob, groups, every_output=True)
        total += weight * (probs @ loss_of_outputs(loss, outputs, y))
    return float(total)
