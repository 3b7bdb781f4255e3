"""Does too high a dropout rate underfit, and is the best rate in between? (ours; issue 27, part 4)

    python -m experiments underfitting_vs_keep         # writes figures/underfitting_vs_keep.*

The belief (Srivastava, Hinton, Krizhevsky, Sutskever and Salakhutdinov, JMLR 2014, Section 7.3,
"Effect of dropout rate", paraphrased): with the architecture fixed, a very high dropout rate
(small keep probability p) raises the training error as well as the test error, i.e. the network
underfits, while the test error is lowest for p in between and rises again as p nears 1.

Two lenses, every number exact:

1. The weights that dropout's criterion prefers. For each keep p of KEEPS we minimise the exact J_D
   over the weights (Adam on :func:`theory.dropout_criterion`, STARTS Torch-default starts, the best
   kept: a local optimum, as multi-start optimisation can only find one) and read off the training
   risk R of that network and, on real data, its test loss. Tasks: the Figure 2 task at scale 1
   (K = 5, n = 5, d = 2, the paper's dropout on inputs and hidden nodes, 2^5 input patterns; DRAWS
   data draws) and diabetes (10-12-1, PyTorch's placement: inputs kept, keep p on the hidden layer,
   where J_D has a closed form; DRAWS splits).
2. SGD-trained networks. 32 seeds x SGD_KEEPS on diabetes (square loss) and breast cancer
   (cross-entropy), K-12-C, PyTorch's placement, 20,000 steps as in the other real-data studies;
   the final networks' training and test loss, exactly (weight-scaled, as used at test time). The
   grid starts at keep 0.2: in a trial run every diabetes network at keep 0.1 diverged at this
   learning rate (kept values are scaled by 1/p = 10).

Grids: KEEPS = 0.1, 0.2, ..., 1.0 for the exact lens (DRAWS = 4 data draws, STARTS = 3 starts,
2,000 Adam steps at step size 0.01); SGD_KEEPS = 0.2, 0.35, 0.5, 0.65, 0.8, 1.0 with RUNS = 32
seeds.

Criteria fixed before the full runs. Underfitting begins (B80, reported) at the largest p at which
the median J_D-optimal network's training risk exceeds the unregularised optimum's (p = 1) by more
than UNDERFIT_SHARE = 10% of the labels' variance. In SGD (B82), the test loss at p = 1/2
(PyTorch's default) is below both ends of the grid, p = 1 and p = 0.2, by exact sign tests paired by
seed (Holm over the four tests; holds in SGD when all four do); this compares keep 1/2 with the
grid's ends, and says nothing of an optimum below p = 0.2. B81's criterion (the exact optimum's
lowest median test loss at neither end of KEEPS) was written with the rows, after a trial run.
"""

from __future__ import annotations

import jax
import numpy as np

import theory
from experiments.common import COLORS, Finding
from experiments.shared import statistics
from experiments.shared.analysis import interior_extrema
from experiments.shared.datasets import load_runs
from experiments.shared.exact_descent import adam_descent
from experiments.shared.parity_protocol import REGIMES, SCALES, protocol_runs
from experiments.shared.split_training import initial_networks, stacked, train_on_splits
from sgd.initialisation import torch_default_init
from sgd.training import Regime, Schedule, stack_runs
from theory.evaluation import each_run, exact_risks

TITLE = "Too high a dropout rate underfits; is the best rate in between?"
CLAIMS = ()

KEEPS = tuple(np.round(np.arange(0.1, 1.0001, 0.1), 10))
SGD_KEEPS = (0.2, 0.35, 0.5, 0.65, 0.8, 1.0)
DRAWS, STARTS, ADAM_STEPS, STEP_SIZE = 4, 3, 2000, 0.01
HIDDEN, RUNS, MIDDLE = 12, statistics.MIN_PAIRS, 0.5
UNDERFIT_SHARE = 0.1


