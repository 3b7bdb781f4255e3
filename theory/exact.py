"""Exact dropout moments by enumerating dropout patterns, the last hidden layer marginalised.

Implements the "Exact computation" section of CLAIMS.md (Eq. 1 of Helmbold & Long 2017). For one
example x and a pattern R on every non-output node, let D(W, x, R) be the dropout output and
delta = D(W, x, R) - W(x) its deviation from the plain output. Everything the suite needs is a
function of the two per-example moments E_R[delta] and E_R[delta^2]:

    J_D     = sum_x P(x) E_R (D - y)^2 = sum_x P(x) [ (W(x) - y)^2 + E[delta^2] + 2 (W(x) - y) E[delta] ]
    penalty = J_D - R                  = sum_x P(x) [ E[delta^2] + 2 (W(x) - y) E[delta] ]   (C14)

The pattern on the layer that feeds the output node (the last hidden layer; the inputs when d = 1)
is integrated analytically: given the pattern on all earlier nodes, the values h entering the
output are fixed, and with r_j ~ Bernoulli(p) the output w . (r * h) / p + b has mean w . h + b and
variance (q/p) sum_j w_j^2 h_j^2. Only the patterns of the inputs and hidden layers 1..d-2 are
enumerated: 2^(K + n_1 + ... + n_{d-2}) of them, so d = 2 costs 2^K whatever the width and d = 1 one.

Patterns are enumerated inside ``jit`` in chunks (a ``fori_loop`` over chunks, each chunk a
vectorised batch of patterns decoded from their integer index), so memory stays bounded by
``CHUNK_ELEMENTS`` floats per intermediate array whatever the number of patterns.

Keep probabilities are given per dropout layer (inputs, hidden 1, ..., hidden d-1); the public API
uses one ``keep_prob`` for all, as the paper does.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from theory.network import network_output, widths

MAX_PATTERNS = 2 ** 26
"""Default limit on enumerated patterns. Measured on 2 CPU cores: 2^20 patterns take about 0.2 s
and 2^26 about 3 s for one example and width 20; the cost grows with examples x width."""

CHUNK_ELEMENTS = 2 ** 21
"""Target number of floats in one (patterns x examples x width) intermediate array."""


def penalty_from_moments(f, mean_delta, mean_delta_sq, y):
    """Per-example dropout penalty E[delta^2] + 2 (W(x) - y) E[delta] (C14, Theorem 20)."""
    return mean_delta_sq + 2.0 * (f - y) * mean_delta


def num_enumerated_patterns(params) -> int:
    """2^(K + n_1 + ... + n_{d-2}): the patterns the exact evaluator sums over."""
    return 2 ** sum(widths(params)[:-1])


def check_enumerable(params, max_patterns: int = MAX_PATTERNS) -> int:
    """Raise ValueError if exact enumeration would exceed ``max_patterns``; return the count."""
    nodes = sum(widths(params)[:-1])
    count = 2 ** nodes
    if count > max_patterns:
        raise ValueError(
            f"exact evaluation of this network needs 2^{nodes} = {count} enumerated dropout "
            f"patterns (inputs and hidden layers 1..d-2; the last hidden layer is integrated "
            f"analytically), above the limit max_patterns = {max_patterns}. Use "
            "theory.mc_dropout_criterion for a Monte-Carlo estimate with a standard error, or pass "
            "a larger max_patterns if you can afford the time.")
    return count


def _chunking(params, num_examples: int, count: int) -> tuple[int, int]:
    widest = max(max(widths(params)), 1)
    per_pattern = num_examples * widest
    chunk = 1
    while chunk * 2 <= count and chunk * 2 * per_pattern <= CHUNK_ELEMENTS:
        chunk *= 2
    return chunk, count // chunk


@partial(jax.jit, static_argnames=("chunk", "num_chunks"))
def _enumerate(params, X, keep_probs, *, chunk: int, num_chunks: int):
    d = len(params)
    enum_widths = widths(params)[:-1]
    m = sum(enum_widths)
    node_keep = jnp.concatenate(
        [jnp.full((w,), keep_probs[layer]) for layer, w in enumerate(enum_widths)]
        + [jnp.zeros((0,), X.dtype)])
    shifts = jnp.arange(m, dtype=jnp.int64)
    w_out, b_out = params[-1][0][0], params[-1][1][0]
    q_over_p_last = (1.0 - keep_probs[d - 1]) / keep_probs[d - 1]
    f = network_output(params, X)

    def chunk_moments(i, acc):
        index = i * chunk + jnp.arange(chunk, dtype=jnp.int64)
        kept = ((index[:, None] >> shifts) & 1).astype(bool)                # (C, m)
        prob = jnp.prod(jnp.where(kept, node_keep, 1.0 - node_keep), axis=1)  # (C,)
        scale = jnp.where(kept, 1.0 / node_keep, 0.0)
        a = X[None]                                                          # (1 or C, N, n)
        offset = 0
        for layer in range(d - 1):
            width = enum_widths[layer]
            dropped = a * scale[:, None, offset:offset + width]
            offset += width
            W, b = params[layer]
            a = jnp.maximum(dropped @ W.T + b, 0.0)
        # a: values entering the output node, before the last layer's (analytic) dropout.
        mean_given_r = a @ w_out + b_out - f                                 # E[delta | R]
        var_given_r = q_over_p_last * (jnp.square(a) @ jnp.square(w_out))   # Var[delta | R]
        e1, e2 = acc
        e1 = e1 + prob @ mean_given_r
        e2 = e2 + prob @ (jnp.square(mean_given_r) + var_given_r)
        return e1, e2

    zeros = jnp.zeros(X.shape[0], X.dtype)
    e1, e2 = jax.lax.fori_loop(0, num_chunks, chunk_moments, (zeros, zeros))
    return f, e1, e2


def delta_moments(params, X, keep_probs, *, max_patterns: int = MAX_PATTERNS):
    """Per-example W(x), E_R[delta] and E_R[delta^2], delta = D(W, x, R) - W(x), exactly.

    ``params`` and ``X`` must already be validated float64 arrays (see :mod:`theory.network`);
    ``keep_probs`` holds one keep probability per dropout layer (inputs, hidden 1..d-1), shape (d,).
    Pure JAX in params, X and keep_probs (jit, vmap and grad apply); the number of patterns is
    fixed by the shapes and checked against ``max_patterns``.
    """
    count = check_enumerable(params, max_patterns)
    chunk, num_chunks = _chunking(params, X.shape[0], count)
    return _enumerate(params, X, jnp.asarray(keep_probs, X.dtype), chunk=chunk,
                      num_chunks=num_chunks)
