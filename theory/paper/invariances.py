"""Transforms under which dropout is invariant and weight decay is not (C2, C3, C4; Section 3).

* Input scaling (Theorem 4, C2): for a full-rank diagonal A, W' = (W1 A^-1, b1, rest unchanged) gives
  D(W', A x, R) = D(W, x, R) for every x and pattern R.
* Cross-layer rescaling (Theorem 5, C3), d >= 2, positive c_1..c_d:
  W' = (c1 W1, c1 b1, c2 W2, c1 c2 b2, ..., c_d w, (c1...c_d) b) gives D(W', x, R) = (c1...c_d) D(W, x, R).
  With c1...c_d = 1, J_D, the dropout penalty and R are unchanged while ||W||^2 is not.
* Output scaling (Theorem 6, C4): scaling the output weights and bias by c scales every output by c,
  so with labels scaled by c every criterion value, and the dropout aversion, scales by c^2.
"""

from __future__ import annotations

import numpy as np

from theory.network import as_params


def scale_inputs(params, a):
    """W' = (W1 A^-1, b1, ...) for A = diag(a), so that W'(A x) = W(x) under every pattern (C2)."""
    params = as_params(params)
    a = np.asarray(a, np.float64)
    K = params[0][0].shape[1]
    if a.shape != (K,):
        raise ValueError(f"a must hold the {K} diagonal entries of A, got shape {a.shape}")
    if np.any(a == 0) or not np.all(np.isfinite(a)):
        raise ValueError("a must be finite and nonzero (A must be full rank)")
    (W1, b1), rest = params[0], params[1:]
    return ((W1 / a, b1),) + rest


def rescale_layers(params, c):
    """Theorem 5's W': layer l's weights times c_l, its bias times c_1...c_l (C3)."""
    params = as_params(params)
    c = np.asarray(c, np.float64)
    if c.shape != (len(params),):
        raise ValueError(f"c must hold one factor per layer ({len(params)}), got shape {c.shape}")
    if not np.all((c > 0) & np.isfinite(c)):
        raise ValueError("c must be positive and finite")
    cumulative = np.cumprod(c)
    return tuple((c[l] * W, cumulative[l] * b) for l, (W, b) in enumerate(params))


def scale_output(params, c):
    """Output weights and bias times c, so every output, dropout or not, is multiplied by c (C4)."""
    params = as_params(params)
    c = float(c)
    if not (c > 0 and np.isfinite(c)):
        raise ValueError(f"c must be positive and finite, got {c!r}")
    W, b = params[-1]
    return params[:-1] + ((c * W, c * b),)
