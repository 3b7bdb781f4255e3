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
and regimes are all just runs with their own data and hyperparameters). Keys are derived with
``fold_in`` from one key per run, so a run's numbers do not depend on which other runs share the
batch. Parameters are checkpointed every ``log_every`` steps, with the mean minibatch loss (dropout
active) over each window, so training can be judged afterwards with the exact evaluator.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class Regime(NamedTuple):
    """Per-run training hyperparameters (scalars, or arrays with a leading run axis)."""

    keep_prob: float = 1.0       # dropout keep probability (the paper's p); 1 = no dropout
    lam: float = 0.0             # weight decay: lam * W is added to the gradient
    decay_biases: float = 0.0    # 1 = weight decay also on biases (Torch), 0 = weights only
    nonnegative: float = 0.0     # 1 = project weights onto >= 0 after every step
    dampening: float = 0.5       # momentum dampening: Torch7 optim.sgd's default (= momentum);
                                 # PyTorch's torch.optim.SGD uses 0


def stack_regimes(regimes) -> Regime:
    """One Regime of (R,) arrays from R per-run Regimes, for :func:`train`."""
    return Regime(*(jnp.asarray(values, jnp.float64) for values in zip(*regimes)))


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


def sample_masks(key, params, keep_prob):
    """A fresh dropout pattern: one Bernoulli(keep_prob) keep vector per input or hidden layer."""
    sizes = [params[0][0].shape[1]] + [W.shape[0] for W, _ in params[:-1]]
    keys = jax.random.split(key, len(sizes))
    return [jax.random.bernoulli(k, keep_prob, (n,)) for k, n in zip(keys, sizes)]


def _sgd_step(schedule, regime, X, Y, key, carry, t):
    params, opt_state = carry
    index_key, mask_key = jax.random.split(jax.random.fold_in(key, t))
    i = jax.random.randint(index_key, (), 0, X.shape[0])
    kept = sample_masks(mask_key, params, regime.keep_prob)

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


def train_one(key, params, X, Y, regime: Regime, schedule: Schedule) -> Trajectory:
    """Train one network; see :func:`train` for the batched, jitted entry point."""
    if schedule.steps % schedule.log_every:
        raise ValueError("schedule.steps must be a multiple of schedule.log_every")
    step = partial(_sgd_step, schedule, regime, X, Y, key)

    def window(carry, start):
        carry, losses = jax.lax.scan(step, carry, start + jnp.arange(schedule.log_every))
        return carry, (carry[0], jnp.mean(losses))

    starts = jnp.arange(0, schedule.steps, schedule.log_every)
    carry = (params, optimizer(schedule, regime.dampening).init(params))
    _, (checkpoints, losses) = jax.lax.scan(window, carry, starts)
    return Trajectory(checkpoints, losses)


@partial(jax.jit, static_argnames=("schedule",))
def train(keys, params, X, Y, regime: Regime, schedule: Schedule) -> Trajectory:
    """Train many runs at once: every argument but ``schedule`` has a leading run axis.

    keys (R,) PRNG keys; params a tuple of (W, b) with shapes (R, n_out, n_in), (R, n_out);
    X (R, N, K); Y (R, N); regime fields (R,). Returns a Trajectory with leaves (R, C, ...),
    C = steps / log_every checkpoints.
    """
    return jax.vmap(train_one, in_axes=(0, 0, 0, 0, 0, None))(keys, params, X, Y, regime, schedule)