def _criterion(placement):
    """J_D of a network at its run's keep p: ``placement`` "paper" (inputs and hidden, keep p) or
    "pytorch" (inputs kept, hidden keep p)."""
    def criterion(params, data):
        X, Y, keep = data
        keeps = (keep, keep) if placement == "paper" else (1.0, keep)
        return theory.dropout_criterion(params, X, Y, keep_prob=keeps)
    return criterion


def _optimise(name, X, Y, init, placement, steps, progress):
    """Adam on the exact J_D for every (draw, keep, start): X (D, N, K), Y (D, N); ``init(key)``
    a network. Returns per (draw, keep) the best start's parameters' J_D and R, and the starts'
    spread of J_D."""
    draws = X.shape[0]
    grid = [(d, k, s) for d in range(draws) for k in range(len(KEEPS)) for s in range(STARTS)]
    starts = stack_runs([init(jax.random.fold_in(jax.random.key(2707), 1000 * d + s))
                         for d, _, s in grid])
    data = (np.stack([X[d] for d, _, _ in grid]), np.stack([Y[d] for d, _, _ in grid]),
            np.asarray([KEEPS[k] for _, k, _ in grid]))
    progress(f"{name}: Adam on the exact J_D, {len(grid)} runs ({draws} data x {len(KEEPS)} keeps "
             f"x {STARTS} starts) x {steps:,} steps")
    criterion = _criterion(placement)
    params = adam_descent(criterion, steps)(starts, data, STEP_SIZE)
    value = np.asarray(jax.jit(lambda *run: each_run(criterion, *run))(params, data))
    value = value.reshape(draws, len(KEEPS), STARTS)
    best = np.argmin(value, axis=2)                                             # (D, keeps)
    chosen = [(d * len(KEEPS) + k) * STARTS + best[d, k] for d in range(draws)
              for k in range(len(KEEPS))]
    winners = jax.tree_util.tree_map(lambda a: np.asarray(a)[chosen], params)
    return winners, value


def _exact_lens(quick, progress):
    """Lens 1 (module doc): the Figure 2 task and diabetes."""
    steps = 300 if quick else ADAM_STEPS
    out = {}
    grid, _, _, X, Y, _ = protocol_runs(DRAWS, {"none": REGIMES["none"]}, {"torch7": 0.5})
    chosen = [i for i, (_, s, _, _) in enumerate(grid) if SCALES[s] == 1.0]
    X, Y = np.asarray(X)[chosen], np.asarray(Y)[chosen]
    winners, value = _optimise("Figure 2 task", X, Y, lambda k: torch_default_init(k, 5, 5, 2),
                               "paper", steps, progress)
    repeat = lambda a: np.repeat(a, len(KEEPS), axis=0)                      # noqa: E731
    out["figure2_task"] = {"criterion": value, "train_risk": np.asarray(exact_risks(
        winners, repeat(X), repeat(Y))).reshape(DRAWS, len(KEEPS)), "label_variance": float(
        np.mean(np.var(Y, axis=1)))}
    splits, description = load_runs("diabetes", DRAWS)
    Xtr, Ytr = stacked(splits, np.arange(DRAWS), "X_train"), stacked(splits, np.arange(DRAWS), "Y_train")
    Xte, Yte = stacked(splits, np.arange(DRAWS), "X_test"), stacked(splits, np.arange(DRAWS), "Y_test")
    winners, value = _optimise("diabetes", Xtr, Ytr, lambda k: torch_default_init(k, 10, HIDDEN, 2),
                               "pytorch", steps, progress)
    out["diabetes"] = {"criterion": value,
                       "train_risk": np.asarray(exact_risks(winners, repeat(Xtr), repeat(Ytr))).reshape(DRAWS, len(KEEPS)),
                       "test_loss": np.asarray(exact_risks(winners, repeat(Xte), repeat(Yte))).reshape(DRAWS, len(KEEPS)),
                       "label_variance": float(np.mean(np.var(Ytr, axis=1))),
                       "description": description}
    return out


