"""The losses the criteria can be taken under: square (the paper's), logistic and cross-entropy.

Every criterion of :mod:`theory.criteria` is an expectation of a per-example loss l(D, y) of the
(noisy) output D and the label y:

=====================  ============================================  ===============================
``loss``               l(D, y)                                       labels and outputs
=====================  ============================================  ===============================
``"square"``           (D - y)^2  (no 1/2; Section 2 of the paper)   real y, one output
``"logistic"``         log(1 + exp(-s D)),  s = 2y - 1               y in {0, 1}, one output
``"cross_entropy"``    log sum_c exp(D_c) - D_y  (softmax)           y in {0, ..., C-1}, C >= 2
                                                                     outputs
=====================  ============================================  ===============================

Only the square loss is a polynomial of D, so only there do the first two moments of D given the
earlier layers suffice and the last hidden layer can be integrated in closed form (:mod:`theory.exact`).
Under the other two losses the exact evaluator enumerates every pattern, the last hidden layer
included, and Gaussian noise (no finite patterns) has no exact route.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from theory.noise import is_traced

LOSSES = ("square", "logistic", "cross_entropy")


def check_loss(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return loss


def check_outputs(loss: str, num_outputs: int) -> None:
    """The output layer's width must suit the loss: one output, or C >= 2 for cross-entropy."""
    if loss == "cross_entropy" and num_outputs < 2:
        raise ValueError(
            "loss='cross_entropy' needs an output layer with one node per class (C >= 2 outputs, "
            f"the softmax's logits), got {num_outputs}; for two classes with one output use "
            "loss='logistic'")
    if loss != "cross_entropy" and num_outputs != 1:
        raise ValueError(
            f"the last layer must have exactly one output (the paper's w, b) under loss={loss!r}, "
            f"got {num_outputs}; a network with several outputs takes loss='cross_entropy'")


def check_labels(loss: str, Y, num_outputs: int):
    """Labels that suit the loss: any reals (square), 0/1 (logistic), 0..C-1 (cross-entropy).
    Cross-entropy labels are returned as integers. Traced labels pass unchecked (see
    :func:`labels_valid`)."""
    if loss == "square" or is_traced(Y):
        return Y if loss != "cross_entropy" else Y.astype(jnp.int64)
    values = np.asarray(Y)
    if loss == "logistic":
        if not np.all((values == 0) | (values == 1)):
            raise ValueError("loss='logistic' needs labels Y in {0, 1} (s = 2y - 1 is the sign); "
                             f"got values {np.unique(values)[:6]}")
        return values
    if not np.all((values == np.round(values)) & (values >= 0) & (values < num_outputs)):
        raise ValueError(f"loss='cross_entropy' needs integer class labels Y in 0..{num_outputs - 1} "
                         f"(one per output node), got values {np.unique(values)[:6]}")
    return values.astype(np.int64)


def labels_valid(loss: str, Y, num_outputs: int):
    """Whether every label suits the loss, as a traced boolean (for traced labels, which
    :func:`check_labels` cannot check: the criteria make their result NaN when it is False)."""
    if loss == "square":
        return jnp.all(jnp.isfinite(Y))
    if loss == "logistic":
        return jnp.all((Y == 0) | (Y == 1))
    return jnp.all((Y == jnp.round(Y)) & (Y >= 0) & (Y < num_outputs))


def pointwise_loss(loss: str, outputs, y):
    """l(D, y) elementwise: ``outputs`` (..., C) noisy or noiseless outputs, ``y`` broadcastable
    to outputs.shape[:-1]. Numerically stable (log-sum-exp form)."""
    if loss == "square":
        return jnp.square(outputs[..., 0] - y)
    if loss == "logistic":
        return jnp.logaddexp(0.0, -(2.0 * y - 1.0) * outputs[..., 0])
    y = jnp.broadcast_to(y, outputs.shape[:-1])
    chosen = jnp.take_along_axis(outputs, y[..., None], axis=-1)[..., 0]
    return jax.nn.logsumexp(outputs, axis=-1) - chosen


def predictions(loss: str, outputs):
    """What a network trained under ``loss`` predicts from its outputs (..., C): the output itself
    (square loss, (..., 1)), the probability of label 1, sigmoid(D) (logistic, (..., 1)), or the
    class probabilities softmax(D) (cross-entropy, (..., C)). MC dropout averages these."""
    if loss == "square":
        return outputs
    if loss == "logistic":
        return jax.nn.sigmoid(outputs)
    return jax.nn.softmax(outputs, axis=-1)
