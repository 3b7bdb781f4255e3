"""SGD training of standard-architecture networks: dropout, weight decay, or neither.

One step of SGD on one run (batch size 1, as in the paper's Torch experiment, Section 6 / C16):

1. draw an example index i uniformly from the training set (with replacement);
2. draw fresh noise of the run's dropout variant (:mod:`theory.noise`, the one definition the exact
   evaluator and Monte Carlo share): by default every input and hidden node kept with probability
   ``keep_prob`` and kept values scaled by 1/keep_prob (inverted dropout); ``keep_prob`` may also
   give one keep probability per dropout layer (inputs, hidden 1..d-1; 1 = that layer not dropped,
   so (1, p) is PyTorch's placement), ``noise`` selects DropConnect or Gaussian noise and ``groups``
   drops nodes together; ``keep_by_step`` makes the keep probability a schedule over steps
   (curriculum or early dropout); keep_prob = 1 everywhere means no dropout;
3. g = gradient of the square loss (D(W, x_i, R) - y_i)^2 (no 1/2), plus lam * W for weight decay
   (the gradient of (lam/2) ||W||^2); biases are decayed too when ``decay_biases`` = 1, as Torch's
   ``optim.sgd`` does (it decays every parameter);
4. heavy-ball momentum with dampening, v <- momentum v + (1 - dampening) g, and W <- W - lr_t v with
   lr_t = lr / (1 + lr_decay t). Torch7's ``optim.sgd`` sets dampening = momentum by default;
   PyTorch's ``torch.optim.SGD`` uses dampening = 0. (optax: scale, trace, scale_by_schedule.)
5. optionally project the weights (not the biases) onto W >= 0, and optionally hold the biases at 0.

Everything runs inside one ``jit``: ``lax.scan`` over steps, ``vmap`` over runs (seeds, input scales
and regimes are all just runs with their own data and hyperparameters), the run axis sharded over
the local devices. Keys are derived with ``fold_in`` from one key per run, so a run's numbers do
not depend on which other runs share the batch; the example indices and dropout patterns of each
window of ``log_every`` steps are drawn in one batch (3x faster than drawing per step), as raw
uniforms or normals that each step turns into noise at its own keep probability.
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

from theory.network import widths
from theory.noise import Noise, as_noise, draw_raw, noisy_output, realise_all


class Regime(NamedTuple):
    """Per-run training hyperparameters (scalars, or arrays with a leading run axis)."""

    keep_prob: float = 1.0       # dropout keep probability (the paper's p); 1 = no dropout;
                                 # or one per dropout layer (inputs, hidden 1..d-1)
    lam: float = 0.0             # weight decay: lam * W is added to the gradient
    decay_biases: float = 0.0    # 1 = weight decay also on biases (Torch), 0 = weights only
    nonnegative: float = 0.0     # 1 = project weights onto >= 0 after every step
    zero_biases: float = 0.0     # 1 = hold every bias at 0 (set to 0 after every step), as in
                                 # Theorem 18's network
    dampening: float = 0.5       # momentum dampening: Torch7 optim.sgd's default (= momentum);
                                 # PyTorch's torch.optim.SGD uses 0
    keep_by_step: jax.Array | None = None   # keep probability at every step, shape (steps,) or
                                            # (steps, d); overrides keep_prob (see keep_schedule)


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


def keep_schedule(keep, steps: int) -> jax.Array:
    """A keep-probability schedule for :class:`Regime`'s ``keep_by_step``: ``keep`` is a function of
    the step t = 0..steps-1 (vectorised over a JAX array of steps; it may return one value or one
    per dropout layer) or an array of ``steps`` values (or rows). Values must lie in (0, 1]."""
    values = jnp.asarray(keep(jnp.arange(steps)) if callable(keep) else keep, jnp.float64)
    if values.ndim not in (1, 2) or values.shape[0] != steps:
        raise ValueError(f"keep schedule must give {steps} values (one per step), or {steps} rows "
                         f"of one value per dropout layer; got shape {values.shape}")
    if not bool(jnp.all((values > 0) & (values <= 1))):
        raise ValueError("keep schedule values must lie in (0, 1]: they are KEEP probabilities")
    return values


def step_keep(regime: Regime, step, depth: int):
    """The keep probability of every dropout layer at ``step``: shape (d,)."""
    keep = regime.keep_prob if regime.keep_by_step is None else regime.keep_by_step[step]
    return jnp.broadcast_to(keep, (depth,))


def noisy_loss(noise: Noise, params, x, y, raw, keep):
    """(D(W, x, R) - y)^2 for one example under the noise that raw draws give at keep ``keep``."""
    return jnp.square(noisy_output(noise, params, x, realise_all(noise, raw, keep), keep) - y)


def _sgd_step(schedule, noise, regime, X, Y, carry, draws):
    params, opt_state = carry
    i, raw, step = draws
    keep = step_keep(regime, step, len(params))

    def loss(p):
        return noisy_loss(noise, p, X[i], Y[i], raw, keep)

    value, grads = jax.value_and_grad(loss)(params)
    grads = tuple((gW + regime.lam * W, gb + regime.lam * regime.decay_biases * b)
                  for (gW, gb), (W, b) in zip(grads, params))
    updates, opt_state = optimizer(schedule, regime.dampening).update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    params = tuple((jnp.where(regime.nonnegative > 0, jnp.maximum(W, 0.0), W),
                    jnp.where(regime.zero_biases > 0, 0.0, b)) for W, b in params)
    return (params, opt_state), value


def _window_draws(key, noise, params, num_examples, steps):
    """The example indices and raw noise draws of ``steps`` consecutive SGD steps, drawn at once."""
    index_key, mask_key = jax.random.split(key)
    return (jax.random.randint(index_key, (steps,), 0, num_examples),
            draw_raw(mask_key, noise, params, (steps,)))


def train_one(key, params, X, Y, regime: Regime, schedule: Schedule,
              noise: Noise) -> Trajectory:
    """Train one network; see :func:`train` for the batched, jitted entry point."""
    if schedule.steps % schedule.log_every:
        raise ValueError("schedule.steps must be a multiple of schedule.log_every")
    step = partial(_sgd_step, schedule, noise, regime, X, Y)

    def window(carry, window_index):
        index, raw = _window_draws(jax.random.fold_in(key, window_index), noise, carry[0],
                                   X.shape[0], schedule.log_every)
        steps = window_index * schedule.log_every + jnp.arange(schedule.log_every)
        carry, losses = jax.lax.scan(step, carry, (index, raw, steps))
        return carry, (carry[0], jnp.mean(losses))

    carry = (params, optimizer(schedule, regime.dampening).init(params))
    _, (checkpoints, losses) = jax.lax.scan(window, carry,
                                            jnp.arange(schedule.steps // schedule.log_every))
    return Trajectory(checkpoints, losses)


def run_noise(params, noise: str = "dropout", groups=None) -> Noise:
    """The static part of a dropout variant for runs with parameters ``params`` (leading run axis):
    the kind and the groups; the keep probabilities come from each run's :class:`Regime`."""
    sizes = widths(jax.tree_util.tree_map(lambda a: a[0], params))
    return as_noise(sizes, 1.0, noise, groups)._replace(keep=None)


