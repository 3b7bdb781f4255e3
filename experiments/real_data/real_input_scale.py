"""Figure 2's question on real data: does dropout ignore the input scale and weight decay not? (ours)

    python -m experiments real_input_scale             # writes figures/real_input_scale.*

Data: diabetes (scikit-learn's copy, experiments/shared/datasets.py), standardised on the training set,
then the inputs (training and test) multiplied by a factor from 0.1 to 10 (two decades); labels
unchanged. Network: K = 10 inputs, one hidden layer of 10 ReLUs (d = 2), Torch's default
initialisation. Training as in the paper's protocol (Section 6): SGD with batch 1, learning rate
0.01 / (1 + 1e-5 t), Torch7 momentum 0.5, 30,000 steps (about 100 epochs), except that at scales
c > 1 the learning rate is divided by c^2 (LR_BY_SCALE): with the paper's rate SGD diverges there
(every regime at c = 10, dropout already at c = 3: gradients grow like c^2), which would say
nothing about the regularisers. Regimes: the paper's
dropout (keep 1/2 on inputs and hidden nodes), PyTorch's placement (keep 1/2 on the hidden nodes
only), weight decay with the paper's lambda = 1/2 and with a common small lambda = 0.01 (weights
only, the paper's J2), and none. RUNS runs: run r uses split seed r and its own initial network
(shared by every scale and regime) and SGD stream.

Measured, exactly: the training risk R (no dropout, no penalty), the regularised criterion the run
minimises (J_D, J2 or R) and the test risk. C2 (Theorem 4) says J_D's minimum does not depend on the
input scale while J2's does (C5, Theorem 7), so the prediction is that dropout-trained losses are
flat across scales and weight-decay-trained ones are not. "Flat": the range of the run-mean over
the scales is below FLAT (10%) of the mean over scales, and below 3 standard errors when the
standard error is larger; a regime is "not flat" when its range exceeds that.
"""

from __future__ import annotations

import jax
import numpy as np

from experiments.common import COLORS, MARKERS, Finding
from experiments.shared.datasets import load_runs
from experiments.shared.split_training import stacked, train_on_splits
from sgd.initialisation import torch_default_init
from sgd.training import Regime, Schedule
from theory.evaluation import exact_risk_and_dropout_criterion, exact_risks, l2_penalties

TITLE = "On real data (diabetes), is dropout flat in the input scale and weight decay not?"
CLAIMS = ()

SCALES = (0.1, 0.3, 1.0, 3.0, 10.0)
REGIMES = {"dropout": Regime(keep_prob=0.5),
           "dropout_hidden": Regime(keep_prob=np.array([1.0, 0.5])),
           "weight_decay": Regime(lam=0.5),
           "weight_decay_small": Regime(lam=0.01),
           "none": Regime()}
LABELS = {"dropout": "dropout, keep 1/2 (paper's: inputs and hidden)",
          "dropout_hidden": "dropout, keep 1/2 on hidden only (PyTorch's)",
          "weight_decay": "weight decay λ = 1/2 (paper's)",
          "weight_decay_small": "weight decay λ = 0.01", "none": "no regularisation"}
STYLE = {"dropout": (COLORS["dropout"], "-"), "dropout_hidden": (COLORS["extra2"], "--"),
         "weight_decay": (COLORS["weight_decay"], "-"), "weight_decay_small": (COLORS["extra1"], "--"),
         "none": (COLORS["none"], "-")}
HIDDEN, RUNS, FLAT = 10, 6, 0.10


def _keep(regime: Regime):
    return tuple(np.broadcast_to(np.asarray(regime.keep_prob, float), (2,)))