def _sgd_lens(name, runs, quick, progress):
    """Lens 2 (module doc): ``runs`` seeds x SGD_KEEPS on ``name``; final training and test loss,
    (runs, keeps) each."""
    steps = 2_000 if quick else 20_000
    splits, description = load_runs(name, runs)
    classes = splits[0].num_classes
    K = splits[0].X_train.shape[1]
    loss = "cross_entropy" if classes else "square"
    inits = initial_networks(splits, HIDDEN, 2708)
    run = np.repeat(np.arange(runs), len(SGD_KEEPS))              # run-major: a seed's keeps together
    regimes = [Regime(keep_prob=np.asarray((1.0, p))) for _ in range(runs) for p in SGD_KEEPS]
    progress(f"{name}: training {len(run)} networks {K}-{HIDDEN}-{max(classes, 1)} "
             f"({runs} seeds x {len(SGD_KEEPS)} keeps) x {steps:,} SGD steps")
    final = train_on_splits(splits, run, regimes, inits, jax.random.key(2709 + len(name)),
                            Schedule(steps=steps, log_every=steps), loss=loss)
    shape = (runs, len(SGD_KEEPS))
    return {"loss": loss, "description": description,
            "train_loss": np.asarray(exact_risks(final, stacked(splits, run, "X_train"),
                                                 stacked(splits, run, "Y_train"),
                                                 loss=loss)).reshape(shape),
            "test_loss": np.asarray(exact_risks(final, stacked(splits, run, "X_test"),
                                                stacked(splits, run, "Y_test"),
                                                loss=loss)).reshape(shape)}


def compute(*, quick: bool, progress):
    runs = 4 if quick else RUNS
    data = {"keeps": KEEPS, "sgd_keeps": SGD_KEEPS, "runs": runs, "draws": DRAWS,
            "starts": STARTS, "underfit_share": UNDERFIT_SHARE, "middle": MIDDLE,
            "exact": _exact_lens(quick, progress),
            "sgd": {name: _sgd_lens(name, runs, quick, progress)
                    for name in ("diabetes", "breast_cancer")}}
    config = {"adam_steps": 300 if quick else ADAM_STEPS, "step_size": STEP_SIZE,
              "hidden": HIDDEN}
    return data, config


def underfitting_begins(keeps, train_risk, label_variance, share=UNDERFIT_SHARE):
    """The largest keep p at which the median (over data draws) training risk of the J_D-optimal
    network exceeds its value at p = 1 by more than ``share`` of the labels' variance; None when no
    keep does."""
    median = np.median(np.asarray(train_risk), axis=0)
    over = np.flatnonzero(median - median[-1] > share * label_variance)
    return float(np.asarray(keeps)[over.max()]) if over.size else None


def _diverged_as_infinite(values):
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values), values, np.inf)


def paired_differences(end, middle):
    """end - middle per seed, where a diverged run (a loss that is not finite) counts as worse than
    every finite one: its difference is 1 + the largest finite |difference|, with the sign of the
    comparison (a tie when both diverged), so the sign test sees the right sign."""
    end, middle = np.asarray(end, dtype=np.float64), np.asarray(middle, dtype=np.float64)
    d = end - middle
    finite = np.isfinite(d)
    big = 1.0 + (np.max(np.abs(d[finite])) if finite.any() else 0.0)
    sign = np.where(np.isfinite(end), 0.0, 1.0) - np.where(np.isfinite(middle), 0.0, 1.0)
    return np.where(finite, d, sign * big)


