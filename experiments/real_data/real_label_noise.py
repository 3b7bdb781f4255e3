"""Label noise on real data: test loss and the exact dropout penalty as the labels get noisier (ours).

    python -m experiments real_label_noise             # writes figures/real_label_noise.*

The dropout penalty depends on the labels (C14, Theorem 20: E[delta^2] + 2 (W(x) - y) E[delta]
under the square loss), weight decay's (lambda/2)||W||^2 does not. What happens when the training
labels get noisier?

* diabetes (regression, square loss): Gaussian noise of standard deviation sigma in 0..2 added to
  the standardised training labels; the paper's dropout (keep 1/2 on the inputs and the hidden
  layer: 2^10 patterns, label-dependent).
* breast cancer (binary, logistic loss, one output): a fraction 0..0.4 of the training labels
  flipped; dropout on the hidden layer only (keep 1/2, PyTorch's placement: exact under the
  logistic loss by enumerating the 2^10 hidden patterns; with the inputs too it would be 2^40).

Network K-10-1 (d = 2), Torch's default initialisation; SGD with batch 1, learning rate lr /
(1 + 1e-5 t) with lr = 0.01 (breast cancer) or 0.002 (diabetes: at 0.01 SGD with dropout diverges
once sigma >= 1.5), Torch7 momentum 0.5, 30,000 steps; regimes dropout, weight decay lambda = 0.01
(weights only) and none. RUNS runs per noise level: run r uses split seed r, its own initial
network (shared by every level and regime) and its own noise draw (nested: the labels noisy at a
level are noisy at every higher one). Test losses use the clean test labels. Every network's
exact dropout penalty is taken on its own (noisy) training set at the dropout keep probabilities,
and for the dropout-trained networks also with the clean labels: the difference is the part of the
penalty the labels move directly (C14), the rest moves with the trained weights.
"""

from __future__ import annotations

import jax
import numpy as np

from experiments.common import COLORS, MARKERS, Finding
from experiments.shared import statistics
from experiments.shared.datasets import load_runs
from experiments.shared.split_training import stacked, train_on_splits
from sgd.initialisation import torch_default_init
from sgd.training import Regime, Schedule
from theory.evaluation import exact_risk_and_dropout_criterion, exact_risks, l2_penalties

TITLE = "Label noise on real data: test loss and the exact dropout penalty"
CLAIMS = ()

TASKS = {
    "diabetes": dict(loss="square", levels=(0.0, 0.5, 1.0, 1.5, 2.0), keep=(0.5, 0.5), lr=0.002,
                     noise="Gaussian label noise, standard deviation (standardised units)"),
    "breast_cancer": dict(loss="logistic", levels=(0.0, 0.1, 0.2, 0.3, 0.4), keep=(1.0, 0.5), lr=0.01,
                          noise="fraction of training labels flipped"),
}
REGIMES = ("dropout", "weight_decay", "none")
LAM, HIDDEN, RUNS = 0.01, 10, statistics.MIN_PAIRS
CRITERION = ("d > 0 significant, paired by run (split, initial network and noise draw): exact sign "
             "test, two-sided alpha 0.05, Holm over B54-B57 (experiments/shared/statistics.py); "
             "no significance either way is undecided")


def noisy_labels(split, level, rng_draw, loss):
    """The training labels at noise ``level`` from one fixed draw (nested across levels)."""
    if loss == "square":
        return split.Y_train + level * rng_draw["gauss"]
    flip = rng_draw["uniform"] < level
    return np.where(flip, 1.0 - split.Y_train, split.Y_train)


def _task(name, spec, runs, schedule, progress):
    splits, description = load_runs(name, runs)
    draws = []
    for r, split in enumerate(splits):
        rng = np.random.default_rng(1000 + r)
        draws.append({"gauss": rng.normal(size=len(split.Y_train)),
                      "uniform": rng.uniform(size=len(split.Y_train))})
    levels, loss, keep = spec["levels"], spec["loss"], spec["keep"]
    grid = [(r, v, g) for r in range(runs) for v in range(len(levels)) for g in range(len(REGIMES))]
    run, level, regime = (np.array(a) for a in zip(*grid))
    K = splits[0].X_train.shape[1]
    X = stacked(splits, run, "X_train")
    Y = np.stack([noisy_labels(splits[r], levels[v], draws[r], loss) for r, v in zip(run, level)])
    clean = stacked(splits, run, "Y_train")
    X_test, Y_test = stacked(splits, run, "X_test"), stacked(splits, run, "Y_test")
    inits = [torch_default_init(jax.random.fold_in(jax.random.key(569), r), K, HIDDEN, 2)
             for r in range(runs)]
    choices = {"dropout": Regime(keep_prob=np.asarray(keep)),
               "weight_decay": Regime(keep_prob=np.ones(2), lam=LAM),
               "none": Regime(keep_prob=np.ones(2))}
    progress(f"{name}: training {len(grid)} networks ({runs} runs x {len(levels)} noise levels x "
             f"{len(REGIMES)} regimes) x {schedule.steps:,} SGD steps, {loss} loss")
    final = train_on_splits(splits, run, [choices[REGIMES[g]] for g in regime], inits,
                            jax.random.key(5690 + len(name)), schedule._replace(lr=spec["lr"]),
                            X=X, Y=Y, loss=loss)
    progress(f"{name}: exact dropout criteria of the trained networks")
    risk, j_d = (np.asarray(v) for v in
                 exact_risk_and_dropout_criterion(final, X, Y, keep, loss=loss))
    clean_risk, clean_j_d = (np.asarray(v) for v in
                             exact_risk_and_dropout_criterion(final, X, clean, keep, loss=loss))
    test = exact_risks(final, X_test, Y_test, loss=loss)
    l2 = np.asarray(l2_penalties(final, LAM))
    shape = (runs, len(levels), len(REGIMES))
    values = {"risk": risk, "penalty": j_d - risk, "penalty_clean_labels": clean_j_d - clean_risk,
              "test": np.asarray(test), "l2_penalty": l2}
    out = {"levels": levels, "loss": loss, "keep": keep, "noise": spec["noise"],
           "description": description}
    for g, regime_name in enumerate(REGIMES):
        out[regime_name] = {key: v.reshape(shape)[:, :, g] for key, v in values.items()}
    return out