def compute(*, quick: bool, progress):
    runs = 2 if quick else RUNS
    schedule = Schedule(steps=2000 if quick else 30_000, log_every=1000)
    splits, description = load_runs("diabetes", runs)
    names = list(REGIMES)
    grid = [(r, s, g) for r in range(runs) for s in range(len(SCALES)) for g in range(len(names))]
    run, scale, regime = (np.array(a) for a in zip(*grid))
    factor = np.asarray(SCALES)[scale][:, None, None]
    X, Y = factor * stacked(splits, run, "X_train"), stacked(splits, run, "Y_train")
    X_test, Y_test = factor * stacked(splits, run, "X_test"), stacked(splits, run, "Y_test")
    inits = [torch_default_init(jax.random.fold_in(jax.random.key(442), r), 10, HIDDEN, 2)
             for r in range(runs)]
    regimes = [REGIMES[names[g]]._replace(keep_prob=np.asarray(_keep(REGIMES[names[g]])),
                                          lr_scale=1.0 / max(1.0, SCALES[s]) ** 2)
               for s, g in zip(scale, regime)]
    progress(f"training {len(grid)} networks ({runs} runs x {len(SCALES)} scales x {len(names)} "
             f"regimes) x {schedule.steps:,} SGD steps on diabetes ({X.shape[1]} training examples)")
    final = train_on_splits(splits, run, regimes, inits, jax.random.key(4420), schedule, X=X, Y=Y)
    progress("judging the trained networks with the exact evaluator")
    out = {"scales": SCALES, "regimes": names, "labels": LABELS, "runs": runs,
           "description": description}
    for g, name in enumerate(names):
        rows = regime == g
        net = jax.tree_util.tree_map(lambda leaf: leaf[rows], final)
        keep = _keep(REGIMES[name])
        risk, j_d = exact_risk_and_dropout_criterion(net, X[rows], Y[rows], keep)
        test = exact_risks(net, X_test[rows], Y_test[rows])
        j2 = risk + l2_penalties(net, float(REGIMES[name].lam))
        criterion = j_d if min(keep) < 1 else j2
        shape = (runs, len(SCALES))
        out[name] = {key: np.asarray(value).reshape(shape)
                     for key, value in (("risk", risk), ("criterion", criterion), ("test", test))}
    return out, {"schedule": schedule._asdict(), "hidden": HIDDEN, "runs": runs,
                 "lr_scale": "1 / max(1, scale)^2",
                 "regimes": {k: {"keep_prob": list(_keep(v)), "lam": float(v.lam)}
                             for k, v in REGIMES.items()}, "flat": FLAT}


def flatness(values):
    """(range over scales of the run-mean, mean over scales, largest standard error, flat?)"""
    values = np.asarray(values)
    mean = values.mean(axis=0)
    se = values.std(axis=0, ddof=1).max() / np.sqrt(values.shape[0])
    spread = float(mean.max() - mean.min())
    return spread, float(mean.mean()), float(se), spread <= max(FLAT * mean.mean(), 3 * se)


def findings(data):
    out = []
    for id_, name, expect in (("B50", "dropout", True), ("B51", "dropout_hidden", True),
                              ("B52", "weight_decay", False), ("B53", "weight_decay_small", False)):
        parts = []
        flat_all = True
        for measure in ("risk", "test"):
            spread, level, se, flat = flatness(data[name][measure])
            flat_all &= flat
            parts.append(f"{measure} range {spread:.3f} around {level:.3f} (SE {se:.3f})")
        holds = flat_all if expect else not flat_all
        out.append(Finding(
            id_, f"Diabetes, {LABELS[name]}: the trained network's training and test risk are "
                 f"{'flat' if expect else 'not flat'} over input scales 0.1-10 "
                 f"(the paper's prediction, C2/C5)",
            f"{data['runs']}-run means: " + "; ".join(parts),
            f"flat: range of the run-mean over scales <= max({FLAT:.0%} of its level, 3 SE), "
            "for both the training and the test risk",
            "holds" if holds else "fails"))
    return out


def plot(result):
    import matplotlib.pyplot as plt

    data = result
    scales = np.asarray(data["scales"])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), sharex=True)
    for ax, measure, title in zip(axes, ("risk", "criterion", "test"),
                                  ("training risk R (no dropout, no penalty)",
                                   "the criterion each run minimises (J_D, J2 or R)",
                                   "test risk (held-out 30%)")):
        for name in data["regimes"]:
            values = np.asarray(data[name][measure])
            mean = values.mean(axis=0)
            se = values.std(axis=0, ddof=1) / np.sqrt(values.shape[0])
            color, ls = STYLE[name]
            ax.errorbar(scales, mean, yerr=2 * se, color=color, ls=ls, capsize=3,
                        marker=MARKERS.get(name.split("_small")[0].replace("_hidden", ""), "o"),
                        label=data["labels"][name])
        ax.set_xscale("log")
        ax.set_xlabel("input scale (standardised inputs multiplied by it)")
        ax.set_title(title)
    axes[0].set_ylabel("mean square loss (target standardised: 1 = predicting the mean)")
    axes[0].legend(loc="upper right", fontsize=7.5)
    fig.suptitle(f"Diabetes: {data['runs']} runs per point, mean ± 2 standard errors; SGD's "
                 f"learning rate divided by scale² above scale 1 (it diverges otherwise)\n"
                 f"{data['description']}", fontsize=9)
    fig.tight_layout()
    return fig
