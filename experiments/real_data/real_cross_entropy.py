"""Cross-entropy on real data: is the exact dropout penalty negative, label-dependent, growing with
depth? (ours; the paper's C13, C14 and C12 asked under the loss classifiers are trained with)

    python -m experiments real_cross_entropy           # writes figures/real_cross_entropy.*

Data: wine (3 classes) and breast cancer (2 classes, here with two softmax outputs), scikit-learn's
copies, standardised (experiments/shared/datasets.py). Networks K-5-...-5-C of depth d = 2, 3,
Torch's default initialisation, trained by SGD on the cross-entropy (batch 1, learning rate 0.01 /
(1 + 1e-5 t), Torch7 momentum 0.5, 20,000 steps) with dropout (keep 1/2 on the hidden layers,
inputs kept) or without; RUNS runs (run r: split seed r, its own initial network and SGD stream).
Exact, because the inputs are kept: the cross-entropy is not a polynomial of the logits, so the
exact evaluator enumerates every hidden pattern, last hidden layer included (2^(5(d-1)) <= 2^10).
Depth 4 (2^15 patterns per example) is left out: at the statistical rule's 32 runs its enumeration
alone would take minutes of `make all`.

For every training example x with label y: the penalty E_R l(D, y) - l(W(x), y) at keep (1, 1/2,
...), and its label dependence. Under the cross-entropy, l(D, c) = logsumexp(D) - D_c, so the
penalty for label c differs from the penalty for label y by -(E[D_c] - W_c(x)) + (E[D_y] - W_y(x)):
only the inference gap of the logits (B33's m - W) makes it depend on the label. We report the
largest |penalty(c) - penalty(y)| over the other labels c, per example, from the exact gaps
(:func:`theory.evaluation.exact_inference_gaps`, which need no pattern of the last hidden layer).

Growth with depth (B63, B64) follows the statistical rule (experiments/shared/statistics.py):
d = a run's mean penalty at d = 3 minus at d = 2, paired by run (the split is shared; the initial
networks are drawn per depth), exact sign test, Holm over the four tests (two data sets x two
regimes); a row holds in SGD when both data sets do, fails in SGD when either is significant the
other way, else it is undecided.
"""

from __future__ import annotations

import jax
import numpy as np

from experiments.common import COLORS, Finding, rounding_bound
from experiments.shared import statistics
from experiments.shared.datasets import load_runs
from experiments.shared.split_training import stacked, train_on_splits
from sgd.initialisation import torch_default_classifier_init
from sgd.training import Regime, Schedule
from theory.evaluation import exact_inference_gaps, exact_per_example_penalties

TITLE = "Cross-entropy on real data: negative, label-dependent, deeper-growing dropout penalties"
CLAIMS = ()

DATASETS = ("wine", "breast_cancer")
DEPTHS, HIDDEN, RUNS, KEEP = (2, 3), 5, statistics.MIN_PAIRS, 0.5
REGIMES = ("dropout", "none")
GROWTH = (("B63", "none"), ("B64", "dropout"))
NEGATIVE = -1e-9     # a penalty below this is negative beyond rounding
FLOOR = 1e-12        # the label dependence is drawn on a log axis; rounding-level values at FLOOR


