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
input scale while J2's does (C5, Theorem 7), so the prediction is that dropout's effect on the
losses is the same at every scale and weight decay's is not. The unregularised runs change with the
scale too (the learning-rate rule, the same initial network meeting larger inputs), so each regime
is judged against them, run by run: its effect e(s) = loss(regime, s) - loss(none, s), and its
scale dependence Delta = e(10) - e(0.1), one number per run (paired: split, initial network and SGD
stream shared). Rule, fixed before the runs (experiments/shared/statistics.py, Holm over every test
of the study): dropout (B50, B51), a claim of no effect: TOST of the mean Delta against +-MARGIN
(0.05, a twentieth of the standardised target's variance; weight decay lambda = 1/2 moves the
training risk by about 0.6 over these scales); weight decay (B52, B53), a claim of an effect in
the direction C5 gives (its aversion falls as the inputs grow): exact sign test of
d = e(0.1) - e(10) > 0. Each on the training and the test risk; a row holds in SGD when both do,
fails in SGD when either is significant the other way.
"""

from __future__ import annotations

import jax
import numpy as np
from scipy import stats

from experiments.common import COLORS, MARKERS, Finding
from experiments.shared import statistics
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
HIDDEN, RUNS, MARGIN = 10, statistics.MIN_PAIRS, 0.05
MEASURES = (("risk", "training risk"), ("test", "test risk"))
CLAIMED = {"B50": ("dropout", "flat"), "B51": ("dropout_hidden", "flat"),
           "B52": ("weight_decay", "falls"), "B53": ("weight_decay_small", "falls")}


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
                             for k, v in REGIMES.items()}, "margin": MARGIN}


def scale_dependence(data, name, measure):
    """Per run: the regime's effect against the unregularised run, at the largest scale minus at
    the smallest, e(10) - e(0.1) with e = loss(regime) - loss(none)."""
    effect = np.asarray(data[name][measure]) - np.asarray(data["none"][measure])
    return effect[:, -1] - effect[:, 0]


def _tests(data):
    """Every test of the study, Holm-adjusted together: {(row, measure): (test, p's adjusted)}."""
    tests, p_values = {}, []
    for id_, (name, claim) in CLAIMED.items():
        for measure, _ in MEASURES:
            delta = scale_dependence(data, name, measure)
            if claim == "flat":
                test = statistics.equivalence_test(delta, MARGIN)
                tests[id_, measure] = (test, len(p_values), len(p_values) + 1)
                p_values += [test.p_equivalent, test.p_beyond]
            else:
                test = statistics.sign_test(-delta)
                tests[id_, measure] = (test, len(p_values))
                p_values.append(test.p_two_sided)
    adjusted = statistics.holm(p_values)
    return {key: (entry[0], *(adjusted[i] for i in entry[1:])) for key, entry in tests.items()}


def findings(data):
    tests = _tests(data)
    common = (f"{data['runs']} runs; every regime of a run starts from the same initial network on "
              "the same split; SGD's learning rate divided by scale^2 above scale 1 (every regime "
              "alike)")
    out = []
    for id_, (name, claim) in CLAIMED.items():
        parts, verdicts = [], []
        for measure, label in MEASURES:
            test, *p = tests[id_, measure]
            if claim == "flat":
                verdicts.append(statistics.no_effect_verdict(test, *p))
                skew = float(stats.skew(scale_dependence(data, name, measure)))
                parts.append(f"{label}: {statistics.describe_equivalence_test(test, *p, 'Delta')}"
                             f" (skewness of Delta {skew:+.2f}; TOST is a t-test)")
            else:
                verdicts.append(statistics.direction_verdict(test, p[0]))
                parts.append(f"{label}: {statistics.describe_sign_test(test, p[0])}")
        what = ("the same at every scale" if claim == "flat" else
                "smaller at larger input scales")
        criterion = (f"Delta = e(10) - e(0.1), e = loss - unregularised loss of the same run: TOST "
                     f"of the mean Delta within +-{MARGIN:g} on both risks, Holm over the study"
                     if claim == "flat" else
                     "d = e(0.1) - e(10) > 0, e = loss - unregularised loss of the same run: exact "
                     "sign test on both risks, Holm over the study")
        out.append(Finding(
            id_, f"Diabetes, {LABELS[name]}: its effect on the training and test risk, against the "
                 f"unregularised runs, is {what} over input scales 0.1-10 (the paper's prediction, "
                 "C2/C5)",
            f"{common}. " + "; ".join(parts), criterion, statistics.combined_verdict(verdicts)))
    return out


def plot(result):
    import matplotlib.pyplot as plt

    data = result
    scales = np.asarray(data["scales"])
    fig, all_axes = plt.subplots(1, 4, figsize=(19, 4.6),
                                 gridspec_kw={"width_ratios": (1, 1, 1, 1.1)})
    axes = all_axes[:3]
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
    ax = all_axes[3]
    names = [name for name, _ in CLAIMED.values()]
    for i, name in enumerate(names):
        color, _ = STYLE[name]
        for offset, (measure, label), marker in zip((-0.15, 0.15), MEASURES, ("o", "s")):
            delta = scale_dependence(data, name, measure)
            ax.plot(i + offset + np.linspace(-0.07, 0.07, delta.size), delta, marker, ms=3,
                    color=color, alpha=0.6, mfc="none" if measure == "test" else color,
                    label=label if i == 0 else None)
    ax.axhspan(-MARGIN, MARGIN, color="grey",
               alpha=0.2, label="dropout's equivalence margin")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([data["labels"][n].split(" (")[0].replace(", keep 1/2", "\nkeep 1/2")
                        .replace(" λ", "\nλ") for n in names], fontsize=7.5)
    ax.set_ylabel("Delta = e(10) - e(0.1), e = loss - unregularised loss")
    ax.set_title("scale dependence against the unregularised run\n(one dot per run; paired)")
    ax.legend(fontsize=7.5)
    axes[0].set_ylabel("mean square loss (target standardised: 1 = predicting the mean)")
    axes[0].legend(loc="upper right", fontsize=7.5)
    fig.suptitle(f"Diabetes: {data['runs']} runs per point, mean ± 2 standard errors; SGD's "
                 f"learning rate divided by scale² above scale 1 (it diverges otherwise)\n"
                 f"{data['description']}", fontsize=9)
    fig.tight_layout()
    return fig
