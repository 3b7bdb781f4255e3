"""Monte-Carlo estimate of the dropout criterion J_D with its standard error, for every variant.

For networks or variants beyond the exact evaluator (too many patterns, Gaussian noise below the
last two dropout layers). Each sample draws an independent noise realisation for every example (as
defined once in :mod:`theory.noise`: per-layer keep probabilities, dropout, DropConnect, Gaussian,
groups) and records sum_x P(x) (D(W, x, R_x) - y)^2, an unbiased estimate of J_D (Eq. 1). Samples are
independent, so the standard error is the sample standard deviation over sqrt(num_samples).
Under ``loss="logistic"`` or ``"cross_entropy"`` (:mod:`theory.losses`) each sample records the
loss l(D(W, x, R_x), y) in place of the square.

With ``analytic_last_layer=True`` the noise of the last dropout layer (the one the output node reads)
is integrated out exactly (conditional mean w . h + b, conditional variance s sum_g (sum_{j in g}
w_j h_j)^2 with s = q/p, as in :mod:`theory.exact`, the same for every kind), a Rao-Blackwellised
estimator with smaller variance (square loss only: the others need more than two moments). The
default samples every node, so it shares no computation with
the exact evaluator beyond the noise definition and can check it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from theory.compile_options import long_running_jit
from theory.exact import CHUNK_ELEMENTS, output_layer_moments
from theory.losses import check_labels, check_loss, pointwise_loss
from theory.network import as_data, as_params, widths
from theory.noise import (Noise, as_noise, draw_raw, is_traced, noisy_hidden, noisy_outputs,
                          realise_all)
from theory.overflow import refuse_overflow


MAX_SAMPLES = 2 ** 27
"""The most samples one call draws: their losses, 8 bytes each, take 1 GiB."""


def _check_key(key):
    if isinstance(key, jax.Array):
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ():
            return key
        if key.dtype == jnp.uint32 and key.shape == (2,):
            return key
    raise TypeError("key must be a single jax.random key, e.g. jax.random.key(0)")


@long_running_jit(static_argnames=("noise", "noisy", "chunk", "num_chunks", "analytic_last_layer",
                                   "loss"))
def _sample_losses(key, params, X, Y, weights, keep, *, noise: Noise, noisy, chunk, num_chunks,
                   analytic_last_layer, loss):
    d = len(params)

    def chunk_losses(chunk_key):
        raw = draw_raw(chunk_key, noise, params, (chunk, X.shape[0]))
        values = realise_all(noise, raw, keep, noisy)
        if analytic_last_layer:
            h = noisy_hidden(noise, params, X, values, keep)
            mean, var = output_layer_moments(params, h, keep[d - 1], noise.groups[d - 1])
            losses = jnp.broadcast_to(jnp.square(mean - Y) + var, (chunk,) + Y.shape)
        else:
            losses = pointwise_loss(loss, noisy_outputs(noise, params, X, values, keep), Y)
        return losses @ weights                                               # (chunk,)

    return jax.lax.map(chunk_losses, jax.random.split(key, num_chunks)).reshape(-1)


def mc_dropout_criterion(key, params, X, Y, *, keep_prob=0.5, noise="dropout", groups=None,
                         num_samples, weights=None, analytic_last_layer=False,
                         loss="square") -> tuple[float, float]:
    """Monte-Carlo estimate of J_D: returns (mean, standard error) over ``num_samples`` samples.

    ``key`` is a ``jax.random`` key; the same key and arguments give the same numbers.
    ``keep_prob``, ``noise``, ``groups`` and ``loss`` describe the dropout variant and the loss
    exactly as for :func:`theory.dropout_criterion` (one keep probability or one per dropout layer;
    "dropout", "dropconnect" or "gaussian"; optional groups of nodes dropped together; "square",
    "logistic" or "cross_entropy").

    The samples' losses are kept in memory (8 bytes each), so ``num_samples`` is at most
    :data:`MAX_SAMPLES` = 2^27 per call (1 GiB); average calls with other keys for more. Not
    differentiable, and not for use under jax.jit, jax.vmap or jax.grad (it returns Python floats):
    the exact criteria are (theory.dropout_criterion).
    """
    if any(is_traced(a) for a in jax.tree_util.tree_leaves((params, X, Y, keep_prob, weights))):
        raise TypeError("mc_dropout_criterion cannot run under jax.jit, jax.vmap or jax.grad (it "
                        "returns Python floats and is not differentiable); call it on concrete "
                        "values, or differentiate the exact theory.dropout_criterion")
    key = _check_key(key)
    params = as_params(params, check_loss(loss))
    X, Y, weights = as_data(X, Y, weights, params[0][0].shape[1])
    Y = check_labels(loss, Y, params[-1][0].shape[0])
    if analytic_last_layer and loss != "square":
        raise ValueError(f"analytic_last_layer=True integrates the last layer's noise through the "
                         f"output's mean and variance, which determine the square loss only; "
                         f"loss={loss!r} takes analytic_last_layer=False")
    spec = as_noise(widths(params), keep_prob, noise, groups)
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) \
            or not 2 <= num_samples <= MAX_SAMPLES:
        limit = f"2^{MAX_SAMPLES.bit_length() - 1} = {MAX_SAMPLES:,}"
        raise ValueError(f"num_samples must be an integer from 2 to {limit} (each sample's loss "
                         f"is kept in memory; average several calls with other keys for more), "
                         f"got {num_samples!r}")
    per_sample = X.shape[0] * max(max(widths(params)), params[-1][0].shape[0],
                                  max(np.size(W) for W, _ in params) if noise == "dropconnect"
                                  else 1)
    chunk = max(1, min(int(num_samples), CHUNK_ELEMENTS // per_sample))
    num_chunks = -(-int(num_samples) // chunk)
    keep = spec.keep_array()
    losses = _sample_losses(key, params, X, Y, weights, keep, noise=spec._replace(keep=None),
                            noisy=tuple(map(spec.is_noisy, range(spec.depth))),
                            chunk=chunk, num_chunks=num_chunks,
                            analytic_last_layer=bool(analytic_last_layer), loss=loss)
    losses = np.asarray(losses)[:num_samples]
    with np.errstate(over="ignore", invalid="ignore"):
        estimate = (float(losses.mean()), float(losses.std(ddof=1) / np.sqrt(num_samples)))
    refuse_overflow(np.asarray(estimate), "theory.mc_dropout_criterion", params, X, spec.keep,
                    spec.kind, Y if loss == "square" else None)
    return estimate
