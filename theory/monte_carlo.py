"""Monte-Carlo estimate of the dropout criterion J_D with its standard error.

For networks beyond the exact evaluator's enumeration limit. Each sample draws an independent
dropout pattern for every example (every input and hidden node kept with probability keep_prob,
kept values scaled by 1/keep_prob) and records sum_x P(x) (D(W, x, R_x) - y)^2, an unbiased
estimate of J_D (Eq. 1). Samples are independent, so the standard error is the sample standard
deviation over sqrt(num_samples).

With ``analytic_last_layer=True`` the last hidden layer's pattern is integrated out exactly
(conditional mean w . h + b, conditional variance (q/p) sum_j w_j^2 h_j^2, as in
:mod:`theory.exact`), a Rao-Blackwellised estimator with smaller variance. The default samples every
node, so it shares no computation with the exact evaluator and can check it independently.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from theory.exact import CHUNK_ELEMENTS
from theory.network import as_data, as_params, check_keep_prob, widths


def _check_key(key):
    if isinstance(key, jax.Array):
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ():
            return key
        if key.dtype == jnp.uint32 and key.shape == (2,):
            return key
    raise TypeError("key must be a single jax.random key, e.g. jax.random.key(0)")


@partial(jax.jit, static_argnames=("chunk", "num_chunks", "analytic_last_layer"))
def _sample_losses(key, params, X, Y, weights, keep_prob, *, chunk, num_chunks,
                   analytic_last_layer):
    d = len(params)
    w_out, b_out = params[-1][0][0], params[-1][1][0]

    def chunk_losses(chunk_key):
        layer_keys = jax.random.split(chunk_key, d)
        a = jnp.broadcast_to(X, (chunk,) + X.shape)
        for layer, (W, b) in enumerate(params[:-1]):
            kept = jax.random.bernoulli(layer_keys[layer], keep_prob, a.shape)
            a = jnp.maximum((a * kept / keep_prob) @ W.T + b, 0.0)
        if analytic_last_layer:
            mean = a @ w_out + b_out
            var = (1.0 - keep_prob) / keep_prob * (jnp.square(a) @ jnp.square(w_out))
            losses = jnp.square(mean - Y) + var
        else:
            kept = jax.random.bernoulli(layer_keys[d - 1], keep_prob, a.shape)
            losses = jnp.square((a * kept / keep_prob) @ w_out + b_out - Y)
        return losses @ weights                                               # (chunk,)

    return jax.lax.map(chunk_losses, jax.random.split(key, num_chunks)).reshape(-1)


def mc_dropout_criterion(key, params, X, Y, *, keep_prob=0.5, num_samples, weights=None,
                         analytic_last_layer=False) -> tuple[float, float]:
    """Monte-Carlo estimate of J_D: returns (mean, standard error) over ``num_samples`` samples.

    ``key`` is a ``jax.random`` key; the same key and arguments give the same numbers.
    """
    key = _check_key(key)
    params = as_params(params)
    X, Y, weights = as_data(X, Y, weights, params[0][0].shape[1])
    keep_prob = check_keep_prob(keep_prob)
    if not isinstance(num_samples, (int, np.integer)) or num_samples < 2:
        raise ValueError(f"num_samples must be an integer >= 2, got {num_samples!r}")
    per_sample = X.shape[0] * max(widths(params))
    chunk = max(1, min(int(num_samples), CHUNK_ELEMENTS // per_sample))
    num_chunks = -(-int(num_samples) // chunk)
    losses = _sample_losses(key, params, X, Y, weights, keep_prob, chunk=chunk,
                            num_chunks=num_chunks, analytic_last_layer=bool(analytic_last_layer))
    losses = np.asarray(losses)[:num_samples]
    return float(losses.mean()), float(losses.std(ddof=1) / np.sqrt(num_samples))
