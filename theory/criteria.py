"""The criteria of Section 2: risk R, dropout criterion J_D, dropout penalty, weight-decay J2.

Square loss without 1/2; P is given by examples X (N, K), labels Y (N,) and example probabilities
``weights`` (default uniform), so the paper's P_(x,y) is ``X=[x, 0], Y=[y, 0]``.

    R(W)   = E_(x,y) (W(x) - y)^2
    J_D(W) = E_R E_(x,y) (D(W, x, R) - y)^2                      (Eq. 1; expectations commute)
    J_D(W) - R(W) = E_(x,y) [ E[delta^2] + 2 (W(x) - y) E[delta] ],  delta = D(W, x, R) - W(x)  (C14)
    J2(W)  = R(W) + (lam/2) ||W||^2,   ||W||^2 the sum of squared weights, biases excluded

D(W, x, R) is the output under a noise realisation R of any member of the dropout family
(:mod:`theory.noise`). With ``loss="logistic"`` or ``"cross_entropy"`` (:mod:`theory.losses`) the
square (D - y)^2 becomes that loss l(D, y) in R, J_D and J2, and the penalty is J_D - R; there the
exact route enumerates every pattern (no moments, no linear route). All values are exact up to
float64 rounding; ``method`` selects the route: "enumerate" (:mod:`theory.exact`), "linear"
(:mod:`theory.linear_regime`: weights, biases and inputs all >= 0, Bernoulli noise) or "auto"
(linear when it applies, else enumerate). Under ``jax.grad`` or ``jit`` (traced arguments) "auto"
enumerates, and the functions return JAX scalars or arrays.
"""

from __future__ import annotations

import inspect
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from theory.exact import MAX_PATTERNS, check_max_patterns, count_patterns, delta_moments
from theory.exact import expected_losses
from theory.exact import penalty_from_moments
from theory.linear_regime import linear_regime_applies, linear_regime_moments
from theory.losses import check_labels, check_loss, labels_valid
from theory.network import as_data, as_inputs, as_params, losses_without_noise
from theory.network import network_output as _network_output
from theory.network import sum_squared_weights, widths
from theory.noise import Noise, as_noise, as_number, is_traced, nan_unless
from theory.overflow import refuse_overflow

METHODS = ("auto", "enumerate", "linear")

_VARIANT_DOC = """
    keep_prob: the probability of KEEPING (the paper's p; PyTorch's Dropout(p) keeps 1 - p). One
        number for every dropout layer, or a sequence of d numbers, one per dropout layer: the
        inputs, then hidden layers 1..d-1 (the output node is never dropped). A layer with keep 1
        carries no noise and is never enumerated: PyTorch's placement (Linear -> ReLU -> Dropout,
        inputs kept) is ``keep_prob=(1.0, p, ..., p)``, exact in one pass for d = 2.
    noise: "dropout" (Bernoulli node masks scaled by 1/p, the paper's), "dropconnect" (every weight
        kept with its source layer's p and scaled by 1/p, biases never dropped; Wan et al. 2013) or
        "gaussian" (every node times N(1, (1-p)/p); Srivastava et al. 2014).
    groups: None, or one entry per dropout layer, each None or an integer array of group ids, one per
        node; nodes sharing an id are kept or dropped together (spatial dropout; noise="dropout"
        only). Enumeration runs over groups, so grouping makes exact evaluation cheaper.
    method: "auto", "enumerate" or "linear".
    max_patterns: the most patterns the exact evaluator may enumerate (an integer from 1 to
        2^40; the default is theory.MAX_PATTERNS = 2^26). The Gaussian route counts the
        n_{d-1}^2 pairs of last hidden units whose bivariate moments it evaluates per example;
        its memory stays bounded (blocks of pairs) at any width.

    Exact routes (float64 rounding; see theory.exact): node and group dropout at any depth,
    enumerating the nodes or groups of the inputs and hidden layers 1..d-2 (the last hidden layer is
    integrated analytically); DropConnect at d = 2 in time linear in the width (each hidden unit
    needs only its own 2^K row masks) and deeper by enumerating the weights read from layers 0..d-3;
    Gaussian noise on the last two dropout layers (all of d = 1 and d = 2) through the bivariate
    normal's ReLU moments. The linear regime (everything >= 0, dropout or DropConnect) costs
    polynomial time at any depth. Where no exact route exists (Gaussian noise on an earlier layer)
    or it would exceed max_patterns, a ValueError says why; use theory.mc_dropout_criterion there.
    Differentiable with jax.grad in the parameters, X and keep_prob (and jit-able). Under jax.jit
    or jax.grad the values cannot be checked: a traced value that a direct call would refuse
    (keep_prob outside (0, 1], labels the loss does not take, weights that are not probabilities,
    NaN or infinite numbers) makes the result and its gradients NaN, as in jax.scipy."""


