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
3. g = gradient of the square loss (D(W, x_i, R) - y_i)^2 (no 1/2; or ``loss="logistic"`` or
   ``"cross_entropy"`` with class labels, :mod:`theory.losses`), plus lam * W for weight decay
   (the gradient of (lam/2) ||W||^2); biases are decayed too when ``decay_biases`` = 1, as Torch's
   ``optim.sgd`` does (it decays every parameter);
4. heavy-ball momentum with dampening, v <- momentum v + (1 - dampening) g, and W <- W - lr_t v with
   lr_t = lr_scale lr / (1 + lr_decay t) (``lr_scale`` per run, default 1). Torch7's ``optim.sgd``
   sets dampening = momentum by default; PyTorch's ``torch.optim.SGD`` uses dampening = 0 (optax:
   scale, trace, scale_by_schedule);
5. optionally project the weights (not the biases) onto W >= 0, and optionally hold the biases at 0.

The training runs inside one ``jit`` per device: seeds, input scales and regimes are all just runs
with their own data and hyperparameters. The runs are cut into tiles of ``LANES`` runs laid out one
run per vector lane, on the host before the program starts (:mod:`sgd.kernel`: the gradient written
out by hand, every step a few fused loops over the lanes, in cache), and each tile is trained by
``lax.scan`` over steps; the random numbers of a chunk of steps are drawn at once from each run's
own counter-based stream, so a run's numbers do not depend on which other runs share its tile,
device or call. The run axis is split over the local devices. Parameters are checkpointed every
``log_every`` steps, with the mean minibatch loss (dropout active) over each window, so training
can be judged afterwards with the exact evaluator.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sgd import distributed, kernel
from theory.compile_options import RANDOM_HEAVY, long_running_jit
from theory.network import run_shapes, widths
from theory.losses import check_loss, pointwise_loss
from theory.noise import Noise, as_noise, is_traced, noisy_outputs, realise_all

_STREAM = 0x5D6   # folded into each run's key to give its training stream
SPLIT_ABOVE = 50_000_000
"""Model-steps (runs x steps) of one call above which its runs are split over the local devices.
Each device compiles its own program (seconds each); below this the call is cheaper on one device.
Results are the same bits either way."""


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
    lr_scale: float = 1.0        # this run's learning rate is lr_scale times the schedule's
    keep_by_step: jax.Array | None = None   # keep probability at every step, shape (steps,) or
                                            # (steps, d); overrides keep_prob (see keep_schedule)


def stack_runs(trees):
    """Stack per-run pytrees (parameters, Regimes) along a new leading run axis, for :func:`train`.
    Concrete leaves are stacked by NumPy (the same values; JAX's ``stack`` would compile a program
    for every new number and shape of leaves), traced ones by JAX."""
    def stack(*leaves):
        if any(is_traced(leaf) for leaf in leaves):
            return jnp.stack([jnp.asarray(leaf) for leaf in leaves])
        return jnp.asarray(np.stack([np.asarray(leaf) for leaf in leaves]))

    return jax.tree_util.tree_map(stack, *trees)


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


def final_checkpoint(checkpoints):
    """The parameters at the last checkpoint of every run: leaves (R, C, ...) become (R, ...).
    Concrete leaves are sliced by NumPy (JAX would compile a program for every new leaf shape)."""
    return jax.tree_util.tree_map(
        lambda leaf: leaf[:, -1] if is_traced(leaf) else jnp.asarray(np.asarray(leaf)[:, -1]),
        checkpoints)


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


def noisy_loss(noise: Noise, params, x, y, raw, keep, loss: str = "square"):
    """l(D(W, x, R), y) for one example under the noise that raw draws give at keep ``keep``
    (l the square loss by default): the loss each SGD step differentiates, through
    :mod:`theory.noise`'s and :mod:`theory.losses`' definitions (the engine's hand-written
    gradient, :mod:`sgd.kernel`, is tested against its ``jax.grad``)."""
    outputs = noisy_outputs(noise, params, x, realise_all(noise, raw, keep), keep)
    return pointwise_loss(loss, outputs, y)


