"""The criteria of Section 2: risk R, dropout criterion J_D, dropout penalty, weight-decay J2.

Square loss without 1/2; P is given by examples X (N, K), labels Y (N,) and example probabilities
``weights`` (default uniform), so the paper's P_(x,y) is ``X=[x, 0], Y=[y, 0]``. Dropout keeps every
input and hidden node independently with probability ``keep_prob`` (the paper's p) and scales kept
values by 1/keep_prob; the output node and the biases are never dropped.

    R(W)   = E_(x,y) (W(x) - y)^2
    J_D(W) = E_R E_(x,y) (D(W, x, R) - y)^2                      (Eq. 1; expectations commute)
    J_D(W) - R(W) = E_(x,y) [ E[delta^2] + 2 (W(x) - y) E[delta] ],  delta = D(W, x, R) - W(x)  (C14)
    J2(W)  = R(W) + (lam/2) ||W||^2,   ||W||^2 the sum of squared weights, biases excluded

``method`` selects the exact route: "enumerate" (:mod:`theory.exact`, any network within
``max_patterns``), "linear" (:mod:`theory.linear_regime`, only when weights, biases and inputs are all
>= 0) or "auto" (linear when it applies, else enumerate). All values are exact up to float64 rounding.
"""

from __future__ import annotations

import numpy as np

from theory.exact import MAX_PATTERNS, delta_moments, penalty_from_moments
from theory.linear_regime import linear_regime_applies, linear_regime_moments
from theory.network import (as_data, as_inputs, as_params, check_keep_prob, network_output,
                            sum_squared_weights)

METHODS = ("auto", "enumerate", "linear")


def _delta_moments(params, X, keep_prob, method, max_patterns):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    keep_probs = np.full(len(params), keep_prob)
    linear = linear_regime_applies(params, X)
    if method == "linear" and not linear:
        raise ValueError("method='linear' needs all weights, biases and inputs >= 0 (no ReLU may "
                         "clip); use method='enumerate' or 'auto'")
    if method == "linear" or (method == "auto" and linear):
        moments = linear_regime_moments(params, X, keep_probs)
    else:
        moments = delta_moments(params, X, keep_probs, max_patterns=max_patterns)
    return tuple(np.asarray(m) for m in moments)


def _per_example_penalty(params, X, Y, keep_prob, method, max_patterns):
    f, e1, e2 = _delta_moments(params, X, keep_prob, method, max_patterns)
    return f, penalty_from_moments(f, e1, e2, Y)


def deviation_moments(params, X, *, keep_prob=0.5, method="auto", max_patterns=MAX_PATTERNS):
    """Per row x of X: W(x), E_R[delta] and E_R[delta^2], delta = D(W, x, R) - W(x), exactly.

    These three numbers give the penalty for any label y: E[delta^2] + 2 (W(x) - y) E[delta] (C14).
    """
    params = as_params(params)
    X = as_inputs(X, params[0][0].shape[1])
    return _delta_moments(params, X, check_keep_prob(keep_prob), method, max_patterns)


def output_moments(params, X, *, keep_prob=0.5, method="auto", max_patterns=MAX_PATTERNS):
    """Exact mean and variance of the dropout output D(W, x, R) over patterns R, per row of X."""
    f, e1, e2 = deviation_moments(params, X, keep_prob=keep_prob, method=method,
                                  max_patterns=max_patterns)
    return f + e1, e2 - np.square(e1)


def risk(params, X, Y, *, weights=None) -> float:
    """R(W) = E_(x,y) (W(x) - y)^2, the square loss without dropout."""
    params = as_params(params)
    X, Y, weights = as_data(X, Y, weights, params[0][0].shape[1])
    return float(weights @ np.square(np.asarray(network_output(params, X)) - Y))


def dropout_penalty(params, X, Y, *, keep_prob=0.5, weights=None, method="auto",
                    max_patterns=MAX_PATTERNS) -> float:
    """J_D(W) - R(W), computed exactly as E[delta^2] + 2 (W(x) - y) E[delta] (C14, Theorem 20)."""
    params = as_params(params)
    X, Y, weights = as_data(X, Y, weights, params[0][0].shape[1])
    _, penalty = _per_example_penalty(params, X, Y, check_keep_prob(keep_prob), method, max_patterns)
    return float(weights @ penalty)


def dropout_criterion(params, X, Y, *, keep_prob=0.5, weights=None, method="auto",
                      max_patterns=MAX_PATTERNS) -> float:
    """J_D(W) = E_R E_(x,y) (D(W, x, R) - y)^2, exactly (Eq. 1 of Helmbold & Long 2017).

    Raises ValueError when exact enumeration would exceed ``max_patterns`` patterns (the message
    gives the count); use :func:`theory.mc_dropout_criterion` there.
    """
    params = as_params(params)
    X, Y, weights = as_data(X, Y, weights, params[0][0].shape[1])
    f, penalty = _per_example_penalty(params, X, Y, check_keep_prob(keep_prob), method, max_patterns)
    return float(weights @ (np.square(f - Y) + penalty))


def l2_penalty(params, *, lam) -> float:
    """(lam/2) ||W||^2, biases not penalised."""
    lam = _check_lam(lam)
    return float(0.5 * lam * sum_squared_weights(as_params(params)))


def l2_criterion(params, X, Y, *, lam, weights=None) -> float:
    """J2(W) = R(W) + (lam/2) ||W||^2, the weight-decay criterion (biases not penalised)."""
    return risk(params, X, Y, weights=weights) + l2_penalty(params, lam=lam)


def _check_lam(lam) -> float:
    try:
        value = float(lam)
    except (TypeError, ValueError):
        raise TypeError(f"lam must be a number, got {lam!r}") from None
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    return value
