"""The inference gap and the identity that ties it to the paper's surprises (ours; B33).

The practitioner's rule says: scale kept units by 1/p, so that training (the noisy network) and
inference (the plain network W) "agree in expectation". They agree node by node, not at the output:
the ensemble mean m(x) = E_R D(W, x, R) differs from W(x) whenever a ReLU clips after a noisy layer.
Ma, Gao, Hu, Yu, Deng and Hovy (ICLR 2017, "Dropout with expectation-linear regularization") call a
network expectation-linear when m(x) = W(x) and study the gap m(x) - W(x); it is our E[delta].

With delta = D(W, x, R) - W(x), the per-example penalty of C14 splits exactly (no approximation):

    E[delta^2] + 2 (W - y) E[delta]  =  (m - W)(m + W - 2y)  +  Var_R D(W, x, R),

since m - W = E[delta] and Var_R D = E[delta^2] - E[delta]^2. The variance term is >= 0 and free of
the label; so a negative or label-dependent penalty (C1, C14) needs a non-zero inference gap. The gap
is 0 for d = 1 (the output is linear in the noise) and when only the last hidden layer is noisy
(finding B32); :func:`penalty_split` computes both terms exactly, per example.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from theory.criteria import deviation_moments
from theory.exact import MAX_PATTERNS


class PenaltySplit(NamedTuple):
    """Per example: W(x), the gap m(x) - W(x), the gap term (m - W)(m + W - 2y) and Var_R D."""

    output: jnp.ndarray
    gap: jnp.ndarray
    gap_term: jnp.ndarray
    variance: jnp.ndarray

    @property
    def penalty(self) -> jnp.ndarray:
        """The exact per-example penalty E[delta^2] + 2 (W - y) E[delta] (C14)."""
        return self.gap_term + self.variance


def penalty_split(params, X, Y, *, keep_prob=0.5, noise="dropout", groups=None, method="auto",
                  max_patterns=MAX_PATTERNS) -> PenaltySplit:
    """The exact inference gap and the split of the penalty into gap and variance terms, per row of
    X with labels Y (shape (N,)). ``keep_prob``, ``noise``, ``groups``, ``method`` and
    ``max_patterns`` are those of :func:`theory.dropout_criterion`; the example-weighted sum of
    ``.penalty`` is :func:`theory.dropout_penalty`. Pure JAX: jax.jit and jax.vmap apply (over
    networks, data or keep probabilities)."""
    f, e1, e2 = deviation_moments(params, X, keep_prob=keep_prob, noise=noise, groups=groups,
                                  method=method, max_patterns=max_patterns)
    Y = jnp.asarray(Y, f.dtype)
    if Y.shape != f.shape:
        raise ValueError(f"Y must have shape {f.shape}, one label per row of X, got {Y.shape}")
    return PenaltySplit(f, e1, e1 * (2.0 * (f - Y) + e1), e2 - e1 * e1)
