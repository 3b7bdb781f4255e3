"""The standard architecture of Section 2: parameters, input checks and the forward pass.

A network with K inputs and d layers (the output layer counts, the inputs do not) is a sequence of
d pairs ``(W, b)``; ``W`` has shape (n_out, n_in), hidden layers apply the ReLU, the output layer is
linear with a single node. d = 1 is a linear model.

Notation map (paper -> code):

=====================================  =============================================================
paper                                  code
=====================================  =============================================================
W1, b1, ..., W_{d-1}, b_{d-1}           ``params[0] ... params[d-2]``, each ``(W, b)``
w, b (output node)                      ``params[-1] = (W, b)``, W of shape (1, n_{d-1}), b of shape (1,)
p (the KEEP probability)                ``keep_prob``
q = 1 - p (the drop probability)        ``1 - keep_prob``
W(x), the output without dropout        ``network_output(params, X)``
P, a distribution over examples         ``X`` (N, K), ``Y`` (N,), ``weights`` (N,) example probabilities
=====================================  =============================================================

The public functions of :mod:`theory` validate their input with :func:`as_params`, :func:`as_data`
and :func:`theory.noise.as_noise`; the computational kernels assume validated float64 arrays and are
pure JAX, so they can be jitted, vmapped and differentiated. Inside ``jax.grad`` or ``jit`` the
values are tracers: their shapes are still checked, their values (finiteness, ranges) cannot be, so a
traced value that would be refused becomes NaN (:func:`theory.noise.nan_unless`), and with it the
result.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from theory.losses import check_loss, check_outputs, pointwise_loss
from theory.noise import is_traced, nan_unless

Params = tuple[tuple[np.ndarray, np.ndarray], ...]


@jax.jit
def _nan_unless_finite(value):
    """``value`` as float64, NaN throughout unless every entry is finite (one program per shape)."""
    value = jnp.asarray(value, jnp.float64)
    return nan_unless(jnp.all(jnp.isfinite(value)), value)


def _finite_float64(value, name: str):
    if is_traced(value):
        return _nan_unless_finite(value)
    if np.iscomplexobj(value):
        raise TypeError(f"{name} must be real: complex values are not supported (the imaginary "
                        "part would be dropped)")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of real numbers ({err})") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def as_params(params: Sequence, loss: str | None = "square") -> Params:
    """Validate a network and return it as a tuple of float64 ``(W, b)`` pairs.

    Accepted conveniences: a 1-D output weight vector (read as shape (1, n)) and a scalar bias
    (broadcast over the layer's outputs). Raises ValueError naming the offending layer when shapes do
    not chain, the output layer's width does not suit ``loss`` (one output; C >= 2 for
    cross-entropy, see :mod:`theory.losses`; None: any width), or a value is NaN or infinite.
    """
    if isinstance(params, (str, bytes)) or not isinstance(params, Sequence) or len(params) == 0:
        raise TypeError("params must be a non-empty sequence of (W, b) pairs, one per layer")
    d = len(params)
    out = []
    n_prev = None
    for layer, pair in enumerate(params):
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"params[{layer}] must be a (W, b) pair")
        W = _finite_float64(pair[0], f"params[{layer}] W")
        b = _finite_float64(pair[1], f"params[{layer}] b")
        if W.ndim == 1 and layer == d - 1:
            W = W[None, :]
        if W.ndim != 2:
            raise ValueError(f"params[{layer}] W must have shape (n_out, n_in), got shape {W.shape}")
        n_out, n_in = W.shape
        if n_out == 0 or n_in == 0:
            raise ValueError(f"params[{layer}] W has an empty dimension: shape {W.shape}")
        if b.ndim == 0:
            b = jnp.broadcast_to(b, (n_out,)) if is_traced(b) else np.full(n_out, float(b))
        if b.shape != (n_out,):
            raise ValueError(
                f"params[{layer}] b must have shape ({n_out},) to match W of shape {W.shape}, "
                f"got shape {b.shape}")
        if n_prev is not None and n_in != n_prev:
            raise ValueError(
                f"params[{layer}] W takes {n_in} inputs but layer {layer - 1} has {n_prev} outputs: "
                "shapes do not chain")
        n_prev = n_out
        out.append((W, b))
    if loss is not None:
        check_outputs(check_loss(loss), n_prev)
    return tuple(out)


def as_inputs(X, num_inputs: int) -> np.ndarray:
    """Validate inputs: a finite float64 array of shape (N, K) with N >= 1 and K = num_inputs."""
    X = _finite_float64(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, K), got shape {X.shape}")
    N, K = X.shape
    if N == 0:
        raise ValueError("X holds no examples")
    if K != num_inputs:
        raise ValueError(f"X has {K} features per example but the network's first layer takes "
                         f"{num_inputs} inputs")
    return X


def as_data(X, Y, weights, num_inputs: int):
    """Validate a finite distribution over examples; return float64 (X, Y, weights).

    ``weights`` are example probabilities: non-negative and summing to 1 (default: uniform).
    """
    X = as_inputs(X, num_inputs)
    Y = _finite_float64(Y, "Y")
    N = X.shape[0]
    if Y.shape != (N,):
        raise ValueError(f"Y must have shape ({N},) to match X of shape {X.shape}, got {Y.shape}")
    return X, Y, as_weights(weights, N)


def as_weights(weights, num_examples: int) -> np.ndarray:
    """Validate example probabilities: non-negative, summing to 1; None means uniform. Traced
    weights that are not probabilities become NaN."""
    if weights is None:
        return np.full(num_examples, 1.0 / num_examples)
    weights = _finite_float64(weights, "weights")
    if weights.shape != (num_examples,):
        raise ValueError(f"weights must have shape ({num_examples},), one probability per "
                         f"example, got shape {weights.shape}")
    if is_traced(weights):
        probabilities = jnp.all(weights >= 0) & (jnp.abs(jnp.sum(weights) - 1.0) <= 1e-9)
        return nan_unless(probabilities, weights)
    if np.any(weights < 0):
        raise ValueError("weights must be non-negative example probabilities")
    if abs(weights.sum() - 1.0) > 1e-9:
        raise ValueError(f"weights must sum to 1 (they are example probabilities), "
                         f"they sum to {weights.sum()!r}")
    return weights


def widths(params) -> tuple[int, ...]:
    """(K, n_1, ..., n_{d-1}): the sizes of the layers that dropout acts on."""
    return (params[0][0].shape[1],) + tuple(W.shape[0] for W, _ in params[:-1])


def run_shapes(params, run_axes: int = 1):
    """One run's parameters as shapes and dtypes only (``jax.ShapeDtypeStruct`` leaves without their
    first ``run_axes`` axes), for what reads only shapes (:func:`widths`, pattern counts): unlike
    indexing the arrays, nothing runs and nothing is compiled."""
    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape[run_axes:], a.dtype),
                                  params)


def _last_hidden(params, X):
    a = X
    for W, b in params[:-1]:
        a = jnp.maximum(a @ W.T + b, 0.0)
    return a


def plain_values(params, X, layer: int):
    """The values of dropout layer ``layer`` without noise (X itself for 0): the ReLU outputs of
    the first ``layer`` layers, in NumPy."""
    a = X
    for W, b in params[:layer]:
        a = np.maximum(a @ W.T + b, 0.0)
    return a


def network_output(params, X):
    """W(x) for every row of X, without dropout: ReLU hidden layers, linear output. Shape (N,)."""
    W, b = params[-1]
    return _last_hidden(params, X) @ W[0] + b[0]


def network_outputs(params, X):
    """Every output node's value without dropout (the logits under cross-entropy): shape (N, C)."""
    W, b = params[-1]
    return _last_hidden(params, X) @ W.T + b


