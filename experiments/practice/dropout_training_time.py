"""Does dropout take two to three times longer to train? (ours; issue 27, part 5)

    python -m experiments dropout_training_time        # writes figures/dropout_training_time.*

The belief: "A dropout network typically takes 2-3 times longer to train than a standard neural
network of the same architecture" (Srivastava, Hinton, Krizhevsky, Sutskever and Salakhutdinov,
JMLR 2014, Conclusion); textbooks repeat it ("dropout tends to increase the total training time by
2~3 times", quoted in Cross Validated question 461718). Their explanation is the noisier gradient,
so the claim is about the number of steps (the time per step is ``make bench``'s business).

Three tasks, RUNS seeds each, with dropout against without, paired by seed (same data, initial
network; each network its own SGD stream): the Figure 2 task at scale 1 (the paper's dropout, keep
1/2 on inputs and hidden nodes; 100,000 steps; the measure is the objective each arm minimises,
exactly: J_D with dropout, the risk R without; the task has no test set), diabetes (square loss) and
breast cancer (cross-entropy, two softmax outputs), K-8-C networks with PyTorch's placement
(Dropout(0.5) after the hidden ReLU; 20,000 steps; the measure is again the objective each arm
minimises, on the training set: J_D with dropout, exact under the cross-entropy by listing the 2^8
patterns, and R without). The test loss of the networks as used at test time (weight-scaled) is
drawn beside it. SGD as in the paper (batch 1, learning rate 0.01 / (1 + 1e-5 t), Torch7 momentum
0.5), CHECKPOINTS checkpoints per run, every measure exact.

Time to train, fixed before the runs: the steps until the measure first comes within 1% of the
way from its initial value to its final value, L_t - L_final <= 0.01 (L_0 - L_final), read at the
checkpoints (a run that never improves, L_0 <= L_final, has no time and its pair is left out; the
row says how many). Per seed, the ratio r = steps with dropout / steps without.

The practitioner's other clock, reported beside (B79): on the real data sets, the steps each arm
needs to first reach a fixed test loss, the higher of the two arms' best test losses of the seed
(both arms reach it), read at the same checkpoints.

Verdicts (experiments/shared/statistics.py): B77 "dropout takes longer to train", d = log r > 0;
B78 "two to three times longer", d = log(r / 2) > 0 and d = log(3 / r) > 0, each an exact sign test;
Holm over the nine tests (three per task); a row holds in SGD when every task's tests do.
"""

from __future__ import annotations

import jax
import numpy as np

from experiments.common import COLORS, Finding
from experiments.shared import statistics
from experiments.shared.datasets import load_runs
from experiments.shared.parity_protocol import REGIMES as PARITY_REGIMES
from experiments.shared.parity_protocol import SCALES, protocol_runs
from experiments.shared.split_training import initial_networks, train_on_splits
from sgd.training import Regime, Schedule, stack_runs, train
from theory.evaluation import (exact_along_training, exact_risk_and_dropout_criterion,
                               exact_risks)

TITLE = "Does dropout take two to three times longer to train? SGD steps to convergence"
CLAIMS = ()

RUNS, HIDDEN, KEEP, CHECKPOINTS = statistics.MIN_PAIRS, 8, 0.5, 50
FRACTION = 0.01                     # time to train: within 1% of the way to the final value
SENSITIVITY = (0.05, 0.1)           # the same clock at looser fractions, reported beside
BELIEF = (2.0, 3.0)
TASKS = ("figure2_task", "diabetes", "breast_cancer")
ARMS = ("dropout", "none")
PARITY_KEEP = 0.5                   # the paper's dropout on the Figure 2 task (inputs and hidden)


def _flat(checkpoints, X, Y):
    """Checkpoint leaves (R, C, ...) and per-run data (R, N, K), (R, N) as R * C runs."""
    runs, count = jax.tree_util.tree_leaves(checkpoints)[0].shape[:2]
    flat = jax.tree_util.tree_map(lambda a: np.asarray(a).reshape((runs * count,) + a.shape[2:]),
                                  checkpoints)
    return flat, np.repeat(np.asarray(X), count, axis=0), np.repeat(np.asarray(Y), count, axis=0)