def run_noise(params, noise: str = "dropout", groups=None) -> Noise:
    """The static part of a dropout variant for runs with parameters ``params`` (leading run axis):
    the kind and the groups; the keep probabilities come from each run's :class:`Regime`."""
    sizes = widths(run_shapes(params))
    return as_noise(sizes, 1.0, noise, groups)._replace(keep=None)


def random_fields(regime: Regime, runs: int, depth: int, kind: str):
    """How each run draws its Bernoulli masks (:mod:`sgd.kernel`): the width in bits of every
    run's draws in every dropout layer, (runs, d) from its own keep probabilities (the widest any
    step needs: :func:`sgd.kernel.field_bits`; 32 for Gaussian noise), and, static, for every
    layer the widths its runs use (empty: no run has noise there, and the layer draws nothing).
    A run at keep 1 in a noisy layer takes that layer's first width (it keeps every node at any)."""
    keep = regime.keep_prob if regime.keep_by_step is None else regime.keep_by_step
    if is_traced(keep):
        raise ValueError("train needs concrete keep probabilities (each run's random layout "
                         "depends on them): call it outside jax.jit / jax.vmap")
    keep = np.asarray(keep, np.float64)
    by_step = regime.keep_by_step is not None
    per_layer = depth > 1 and keep.ndim == (3 if by_step else 2)
    lead = keep.shape[:1] if keep.ndim else (1,)
    keep = keep.reshape(lead + ((-1, depth if per_layer else 1) if by_step else (1, -1)))
    keep = np.broadcast_to(keep, (runs, keep.shape[1], depth))            # (runs, steps or 1, d)
    bits = kernel.field_bits(keep).max(axis=1)
    if kind == "gaussian":
        bits = np.where(bits > 0, kernel.WORD_BITS, 0)
    fields = tuple(tuple(sorted(set(bits[:, layer][bits[:, layer] > 0].tolist())))
                   for layer in range(depth))
    first = np.array([f[0] if f else 0 for f in fields])
    return fields, np.where(bits > 0, bits, first[None]).astype(np.int32)


