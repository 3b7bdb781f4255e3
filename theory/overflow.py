"""Results that overflow float64, refused with the layer whose values grow past it.

The criteria square the network's values, and dropout divides what it keeps by keep_prob at every
dropout layer, so large weights, large inputs or a tiny keep_prob can take a square past float64's
largest number (about 1.8e308). The sums then hold inf, and inf times a pattern probability that
underflowed to 0 is NaN. Rather than return inf or NaN without a word, the public functions refuse
such a result (:func:`refuse_overflow`) with an upper bound on the values of every layer, naming the
first whose bound passes sqrt(1.8e308), about 1.3e154: its square is what overflows.

The bound, in log10 so that it cannot overflow itself: B_0 = max |x| m_0 for the inputs and, layer by
layer, B_(l+1) = (max_j sum_i |W_ji| B_l + max_j |b_j|) m_(l+1), with m_l = 1/p_l where layer l is
dropped or DropConnect reads it (a kept value is divided by p_l), 1 + sqrt(q_l/p_l) for Gaussian noise
(one standard deviation; no finite bound exists) and 1 where p_l = 1. The output's bound adds max |y|
under the square loss, whose residual is squared.
"""

from __future__ import annotations

import numpy as np

from theory.noise import is_traced

FLOAT64_MAX = float(np.finfo(np.float64).max)
LARGEST_SQUARABLE = float(np.sqrt(FLOAT64_MAX))
"""About 1.3e154: a value above it has a square past float64."""


def _log10(value: float) -> float:
    with np.errstate(divide="ignore"):
        return float(np.log10(value))


def _log10_sum(a: float, b: float) -> float:
    """log10(10^a + 10^b) without forming either power."""
    return float(np.logaddexp(a * np.log(10), b * np.log(10)) / np.log(10))


def _multiplier(kind: str, keep: float) -> float:
    if keep == 1.0:
        return 1.0
    return 1.0 + np.sqrt((1.0 - keep) / keep) if kind == "gaussian" else 1.0 / keep


def log10_value_bounds(params, X, keep, kind: str = "dropout", Y=None) -> list[float]:
    """log10 of an upper bound on |value| at dropout layers 0..d-1 (after their noise's scaling)
    and at the output (its residual D - y when labels ``Y`` are given); see the module doc."""
    bounds = [_log10(np.max(np.abs(X))) + _log10(_multiplier(kind, float(keep[0])))]
    for layer, (W, b) in enumerate(params):
        row_sums = _log10(np.max(np.sum(np.abs(np.asarray(W)), axis=1)))
        value = _log10_sum(row_sums + bounds[-1], _log10(np.max(np.abs(np.asarray(b)))))
        if layer + 1 < len(params):
            value += _log10(_multiplier(kind, float(keep[layer + 1])))
        elif Y is not None:
            value = _log10_sum(value, _log10(np.max(np.abs(np.asarray(Y, dtype=np.float64)))))
        bounds.append(value)
    return bounds


def _layer_name(index: int, depth: int) -> str:
    if index == 0:
        return "dropout layer 0 (the inputs)"
    return "the output" if index == depth else f"dropout layer {index} (hidden layer {index})"


def _magnitude(log10_value: float) -> str:
    return f"{10 ** log10_value:.2g}" if log10_value < 300 else f"1e{log10_value:.0f}"


def refuse_overflow(result, what: str, params, X, keep, kind: str = "dropout", Y=None,
                    squared: bool = True):
    """``result`` (an array or a tuple of them) unchanged when every value is finite or traced;
    otherwise an OverflowError naming the first layer whose values' bound passes
    :data:`LARGEST_SQUARABLE` (``squared``: the result squares the values, as every criterion does)
    or float64's largest number. ``what`` names the function for the message."""
    parts = result if isinstance(result, tuple) else (result,)
    if any(is_traced(part) for part in parts) or all(np.all(np.isfinite(part)) for part in parts):
        return result
    bounds = log10_value_bounds(params, X, keep, kind, Y)
    limit, limit_text = ((LARGEST_SQUARABLE, "1.3e154, where a square overflows") if squared
                         else (FLOAT64_MAX, "float64's largest number 1.8e308"))
    listed = ", ".join(f"{_layer_name(i, len(params))} {_magnitude(b)}"
                       for i, b in enumerate(bounds))
    first = next((i for i, b in enumerate(bounds) if b > np.log10(limit)), None)
    if first is None:
        where = f"no layer's bound passes {limit_text}, so the overflow is in a sum of many terms"
    else:
        scaling = _multiplier(kind, float(keep[first])) if first < len(params) else 1.0
        where = (f"{_layer_name(first, len(params))} is the first past {limit_text}"
                 + (f" (its dropout scaling is {scaling:.3g})" if scaling != 1.0 else ""))
    raise OverflowError(
        f"{what} overflows float64 (the result came out inf or NaN). Upper bounds on the values: "
        f"{listed}; {where}. Rescale the inputs, weights or labels"
        + (", or use a larger keep_prob." if any(float(p) != 1.0 for p in keep) else "."))