def _figure2_task(runs, quick, progress):
    """The Figure 2 task at scale 1: runs x (dropout, none); each arm's own exact objective along
    training, J_D (keep 1/2) with dropout and R without."""
    steps = 10_000 if quick else 100_000
    regimes = {arm: PARITY_REGIMES[arm] for arm in ARMS}
    grid, keys, params, X, Y, per_network = protocol_runs(runs, regimes, {"torch7": 0.5})
    chosen = np.asarray([i for i, (_, s, _, _) in enumerate(grid) if SCALES[s] == 1.0])
    pick = lambda tree: jax.tree_util.tree_map(lambda a: a[chosen], tree)   # noqa: E731
    schedule = Schedule(steps=steps, log_every=steps // CHECKPOINTS)
    progress(f"Figure 2 task: training {len(chosen)} networks x {steps:,} SGD steps")
    trained = train(keys[chosen], pick(params), X[chosen], Y[chosen], pick(per_network), schedule)
    X, Y = X[chosen], Y[chosen]
    initial = exact_risk_and_dropout_criterion(pick(params), X, Y, PARITY_KEEP)       # (R,) each
    along = exact_along_training(trained.params, X, Y, PARITY_KEEP)                   # (R, C) each
    arm = np.asarray([grid[i][2] for i in chosen])
    out = {"measure": "its objective: J_D (dropout), R (none)", "steps": steps,
           "log_every": schedule.log_every}
    for a, which in (("dropout", 1), ("none", 0)):
        curves = np.concatenate([np.asarray(initial[which])[:, None],
                                 np.asarray(along[which])], axis=1)
        out[a] = curves[arm == a]
    return out


def _real(name, runs, quick, progress):
    """K-8-C networks on ``name``'s splits: runs x (dropout, none); each arm's own exact objective
    on the training set along training (J_D with keep (1, 1/2), R without) and the test loss."""
    steps = 2_000 if quick else 20_000
    splits, description = load_runs(name, runs)
    classes = splits[0].num_classes
    K = splits[0].X_train.shape[1]
    loss = "cross_entropy" if classes else "square"
    inits = initial_networks(splits, HIDDEN, 2705)
    run = np.repeat(np.arange(runs), len(ARMS))                   # run-major: a seed's arms together
    keep = {"dropout": (1.0, KEEP), "none": (1.0, 1.0)}
    regimes = [Regime(keep_prob=np.asarray(keep[a])) for _ in range(runs) for a in ARMS]
    schedule = Schedule(steps=steps, log_every=steps // CHECKPOINTS)
    progress(f"{name}: training {len(run)} networks {K}-{HIDDEN}-{max(classes, 1)} x {steps:,} SGD "
             "steps, then the exact objectives at every checkpoint")
    checkpoints = train_on_splits(splits, run, regimes, inits, jax.random.key(2706 + len(name)),
                                  schedule, loss=loss, every_checkpoint=True)
    initial = stack_runs([jax.tree_util.tree_map(lambda a: np.asarray(a)[None], inits[r])
                          for r in run])
    every = jax.tree_util.tree_map(lambda a, b: np.concatenate([np.asarray(a), np.asarray(b)],
                                                               axis=1), initial, checkpoints)
    out = {"measure": f"its objective on the training set ({'cross-entropy' if classes else 'square loss'}): "
                      "J_D (dropout), R (none)",
           "steps": steps, "log_every": schedule.log_every, "description": description}
    for g, arm in enumerate(ARMS):
        objective, test = [], []
        for r in range(runs):             # one seed's checkpoints per call: bounded memory
            mine = jax.tree_util.tree_map(lambda a: a[len(ARMS) * r + g][None], every)
            risk, criterion = exact_risk_and_dropout_criterion(
                *_flat(mine, splits[r].X_train[None], splits[r].Y_train[None]), keep[arm],
                loss=loss)
            objective.append(np.asarray(criterion if arm == "dropout" else risk))
            test.append(np.asarray(exact_risks(
                *_flat(mine, splits[r].X_test[None], splits[r].Y_test[None]), loss=loss)))
        out[arm], out[f"{arm}_test"] = np.stack(objective), np.stack(test)
    return out


def compute(*, quick: bool, progress):
    runs = 4 if quick else RUNS
    tasks = {"figure2_task": _figure2_task(runs, quick, progress)}
    for name in TASKS[1:]:
        tasks[name] = _real(name, runs, quick, progress)
    data = {"runs": runs, "fraction": FRACTION, "belief": BELIEF, "tasks": tasks}
    return data, {"runs": runs, "hidden": HIDDEN, "keep": KEEP, "checkpoints": CHECKPOINTS}


def steps_to_train(curves, log_every, fraction=FRACTION):
    """Per run (rows of ``curves``: the measure at step 0 and at every checkpoint), the steps until
    L_t - L_final <= fraction (L_0 - L_final) first holds; NaN when L_0 <= L_final."""
    curves = np.asarray(curves, dtype=np.float64)
    initial, final = curves[:, :1], curves[:, -1:]
    reached = curves - final <= fraction * (initial - final)
    first = np.argmax(reached, axis=1).astype(np.float64) * log_every
    return np.where(initial[:, 0] > final[:, 0], first, np.nan)


def _ratios(task, fraction):
    steps = {a: steps_to_train(task[a], task["log_every"], fraction) for a in ARMS}
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = steps["dropout"] / steps["none"]
    valid = np.isfinite(ratio) & (ratio > 0)
    return steps, ratio, valid


def _median_ratio(task, fraction):
    _, ratio, valid = _ratios(task, fraction)
    return float(np.median(ratio[valid]))


def steps_to_common_test_loss(task):
    """Per seed, the steps with dropout and without to first reach the higher of the two arms' best
    test losses (B79); the test curves include step 0."""
    with_, without = (np.asarray(task[f"{a}_test"], dtype=np.float64) for a in ARMS)
    target = np.maximum(with_.min(axis=1), without.min(axis=1))[:, None]
    return tuple(np.argmax(c <= target, axis=1) * task["log_every"] for c in (with_, without))


def findings(data):
    tests, parts = {}, {}
    for name, task in data["tasks"].items():
        steps, ratio, valid = _ratios(task, data["fraction"])
        r = ratio[valid]
        tests[name, "longer"] = statistics.sign_test(np.log(r))
        tests[name, "at_least_2"] = statistics.sign_test(np.log(r / data["belief"][0]))
        tests[name, "at_most_3"] = statistics.sign_test(np.log(data["belief"][1] / r))
        parts[name] = (f"{name} ({task['measure']}): median steps {np.nanmedian(steps['dropout']):,.0f} "
                       f"with dropout against {np.nanmedian(steps['none']):,.0f} without; ratio "
                       f"median {np.median(r):.2f} (quartiles {np.quantile(r, 0.25):.2f}-"
                       f"{np.quantile(r, 0.75):.2f}) over {r.size} pairs"
                       + (f" ({np.sum(~valid)} left out: no improvement)" if np.any(~valid) else ""))
    adjusted = dict(zip(tests, statistics.holm([t.p_two_sided for t in tests.values()])))
    verdict = {k: statistics.direction_verdict(t, adjusted[k]) for k, t in tests.items()}
    names = list(data["tasks"])
    looser = "; ".join(f"{n}: " + ", ".join(f"{_median_ratio(data['tasks'][n], f):.2f} at {f:.0%}"
                                            for f in SENSITIVITY) for n in names)
    longer = [f"{parts[n]}; log r > 0: {statistics.describe_sign_test(tests[n, 'longer'], adjusted[n, 'longer'], 'log r')}"
              for n in names] + [f"median ratio with the clock at looser fractions of the way: {looser}"]
    belief = [f"{n}: r > 2 {statistics.describe_sign_test(tests[n, 'at_least_2'], adjusted[n, 'at_least_2'], 'log(r/2)')}; "
              f"r < 3 {statistics.describe_sign_test(tests[n, 'at_most_3'], adjusted[n, 'at_most_3'], 'log(3/r)')}"
              for n in names]
    return [
        Finding("B77", "Dropout takes longer to train, by the clock 'steps until the arm's own "
                       "exact objective is within 1% of the way from its initial to its last "
                       "checkpoint's value' (paired by seed; Figure 2 task, diabetes, breast "
                       "cancer)",
                " | ".join(longer),
                "d = log(steps with dropout / steps without) > 0, exact sign test per task, Holm "
                "over B77-B78's nine tests; holds in SGD when all three tasks do",
                statistics.combined_verdict(verdict[n, "longer"] for n in names)),
        Finding("B78", "'A dropout network typically takes 2-3 times longer to train' (Srivastava et "
                       "al., JMLR 2014), by B77's clock: the ratio of steps lies between 2 and 3 "
                       "(B79 gives the test-loss clock)",
                " | ".join(belief),
                "per task, log(r/2) > 0 and log(3/r) > 0 by exact sign tests (Holm as B77); holds "
                "in SGD when both do for every task, fails in SGD when either is significant the "
                "other way for some task",
                statistics.combined_verdict(verdict[n, side] for n in names
                                            for side in ("at_least_2", "at_most_3"))),
        Finding("B79", "Dropout's time to train by the test loss: SGD steps to a fixed test loss "
                       "(the higher of the two arms' best, per seed), with dropout against without",
                " | ".join(_common_text(n, data["tasks"][n]) for n in names
                           if f"{ARMS[0]}_test" in data["tasks"][n]),
                "per seed, steps to the first checkpoint at or below the target; reported",
                "reported")]


def _common_text(name, task):
    with_, without = steps_to_common_test_loss(task)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = with_ / without
    finite = ratio[np.isfinite(ratio)]
    return (f"{name}: median steps {np.median(with_):,.0f} with dropout against "
            f"{np.median(without):,.0f} without; ratio median {np.median(finite):.2f} "
            f"(quartiles {np.quantile(finite, 0.25):.2f}-{np.quantile(finite, 0.75):.2f}; "
            f"{finite.size} seeds with a finite ratio); the best test loss is lower with dropout "
            f"for {np.mean(np.min(task['dropout_test'], axis=1) < np.min(task['none_test'], axis=1)):.0%} "
            "of seeds")


def _curves(ax, task, arms, log_every, fraction, label):
    """Median and quartiles of each arm's curve (keys ``arms``: dropout, none)."""
    colors = {"dropout": COLORS["dropout"], "none": COLORS["none"]}
    for arm, key in zip(ARMS, arms):
        curves = np.asarray(task[key])
        t = np.arange(curves.shape[1]) * log_every
        q = np.quantile(curves, [0.25, 0.5, 0.75], axis=0)
        ax.plot(t, q[1], color=colors[arm], label=f"{'with' if arm == 'dropout' else 'without'} "
                                                  f"dropout{label(arm)}")
        ax.fill_between(t, q[0], q[2], color=colors[arm], alpha=0.2, lw=0)


def _ratio_panel(ax, ratios, title, band=None):
    for i, (name, r) in enumerate(ratios.items()):
        r = np.sort(r[np.isfinite(r) & (r > 0)])
        ax.scatter(i + np.linspace(-0.2, 0.2, r.size), r, s=10, color=COLORS["dropout"])
        ax.plot([i - 0.3, i + 0.3], [np.median(r)] * 2, color="black")
    if band is not None:
        ax.axhspan(*band, color="grey", alpha=0.25, label="the belief: 2-3 times longer")
        ax.legend(fontsize=8)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set(yscale="log", xticks=range(len(ratios)), xticklabels=list(ratios),
           ylabel="steps with dropout / steps without (per seed)", title=title)


def plot(result):
    import matplotlib.pyplot as plt

    tasks = result["tasks"]
    fraction = result["fraction"]
    fig, axes = plt.subplots(2, len(tasks) + 1, figsize=(19, 9.2))
    for ax, (name, task) in zip(axes[0], tasks.items()):
        times = {a: np.nanmedian(steps_to_train(task[a], task["log_every"], fraction))
                 for a in ARMS}
        _curves(ax, task, ARMS, task["log_every"], fraction,
                lambda arm: f": median time {times[arm]:,.0f} steps")
        for arm in ARMS:
            ax.axvline(times[arm], color=COLORS[arm], ls=":", lw=1)
        ax.set(xlabel="SGD step", ylabel=task["measure"].replace(": J_D", ":\nJ_D"),
               yscale="log", title=f"{name}: each arm's objective over {result['runs']} seeds\n"
                                   "(median, quartiles; dotted: median time to train)")
        ax.set_ylim(bottom=max(ax.get_ylim()[0], 1e-4))
        ax.legend(fontsize=8)
    _ratio_panel(axes[0, -1], {n: np.divide(*(steps_to_train(t[a], t["log_every"], fraction)
                                              for a in ARMS)) for n, t in tasks.items()},
                 "Time to train (B77, B78): ratio per seed,\nblack the median", result["belief"])
    real = {n: t for n, t in tasks.items() if "dropout_test" in t}
    axes[1, 0].axis("off")
    axes[1, 0].text(0.02, 0.95, "Bottom row: the test loss of the networks as used at test time\n"
                    "(weight-scaled), exact. B79's clock: the steps to the first checkpoint\n"
                    "at or below the higher of the two arms' best test losses of the seed.\n"
                    "The Figure 2 task has no test set.", va="top", fontsize=9,
                    transform=axes[1, 0].transAxes)
    for ax, (name, task) in zip(axes[1, 1:], real.items()):
        _curves(ax, task, [f"{a}_test" for a in ARMS], task["log_every"], fraction,
                lambda arm: "")
        ax.set(xlabel="SGD step", ylabel="test loss (exact, weight-scaled)", yscale="log",
               title=f"{name}: test loss, median and quartiles")
        ax.legend(fontsize=8)
    ratios = {}
    for name, task in real.items():
        with_, without = steps_to_common_test_loss(task)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[name] = with_ / without
    _ratio_panel(axes[1, -1], ratios, "Steps to a common test loss (B79):\nratio per seed")
    fig.suptitle("Does dropout take 2-3 times longer to train? Steps until each arm's objective is "
                 "within 1% of the way from its initial to its final value, paired by seed",
                 fontsize=10.5)
    fig.tight_layout()
    return fig
