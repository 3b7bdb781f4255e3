"""SGD training of standard-architecture networks: dropout, weight decay, or neither.

One step of SGD on one run (batch size 1, as in the paper's Torch experiment, Section 6 / C16):

1. draw an example index i uniformly from the training set (with replacement);
2. draw a fresh dropout pattern: every input and hidden node kept with probability ``keep_prob``,
   kept values scaled by 1/keep_prob (inverted dropout, the convention of :mod:`theory`);
   keep_prob = 1 means no dropout;
3. g = gradient of the square loss (D(W, x_i, R) - y_i)^2 (no 1/2), plus lam * W for weight decay
   (the gradient of (lam/2) ||W||^2); biases are decayed too when ``decay_biases`` = 1, as Torch's
   ``optim.sgd`` does (it decays every parameter);
4. heavy-ball momentum with dampening, v <- momentum v + (1 - dampening) g, and W <- W - lr_t v with
   lr_t = lr / (1 + lr_decay t). Torch7's ``optim.sgd`` sets dampening = momentum by default;
   PyTorch's ``torch.optim.SGD`` uses dampening = 0. (optax: scale, trace, scale_by_schedule.)
5. optionally project the weights (not the biases) onto W >= 0.

Everything runs inside one ``jit``: ``lax.scan`` over steps, ``vmap`` over runs (seeds, input scales
and regimes are all just runs with their own data and hyperparameters), the run axis sharded over
the local devices. Keys are derived with ``fold_in`` from one key per run, so a run's numbers do
not depend on which other runs share the batch; the example indices and dropout patterns of each
window of ``log_every`` steps are drawn in one batch (3x faster than drawing per step).
Parameters are checkpointed every ``log_every`` steps, with the mean minibatch loss (dropout
active) over each window, so training can be judged afterwards with the exact evaluator.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax


class Regime(NamedTuple):
    """Per-run training hyperparameters (scalars, or arrays with a leading run axis)."""

    keep_prob: float = 1.0       # dropout keep probability (the paper's p); 1 = no dropout
    lam: float = 0.0             # weight decay: lam * W is added to the gradient
    decay_biases: float = 0.0    # 1 = weight decay also on biases (Torch), 0 = weights only
    nonnegative: float = 0.0     # 1 = project weights onto >= 0 after every step
    dampening: float = 0.5       # momentum dampening: Torch7 optim.sgd's default (= momentum);
                                 # PyTorch's torch.optim.SGD uses 0


def stack_runs(trees):
    """Stack per-run pytrees (parameters, Regimes) along a new leading run axis, for :func:`train`."""
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack([jnp.asarray(leaf) for leaf in leaves]),
                                  *trees)


class Schedule(NamedTuple):
    """Optimiser settings shared by all runs of one call (static)."""

    steps: int = 100_000
    lr: float = 0.01
    lr_decay: float = 1e-5       # lr_t = lr / (1 + lr_decay * t), Torch's learningRateDecay
    momentum: float = 0.5
    log_every: int = 1000


class Trajectory(NamedTuple):
    """Checkpoints of one or many runs: params after steps log_every, 2 log_every, ..., steps."""

    params: tuple                # each leaf has a checkpoint axis after any run axis
    sgd_loss: jax.Array          # mean minibatch loss (with dropout, without penalty) per window


def optimizer(schedule: Schedule, dampening) -> optax.GradientTransformation:
    """SGD with dampened heavy-ball momentum and Torch's 1/(1 + decay t) learning-rate schedule."""
    return optax.chain(
        optax.scale(1.0 - dampening),
        optax.trace(decay=schedule.momentum),
        optax.scale_by_schedule(lambda t: -schedule.lr / (1.0 + schedule.lr_decay * t)),
    )


def dropout_output(params, x, kept, keep_prob):
    """D(W, x, R) for one input x and keep masks ``kept`` (one boolean vector per dropout layer)."""
    a = x * kept[0] / keep_prob
    for layer, (W, b) in enumerate(params[:-1]):
        a = jnp.maximum(W @ a + b, 0.0) * kept[layer + 1] / keep_prob
    w, b = params[-1]
    return w[0] @ a + b[0]


