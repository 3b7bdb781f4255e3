"""Judging many networks at once with the exact evaluator (trained runs, checkpoints).

Parameters come with a leading run axis (and possibly a checkpoint axis); the exact per-example
moments of :func:`theory.exact.delta_moments` are vmapped over those axes, so every criterion below
is exact (no sampling), with uniform example weights. The dropout variant (``keep_prob``, ``noise``,
``groups``, as in :func:`theory.dropout_criterion`) and the ``loss`` (:mod:`theory.losses`; the
non-square losses enumerate every pattern, :func:`theory.exact.expected_losses`) are shared by all
runs. These programs judge many networks at once and run long, so they are compiled with XLA's
full optimisation (:mod:`theory.compile_options`).

The runs are evaluated a few at a time (:func:`each_run`, ``jax.lax.map``), not all vmapped
together: the exact evaluator sizes its chunks of patterns for one network's cache budget, and a
vmap over R runs makes every intermediate R times larger. Measured on the project's earlier 2-core
machine (before 2026-12-02): 8 trained diabetes networks 10-8-8-8-1 (2^16 patterns x 309 examples
each) take 1.75 s one after another against 5.2 s vmapped; 64 networks 5-5-5-1 on 10 examples 21 ms
one at a time, 12-14 ms 4 or 16 at a time, 45 ms all at once; 400 networks 5-5-1 on 10 examples
3.1-3.6 ms 1 to 16 at a time, 7.3 ms all at once. :func:`runs_at_once` turns this into a rule.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from theory.compile_options import long_running_jit
from theory.exact import count_patterns, delta_moments, expected_losses, penalty_from_moments
from theory.losses import check_labels, check_loss
from theory.network import losses_without_noise, run_shapes, sum_squared_weights, widths
from theory.noise import Noise, as_noise


def each_run(function, *args, batch: int = 1):
    """``function`` applied to every run of ``args`` (a leading run axis on every leaf), ``batch``
    runs at a time (``jax.lax.map``; see the module doc for why not one ``jax.vmap``); results
    stacked on a leading run axis."""
    runs = jax.tree_util.tree_leaves(args)[0].shape[0]
    return jax.lax.map(lambda run: function(*run), args, batch_size=min(batch, runs))


RUN_ELEMENTS = 2 ** 16
"""Enumerated patterns x examples x widest layer of the runs evaluated at once (module doc)."""


def runs_at_once(one_run, noise: Noise, num_examples: int, loss: str = "square") -> int:
    """How many runs :func:`each_run` evaluates together: the largest power of two whose runs'
    patterns x examples x widest layer stay within RUN_ELEMENTS (at least 1)."""
    size = count_patterns(one_run, noise, loss) * num_examples * max(widths(one_run))
    return 2 ** max(0, (RUN_ELEMENTS // size).bit_length() - 1)


def _losses_and_penalties(params, X, Y, *, noise: Noise, loss: str = "square"):
    """Per example: l(W(x), y) and the exact penalty E_R l(D, y) - l(W(x), y) (C14's form
    E[delta^2] + 2 (W(x) - y) E[delta] under the square loss; every pattern enumerated otherwise)."""
    Y = check_labels(loss, Y, 0)                       # traced here: class labels become integers
    if loss == "square":
        f, e1, e2 = delta_moments(params, X, noise)
        return jnp.square(f - Y), penalty_from_moments(f, e1, e2, Y)
    noiseless = losses_without_noise(params, X, Y, loss)
    return noiseless, expected_losses(params, X, Y, noise, loss) - noiseless


def _criteria(params, X, Y, *, noise: Noise, loss: str = "square"):
    losses, penalties = _losses_and_penalties(params, X, Y, noise=noise, loss=loss)
    risk = jnp.mean(losses)
    return risk, risk + jnp.mean(penalties)


@long_running_jit(static_argnames=("noise", "loss"))
def _penalties_over_runs(params, X, Y, noise, loss):
    return each_run(lambda *args: _losses_and_penalties(*args, noise=noise, loss=loss)[1],
                    params, X, Y, batch=runs_at_once(run_shapes(params), noise, X.shape[1], loss))


def exact_per_example_penalties(params, X, Y, keep_prob, *, noise="dropout", groups=None,
                                loss="square"):
    """The exact dropout penalty of every example of every run, (R, N): E_R l(D(W, x, R), y) -
    l(W(x), y) (C14's per-example form under the square loss); arguments as
    :func:`exact_risk_and_dropout_criterion`."""
    return _penalties_over_runs(params, X, Y, _noise(params, keep_prob, noise, groups, 1),
                                check_loss(loss))


def _noise(params, keep_prob, noise, groups, run_axes: int) -> Noise:
    return as_noise(widths(run_shapes(params, run_axes)), keep_prob, noise, groups)


@long_running_jit(static_argnames=("noise", "loss"))
def _over_runs(params, X, Y, noise, loss="square"):
    return each_run(partial(_criteria, noise=noise, loss=loss), params, X, Y,
                    batch=runs_at_once(run_shapes(params), noise, X.shape[1], loss))


@long_running_jit(static_argnames=("noise",))
def _over_checkpoints(checkpoints, X, Y, noise):
    batch = runs_at_once(run_shapes(checkpoints, 2), noise, X.shape[1])

    def per_run(run_checkpoints, run_X, run_Y):
        return each_run(lambda c: _criteria(c, run_X, run_Y, noise=noise), run_checkpoints,
                        batch=batch)
    return each_run(per_run, checkpoints, X, Y)


def exact_risk_and_dropout_criterion(params, X, Y, keep_prob, *, noise="dropout", groups=None,
                                     loss="square"):
    """R and J_D of each run: params leaves (R, ...), X (R, N, K), Y (R, N) (class labels as
    numbers under cross-entropy); ``keep_prob`` a number or one per dropout layer, the same for
    every run."""
    return _over_runs(params, X, Y, _noise(params, keep_prob, noise, groups, 1), check_loss(loss))


def exact_along_training(checkpoints, X, Y, keep_prob, *, noise="dropout", groups=None):
    """R and J_D at every checkpoint of every run: checkpoint leaves (R, C, ...)."""
    return _over_checkpoints(checkpoints, X, Y, _noise(checkpoints, keep_prob, noise, groups, 2))


@long_running_jit(static_argnames=("noise",))
def _gaps_over_runs(params, X, noise):
    def one_run(run_params, run_X):
        *hidden, (W_out, b_out) = run_params

        def one_output(w, b):                      # E_R[D_c] - W_c(x) for output c
            return delta_moments((*hidden, (w[None], b[None])), run_X, noise)[1]
        return jax.vmap(one_output, out_axes=-1)(W_out, b_out)
    return each_run(one_run, params, X, batch=runs_at_once(run_shapes(params), noise, X.shape[1]))


def exact_inference_gaps(params, X, keep_prob, *, noise="dropout", groups=None):
    """E_R[D_c(W, x, R)] - W_c(x) for every run, example and output c, (R, N, C): the inference gap
    of each output (B33's m - W; for a classifier, of each logit). Each output is a linear function
    of the last hidden layer, so its mean needs no pattern of that layer (the square-loss route),
    unlike an expected cross-entropy. Under the cross-entropy, l(D, c) = logsumexp(D) - D_c, so the
    penalty for label c minus the penalty for label y is gap_y - gap_c (ours). Arguments as
    :func:`exact_risk_and_dropout_criterion`."""
    noise = as_noise(widths(run_shapes(params)), keep_prob, noise, groups)
    return _gaps_over_runs(params, X, noise)


@long_running_jit(static_argnames=("loss",))
def _risks_over_runs(params, X, Y, loss):
    return jax.vmap(lambda p, x, y: jnp.mean(losses_without_noise(p, x, check_labels(loss, y, 0),
                                                                   loss)))(params, X, Y)


def exact_risks(params, X, Y, *, loss="square"):
    """R of each run, the loss without dropout (a test risk, say): params leaves (R, ...),
    X (R, N, K), Y (R, N)."""
    return _risks_over_runs(params, X, Y, check_loss(loss))


def l2_penalties(params, lam):
    """(lam/2) ||W||^2 of each run, biases excluded (Section 2): params leaves (R, ...); ``lam`` a
    number or one per run."""
    return 0.5 * lam * jax.vmap(sum_squared_weights)(params)
