"""Torch's default initialisation, as in the paper's experiment (C16, Section 6).

Every weight and bias of a layer with fan-in m is drawn uniformly from [-1/sqrt(m), 1/sqrt(m)]
(torch.nn.Linear's default).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def torch_default_init(key, K: int, n: int, d: int, *, dtype=jnp.float64):
    """Standard architecture (K inputs, d layers, n hidden nodes, one output) at Torch's default."""
    for name, value in (("K", K), ("n", n), ("d", d)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    sizes = [K] + [n] * (d - 1) + [1]
    params = []
    for layer_key, n_in, n_out in zip(jax.random.split(key, d), sizes[:-1], sizes[1:]):
        w_key, b_key = jax.random.split(layer_key)
        bound = 1.0 / n_in ** 0.5
        params.append((jax.random.uniform(w_key, (n_out, n_in), dtype, -bound, bound),
                       jax.random.uniform(b_key, (n_out,), dtype, -bound, bound)))
    return tuple(params)