def _lanes_last(tree, runs: int):
    """Pad the run axis to whole tiles of kernel.LANES runs (repeating run 0) and lay each leaf out
    as (tiles, ..., LANES): NumPy arrays (moving data on the host compiles nothing)."""
    width = kernel.LANES
    tiles = -(-runs // width)

    def move(a):
        a = np.asarray(a)
        a = np.concatenate([a, np.repeat(a[:1], tiles * width - runs, axis=0)])
        return np.moveaxis(a.reshape((tiles, width) + a.shape[1:]), 1, -1)

    return jax.tree_util.tree_map(move, tree)


@partial(jax.jit, static_argnums=(1,))
def _runs_first(tree, runs: int):
    """Inverse of :func:`_lanes_last` for outputs (tiles, C, ..., T) -> (runs, C, ...), on the
    outputs' device: a program of its own, quick to compile at any level (transposes), and faster
    than NumPy on large outputs (150 models x 1,000 checkpoints: 1.8 s against 2.1 s a call of
    the Figure 2 protocol's 150 million model-steps)."""
    def move(a):
        a = jnp.moveaxis(a, -1, 1)
        return a.reshape((-1,) + a.shape[2:])[:runs]

    return jax.tree_util.tree_map(move, tree)


def _tile_regime(regime: Regime, depth: int) -> Regime:
    """A tile's hyperparameters: keep_prob as (d, T), keep_by_step as (steps, d, T), the rest (T,)."""
    keep = regime.keep_prob
    keep = jnp.broadcast_to(keep if keep.ndim == 2 else keep[None], (depth, keep.shape[-1]))
    by_step = regime.keep_by_step
    if by_step is not None:
        by_step = by_step if by_step.ndim == 3 else by_step[:, None]
        by_step = jnp.broadcast_to(by_step, (by_step.shape[0], depth, by_step.shape[-1]))
    return regime._replace(keep_prob=keep, keep_by_step=by_step)


def _train_tile(key, bits, params, X, Y, regime, schedule, noise, fields, loss):
    """Train one tile (run axis last, see :mod:`sgd.kernel`); returns the checkpoints
    (C, ..., T) and the mean minibatch loss of every window (C, T)."""
    depth = len(params)
    regime = _tile_regime(regime, depth)
    sizes = [W.shape[1] for W, _ in params]
    n_outs = [W.shape[0] for W, _ in params]
    draws = 1 + sum(size for size, f in zip(kernel.layer_sizes(noise, sizes, n_outs), fields)
                    if f)                                   # multipliers only where there is noise
    S = kernel.chunk_length(schedule.log_every, draws, X.shape[1])

    def keep_at(start):
        if regime.keep_by_step is None:
            return jnp.broadcast_to(regime.keep_prob, (S,) + regime.keep_prob.shape)
        return jax.lax.dynamic_slice_in_dim(regime.keep_by_step, start, S, axis=0)

    def step(carry, inputs):
        x, y, multipliers, lr = inputs
        value, grads = kernel.loss_and_gradient(noise.kind, loss, carry[0], x, y, multipliers)
        return kernel.sgd_update(*carry, grads, lr, schedule.momentum, regime), value

    def chunk(carry, start):
        steps = start + jnp.arange(S)
        x, y, multipliers = kernel.chunk_draws(noise, key, steps, keep_at(start), X, Y,
                                               sizes, n_outs, fields, bits)
        lr = schedule.lr / (1.0 + schedule.lr_decay * steps.astype(jnp.float64))
        carry, losses = jax.lax.scan(step, carry, (x, y, multipliers, lr))
        return carry, jnp.sum(losses, axis=0)

    def window(carry, index):
        starts = index * schedule.log_every + S * jnp.arange(schedule.log_every // S)
        carry, sums = jax.lax.scan(chunk, carry, starts)
        return carry, (carry[0], jnp.sum(sums, axis=0) / schedule.log_every)

    velocity = jax.tree_util.tree_map(jnp.zeros_like, params)
    _, out = jax.lax.scan(window, (params, velocity),
                          jnp.arange(schedule.steps // schedule.log_every))
    return out


def _train_tiles(tiles, schedule, noise, fields, loss):
    """Every tile of one device's runs (laid out by :func:`_lanes_last`), one after another: the
    checkpoints (tiles, C, ..., T) and the mean minibatch loss of every window (tiles, C, T)."""
    return jax.lax.map(lambda tile: _train_tile(*tile, schedule, noise, fields, loss), tiles)


# XLA's level 1, not 3 (theory.compile_options.RANDOM_HEAVY): on the Figure 2 protocol level 1 ran
# 1.3x (15,000 runs) to 1.5x (1,500 runs) faster than level 3 and compiles about a quarter faster.
# The arithmetic is not always level 3's to the bit (the logistic loss); the options, the process's
# flags (theory.compile_options.PORTABLE_FLAGS) and the tile (kernel.LANES) are fixed, so a run's
# numbers still depend on its key (and its own settings) alone.
_STATIC = ("schedule", "noise", "fields", "loss")
_train_tiles_program = long_running_jit(_train_tiles, options=RANDOM_HEAVY, static_argnames=_STATIC)


@jax.jit
def _streams(keys):
    """Each run's training stream, the two 32-bit words of the counter-based hash's key
    (:mod:`sgd.kernel`), from its PRNG key."""
    return jax.vmap(lambda k: jax.random.bits(jax.random.fold_in(k, _STREAM), (2,),
                                              jnp.uint32))(keys)


def _tiles(keys, bits, params, X, Y, regime):
    """One device's runs laid out in tiles, on the host (NumPy: moving data compiles nothing). The
    layout is not part of the compiled program: with it, the engine's program for 64 depth-3
    networks took 2.8-3.4 s to compile, without it 1.6-1.7 s (2026-12-02, one core), for the same
    bits."""
    return _lanes_last((_streams(keys), bits, tuple((W, b) for W, b in params), X, Y, regime),
                       keys.shape[0])


def _trained(tiles, runs: int, static: dict, *, device=None,
             program=_train_tiles_program) -> Trajectory:
    """Train ``runs`` runs laid out in ``tiles`` on ``device`` (None: the default one) with
    ``program``; returns without waiting for the training."""
    return Trajectory(*_runs_first(program(jax.device_put(tiles, device), **static), runs))


def _train_single(keys, bits, params, X, Y, regime, *, program=_train_tiles_program,
                  **static) -> Trajectory:
    """Every run on one device: tiles of LANES runs, trained one after another by ``program``."""
    return _trained(_tiles(keys, bits, params, X, Y, regime), keys.shape[0], static,
                    program=program)


def train(keys, params, X, Y, regime: Regime, schedule: Schedule, *, noise: str = "dropout",
          groups=None, loss: str = "square", split_above: int = SPLIT_ABOVE) -> Trajectory:
    """Train many runs at once: every argument but ``schedule`` has a leading run axis.

    keys (R,) PRNG keys; params a tuple of (W, b) with shapes (R, n_out, n_in), (R, n_out);
    X (R, N, K); Y (R, N); regime fields (R,), or (R, d) for per-layer keep probabilities and
    (R, steps) or (R, steps, d) for ``keep_by_step``. ``noise`` ("dropout", "dropconnect",
    "gaussian"), ``groups`` (see :func:`theory.dropout_criterion`) and ``loss`` ("square",
    "logistic" with labels in {0, 1}, "cross_entropy" with class labels 0..C-1 as floats and C
    output nodes; :mod:`theory.losses`) are shared by all runs.
    Returns a Trajectory with leaves (R, C, ...), C = steps / log_every checkpoints.

    When the call has more than ``split_above`` model-steps (runs x steps; default
    :data:`SPLIT_ABOVE`), the run axis is split into one contiguous block per local device and every
    block is trained, concurrently, by the same single-device program, so the call uses all GPUs or
    TPU cores of a host, or all CPU cores when XLA is told to expose them as devices:
    XLA_FLAGS=--xla_force_host_platform_device_count=N (the Makefile sets N to the number of
    cores). Runs are independent and a run's numbers do not depend on its batch, so the results
    are bitwise those of one device (tests/test_distributed.py). We do not use a mesh-sharded jit
    (NamedSharding or shard_map) here: its SPMD-partitioned program rounds differently in the last
    bit, which SGD amplifies over 100000 steps.

    In a sweep over several processes (:mod:`sgd.distributed`), each process trains one
    contiguous block of the runs as above and every process receives all of them, bitwise as one
    process would compute them.
    """
    if schedule.steps % schedule.log_every:
        raise ValueError(f"schedule.steps ({schedule.steps}) must be a multiple of "
                         f"schedule.log_every ({schedule.log_every})")
    spec = run_noise(params, noise, groups)
    runs = keys.shape[0]
    fields, bits = random_fields(regime, runs, len(params), spec.kind)
    static = dict(schedule=schedule, noise=spec, fields=fields, loss=check_loss(loss))
    args = (keys, jnp.asarray(bits), params, X, Y, regime)
    if jax.process_count() == 1:
        return _train_local(args, static, split_above)
    block = distributed.padded_block(args, runs)           # a sweep over several processes
    return distributed.gather_runs(_train_local(block, static, split_above), runs)


def _train_local(args, static, split_above: int) -> Trajectory:
    """Train the runs of ``args`` on this process's devices (see :func:`train`)."""
    devices, runs = jax.local_devices(), args[0].shape[0]
    if len(devices) == 1 or runs * static["schedule"].steps <= split_above:
        return _train_single(*args, **static)
    bounds = np.linspace(0, runs, len(devices) + 1).astype(int)
    # Every block laid out before any is trained (the layout reads streams computed on the default
    # device, which would otherwise wait for the first block's training), then all dispatched.
    blocks = [(_tiles(*_runs_between(args, lo, hi)), hi - lo, device)
              for lo, hi, device in zip(bounds[:-1], bounds[1:], devices) if hi > lo]
    outs = [_trained(tiles, count, static, device=device) for tiles, count, device in blocks]
    return _concatenate_runs(*jax.device_put(outs, devices[0]))


@jax.jit(static_argnums=(1, 2))
def _runs_between(tree, lo: int, hi: int):
    """Runs lo..hi-1 of every leaf (one program for the whole tree, not one per leaf)."""
    return jax.tree_util.tree_map(lambda a: a[lo:hi], tree)


@jax.jit
def _concatenate_runs(*trees):
    """The trees' leaves concatenated along the run axis, in order (one program)."""
    return jax.tree_util.tree_map(lambda *parts: jnp.concatenate(parts), *trees)
