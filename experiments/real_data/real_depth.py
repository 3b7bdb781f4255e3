"""Depth on real data: the exact dropout penalty and the L2 penalty of trained networks (ours).

    python -m experiments real_depth                   # writes figures/real_depth.*

C12 (Theorem 18) says the dropout penalty can grow exponentially with depth while the L2 penalty
needed to fit grows slowly. On diabetes (scikit-learn's copy, standardised; experiments/shared/datasets.py)
we train networks 10-8-...-8-1 of depth d = 2, 3, 4 (Torch's default initialisation; SGD with
batch 1, learning rate 0.002 / (1 + 1e-5 t), Torch7 momentum 0.5, 30,000 steps) with dropout (keep
1/2 on every hidden layer, inputs kept: PyTorch's placement, so the exact square-loss criterion
enumerates only hidden layers 1..d-2, at most 2^16 patterns), with weight decay lambda = 0.01
(weights only) or with neither, RUNS runs each (run r: split seed r and its own initial network
and SGD stream). For every trained network: the exact dropout penalty J_D - R at keep (1, 1/2,
...), the L2 penalty (lambda/2)||W||^2, the training risk and the test risk.
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

TITLE = "Depth on real data (diabetes): exact dropout and L2 penalties of trained networks"
CLAIMS = ()

DEPTHS, HIDDEN, RUNS, LAM, KEEP = (2, 3, 4), 8, statistics.MIN_PAIRS, 0.01, 0.5
CRITERION = ("d > 0 significant, paired by run (split seed): exact sign test, two-sided alpha "
             "0.05, Holm over B58-B60 (experiments/shared/statistics.py); no significance either "
             "way is undecided")
REGIMES = ("dropout", "weight_decay", "none")


def _keep(depth):
    return (1.0,) + (KEEP,) * (depth - 1)


def compute(*, quick: bool, progress):
    runs = 2 if quick else RUNS
    schedule = Schedule(steps=2000 if quick else 30_000, lr=0.002, log_every=1000)
    splits, description = load_runs("diabetes", runs)
    run = np.repeat(np.arange(runs), len(REGIMES))          # run-major: each run's regimes together
    X, Y = stacked(splits, run, "X_train"), stacked(splits, run, "Y_train")
    X_test, Y_test = stacked(splits, run, "X_test"), stacked(splits, run, "Y_test")
    out = {"depths": DEPTHS, "regimes": REGIMES, "runs": runs, "lam": LAM, "keep": KEEP,
           "description": description}
    per_depth = {name: {k: [] for k in ("penalty", "l2_penalty", "risk", "test")}
                 for name in REGIMES}
    for d in DEPTHS:
        keep = _keep(d)
        regimes = {"dropout": Regime(keep_prob=np.asarray(keep)),
                   "weight_decay": Regime(keep_prob=np.ones(d), lam=LAM),
                   "none": Regime(keep_prob=np.ones(d))}
        inits = [torch_default_init(jax.random.fold_in(jax.random.key(4420 + d), r), 10, HIDDEN, d)
                 for r in range(runs)]
        progress(f"depth {d}: training {runs * len(REGIMES)} networks x {schedule.steps:,} SGD steps")
        final = train_on_splits(splits, run, [regimes[g] for _ in range(runs) for g in REGIMES],
                                inits, jax.random.key(44200 + d), schedule)
        progress(f"depth {d}: exact dropout penalties at keep {keep}")
        risk, j_d = (np.asarray(v) for v in exact_risk_and_dropout_criterion(final, X, Y, keep))
        test = exact_risks(final, X_test, Y_test)
        l2 = np.asarray(l2_penalties(final, LAM))
        values = {"penalty": j_d - risk, "l2_penalty": l2, "risk": risk, "test": np.asarray(test)}
        for g, name in enumerate(REGIMES):
            for key, v in values.items():
                per_depth[name][key].append(v.reshape(runs, len(REGIMES))[:, g])
    for name in REGIMES:                          # (runs, depths)
        out[name] = {key: np.stack(v, axis=1) for key, v in per_depth[name].items()}
    return out, {"schedule": schedule._asdict(), "hidden": HIDDEN, "runs": runs, "lam": LAM,
                 "keep": KEEP}


def _usable(*arrays):
    """Runs whose values are finite at every depth, and positive where a log is taken: the rule,
    stated before the runs, that excludes diverged runs (their count goes into the row)."""
    keep = np.ones(np.shape(arrays[0][0])[0], dtype=bool)
    for values, positive in arrays:
        values = np.asarray(values, dtype=np.float64)
        keep &= np.all(np.isfinite(values), axis=1) & (np.all(values > 0, axis=1) if positive
                                                       else True)
    return keep


def _excluded(keep) -> str:
    dropped = int(np.sum(~keep))
    return f"; {dropped} of {keep.size} runs excluded (not finite or not positive)" if dropped \
        else ""


def findings(data):
    """B58-B60, judged by the rule of experiments.shared.statistics (Holm over the three rows)."""
    depths = data["depths"]
    span = f"d = {depths[0]} to {depths[-1]}"
    rows = []                            # (id, statement, what d is, the differences, more words)
    for id_, name in (("B58", "none"), ("B59", "dropout")):
        penalty = np.asarray(data[name]["penalty"], dtype=np.float64)
        keep = _usable((penalty, False))
        rows.append((id_, f"Diabetes: the exact dropout penalty of "
                          f"{name.replace('none', 'unregularised')}"
                          f"{'-trained' if name == 'dropout' else ''} networks grows with depth (C12 "
                          "on real data)",
                     f"d = penalty at d = {depths[-1]} - at d = {depths[0]}",
                     penalty[keep, -1] - penalty[keep, 0],
                     f"; mean penalty {np.round(penalty[keep].mean(axis=0), 4).tolist()} at d = "
                     f"{list(depths)}{_excluded(keep)}"))
    l2 = np.asarray(data["weight_decay"]["l2_penalty"], dtype=np.float64)
    dropout_penalty = np.asarray(data["weight_decay"]["penalty"], dtype=np.float64)
    keep = _usable((l2, True), (dropout_penalty, True))
    l2_growth = np.log(l2[keep, -1] / l2[keep, 0])
    dropout_growth = np.log(dropout_penalty[keep, -1] / dropout_penalty[keep, 0])
    rows.append(("B60", "Diabetes, weight-decay-trained networks: their dropout penalty grows with "
                        "depth faster than the L2 penalty they were trained with",
                 f"d = log of the dropout penalty's factor {span} - log of (λ/2)||W||²'s",
                 dropout_growth - l2_growth, f"; geometric-mean factors: dropout penalty "
                 f"{np.exp(dropout_growth.mean()):.2f}, (λ/2)||W||² {np.exp(l2_growth.mean()):.2f}"
                 f"{_excluded(keep)}"))
    tests = [statistics.sign_test(differences) for *_, differences, _ in rows]
    adjusted = statistics.holm([test.p_two_sided for test in tests])
    return [Finding(id_, statement, f"{what}: {statistics.describe_sign_test(test, p)}{more}",
                    CRITERION, statistics.direction_verdict(test, p))
            for (id_, statement, what, _, more), test, p in zip(rows, tests, adjusted)]


def plot(result):
    import matplotlib.pyplot as plt

    depths = np.asarray(result["depths"])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    keep = result["keep"]
    for name in result["regimes"]:
        for ax, key in zip(axes, ("penalty", "l2_penalty", "test")):
            values = np.asarray(result[name][key])
            ax.errorbar(depths + {"dropout": -0.05, "weight_decay": 0, "none": 0.05}[name],
                        values.mean(axis=0),
                        yerr=2 * values.std(axis=0, ddof=1) / np.sqrt(values.shape[0]),
                        color=COLORS[name], marker=MARKERS[name], capsize=3,
                        label="trained without regularisation" if name == "none"
                        else f"trained with {name.replace('_', ' ')}")
        risk = np.asarray(result[name]["risk"]).mean(axis=0)
        axes[2].plot(depths, risk, color=COLORS[name], ls=":", lw=1)
    axes[0].set_yscale("log")
    axes[0].set_title(f"exact dropout penalty J_D - R (keep {keep} on hidden layers)")
    axes[1].set_yscale("log")
    axes[1].set_title(f"L2 penalty (λ/2)||W||², λ = {result['lam']}")
    axes[2].set_title("test risk (dotted: training risk)")
    for ax in axes:
        ax.set_xlabel("depth d (layers of weights)")
        ax.set_xticks(depths)
    axes[0].legend()
    fig.suptitle(f"Diabetes, width 8: {result['runs']} runs per point, mean ± 2 standard errors; "
                 f"{result['description']}", fontsize=9)
    fig.tight_layout()
    return fig