def _dataset(name, runs, schedule, progress):
    splits, description = load_runs(name, runs)
    classes = splits[0].num_classes
    K = splits[0].X_train.shape[1]
    run = np.repeat(np.arange(runs), len(REGIMES))          # run-major: each run's regimes together
    X, Y = stacked(splits, run, "X_train"), stacked(splits, run, "Y_train")
    out = {"classes": classes, "description": description, "by_depth": []}
    for d in DEPTHS:
        keep = (1.0,) + (KEEP,) * (d - 1)
        regimes = {"dropout": Regime(keep_prob=np.asarray(keep)), "none": Regime(keep_prob=np.ones(d))}
        inits = [torch_default_classifier_init(jax.random.fold_in(jax.random.key(178 + d), r), K,
                                              HIDDEN, d, classes)
                 for r in range(runs)]
        progress(f"{name}, depth {d}: training {runs * len(REGIMES)} networks x "
                 f"{schedule.steps:,} SGD steps on the cross-entropy")
        final = train_on_splits(splits, run, [regimes[g] for _ in range(runs) for g in REGIMES],
                                inits, jax.random.key(1780 + d + len(name)), schedule,
                                loss="cross_entropy")
        progress(f"{name}, depth {d}: exact per-example penalties ({2 ** (HIDDEN * (d - 1)):,} "
                 f"patterns) and the logits' inference gaps")
        true = np.asarray(exact_per_example_penalties(final, X, Y, keep, loss="cross_entropy"))
        gaps = np.asarray(exact_inference_gaps(final, X, keep))                      # (R, N, C)
        gap_true = np.take_along_axis(gaps, Y.astype(int)[..., None], axis=-1)
        dependence = np.max(np.abs(gap_true - gaps), axis=-1)                       # (R, N)
        entry = {"depth": d}
        for g, regime in enumerate(REGIMES):
            rows = slice(g, None, len(REGIMES))
            entry[regime] = {"penalty": true[rows], "label_dependence": dependence[rows]}
        out["by_depth"].append(entry)
    return out


def compute(*, quick: bool, progress):
    runs = 2 if quick else RUNS
    schedule = Schedule(steps=2000 if quick else 20_000, log_every=1000)
    data = {"depths": DEPTHS, "regimes": REGIMES, "runs": runs, "keep": KEEP,
            "datasets": {name: _dataset(name, runs, schedule, progress) for name in DATASETS}}
    return data, {"schedule": schedule._asdict(), "hidden": HIDDEN, "runs": runs, "keep": KEEP}


def _summary(entry, regime):
    penalty = np.asarray(entry[regime]["penalty"])
    dependence = np.asarray(entry[regime]["label_dependence"])
    return {"mean": float(penalty.mean()), "negative_share": float(np.mean(penalty < NEGATIVE)),
            "min": float(penalty.min()), "dependence": float(dependence.max()),
            "run_means": penalty.mean(axis=1)}


def findings(data):
    rows = [(name, entry["depth"], regime, _summary(entry, regime))
            for name, ds in data["datasets"].items() for entry in ds["by_depth"]
            for regime in data["regimes"]]
    negative = [(n, d, g, s) for n, d, g, s in rows if s["negative_share"] > 0]
    deep = [s for n, d, g, s in rows if d >= 3]
    shallow = [s for n, d, g, s in rows if d == 2]
    out = [Finding(
        "B61", "Trained classifiers (cross-entropy, wine and breast cancer): the exact dropout "
               "penalty is negative for some training examples",
        "; ".join(f"{n} d={d} {g}: {s['negative_share']:.1%} of examples (min {s['min']:.3g})"
                  for n, d, g, s in negative) or "no example has a negative penalty",
        f"some example of some trained network has penalty < {NEGATIVE:g} (an exact witness)",
        "holds" if negative else "fails"),
        Finding(
        "B62", "Under the cross-entropy the penalty depends on the label exactly through the "
               "logits' inference gap: never at d = 2 (only the last hidden layer is noisy), "
               "measurably at d >= 3",
        f"largest |penalty(c) - penalty(y)| over examples: d = 2 "
        f"{rounding_bound(max(s['dependence'] for s in shallow), 1e-9)}; d >= 3 "
        f"{min(s['dependence'] for s in deep):.3g} to {max(s['dependence'] for s in deep):.3g}",
        "d = 2 below 1e-9 and every d >= 3 network set above 1e-6",
        "holds" if max(s["dependence"] for s in shallow) < 1e-9
        and min(s["dependence"] for s in deep) > 1e-6 else "fails")]
    tests = {(id_, name): statistics.sign_test(np.subtract(*(
                 _summary(ds["by_depth"][i], regime)["run_means"] for i in (-1, 0))))
             for id_, regime in GROWTH for name, ds in data["datasets"].items()}
    adjusted = dict(zip(tests, statistics.holm([t.p_two_sided for t in tests.values()])))
    for id_, regime in GROWTH:
        parts, verdicts = [], []
        for name, ds in data["datasets"].items():
            test, p = tests[id_, name], adjusted[id_, name]
            verdicts.append(statistics.direction_verdict(test, p))
            means = [round(_summary(e, regime)["mean"], 4) for e in ds["by_depth"]]
            parts.append(f"{name}: mean penalty {means} at d = {list(data['depths'])}; "
                         f"{statistics.describe_sign_test(test, p)}")
        trained = "without regularisation" if regime == "none" else "with dropout"
        out.append(Finding(
            id_, f"Cross-entropy, networks trained {trained}: the exact dropout penalty grows with "
                 "depth",
            f"{data['runs']} runs per depth, paired by run (split shared). " + "; ".join(parts),
            f"d = a run's mean penalty at d = {data['depths'][-1]} - at d = {data['depths'][0]} "
            "> 0: exact sign test, Holm over B63-B64 x both data sets; holds in SGD when both "
            "data sets do", statistics.combined_verdict(verdicts)))
    return out


