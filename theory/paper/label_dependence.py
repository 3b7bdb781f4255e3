"""The penalty depends on the labels in deep networks and not in one layer (C14, C17).

Theorem 20 (C14): for one example (x, y), with f = W(x) = w . h + b and delta = D(W, x, R) - f,

    J_D - R = E[delta^2] + 2 (f - y) E[delta],

linear in y with slope -2 E[delta]. Two distributions with the same inputs and different labels get
different penalties whenever E[delta] != 0, which the ReLU makes possible.

One layer (d = 1, C17; Wager et al. 2013): J_D - R = (q/p) sum_i w_i^2 E[x_i^2], non-negative and
free of the labels, the dropout analogue of ridge regression.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from theory.criteria import deviation_moments
from theory.exact import penalty_from_moments
from theory.network import as_inputs, as_params, as_weights
from theory.noise import check_keep_prob


class LabelDecomposition(NamedTuple):
    """The C14 decomposition for one input x: penalty(y) = mean_delta_sq + 2 (output - y) mean_delta."""

    output: float          # f = W(x) = w . h + b
    mean_delta: float      # E[delta]
    mean_delta_sq: float   # E[delta^2]

    def penalty(self, y):
        """The dropout penalty J_D - R of P_{x,y} as a function of the label y."""
        return penalty_from_moments(self.output, self.mean_delta, self.mean_delta_sq,
                                    np.asarray(y, np.float64))

    @property
    def slope(self) -> float:
        """d penalty / d y = -2 E[delta]."""
        return -2.0 * self.mean_delta


def label_decomposition(params, x, *, keep_prob=0.5) -> LabelDecomposition:
    """The C14 decomposition of the penalty of P_{x,y} for a single input x (exact)."""
    f, e1, e2 = deviation_moments(params, np.atleast_2d(x), keep_prob=keep_prob)
    return LabelDecomposition(float(f[0]), float(e1[0]), float(e2[0]))


def theorem20_witness():
    """(params, x): x = (1, -2), hidden weights (1, 1) and (2, 1), output weights 1 (C14).

    Without dropout the hidden nodes see 1 - 2 < 0 and 2 - 2 = 0 and output 0; when only the
    negative input is dropped they output 1/p and 2/p > 0, so E[delta] > 0 and the penalty falls
    with slope -2 E[delta] in y.
    """
    params = ((np.array([[1.0, 1.0], [2.0, 1.0]]), np.zeros(2)), (np.ones((1, 2)), np.zeros(1)))
    return params, np.array([1.0, -2.0])


def one_layer_penalty(params, X, *, keep_prob=0.5, weights=None) -> float:
    """(q/p) sum_i w_i^2 E[x_i^2], the exact dropout penalty of a one-layer network (C17)."""
    params = as_params(params)
    if len(params) != 1:
        raise ValueError(f"one_layer_penalty needs a one-layer network (d = 1), got d = {len(params)}")
    (w, _), = params
    X = as_inputs(X, w.shape[1])
    weights = as_weights(weights, X.shape[0])
    p = check_keep_prob(keep_prob)
    return float((1 - p) / p * (np.square(w[0]) @ (weights @ np.square(X))))
