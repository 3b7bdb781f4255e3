"""Judging trained networks with the exact evaluator of theory/, many runs at once.

Trained parameters come with a leading run axis (and possibly a checkpoint axis); the exact
per-example moments of :func:`theory.exact.delta_moments` are vmapped over those axes, so every
criterion below is exact (no sampling), with uniform example weights.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from theory.exact import delta_moments, penalty_from_moments


def _criteria(params, X, Y, keep_prob):
    keep_probs = jnp.full(len(params), keep_prob)
    f, e1, e2 = delta_moments(params, X, keep_probs)
    risk = jnp.mean(jnp.square(f - Y))
    return risk, risk + jnp.mean(penalty_from_moments(f, e1, e2, Y))


@jax.jit
def exact_risk_and_dropout_criterion(params, X, Y, keep_prob):
    """R and J_D of each run: params leaves (R, ...), X (R, N, K), Y (R, N), keep_prob scalar."""
    return jax.vmap(_criteria, in_axes=(0, 0, 0, None))(params, X, Y, keep_prob)


@jax.jit
def exact_along_training(checkpoints, X, Y, keep_prob):
    """R and J_D at every checkpoint of every run: checkpoint leaves (R, C, ...)."""
    per_run = jax.vmap(_criteria, in_axes=(0, None, None, None))
    return jax.vmap(per_run, in_axes=(0, 0, 0, None))(checkpoints, X, Y, keep_prob)

