"""The protocol of the CNN studies on digits (issue 26): data, training, test metrics, penalties.

Data: scikit-learn's digits (1,797 images of 8 x 8 pixels, 10 classes), run r on split seed r (70/30,
stratified; pixels scaled by one mean and standard deviation: experiments/shared/datasets.py).
Network: :mod:`sgd.cnn`'s Conv(1 -> 4, 3x3) -> block 1 -> Conv(4 -> 8, 3x3, stride 2) -> block 2 ->
Flatten -> [Dropout] -> Linear(128 -> 10), its blocks set by each study. Training: :mod:`sgd.cnn_training`
(minibatches of 32, 30 epochs, SGD with momentum 0.9 at learning rate 0.05, the cross-entropy), every
arm of a run from the same initial convolution and classifier weights and the same minibatch order:
the arms are paired by run, as the statistical rule (experiments/shared/statistics.py) needs.

Penalties: the dropout penalty E_R l(D(x, R), y) - l(W(x), y) under the cross-entropy at the trained
weights, on the first PENALTY_EXAMPLES training examples of each run: exact by the engine's
enumeration on :func:`sgd.cnn.dense_network`'s form when the patterns are few (channel dropout on 4
channels: 2^4 per example), else Monte Carlo with its standard error (element dropout on 256 or 128
units: 2^256 or 2^128 patterns; the cross-entropy is not a polynomial of the output, so the last
noisy layer cannot be integrated in closed form), sampled on the convolutional form itself, every
run at once (tests/test_cnn.py checks its masks against the engine's exact criterion).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import theory
from experiments.shared import statistics
from experiments.shared.datasets import load_runs
from sgd.cnn import Architecture, dense_network, forward, init, noisy_logits
from sgd.cnn_training import MinibatchSchedule, cross_entropy, train_cnns
from theory.compile_options import long_running_jit
from theory.evaluation import each_run

RUNS = statistics.MIN_PAIRS
SCHEDULE = MinibatchSchedule(epochs=30, batch=32, learning_rate=0.05, momentum=0.9)
QUICK_SCHEDULE = SCHEDULE._replace(epochs=2)
PENALTY_EXAMPLES = 200
PENALTY_SAMPLES = 128
EXACT_PATTERNS = 2 ** 12
"""Enumerate when a penalty needs at most this many patterns per example, else Monte Carlo."""


def digits_runs(runs: int):
    """(splits, description): run r's digits split (seed r)."""
    return load_runs("digits", runs)


def train_arms(arms: dict, splits, schedule: MinibatchSchedule, seed: int, progress) -> dict:
    """{arm: (params, state)} stacked over runs: every arm of run r starts from init key r and runs
    the minibatch order of key r (masks differ only where the architectures do)."""
    runs = len(splits)
    X = np.stack([s.X_train for s in splits]).astype(np.float32)
    Y = np.stack([s.Y_train for s in splits])
    keys = jax.random.split(jax.random.key(seed), runs)
    init_keys = jax.random.split(jax.random.key(seed + 1), runs)
    out = {}
    for name, arch in arms.items():
        progress(f"training {runs} CNNs '{name}' ({schedule.epochs} epochs of minibatches of "
                 f"{schedule.batch}, {runs * schedule.epochs * (X.shape[1] // schedule.batch):,} "
                 f"SGD steps in all)")
        inits = [init(k, arch) for k in init_keys]
        stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *inits)
        out[name] = jax.tree_util.tree_map(np.asarray,
                                           train_cnns(arch, schedule, keys, *stacked, X, Y))
    return out


def train_study(arms: dict, *, quick: bool, seed: int, progress):
    """(splits, description, schedule, trained) of a study: RUNS digits splits (2 when ``quick``,
    with the quick schedule) and every arm trained on them (:func:`train_arms`)."""
    runs = 2 if quick else RUNS
    schedule = QUICK_SCHEDULE if quick else SCHEDULE
    splits, description = digits_runs(runs)
    return splits, description, schedule, train_arms(arms, splits, schedule, seed, progress)


def as_float64(trained):
    """(params, state) stacked over runs, in float64."""
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), trained)


def run_of(trained, r: int):
    """Run r's (params, state) in float64."""
    return as_float64(jax.tree_util.tree_map(lambda a: a[r], trained))


