"""The linear regime: exact dropout moments in polynomial time when no ReLU can clip.

If every weight, bias and input is >= 0, every pre-activation is >= 0 under every Bernoulli
pattern (dropout, group dropout or DropConnect only zero or up-scale non-negative terms), so each
ReLU acts as the identity and the network is linear in its noise. Then the mean and covariance of
the values entering each layer propagate exactly, layer by layer (CLAIMS.md, "Exact computation";
the setting of C13, Theorem 19), with s = q/p the noise variance of dropout layer l:

    node / group dropout on a:   mean unchanged,  Cov -> Cov + s (S o E[a a^T])
                                 (S_ij = 1 when nodes i and j share a group: S = I without groups)
    affine layer z = W a + b:    mean -> W mean + b,   Cov -> W Cov W^T
    DropConnect on W:            mean -> W mean + b,   Cov -> W Cov W^T + s diag_k(sum_i W_ki^2 E[a_i^2])

(o is the elementwise product; DropConnect's masks are independent across rows, so they add
variance to each unit alone.) The output's mean is then W(x) (Baldi and Sadowski, NeurIPS 2013) and
its variance is the output entry of Cov. Gaussian noise is excluded: it is negative with positive
probability, so ReLUs do clip. This is the cheap exact route beside the enumeration of
:mod:`theory.exact`, and tested against it and against brute force.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from theory.network import network_output
from theory.noise import noise_variance


def linear_regime_applies(params, X) -> bool:
    """True when all weights, biases and inputs are >= 0, so no ReLU clips under any pattern."""
    arrays = [X] + [a for pair in params for a in pair]
    return all(bool(np.all(np.asarray(a) >= 0)) for a in arrays)


def _same_group(group_index, width: int):
    if group_index is None:
        return np.eye(width)
    index = np.asarray(group_index)
    return (index[:, None] == index[None, :]).astype(np.float64)


@partial(jax.jit, static_argnames=("kind", "groups"))
def linear_regime_moments(params, X, keep, *, kind: str, groups: tuple):
    """Per-example W(x), E_R[delta] and E_R[delta^2] (delta = D(W, x, R) - W(x)) by propagation.

    Valid only where :func:`linear_regime_applies` and for ``kind`` "dropout" or "dropconnect";
    ``keep`` holds one keep probability per dropout layer, ``groups`` the group indices of
    :class:`theory.noise.Noise`. Same contract as :func:`theory.exact.delta_moments`.
    Cost O(N d n^3) instead of exponential.
    """
    mean = X
    cov = jnp.zeros(X.shape + X.shape[-1:], X.dtype)
    for layer, (W, b) in enumerate(params):
        s = noise_variance(keep[layer])
        second = cov + mean[..., :, None] * mean[..., None, :]                # E[a a^T]
        if kind == "dropconnect":
            extra = s * (jnp.diagonal(second, axis1=-2, axis2=-1) @ jnp.square(W).T)
            cov = W @ cov @ W.T + jax.vmap(jnp.diag)(extra)
        else:
            cov = W @ (cov + s * _same_group(groups[layer], W.shape[1]) * second) @ W.T
        mean = mean @ W.T + b
    f = network_output(params, X)
    e1 = mean[:, 0] - f
    return f, e1, cov[:, 0, 0] + jnp.square(e1)