def findings(data):
    keeps = np.asarray(data["keeps"])
    parts = []
    for name, lens in data["exact"].items():
        median = np.median(np.asarray(lens["train_risk"]), axis=0)
        begins = underfitting_begins(keeps, lens["train_risk"], lens["label_variance"],
                                     data["underfit_share"])
        spread = np.asarray(lens["criterion"])
        gap = np.max(spread.max(axis=2) - spread.min(axis=2))
        parts.append(f"{name}: training risk of the J_D-optimal network at keep "
                     f"{', '.join(f'{k:g}' for k in keeps[::3])}: "
                     f"{', '.join(f'{v:.3f}' for v in median[::3])} (median over {data['draws']} "
                     f"data draws; labels' variance {lens['label_variance']:.3f}); by the rule "
                     + (f"underfitting already at keep {begins:g}" if begins is not None
                        else "no keep underfits") + f"; largest spread of J_D over "
                     f"{data['starts']} starts {gap:.3g}")
    rows = [Finding(
        "B80", "Too high a dropout rate underfits (Srivastava et al., JMLR 2014, Section 7.3): the "
               "training risk of the network that minimises the exact J_D rises as the keep "
               "probability falls",
        "; ".join(parts),
        f"reported: the largest keep at which the median training risk exceeds its keep-1 value "
        f"by more than {data['underfit_share']:.0%} of the labels' variance (multi-start Adam on "
        "the exact J_D: local optima)", "reported")]

    diabetes = data["exact"]["diabetes"]
    test = np.median(np.asarray(diabetes["test_loss"]), axis=0)
    _, minima = interior_extrema(test)
    best = int(np.argmin(test))
    rows.append(Finding(
        "B81", "The test loss of the J_D-optimal network is lowest at an interior keep "
               "probability (diabetes, PyTorch's placement)",
        f"median test loss over {data['draws']} splits at keep "
        f"{', '.join(f'{k:g}' for k in keeps)}: {', '.join(f'{v:.3f}' for v in test)}; lowest at "
        f"keep {keeps[best]:g}",
        "holds in optimisation when the lowest median test loss over the grid is at neither end "
        "(the networks are multi-start optima of the exact J_D)",
        "holds in optimisation" if 0 < best < len(keeps) - 1 else "fails in optimisation"))

    sgd_keeps = list(data["sgd_keeps"])
    middle, low, high = (sgd_keeps.index(k) for k in (data["middle"], sgd_keeps[0], 1.0))
    tests = {}
    for name, lens in data["sgd"].items():
        test_loss = np.asarray(lens["test_loss"], dtype=np.float64)
        tests[name, "vs_1"] = statistics.sign_test(paired_differences(test_loss[:, high],
                                                                      test_loss[:, middle]))
        tests[name, "vs_low"] = statistics.sign_test(paired_differences(test_loss[:, low],
                                                                        test_loss[:, middle]))
    adjusted = dict(zip(tests, statistics.holm([t.p_two_sided for t in tests.values()])))
    verdicts = [statistics.direction_verdict(t, adjusted[k]) for k, t in tests.items()]
    text = []
    for name, lens in data["sgd"].items():
        test_loss, train_loss = np.asarray(lens["test_loss"]), np.asarray(lens["train_loss"])
        diverged = [f"{int(np.sum(~np.isfinite(test_loss[:, j])))} at keep {k:g}"
                    for j, k in enumerate(sgd_keeps) if not np.all(np.isfinite(test_loss[:, j]))]
        medians = [np.median(_diverged_as_infinite(a), axis=0) for a in (test_loss, train_loss)]
        keep_list = ", ".join(f"{k:g}" for k in sgd_keeps)
        text.append(
            f"{name}: median test loss at keep {keep_list}: "
            f"{', '.join(f'{v:.3f}' for v in medians[0])} (training loss "
            f"{', '.join(f'{v:.3f}' for v in medians[1])})"
            + (f"; diverged runs, counted as the worse of their pair: {', '.join(diverged)}"
               if diverged else "")
            + f"; keep 1 minus keep {data['middle']:g}: "
            f"{statistics.describe_sign_test(tests[name, 'vs_1'], adjusted[name, 'vs_1'])}; "
            f"keep {sgd_keeps[0]:g} minus keep {data['middle']:g}: "
            f"{statistics.describe_sign_test(tests[name, 'vs_low'], adjusted[name, 'vs_low'])}")
    rows.append(Finding(
        "B82", f"In SGD a rate in between beats the grid's ends: the test loss at keep "
               f"{data['middle']:g} (PyTorch's default) is below that at keep 1 and at keep "
               f"{sgd_keeps[0]:g} (diabetes, breast cancer; medians count a diverged run as "
               "infinite)",
        " | ".join(text),
        f"{data['runs']} seeds per keep, paired; d = test loss at an end - at keep "
        f"{data['middle']:g} > 0: exact sign tests, Holm over the four; holds in SGD when all "
        "four do", statistics.combined_verdict(verdicts)))
    return rows


