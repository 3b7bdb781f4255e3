"""The dropout family, defined once: what each kind of noise is, how it is drawn and applied.

A network with d layers has d dropout layers: the inputs (layer 0) and hidden layers 1..d-1; the
output node is never dropped. Each dropout layer l has its own keep probability p_l (``keep_prob``
is one number for all, the paper's setting, or a sequence of d numbers); q_l = 1 - p_l. A layer with
p_l = 1 carries no noise, so PyTorch's placement (Linear -> ReLU -> Dropout, inputs kept) is
``keep_prob=(1.0, p, ..., p)``.

Every kind multiplies something by independent noise of mean 1 and variance q_l / p_l
(:func:`noise_variance`); they differ in what is multiplied and in the law of the noise:

=================  ==================================================================================
``noise``          what layer l's noise does
=================  ==================================================================================
``"dropout"``      every node (or every *group* of nodes, see below) of layer l is kept with
                   probability p_l and scaled by 1/p_l, else zeroed: Bernoulli(p_l)/p_l (the paper's
                   dropout; Srivastava, Hinton, Krizhevsky, Sutskever and Salakhutdinov, JMLR 2014).
``"dropconnect"``  every WEIGHT leaving layer l (every entry of the matrix that reads layer l) is kept
                   with probability p_l and scaled by 1/p_l; biases are never dropped (Wan, Zeiler,
                   Zhang, LeCun and Fergus, ICML 2013). On the output node, which has one weight per
                   node of layer d-1, this is node dropout of layer d-1.
``"gaussian"``     every node of layer l is multiplied by independent N(1, q_l/p_l) noise (Gaussian
                   dropout, Srivastava et al. 2014, Section 10), the same first two moments as
                   Bernoulli(p_l)/p_l.
=================  ==================================================================================

``groups`` (``noise="dropout"`` only): one integer array per dropout layer (or None for a layer of
independent nodes) giving each node a group id; nodes that share an id are kept or dropped together,
as spatial dropout drops whole channels (Tompson, Goroshin, Jain, LeCun and Bregler, CVPR 2015).

This module is the one definition that the exact evaluator (:mod:`theory.exact`) and Monte Carlo
(:mod:`theory.monte_carlo`) share. The training loop's inner kernel (:mod:`sgd.kernel`)
draws and applies the same noise with its own vectorised code, for speed; tests/test_training.py
checks its gradient against this module's definitions and its draws' frequencies against their
laws. The brute-force reference
(:mod:`theory.enumeration`) deliberately does not use it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

NOISE_KINDS = ("dropout", "dropconnect", "gaussian")


class Noise(NamedTuple):
    """A validated dropout variant for a network of depth d (see :func:`as_noise`).

    ``keep``: d keep probabilities (numbers, or JAX tracers when differentiated). ``groups``: d entries,
    each None (independent nodes) or a tuple giving every node of the layer a group index 0..G-1.
    Hashable when ``keep`` holds numbers.
    """

    kind: str
    keep: tuple
    groups: tuple

    @property
    def depth(self) -> int:
        return len(self.keep)

    def is_noisy(self, layer: int) -> bool:
        """False only when layer ``layer`` is known to carry no noise (keep exactly 1)."""
        p = self.keep[layer]
        return isinstance(p, jax.core.Tracer) or float(p) != 1.0

    def keep_array(self, dtype=jnp.float64) -> jax.Array:
        """The d keep probabilities as one array (traced values stay traced; concrete ones are
        stacked by NumPy, which compiles nothing)."""
        if any(is_traced(p) for p in self.keep):
            return jnp.stack([jnp.asarray(p, dtype) for p in self.keep])
        return jnp.asarray(np.asarray([np.asarray(p) for p in self.keep], dtype))

    def num_groups(self, layer: int, width: int) -> int:
        g = self.groups[layer]
        return width if g is None else max(g) + 1


def is_traced(value) -> bool:
    """True for a JAX tracer (inside jit, grad or vmap), whose value cannot be inspected."""
    return isinstance(value, jax.core.Tracer)


def nan_unless(valid, value):
    """``value`` where the traced condition ``valid`` holds, else NaN (the convention of
    ``jax.scipy`` for arguments out of range). For traced arguments, whose values cannot be checked:
    the factor multiplies, so the result and every gradient through ``value`` are NaN too."""
    return value * jnp.where(valid, 1.0, jnp.nan)


def as_number(value, name: str):
    """``value`` as a float (a tracer passes through: its value cannot be checked), or TypeError."""
    if is_traced(value):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None


def check_keep_prob(value, name: str = "keep_prob"):
    """A keep probability in (0, 1] (the paper's p), or a ValueError that says what p means; a
    traced value outside (0, 1] becomes NaN (:func:`nan_unless`)."""
    p = as_number(value, name)
    if is_traced(p):
        return nan_unless((p > 0.0) & (p <= 1.0), p)
    if not (0.0 < p <= 1.0):
        raise ValueError(
            f"{name} must be in (0, 1], got {value!r}; it is the probability of KEEPING a node "
            "(the paper's p), not the drop probability (PyTorch's Dropout(p) keeps 1 - p)")
    return p


def as_keep_probs(keep_prob, depth: int) -> tuple:
    """One keep probability per dropout layer (inputs, hidden 1..d-1) from a number or a sequence.

    Values must lie in (0, 1]; traced values (under ``jax.grad`` or ``jit``) outside it become NaN.
    """
    if isinstance(keep_prob, (list, tuple)):
        values = list(keep_prob)
    elif np.ndim(keep_prob) == 1:
        values = [keep_prob[i] for i in range(np.shape(keep_prob)[0])]
    elif np.ndim(keep_prob) == 0:
        return (check_keep_prob(keep_prob),) * depth
    else:
        values = None
    if values is None or len(values) != depth:
        raise ValueError(
            f"keep_prob must be one number or a sequence of {depth} numbers, one per dropout layer "
            f"of this depth-{depth} network (inputs, then hidden layers 1..{depth - 1}), "
            f"got {keep_prob!r}")
    return tuple(check_keep_prob(p, f"keep_prob[{layer}]") for layer, p in enumerate(values))


def _as_group_index(ids, layer: int, width: int):
    if ids is None:
        return None
    arr = np.asarray(ids)
    if arr.shape != (width,) or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"groups[{layer}] must be an integer array of shape ({width},), one group "
                         f"id per node of dropout layer {layer}, got {ids!r}")
    _, index = np.unique(arr, return_inverse=True)
    if index.max() + 1 == width:
        return None                      # every node alone: plain node dropout
    return tuple(int(i) for i in index.ravel())


def as_noise(widths: tuple, keep_prob=0.5, noise: str = "dropout", groups=None) -> Noise:
    """Validate a dropout variant for dropout layers of sizes ``widths`` = (K, n_1, ..., n_{d-1})."""
    if noise not in NOISE_KINDS:
        raise ValueError(f"noise must be one of {NOISE_KINDS}, got {noise!r}")
    depth = len(widths)
    keep = as_keep_probs(keep_prob, depth)
    if groups is None:
        index = (None,) * depth
    else:
        if noise != "dropout":
            raise ValueError(f"groups apply to noise='dropout' only (nodes kept or dropped "
                             f"together), not to noise={noise!r}")
        if isinstance(groups, (str, bytes)) or not hasattr(groups, "__len__") \
                or len(groups) != depth:
            raise ValueError(f"groups must be None or a sequence of {depth} entries, one per "
                             "dropout layer (None or an integer array of group ids)")
        index = tuple(_as_group_index(g, layer, w) for layer, (g, w)
                      in enumerate(zip(groups, widths)))
    return Noise(noise, keep, index)


def noise_variance(keep):
    """q/p = (1 - p)/p: the variance of every kind's mean-1 noise at keep probability p."""
    return (1.0 - keep) / keep


def noise_shape(noise: Noise, layer: int, params) -> tuple:
    """The shape of one draw of layer ``layer``'s noise: one value per node, group or weight."""
    W = params[layer][0]
    if noise.kind == "dropconnect":
        return tuple(W.shape)
    return (noise.num_groups(layer, W.shape[-1]),)


def draw_raw(key, noise: Noise, params, batch_shape=(), dtype=jnp.float64) -> list:
    """Independent raw draws for every dropout layer: uniforms on [0, 1) for the Bernoulli kinds
    (kept when below p), standard normals for Gaussian noise. Turned into noise by :func:`realise`
    with the keep probabilities in force, so a schedule can change p between steps."""
    keys = jax.random.split(key, len(params))
    if noise.kind == "gaussian":
        return [jax.random.normal(k, batch_shape + noise_shape(noise, layer, params), dtype)
                for layer, k in enumerate(keys)]
    return [jax.random.uniform(k, batch_shape + noise_shape(noise, layer, params), dtype)
            for layer, k in enumerate(keys)]


def realise(noise: Noise, raw, keep):
    """Noise values of one layer from its raw draws at keep probability ``keep``: the kept mask
    (u < p) for the Bernoulli kinds, the multiplier 1 + sqrt(q/p) z for Gaussian noise."""
    if noise.kind == "gaussian":
        return 1.0 + jnp.sqrt(noise_variance(keep)) * raw
    return raw < keep


def realise_all(noise: Noise, raw, keeps, noisy=None) -> list:
    """:func:`realise` for every dropout layer: raw draws (one entry per layer) -> noise values.
    ``noisy``: optional static booleans, one per layer (:meth:`Noise.is_noisy`); a layer marked
    False (keep 1) gets None, no noise, and XLA drops its unused raw draw (for a wide input layer most of the random numbers)."""
    return [realise(noise, r, keeps[layer]) if noisy is None or noisy[layer] else None
            for layer, r in enumerate(raw)]


def noisy_preactivation(kind: str, group_index, a, W, b, value, keep):
    """W~ a~ + b for the layer that reads a dropout layer, under that layer's noise ``value``.

    ``a`` (..., n_in) are the dropout layer's values before noise; ``value`` is :func:`realise`'s
    output with matching leading axes (per group when ``group_index`` maps nodes to groups), or None
    for no noise. The Bernoulli kinds scale kept entries by 1/p.
    """
    if kind == "dropconnect" and value is not None:
        W = W * value / keep                      # (..., n_out, n_in): one mask per weight
        if W.ndim > 2:
            return jnp.einsum("...ji,...i->...j", W, a) + b
    elif value is not None:
        if group_index is not None:
            value = value[..., np.asarray(group_index)]
        a = a * value if kind == "gaussian" else a * value / keep
    # One example (training) as a matrix-vector product: its rounding does not depend on how many
    # runs are vmapped together, so results are bitwise independent of the device split.
    return (W @ a if a.ndim == 1 else a @ W.T) + b


def noisy_hidden(noise: Noise, params, x, values, keeps):
    """The values of the last dropout layer (before its own noise) under the noise values of the
    earlier layers: ``x`` (..., K) -> (..., n_{d-1}); x itself when d = 1."""
    a = x
    for layer, (W, b) in enumerate(params[:-1]):
        a = jnp.maximum(noisy_preactivation(noise.kind, noise.groups[layer], a, W, b,
                                            values[layer], keeps[layer]), 0.0)
    return a


def noisy_outputs(noise: Noise, params, x, values, keeps):
    """D(W, x, R): the network's outputs under noise values R (one entry per dropout layer, None
    where a layer is noiseless), ReLU hidden layers, linear output. ``x`` (..., K) -> (..., C)."""
    d = len(params)
    W, b = params[-1]
    a = noisy_hidden(noise, params, x, values, keeps)
    return noisy_preactivation(noise.kind, noise.groups[-1], a, W, b, values[d - 1], keeps[d - 1])
