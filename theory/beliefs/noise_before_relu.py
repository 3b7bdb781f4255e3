"""Noise before or after the ReLU: "put Dropout after the activation" judged exactly (ours; B36, B37).

The paper (and :mod:`theory.noise`) multiplies a hidden node's value h = max(z, 0) by its noise m
(Linear -> ReLU -> Dropout). Frameworks also allow Linear -> Dropout -> ReLU, max(m z, 0). For
Bernoulli dropout, m = B/p >= 0 and max(m z, 0) = m max(z, 0) for every z and every pattern: the two
placements are the same network, pattern by pattern. Gaussian noise m ~ N(1, q/p) is negative with
positive probability, and then max(m z, 0) is positive where z < 0: a dead unit comes alive.

With noise on the last hidden layer only (PyTorch's placement at d = 2), unit j before the ReLU is
h_j = max(m_j z_j, 0) with m_j z_j ~ N(z_j, (q/p) z_j^2), independent over j, so the output
w . h + b has the exact moments

    mean = sum_j w_j E[h_j] + b,     variance = sum_j w_j^2 Var[h_j],

with E[h_j] and E[h_j^2] the rectified-Gaussian moments of :mod:`theory.gaussian_relu` (for
Bernoulli noise E[h_j] = h_j and E[h_j^2] = h_j^2 / p, the after-ReLU values).
"""

from __future__ import annotations

import jax.numpy as jnp

from theory.gaussian_relu import relu_mean, relu_second_moment
from theory.network import as_inputs, as_params
from theory.noise import check_keep_prob, noise_variance

PLACEMENT_NOISES = ("dropout", "gaussian")


def before_relu_moments(params, X, *, keep_prob=0.5, noise="gaussian"):
    """Exact mean and variance over the noise of the output, per row of X, when only the last
    hidden layer is noisy and its noise multiplies the pre-activations z (before the ReLU).

    ``noise``: "dropout" (Bernoulli(p)/p) or "gaussian" (N(1, q/p)); ``keep_prob`` one number.
    The after-ReLU counterpart is :func:`theory.output_moments` with keep_prob (1, ..., 1, p).
    Pure JAX in the parameters, X and ``keep_prob``: jax.jit and jax.vmap apply (a traced keep
    outside (0, 1] gives NaN).
    """
    params = as_params(params)
    if len(params) < 2:
        raise ValueError("before_relu_moments needs a hidden layer (d >= 2); a one-layer network "
                         "has no ReLU")
    if noise not in PLACEMENT_NOISES:
        raise ValueError(f"noise must be one of {PLACEMENT_NOISES} (noise on nodes), got {noise!r}")
    p = check_keep_prob(keep_prob)
    a = as_inputs(X, params[0][0].shape[1])
    for W, b in params[:-2]:
        a = jnp.maximum(a @ W.T + b, 0.0)
    W, b = params[-2]
    z = a @ W.T + b
    s = noise_variance(p)
    if noise == "gaussian":
        mean_h = relu_mean(z, jnp.abs(z) * jnp.sqrt(s))
        second_h = relu_second_moment(z, jnp.abs(z) * jnp.sqrt(s))
    else:
        mean_h = jnp.maximum(z, 0.0)
        second_h = jnp.square(mean_h) / p
    w, b_out = params[-1]
    return mean_h @ w[0] + b_out[0], (second_h - jnp.square(mean_h)) @ jnp.square(w[0])