def _sgd_step(schedule, regime, X, Y, carry, draws):
    params, opt_state = carry
    i, kept = draws

    def loss(p):
        return jnp.square(dropout_output(p, X[i], kept, regime.keep_prob) - Y[i])

    value, grads = jax.value_and_grad(loss)(params)
    grads = tuple((gW + regime.lam * W, gb + regime.lam * regime.decay_biases * b)
                  for (gW, gb), (W, b) in zip(grads, params))
    updates, opt_state = optimizer(schedule, regime.dampening).update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    params = tuple((jnp.where(regime.nonnegative > 0, jnp.maximum(W, 0.0), W), b)
                   for W, b in params)
    return (params, opt_state), value


def _window_draws(key, params, regime, num_examples, steps):
    """The example indices and dropout patterns of ``steps`` consecutive SGD steps, drawn at once."""
    index_key, mask_key = jax.random.split(key)
    sizes = [params[0][0].shape[1]] + [W.shape[0] for W, _ in params[:-1]]
    kept = [jax.random.bernoulli(k, regime.keep_prob, (steps, n))
            for k, n in zip(jax.random.split(mask_key, len(sizes)), sizes)]
    return jax.random.randint(index_key, (steps,), 0, num_examples), kept


def train_one(key, params, X, Y, regime: Regime, schedule: Schedule) -> Trajectory:
    """Train one network; see :func:`train` for the batched, jitted entry point."""
    if schedule.steps % schedule.log_every:
        raise ValueError("schedule.steps must be a multiple of schedule.log_every")
    step = partial(_sgd_step, schedule, regime, X, Y)

    def window(carry, window_index):
        draws = _window_draws(jax.random.fold_in(key, window_index), carry[0], regime,
                              X.shape[0], schedule.log_every)
        carry, losses = jax.lax.scan(step, carry, draws)
        return carry, (carry[0], jnp.mean(losses))

    carry = (params, optimizer(schedule, regime.dampening).init(params))
    _, (checkpoints, losses) = jax.lax.scan(window, carry,
                                            jnp.arange(schedule.steps // schedule.log_every))
    return Trajectory(checkpoints, losses)


def _train_batch(keys, params, X, Y, regime, schedule):
    return jax.vmap(train_one, in_axes=(0, 0, 0, 0, 0, None))(keys, params, X, Y, regime, schedule)


_train_single = jax.jit(_train_batch, static_argnames=("schedule",))


def train(keys, params, X, Y, regime: Regime, schedule: Schedule) -> Trajectory:
    """Train many runs at once: every argument but ``schedule`` has a leading run axis.

    keys (R,) PRNG keys; params a tuple of (W, b) with shapes (R, n_out, n_in), (R, n_out);
    X (R, N, K); Y (R, N); regime fields (R,). Returns a Trajectory with leaves (R, C, ...),
    C = steps / log_every checkpoints.

    The run axis is split into one contiguous block per local device and every block is trained,
    concurrently, by the same single-device program, so the call uses all GPUs or TPU cores of a
    host, or all CPU cores when XLA is told to expose them as devices:
    XLA_FLAGS=--xla_force_host_platform_device_count=N (the Makefile sets N to the number of
    cores). Runs are independent and a run's numbers do not depend on its batch, so the results
    are bitwise those of one device (tests/test_sharding.py). We do not use a mesh-sharded jit
    (NamedSharding or shard_map) here: its SPMD-partitioned program rounds differently in the last
    bit, which SGD amplifies over 100000 steps.
    """
    args = (keys, params, X, Y, regime)
    devices = jax.local_devices()
    if len(devices) == 1:
        return _train_single(*args, schedule)
    runs = keys.shape[0]
    bounds = np.linspace(0, runs, len(devices) + 1).astype(int)
    blocks = [jax.device_put(jax.tree_util.tree_map(lambda a: a[lo:hi], args), device)
              for lo, hi, device in zip(bounds[:-1], bounds[1:], devices) if hi > lo]
    outs = [_train_single(*block, schedule) for block in blocks]   # dispatched asynchronously
    return jax.tree_util.tree_map(lambda *parts: jnp.concatenate(
        [jax.device_put(part, devices[0]) for part in parts]), *outs)