def plot(result):
    import matplotlib.pyplot as plt

    keeps = np.asarray(result["keeps"])
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.6))
    colors = {"figure2_task": COLORS["paper"], "diabetes": COLORS["weight_decay"],
              "breast_cancer": COLORS["dropout"]}
    ax = axes[0]
    for name, lens in result["exact"].items():
        risk = np.asarray(lens["train_risk"]) / lens["label_variance"]
        q = np.quantile(risk, [0.0, 0.5, 1.0], axis=0)
        ax.plot(keeps, q[1], "o-", color=colors[name], label=f"{name}: training risk / labels' "
                                                             "variance")
        ax.fill_between(keeps, q[0], q[2], color=colors[name], alpha=0.15, lw=0)
        begins = underfitting_begins(keeps, lens["train_risk"], lens["label_variance"],
                                     result["underfit_share"])
        if begins is not None:
            ax.axvline(begins, color=colors[name], ls=":", lw=1)
    ax.set(xlabel="keep probability p", ylabel="training risk R / variance of the labels",
           title="The J_D-optimal network's training risk\n(median, range over data; dotted: "
                 "the largest keep that underfits by the rule)")
    ax.legend(fontsize=8)
    ax = axes[1]
    test = np.asarray(result["exact"]["diabetes"]["test_loss"])
    ax.plot(keeps, np.median(test, axis=0), "o-", color=colors["diabetes"], label="test loss")
    ax.plot(keeps, np.median(np.asarray(result["exact"]["diabetes"]["train_risk"]), axis=0), "s--",
            color=colors["diabetes"], label="training risk")
    ax.set(xlabel="keep probability p", ylabel="loss (median over splits)",
           title="Diabetes: the J_D-optimal network, exact")
    ax.legend(fontsize=8)
    sgd_keeps = np.asarray(result["sgd_keeps"])
    for ax, (name, lens) in zip(axes[2:], result["sgd"].items()):
        for measure, style in (("test_loss", "o-"), ("train_loss", "s--")):
            values = np.asarray(lens[measure], dtype=np.float64)
            q = np.nanquantile(values, [0.25, 0.5, 0.75], axis=0)         # of the finite runs
            ax.plot(sgd_keeps, q[1], style, color=colors[name],
                    label=measure.replace("_", " ") + " (median, quartiles)")
            ax.fill_between(sgd_keeps, q[0], q[2], color=colors[name], alpha=0.15, lw=0)
        diverged = int(np.sum(~np.isfinite(np.asarray(lens["test_loss"], dtype=np.float64))))
        ax.set(xlabel="keep probability p", ylabel=f"{lens['loss'].replace('_', '-')} loss",
               title=f"{name}: SGD-trained networks, {result['runs']} seeds per keep"
                     + (f"\n({diverged} diverged runs left out of the quartiles)" if diverged
                        else ""))
        ax.legend(fontsize=8)
    fig.suptitle("Underfitting against the keep probability: the exact criterion's optimum and "
                 "SGD-trained networks", fontsize=10.5)
    fig.tight_layout()
    return fig