_DATA_DOC = """
    weights: example probabilities (default uniform).
    loss: "square" (default, the paper's), "logistic" (labels in {0, 1}, one output) or
        "cross_entropy" (integer labels, one output node per class); see theory.losses. Under the
        last two every node (or weight) pattern of every dropout layer is enumerated, the last
        hidden layer included: 2^(K + n_1 + ... + n_{d-1}) patterns for node dropout; Gaussian
        noise has no exact route there."""


def _variant_doc(function):
    """Append the arguments' documentation; weights and loss only to the functions of (X, Y)."""
    data = "weights" in inspect.signature(function).parameters
    function.__doc__ = function.__doc__.rstrip() + "\n" + (_DATA_DOC if data else "") + _VARIANT_DOC
    return function


def _scalar(value):
    return value if is_traced(value) else float(value)


def _finite(result, what, params, X, spec: Noise | None = None, Y=None, squared=True):
    """``result`` if finite, else the OverflowError of :func:`theory.overflow.refuse_overflow`
    (``spec`` None: no dropout)."""
    keep = spec.keep if spec is not None else (1.0,) * len(params)
    return refuse_overflow(result, f"theory.{what}", params, X, keep,
                           spec.kind if spec is not None else "dropout", Y, squared)


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _variant(params, keep_prob, noise, groups, method, max_patterns) -> Noise:
    """The validated dropout variant of a public call (built once, passed down) after ``method``
    and ``max_patterns``."""
    _check_method(method)
    check_max_patterns(max_patterns)
    return as_noise(widths(params), keep_prob, noise, groups)


def _use_linear(params, X, spec: Noise, method) -> bool:
    """Whether the linear-regime route (C13) computes the moments; refuses "linear" where it fails."""
    traced = any(is_traced(a) for a in [X] + [a for pair in params for a in pair])
    linear_ok = spec.kind != "gaussian" and not traced and linear_regime_applies(params, X)
    if method == "linear" and not linear_ok:
        if spec.kind == "gaussian":
            raise ValueError("method='linear' does not apply to Gaussian noise (it is negative with "
                             "positive probability, so ReLUs clip); use method='enumerate' or 'auto'")
        if not traced:
            raise ValueError("method='linear' needs all weights, biases and inputs >= 0 (no ReLU "
                             "may clip); use method='enumerate' or 'auto'")
    return method == "linear" or (method == "auto" and linear_ok)


def _delta_moments(params, X, spec: Noise, method, max_patterns):
    if _use_linear(params, X, spec, method):
        return linear_regime_moments(params, X, spec.keep_array(), kind=spec.kind,
                                     groups=spec.groups)
    return delta_moments(params, X, spec, max_patterns=max_patterns)


def _data(params, X, Y, weights, loss):
    """Validated (params, X, labels, weights) for ``loss``; traced labels that do not suit the loss
    make the weights, and so every criterion, NaN."""
    params = as_params(params, check_loss(loss))
    X, Y, weights = as_data(X, Y, weights, params[0][0].shape[1])
    num_outputs = params[-1][0].shape[0]
    if is_traced(Y):
        weights = nan_unless(labels_valid(loss, Y, num_outputs), weights)
    return params, X, check_labels(loss, Y, num_outputs), weights


