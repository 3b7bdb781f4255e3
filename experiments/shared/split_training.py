"""Many networks trained on the real data sets' splits at once, as the real-data studies do.

Each network is one entry of a grid (run x setting x regime, in the study's own order): it trains
on the training set of its run's split (:func:`experiments.shared.datasets.load_runs`; run r uses
split seed r), or on inputs and labels the study derives from it (scaled inputs, noisy labels),
from its run's initial network (one per run, cloned across the run's settings and regimes), with
its own SGD key. The studies then judge the final networks with :mod:`theory.evaluation`.
"""

from __future__ import annotations

import jax
import numpy as np

from sgd.initialisation import torch_default_classifier_init, torch_default_init
from sgd.training import Schedule, final_checkpoint, stack_runs, train


def stacked(splits, run, field: str) -> np.ndarray:
    """``field`` ("X_train", "Y_train", "X_test", "Y_test") of each network's split, stacked."""
    return np.stack([getattr(splits[r], field) for r in run])


def initial_networks(splits, hidden: int, seed: int) -> list:
    """One Torch-default network K-``hidden``-C per split, depth 2 (split r's from
    ``fold_in(key(seed), r)``): C = the number of classes for a classifier
    (:func:`sgd.initialisation.torch_default_classifier_init`), one output for regression."""
    classes, K = splits[0].num_classes, splits[0].X_train.shape[1]
    keys = [jax.random.fold_in(jax.random.key(seed), r) for r in range(len(splits))]
    if classes:
        return [torch_default_classifier_init(k, K, hidden, 2, classes) for k in keys]
    return [torch_default_init(k, K, hidden, 2) for k in keys]


def train_on_splits(splits, run, regimes, inits, key, schedule: Schedule, *, X=None, Y=None,
                    loss: str = "square", every_checkpoint: bool = False):
    """The final parameters of the networks of the grid: network i uses split ``run[i]``, starts
    from ``inits[run[i]]``, trains under ``regimes[i]`` (a list of :class:`sgd.training.Regime`)
    with the i-th key of ``jax.random.split(key, len(run))``; ``X`` and ``Y`` default to each
    network's training set. With ``every_checkpoint`` the parameters at every checkpoint instead
    (leaves (networks, checkpoints, ...))."""
    X = stacked(splits, run, "X_train") if X is None else X
    Y = stacked(splits, run, "Y_train") if Y is None else Y
    trained = train(jax.random.split(key, len(run)), stack_runs([inits[r] for r in run]), X, Y,
                    stack_runs(regimes), schedule, loss=loss)
    return trained.params if every_checkpoint else final_checkpoint(trained.params)