def plot(result):
    import matplotlib.pyplot as plt

    datasets = result["datasets"]
    fig, axes = plt.subplots(len(datasets), 3, figsize=(15, 7.8))
    for row, (name, ds) in zip(axes, datasets.items()):
        for offset, regime in zip((-0.12, 0.12), result["regimes"]):
            color = COLORS["dropout" if regime == "dropout" else "none"]
            for entry in ds["by_depth"]:
                penalty = np.asarray(entry[regime]["penalty"]).ravel()
                x = entry["depth"] + offset + np.linspace(-0.08, 0.08, penalty.size)
                row[0].scatter(x, penalty, s=3, color=color, alpha=0.35, lw=0)
            means = [_summary(e, regime)["mean"] for e in ds["by_depth"]]
            row[1].plot(result["depths"], means, color=color, marker="o",
                        label=f"trained {'with dropout' if regime == 'dropout' else 'without'}")
            shares = [_summary(e, regime)["negative_share"] for e in ds["by_depth"]]
            row[2].plot(result["depths"], [max(_summary(e, regime)["dependence"], FLOOR)
                                           for e in ds["by_depth"]], color=color, marker="o",
                        label=f"trained {'with' if regime == 'dropout' else 'without'} dropout")
            row[0].plot([], [], color=color, marker="o", ls="none",
                        label=f"{'dropout' if regime == 'dropout' else 'no regularisation'}: "
                              f"negative for {', '.join(f'{s:.1%}' for s in shares)} at d = "
                              f"{', '.join(map(str, result['depths']))}")
        row[0].axhline(0, color="black", lw=0.8)
        row[0].set_yscale("symlog", linthresh=1e-3)
        row[0].set_title(f"{name} ({ds['classes']} classes): per-example exact penalty")
        row[1].set_title("mean penalty over training examples")
        row[1].set_yscale("log")
        row[2].set_yscale("log")
        row[2].set_title("largest label dependence |penalty(c) - penalty(y)|\n"
                         f"(0 at d = 2 up to rounding; drawn at {FLOOR:g} when below)")
        for ax in row:
            ax.set_xlabel("depth d")
            ax.set_xticks(result["depths"])
        row[0].legend(fontsize=7)
        row[1].legend(fontsize=8)
    fig.suptitle(f"Cross-entropy, keep {result['keep']} on hidden layers (inputs kept): "
                 f"{result['runs']} runs per depth; every number exact", fontsize=10)
    fig.tight_layout()
    fig.text(0.5, -0.01, "\n".join(ds["description"] for ds in datasets.values()), ha="center",
             va="top", fontsize=8)
    return fig