def losses_without_noise(params, X, Y, loss: str):
    """l(W(x), y) per example for a loss of :mod:`theory.losses` (labels already checked); the
    single-output losses read W(x) from :func:`network_output`."""
    outputs = network_outputs(params, X) if loss == "cross_entropy" \
        else network_output(params, X)[:, None]
    return pointwise_loss(loss, outputs, Y)


def random_network(rng, sizes, *, scale=1.0, nonnegative=False, decimals=None):
    """A network with layer sizes ``sizes`` = (K, n_1, ..., n_{d-1}, outputs): every weight and bias
    drawn from N(0, scale^2) by the NumPy Generator ``rng``, layer by layer, W before b; their
    absolute values when ``nonnegative``; rounded to ``decimals`` places when given (a witness one
    can print). The one random-network helper of the studies, the tests and the benchmarks."""
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W, b = scale * rng.normal(size=(n_out, n_in)), scale * rng.normal(size=n_out)
        if decimals is not None:
            W, b = np.round(W, decimals), np.round(b, decimals)
        params.append((np.abs(W), np.abs(b)) if nonnegative else (W, b))
    return tuple(params)


def sum_squared_weights(params) -> float:
    """||W||^2: the sum of the squares of all weights, biases excluded (Section 2)."""
    return sum(jnp.sum(jnp.square(W)) for W, _ in params)