def compute(*, quick: bool, progress):
    runs = 2 if quick else RUNS
    schedule = Schedule(steps=2000 if quick else 30_000, log_every=1000)   # lr: per task
    data = {"regimes": REGIMES, "runs": runs, "lam": LAM,
            "tasks": {name: _task(name, spec, runs, schedule, progress)
                      for name, spec in TASKS.items()}}
    return data, {"schedule": schedule._asdict(), "hidden": HIDDEN, "runs": runs, "lam": LAM,
                  "tasks": {k: {"loss": v["loss"], "levels": v["levels"], "keep": v["keep"],
                                "lr": v["lr"]}
                            for k, v in TASKS.items()}}


def _direct(change) -> str:
    largest = float(np.max(np.abs(change)))
    if largest < 1e-12:              # rounding: its digits (and sign) differ between machines
        return "not at all (every |change| < 1e-12)"
    return f"by median {np.median(change):+.4f} (largest |change| {largest:.2g})"


def findings(data):
    """B54-B57, judged by the rule of experiments.shared.statistics (Holm over the four rows)."""
    rows = []                            # (statement, what d is, the differences, more words)
    for name, task in data["tasks"].items():
        top = len(task["levels"]) - 1
        level = task["levels"][top]
        test = {regime: np.asarray(task[regime]["test"])[:, top] for regime in data["regimes"]}
        rows.append((f"{name}: at the highest label noise ({level}) dropout ends with a lower clean "
                     "test loss than no regularisation",
                     "d = test loss none - dropout", test["none"] - test["dropout"],
                     f"; mean {np.mean(test['none'] - test['dropout']):+.3f}; weight decay - "
                     f"dropout: median {np.median(test['weight_decay'] - test['dropout']):+.3f}"))
        penalty = np.asarray(task["dropout"]["penalty"])
        direct = penalty[:, top] - np.asarray(task["dropout"]["penalty_clean_labels"])[:, top]
        rows.append((f"{name}: the exact dropout penalty of dropout-trained networks grows with the "
                     "label noise",
                     f"d = penalty at {level} - without noise", penalty[:, top] - penalty[:, 0],
                     f"; mean penalty {penalty[:, 0].mean():.4f} without noise, "
                     f"{penalty[:, top].mean():.4f} at {level}; against the clean labels on the "
                     f"same networks, the noisy labels themselves move it {_direct(direct)}"))
    tests = [statistics.sign_test(differences) for _, _, differences, _ in rows]
    adjusted = statistics.holm([test.p_two_sided for test in tests])
    return [Finding(f"B{54 + i}", statement,
                    f"{what}: {statistics.describe_sign_test(test, p_adjusted)}{more}", CRITERION,
                    statistics.direction_verdict(test, p_adjusted))
            for i, ((statement, what, _, more), test, p_adjusted)
            in enumerate(zip(rows, tests, adjusted))]


def plot(result):
    import matplotlib.pyplot as plt

    tasks = result["tasks"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.2))
    for row, (name, task) in zip(axes, tasks.items()):
        levels = np.asarray(task["levels"])
        for regime in result["regimes"]:
            for ax, key in zip(row[:2], ("test", "penalty")):
                values = np.asarray(task[regime][key])
                mean = values.mean(axis=0)
                se = values.std(axis=0, ddof=1) / np.sqrt(values.shape[0])
                ax.errorbar(levels, mean, yerr=2 * se, color=COLORS[regime], marker=MARKERS[regime],
                            capsize=3, label=regime.replace("_", " "))
        keep = task["keep"]
        row[0].set_title(f"{name}: clean test {task['loss']} loss")
        row[1].set_title(f"exact dropout penalty J_D - R at keep {tuple(keep)}\n"
                         "(of each network, on its noisy training labels)")
        dropout = task["dropout"]
        for key, label, ls in (("penalty", "noisy labels (trained on)", "-"),
                               ("penalty_clean_labels", "clean labels, same networks", ":")):
            values = np.asarray(dropout[key])
            row[2].errorbar(levels, values.mean(axis=0),
                            yerr=2 * values.std(axis=0, ddof=1) / np.sqrt(values.shape[0]),
                            color=COLORS["dropout"], ls=ls, marker="o", capsize=3,
                            label=f"dropout penalty, {label}")
        l2 = np.asarray(task["weight_decay"]["l2_penalty"])
        row[2].errorbar(levels, l2.mean(axis=0), yerr=2 * l2.std(axis=0, ddof=1) / np.sqrt(len(l2)),
                        color=COLORS["weight_decay"], marker="s", capsize=3,
                        label=f"weight decay's (λ/2)||W||², λ = {result['lam']}")
        row[2].set_title("penalties of the networks trained with them")
        for ax in row:
            ax.set_xlabel(task["noise"])
        row[0].legend()
        row[2].legend(fontsize=7.5)
    fig.suptitle(f"Label noise: {result['runs']} runs per point, mean ± 2 standard errors; "
                 "test losses on clean labels", fontsize=10)
    fig.tight_layout()
    fig.text(0.5, -0.01, "\n".join(task["description"] for task in tasks.values()), ha="center",
             va="top", fontsize=8)
    return fig
