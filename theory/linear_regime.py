"""The linear regime: exact dropout moments in polynomial time when no ReLU can clip.

If every weight, bias and input is >= 0, every pre-activation is >= 0 under every dropout pattern,
so each ReLU acts as the identity and the network is linear in its (dropped) inputs. Then the mean
and covariance of the values entering each layer propagate exactly, layer by layer (CLAIMS.md,
"Exact computation"; the setting of C13, Theorem 19):

    dropout with keep probability p:   mean unchanged,   Cov -> Cov + (q/p) diag(E[a^2])
    affine layer z = W a + b:          mean -> W mean + b,   Cov -> W Cov W^T

The output's mean is then W(x) (Baldi and Sadowski) and its variance is w^T Cov w. This is the
cheap exact route offered beside the enumeration of :mod:`theory.exact`, and tested against it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from theory.network import network_output


def linear_regime_applies(params, X) -> bool:
    """True when all weights, biases and inputs are >= 0, so no ReLU clips under any pattern."""
    arrays = [X] + [a for pair in params for a in pair]
    return all(bool(np.all(np.asarray(a) >= 0)) for a in arrays)


@jax.jit
def linear_regime_moments(params, X, keep_probs):
    """Per-example W(x), E_R[delta] and E_R[delta^2] (delta = D(W, x, R) - W(x)) by propagation.

    Valid only where :func:`linear_regime_applies`; same contract as
    :func:`theory.exact.delta_moments`. Cost O(N d n^3) instead of 2^(number of nodes).
    """
    mean = X
    cov = jnp.zeros(X.shape + X.shape[-1:], X.dtype)
    for layer, (W, b) in enumerate(params):
        p = keep_probs[layer]
        second = jnp.diagonal(cov, axis1=-2, axis2=-1) + jnp.square(mean)
        cov = cov + ((1.0 - p) / p) * jax.vmap(jnp.diag)(second)
        mean = mean @ W.T + b
        cov = W @ cov @ W.T
    f = network_output(params, X)
    e1 = mean[:, 0] - f
    return f, e1, cov[:, 0, 0] + jnp.square(e1)