def _expected_losses(params, X, Y, spec: Noise, method, max_patterns, loss):
    """E_R l(D(W, x, R), y) per example under a non-square loss (every pattern enumerated)."""
    if method == "linear":
        raise ValueError(f"method='linear' applies to loss='square' only (it propagates two "
                         f"moments, which determine only a quadratic loss); loss={loss!r} takes "
                         "method='enumerate' or 'auto'")
    return expected_losses(params, X, Y, spec, loss, max_patterns=max_patterns)


def _as_result(moments):
    return tuple(m if is_traced(m) else np.asarray(m) for m in moments)


def _square_loss_mean(params, X, Y, weights, spec: Noise, method, max_patterns, *, with_risk):
    """E_(x,y) of the dropout penalty (C14), plus the risk when ``with_risk`` (then J_D)."""
    f, e1, e2 = _delta_moments(params, X, spec, method, max_patterns)
    return _weighted_penalty(f, e1, e2, Y, weights, with_risk=with_risk)


@partial(jax.jit, static_argnames=("with_risk",))
def _weighted_penalty(f, mean_delta, mean_delta_sq, Y, weights, *, with_risk):
    """sum_x P(x) [E[delta^2] + 2 (W(x) - y) E[delta]] (+ (W(x) - y)^2 when ``with_risk``), as one
    program: run operation by operation (as under a top-level jax.grad) each of its dozen or so
    operations and their derivatives would compile a program of its own."""
    penalty = penalty_from_moments(f, mean_delta, mean_delta_sq, Y)
    return weights @ (jnp.square(f - Y) + penalty if with_risk else penalty)


def _validated_moments(params, X, keep_prob, noise, groups, method, max_patterns):
    """(params, X, variant, (W(x), E[delta], E[delta^2])) of a public call."""
    params = as_params(params)
    X = as_inputs(X, params[0][0].shape[1])
    spec = _variant(params, keep_prob, noise, groups, method, max_patterns)
    return params, X, spec, _as_result(_delta_moments(params, X, spec, method, max_patterns))


@_variant_doc
def deviation_moments(params, X, *, keep_prob=0.5, noise="dropout", groups=None, method="auto",
                      max_patterns=MAX_PATTERNS):
    """Per row x of X: W(x), E_R[delta] and E_R[delta^2], delta = D(W, x, R) - W(x), exactly.

    These three numbers give the penalty for any label y: E[delta^2] + 2 (W(x) - y) E[delta] (C14).
    """
    params, X, spec, moments = _validated_moments(params, X, keep_prob, noise, groups, method,
                                                  max_patterns)
    return _finite(moments, "deviation_moments", params, X, spec)


@_variant_doc
def output_moments(params, X, *, keep_prob=0.5, noise="dropout", groups=None, method="auto",
                   max_patterns=MAX_PATTERNS):
    """Exact mean and variance of the noisy output D(W, x, R) over R, per row of X."""
    params, X, spec, (f, e1, e2) = _validated_moments(params, X, keep_prob, noise, groups, method,
                                                      max_patterns)
    with np.errstate(over="ignore", invalid="ignore"):
        moments = (f + e1, e2 - e1 * e1)
    return _finite(moments, "output_moments", params, X, spec)


def network_output(params, X):
    """W(x) for every row of X, without dropout: ReLU hidden layers, one linear output node (a
    classifier's logits: theory.network.network_outputs). Shape (N,). Checks its arguments like
    the criteria do."""
    params = as_params(params, loss=None)
    if params[-1][0].shape[0] != 1:
        raise ValueError(f"network_output reads one output node, but the last layer has "
                         f"{params[-1][0].shape[0]}; theory.network.network_outputs gives them all")
    X = as_inputs(X, params[0][0].shape[1])
    return _finite(_network_output(params, X), "network_output", params, X, squared=False)


def risk(params, X, Y, *, weights=None, loss="square"):
    """R(W) = E_(x,y) l(W(x), y) without dropout; l the square loss (default) or ``loss``.
    Differentiable (jax.grad) and jit-able; traced values a direct call would refuse (labels the
    loss does not take, weights that are not probabilities, NaN or infinite numbers) give NaN."""
    params, X, Y, weights = _data(params, X, Y, weights, loss)
    return _finite(_scalar(weights @ losses_without_noise(params, X, Y, loss)), "risk", params, X,
                   Y=Y if loss == "square" else None)


