"""Minibatch SGD for many small CNNs at once (:mod:`sgd.cnn`): one jitted program, tiles of runs
vmapped.

Why a trainer of its own and not the engine of :mod:`sgd.training`: that engine trains fully connected
networks on one example per step, its matrices unrolled and its masks drawn by its own kernel; these
networks must learn convolution weights (shared across positions, not an unrolled matrix) and their
BatchNorm in training mode needs minibatches. So this trainer runs PyTorch's recipe: every epoch a
fresh permutation of the training examples in minibatches of ``batch`` (the last, incomplete one
dropped), the cross-entropy's mean over the minibatch, dropout masks and BatchNorm statistics per
minibatch, and SGD with momentum in PyTorch's form (v <- momentum v + g; w <- w - lr v). A run's
numbers depend on its key alone: the permutations and masks come from ``jax.random`` streams folded
from it by epoch and step.

Training is in float32, as a practitioner's CNN is;
:func:`sgd.cnn.dense_network` hands the results to the exact engine in float64.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from sgd.cnn import Architecture, forward
from theory.compile_options import long_running_jit


class MinibatchSchedule(NamedTuple):
    epochs: int = 30
    batch: int = 32
    learning_rate: float = 0.05
    momentum: float = 0.9


def cross_entropy(logits, labels):
    """Mean cross-entropy of integer ``labels`` under ``logits`` (B, C)."""
    log_p = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=1))


def _train_one(arch: Architecture, schedule: MinibatchSchedule, key, params, state, X, labels):
    steps = X.shape[0] // schedule.batch

    def loss(p, s, xb, yb, k):
        logits, new_state = forward(arch, p, s, xb, k, train=True)
        return cross_entropy(logits, yb), new_state

    def step(carry, i):
        p, s, v, mask_key, order = carry
        rows = jax.lax.dynamic_slice_in_dim(order, i * schedule.batch, schedule.batch)
        (_, s), g = jax.value_and_grad(loss, has_aux=True)(p, s, X[rows], labels[rows],
                                                           jax.random.fold_in(mask_key, i))
        v = jax.tree_util.tree_map(lambda v_, g_: schedule.momentum * v_ + g_, v, g)
        p = jax.tree_util.tree_map(lambda p_, v_: p_ - schedule.learning_rate * v_, p, v)
        return (p, s, v, mask_key, order), None

    def epoch(carry, e):
        p, s, v = carry
        order_key, mask_key = jax.random.split(jax.random.fold_in(key, e))
        order = jax.random.permutation(order_key, X.shape[0])
        (p, s, v, _, _), _ = jax.lax.scan(step, (p, s, v, mask_key, order), jnp.arange(steps))
        return (p, s, v), None

    velocity = jax.tree_util.tree_map(jnp.zeros_like, params)
    (params, state, _), _ = jax.lax.scan(epoch, (params, state, velocity),
                                         jnp.arange(schedule.epochs))
    return params, state


TILE = 8
"""Runs trained together in one vectorised program (``jax.vmap``); the runs are padded to whole
tiles and the tiles trained one after another (``jax.lax.map``). The tile is fixed, not sized to the
call, so every run goes through the same vectorised tile body whatever the number of runs: XLA:CPU
picks its convolution and matrix kernels by shape, and a run vmapped alone and the same run vmapped
beside another round differently in float32 on AVX-512 cores (tests/test_cnn.py)."""


@long_running_jit(static_argnums=(0, 1))
def _train_runs(arch, schedule, keys, params, state, X, labels):
    runs = keys.shape[0]
    tiles = -(-runs // TILE)

    def tiled(a):            # (runs, ...) -> (tiles, TILE, ...), the padding repeating run 0
        a = jnp.concatenate([a, jnp.repeat(a[:1], tiles * TILE - runs, axis=0)])
        return a.reshape((tiles, TILE) + a.shape[1:])

    trained = jax.lax.map(
        lambda tile: jax.vmap(lambda *a: _train_one(arch, schedule, *a))(*tile),
        jax.tree_util.tree_map(tiled, (keys, params, state, X, labels)))
    return jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:])[:runs], trained)


def train_cnns(arch: Architecture, schedule: MinibatchSchedule, keys, params, state, X, Y):
    """Trained (params, state) of R runs: ``keys`` (R,) jax.random keys, ``params`` and ``state``
    stacked over runs (leading axis R), ``X`` (R, N, 64) float32 images, ``Y`` (R, N) class labels."""
    arch = arch.check()
    X = jnp.asarray(X, jnp.float32)
    labels = jnp.asarray(Y).astype(jnp.int32)
    if X.ndim != 3 or labels.shape != X.shape[:2]:
        raise ValueError(f"X must be (runs, N, 64) and Y (runs, N), got {X.shape} and {labels.shape}")
    if X.shape[1] < schedule.batch:
        raise ValueError(f"schedule.batch ({schedule.batch}) exceeds the {X.shape[1]} examples")
    return _train_runs(arch, schedule, keys, params, state, X, labels)
