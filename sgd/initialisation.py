"""Torch's default initialisation, as in the paper's experiment (C16, Section 6).

Every weight and bias of a layer with fan-in m is drawn uniformly from [-1/sqrt(m), 1/sqrt(m)]
(torch.nn.Linear's default).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp


def torch_default_init(key, K: int, n: int, d: int, *, dtype=jnp.float64):
    """Standard architecture (K inputs, d layers, n hidden nodes, one output) at Torch's default."""
    for name, value in (("K", K), ("n", n), ("d", d)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return _uniform_layers(key, (K,) + (n,) * (d - 1) + (1,), dtype)


@partial(jax.jit, static_argnums=(1, 2))
def _uniform_layers(key, sizes: tuple, dtype):
    """Every layer's weights and biases uniform on [-1/sqrt(fan-in), 1/sqrt(fan-in)], layer l from
    split l of ``key``. One program per architecture: drawn op by op, every draw of a new shape
    would compile a program of its own (the same bits either way)."""
    params = []
    for layer_key, n_in, n_out in zip(jax.random.split(key, len(sizes) - 1), sizes[:-1], sizes[1:]):
        w_key, b_key = jax.random.split(layer_key)
        bound = 1.0 / n_in ** 0.5
        params.append((jax.random.uniform(w_key, (n_out, n_in), dtype, -bound, bound),
                       jax.random.uniform(b_key, (n_out,), dtype, -bound, bound)))
    return tuple(params)


def torch_default_classifier_init(key, K: int, n: int, d: int, classes: int, *,
                                  dtype=jnp.float64):
    """A classifier's network at Torch's default: the hidden layers of :func:`torch_default_init`
    (same key) and an output layer of ``classes`` nodes drawn the same way from
    ``jax.random.fold_in(key, 99)``."""
    if not isinstance(classes, int) or classes < 1:
        raise ValueError(f"classes must be an integer >= 1 (output nodes), got {classes!r}")
    hidden = torch_default_init(key, K, n, d, dtype=dtype)[:-1]
    n_in = K if d == 1 else n
    bound = 1.0 / n_in ** 0.5
    w_key, b_key = jax.random.split(jax.random.fold_in(key, 99))
    return hidden + ((jax.random.uniform(w_key, (classes, n_in), dtype, -bound, bound),
                      jax.random.uniform(b_key, (classes,), dtype, -bound, bound)),)