@_variant_doc
def dropout_penalty(params, X, Y, *, keep_prob=0.5, noise="dropout", groups=None, weights=None,
                    method="auto", max_patterns=MAX_PATTERNS, loss="square"):
    """J_D(W) - R(W), computed exactly: E[delta^2] + 2 (W(x) - y) E[delta] under the square loss
    (C14, Theorem 20); E_R l(D, y) - l(W(x), y) by enumeration under the other losses."""
    params, X, Y, weights = _data(params, X, Y, weights, loss)
    spec = _variant(params, keep_prob, noise, groups, method, max_patterns)
    if loss != "square":
        expected = _expected_losses(params, X, Y, spec, method, max_patterns, loss)
        penalty = _scalar(weights @ (expected - losses_without_noise(params, X, Y, loss)))
        return _finite(penalty, "dropout_penalty", params, X, spec)
    penalty = _square_loss_mean(params, X, Y, weights, spec, method, max_patterns, with_risk=False)
    return _finite(_scalar(penalty), "dropout_penalty", params, X, spec, Y)


@_variant_doc
def dropout_criterion(params, X, Y, *, keep_prob=0.5, noise="dropout", groups=None, weights=None,
                      method="auto", max_patterns=MAX_PATTERNS, loss="square"):
    """J_D(W) = E_R E_(x,y) (D(W, x, R) - y)^2, exactly (Eq. 1 of Helmbold & Long 2017); under
    another ``loss``, E_R E_(x,y) l(D(W, x, R), y).

    Raises ValueError when no exact route exists or exact enumeration would exceed
    ``max_patterns`` patterns (the message gives the count); use :func:`theory.mc_dropout_criterion`
    there.
    """
    params, X, Y, weights = _data(params, X, Y, weights, loss)
    spec = _variant(params, keep_prob, noise, groups, method, max_patterns)
    if loss != "square":
        criterion = _scalar(weights @ _expected_losses(params, X, Y, spec, method, max_patterns,
                                                       loss))
        return _finite(criterion, "dropout_criterion", params, X, spec)
    criterion = _square_loss_mean(params, X, Y, weights, spec, method, max_patterns,
                                  with_risk=True)
    return _finite(_scalar(criterion), "dropout_criterion", params, X, spec, Y)


def num_enumerated_patterns(params, *, keep_prob=0.5, noise="dropout", groups=None,
                            loss="square") -> int:
    """The number of patterns the exact evaluator sums over for this network and variant:
    2^(K + n_1 + ... + n_{d-2}) for the paper's dropout under the square loss, 2^(K + n_1 + ...
    + n_{d-1}) under the other losses (see :mod:`theory.exact`)."""
    params = as_params(params, check_loss(loss))
    return count_patterns(params, as_noise(widths(params), keep_prob, noise, groups), loss)


def l2_penalty(params, *, lam):
    """(lam/2) ||W||^2, biases not penalised. Under jax.jit or jax.grad a traced lam that is
    negative or not finite gives NaN."""
    lam = _check_lam(lam)
    params = as_params(params, loss=None)
    penalty = _scalar(0.5 * lam * sum_squared_weights(params))
    if not is_traced(penalty) and not np.isfinite(penalty):
        largest = max(float(np.max(np.abs(W))) for W, _ in params)
        raise OverflowError(f"theory.l2_penalty overflows float64: (lam/2) ||W||^2 with lam = "
                            f"{lam:.3g} and weights up to {largest:.3g} in absolute value is past "
                            "1.8e308; rescale the weights or lam")
    return penalty


def l2_criterion(params, X, Y, *, lam, weights=None, loss="square"):
    """J2(W) = R(W) + (lam/2) ||W||^2, the weight-decay criterion (biases not penalised). Traced
    values a direct call would refuse give NaN (see :func:`risk` and :func:`l2_penalty`)."""
    return risk(params, X, Y, weights=weights, loss=loss) + l2_penalty(params, lam=lam)


def _check_lam(lam) -> float:
    value = as_number(lam, "lam")
    if is_traced(value):
        return nan_unless(jnp.isfinite(value) & (value >= 0), value)
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    return value