def _train_batch(keys, params, X, Y, regime, schedule, noise):
    one = partial(train_one, schedule=schedule, noise=noise)
    return jax.vmap(one)(keys, params, X, Y, regime)


_train_single = jax.jit(_train_batch, static_argnames=("schedule", "noise"))


def train(keys, params, X, Y, regime: Regime, schedule: Schedule, *, noise: str = "dropout",
          groups=None) -> Trajectory:
    """Train many runs at once: every argument but ``schedule`` has a leading run axis.

    keys (R,) PRNG keys; params a tuple of (W, b) with shapes (R, n_out, n_in), (R, n_out);
    X (R, N, K); Y (R, N); regime fields (R,), or (R, d) for per-layer keep probabilities and
    (R, steps) or (R, steps, d) for ``keep_by_step``. ``noise`` ("dropout", "dropconnect",
    "gaussian") and ``groups`` (see :func:`theory.dropout_criterion`) are shared by all runs.
    Returns a Trajectory with leaves (R, C, ...), C = steps / log_every checkpoints.

    The run axis is split into one contiguous block per local device and every block is trained,
    concurrently, by the same single-device program, so the call uses all GPUs or TPU cores of a
    host, or all CPU cores when XLA is told to expose them as devices:
    XLA_FLAGS=--xla_force_host_platform_device_count=N (the Makefile sets N to the number of
    cores). Runs are independent and a run's numbers do not depend on its batch, so the results
    are bitwise those of one device (tests/test_sharding.py). We do not use a mesh-sharded jit
    (NamedSharding or shard_map) here: its SPMD-partitioned program rounds differently in the last
    bit, which SGD amplifies over 100000 steps.
    """
    spec = run_noise(params, noise, groups)
    args = (keys, params, X, Y, regime)
    devices = jax.local_devices()
    if len(devices) == 1:
        return _train_single(*args, schedule, spec)
    runs = keys.shape[0]
    bounds = np.linspace(0, runs, len(devices) + 1).astype(int)
    blocks = [jax.device_put(jax.tree_util.tree_map(lambda a: a[lo:hi], args), device)
              for lo, hi, device in zip(bounds[:-1], bounds[1:], devices) if hi > lo]
    outs = [_train_single(*block, schedule, spec) for block in blocks]   # dispatched asynchronously
    return jax.tree_util.tree_map(lambda *parts: jnp.concatenate(
        [jax.device_put(part, devices[0]) for part in parts]), *outs)