def draw_test_measure(ax, result, measure: str, labels: dict, colors: dict, title: str,
                      pairs: bool = False):
    """Every run's test ``measure`` per arm (the arms of ``labels``), its mean +- SE beside it,
    and with ``pairs`` one grey line per run joining its arms."""
    values = np.stack([np.asarray(result["arms"][arm]["test"][measure]) for arm in labels])
    if pairs:
        for run in values.T:
            ax.plot(range(len(labels)), run, color="grey", lw=0.4, alpha=0.5, zorder=0)
    for i, (arm, v) in enumerate(zip(labels, values)):
        ax.scatter(i + np.linspace(-0.15, 0.15, v.size), v, s=9, color=colors[arm], alpha=0.7, lw=0)
        ax.errorbar(i + 0.28, v.mean(), yerr=v.std(ddof=1) / np.sqrt(v.size), color="black",
                    marker="_", ms=14, capsize=3)
    ax.set_xticks(range(len(labels)), list(labels.values()), fontsize=8)
    ax.set_title(title)


def test_metrics(arch: Architecture, trained, splits) -> dict:
    """Per run: the test set's mean cross-entropy and accuracy in evaluation mode (float64)."""
    loss, accuracy = [], []
    for r, split in enumerate(splits):
        params, state = run_of(trained, r)
        logits, _ = forward(arch, params, state, jnp.asarray(split.X_test))
        labels = jnp.asarray(split.Y_test.astype(np.int32))
        loss.append(float(cross_entropy(logits, labels)))
        accuracy.append(float(np.mean(np.argmax(np.asarray(logits), axis=1) == split.Y_test)))
    return {"loss": np.asarray(loss), "accuracy": np.asarray(accuracy)}


@long_running_jit(static_argnames=("arch", "samples"))
def _sampled_losses(params, state, X, labels, keys, *, arch, samples):
    """(runs, samples): the mean cross-entropy over X of each run under one draw of every example's
    masks (:func:`sgd.cnn.noisy_logits`), ``samples`` independent draws per run. One run at a time,
    its draws 8 at a time: 3.2 s for 32 runs x 128 draws x 200 examples on the project's earlier
    2-core machine (before 2026-12-02), against 7.8 s with the runs vmapped and the draws one at a
    time."""
    def run(p, s, x, y, key):
        return jax.lax.map(lambda k: cross_entropy(noisy_logits(arch, p, s, x, k), y),
                           jax.random.split(key, samples), batch_size=8)
    return each_run(run, params, state, X, labels, keys)


def penalty_of_runs(arch: Architecture, trained, splits, *, seed: int) -> dict:
    """{"value": (R,), "se": (R,), "route": str}: the cross-entropy dropout penalty of every run's
    trained network under the noise of ``arch`` (its placements, kinds and keep probabilities; the
    trained weights must fit it), on the first PENALTY_EXAMPLES training examples: exact by the
    engine on :func:`sgd.cnn.dense_network`'s form when at most EXACT_PATTERNS patterns per example
    need enumerating, else Monte Carlo over PENALTY_SAMPLES draws of every example's masks with its
    standard error (the draws' standard deviation / sqrt(draws))."""
    X = np.stack([s.X_train[:PENALTY_EXAMPLES] for s in splits])
    Y = np.stack([s.Y_train[:PENALTY_EXAMPLES] for s in splits])
    layers, keep, groups = dense_network(arch, *run_of(trained, 0))
    patterns = theory.num_enumerated_patterns(layers, keep_prob=keep, groups=groups,
                                              loss="cross_entropy")
    if patterns <= EXACT_PATTERNS:
        values = []
        for r in range(len(splits)):
            layers, keep, groups = dense_network(arch, *run_of(trained, r))
            values.append(float(theory.dropout_penalty(layers, X[r], Y[r], keep_prob=keep,
                                                       groups=groups, loss="cross_entropy")))
        return {"value": np.asarray(values), "se": np.zeros(len(values)),
                "route": f"exact ({patterns:,} patterns per example)"}
    params, state = as_float64(trained)
    labels = jnp.asarray(Y.astype(np.int32))
    keys = jax.random.split(jax.random.key(seed), len(splits))
    losses = np.asarray(_sampled_losses(params, state, jnp.asarray(X), labels, keys, arch=arch,
                                        samples=PENALTY_SAMPLES))
    risk = np.asarray(jax.vmap(lambda p, s, x, y: cross_entropy(
        forward(arch, p, s, x)[0], y))(params, state, jnp.asarray(X), labels))
    return {"value": losses.mean(axis=1) - risk,
            "se": losses.std(axis=1, ddof=1) / np.sqrt(PENALTY_SAMPLES),
            "route": f"Monte Carlo ({PENALTY_SAMPLES} draws; 2^{patterns.bit_length() - 1} "
                     f"patterns per example)"}
