"""MC dropout at inference: how many forward passes? (ours; issue 27, part 2)

    python -m experiments mc_dropout_samples           # writes figures/mc_dropout_samples.*

The belief: "The number of forward passes through the data should be evaluated quantitatively, but
30-100 is an appropriate range to consider" (AWS Prescriptive Guidance, "Quantifying uncertainty in
deep-learning systems", section "Monte Carlo dropout", citing Gal and Ghahramani, ICML 2016); the
Alan Turing Institute's catalogue of trustworthy-AI techniques says "typically 50-100" passes.

Networks: K-12-C, ReLU, dropout with PyTorch's placement (Linear -> ReLU -> Dropout(0.5) ->
Linear: inputs kept, the hidden layer kept with probability 1/2), Torch's default initialisation,
trained by SGD with that dropout (batch 1, learning rate 0.01 / (1 + 1e-5 t), Torch7 momentum 0.5,
20,000 steps) on diabetes (square loss), breast cancer (2 classes, softmax) and digits (10 classes,
softmax), RUNS runs each (run r: split seed r, its own initial network and SGD stream). On each
network's test set, exactly (:func:`theory.prediction.prediction_moments`, all 2^12 patterns of the
hidden layer): the ensemble prediction MC dropout estimates and the spread of one pass. The quantity
is the predicted class's probability (the ensemble's argmax) for the classifiers, the output for the
regression. Tolerances (issue 27): 0.01 in probability; 1% of the ensemble prediction's standard
deviation over the test set for the regression. Then per example:

- K_normal: the passes for P(|average - ensemble| <= tol) = 95% by the normal approximation;
- a rigorous K that suffices (Bernstein) and a rigorous upper bound on the probability that 30 and
  100 passes reach the tolerance (Berry-Esseen with Shevtsova's constant): below 95% proves that
  many passes are too few for that example (:mod:`theory.prediction`);
- MC dropout itself (REPEATS independent runs of up to 100 passes per example, fixed keys): how
  often the K-pass average lands within the tolerance (the normal approximation checked) and how
  often its predicted class differs from the ensemble's, at K = 1, 10, 30, 100.

Twelve noisy units keep the enumeration small; a wider layer averages more units in each pass. How
K_normal falls with the width is measured on diabetes, where the square loss's exact sd of one pass
has a closed form at any width (:func:`theory.output_moments`): networks 10-n-1 for n in WIDER,
trained the same way, beside the n = 12 networks above.
"""

from __future__ import annotations

import jax
import numpy as np
from scipy import stats

from experiments.common import COLORS, Finding
from experiments.shared.datasets import load_runs
from experiments.shared.split_training import initial_networks, train_on_splits
from sgd.training import Regime, Schedule
from theory.criteria import output_moments
from theory.prediction import (coverage_upper_bound, mc_prediction_averages, prediction_moments,
                               samples_normal, samples_sufficient)

TITLE = "MC dropout at inference: how many forward passes reach the exact ensemble?"
CLAIMS = ()

DATASETS = ("diabetes", "breast_cancer", "digits")
HIDDEN, KEEP, RUNS, REPEATS = 12, 0.5, 8, 50
PASSES = (1, 10, 30, 100)
BELIEF = (30, 100)                  # the belief's range of forward passes
CLASS_TOLERANCE = 0.01              # in the predicted class's probability
REGRESSION_TOLERANCE = 0.01         # times the ensemble prediction's sd over the test set
CONFIDENCE = 0.95
WIDER = (48, 192)                   # the width sweep beyond HIDDEN (diabetes, closed-form sd)


def _networks(name, runs, schedule, progress, hidden=HIDDEN):
    splits, description = load_runs(name, runs)
    classes = splits[0].num_classes
    K = splits[0].X_train.shape[1]
    run = np.arange(runs)
    inits = initial_networks(splits, hidden, 2701)
    loss = "cross_entropy" if classes else "square"
    progress(f"{name}: training {runs} networks {K}-{hidden}-{max(classes, 1)} x "
             f"{schedule.steps:,} SGD steps with dropout (keep {KEEP} on the hidden layer)")
    final = train_on_splits(splits, run, [Regime(keep_prob=np.asarray((1.0, KEEP)))] * runs,
                            inits, jax.random.key(2702 + len(name)), schedule, loss=loss)
    return splits, description, classes, loss, final


def _one_network(params, X, Y, loss, key):
    keep = (1.0, KEEP)
    moments = prediction_moments(params, X, keep_prob=keep, loss=loss)
    averages = mc_prediction_averages(key, params, X, keep_prob=keep, loss=loss, passes=PASSES,
                                      repeats=REPEATS)                    # (passes, repeats, N[, C])
    if loss == "cross_entropy":
        predicted = np.argmax(moments.mean, axis=1)
        pick = (np.arange(X.shape[0]), predicted)
        mean, var = moments.mean[pick], moments.variance[pick]
        third, largest = moments.third_abs[pick], moments.max_deviation[pick]
        estimate = averages[:, :, pick[0], predicted]                     # (passes, repeats, N)
        disagree = np.mean(np.argmax(averages, axis=-1) != predicted, axis=1)    # (passes, N)
        accuracy = float(np.mean(predicted == Y))
        tolerance = CLASS_TOLERANCE
    else:
        mean, var, third, largest = moments
        estimate, disagree = averages, None
        accuracy = None
        tolerance = REGRESSION_TOLERANCE * float(np.std(mean))
    within = np.mean(np.abs(estimate - mean) <= tolerance, axis=(1, 2))    # (passes,)
    out = {"tolerance": tolerance, "sd": np.sqrt(var),
           "k_normal": samples_normal(var, tolerance, CONFIDENCE),
           "k_sufficient": samples_sufficient(var, largest, tolerance, CONFIDENCE),
           "coverage_bound": {str(k): coverage_upper_bound(k, var, third, tolerance)
                              for k in BELIEF},
           "simulated_within": within, "test_accuracy": accuracy,
           "test_loss": (float(np.mean(np.square(mean - Y))) if loss == "square"
                         else float(-np.mean(np.log(moments.mean[np.arange(len(Y)),
                                                                 Y.astype(int)]))))}
    if disagree is not None:
        out["disagree"] = disagree
        out["ensemble_probability"] = mean
    return out


def compute(*, quick: bool, progress):
    runs = 2 if quick else RUNS
    schedule = Schedule(steps=2000 if quick else 20_000, log_every=1000)
    data = {"runs": runs, "keep": KEEP, "hidden": HIDDEN, "passes": PASSES, "belief": BELIEF,
            "repeats": REPEATS, "confidence": CONFIDENCE, "datasets": {}}
    for name in DATASETS:
        splits, description, classes, loss, final = _networks(name, runs, schedule, progress)
        progress(f"{name}: exact prediction moments (2^{HIDDEN} patterns) and {REPEATS} MC-dropout "
                 f"runs of {PASSES[-1]} passes per test example, {runs} networks")
        nets = []
        for r in range(runs):
            params = jax.tree_util.tree_map(lambda a: np.asarray(a)[r], final)
            nets.append(_one_network(params, splits[r].X_test, splits[r].Y_test, loss,
                                     jax.random.fold_in(jax.random.key(2703), r)))
        data["datasets"][name] = {
            "classes": classes, "loss": loss, "description": description,
            "networks": {key: [net[key] for net in nets] for key in nets[0]}}
    data["width_sweep"] = _width_sweep(data["datasets"]["diabetes"], runs, schedule, progress)
    config = {"schedule": schedule._asdict(), "hidden": HIDDEN, "keep": KEEP, "runs": runs,
              "repeats": REPEATS, "passes": PASSES}
    return data, config


def _width_sweep(diabetes, runs, schedule, progress):
    """K_normal per diabetes test example for networks 10-n-1: n = HIDDEN from ``diabetes`` (the
    networks above), n in WIDER trained here (closed-form sd)."""
    sweep = {"widths": (HIDDEN,) + WIDER,
             "k_normal": [np.concatenate(diabetes["networks"]["k_normal"])],
             "relative_sd": [np.concatenate([np.asarray(sd) / (t / REGRESSION_TOLERANCE)
                                             for sd, t in zip(diabetes["networks"]["sd"],
                                                              diabetes["networks"]["tolerance"])])],
             "test_loss": [diabetes["networks"]["test_loss"]]}
    for n in WIDER:
        splits, _, _, _, final = _networks("diabetes", runs, schedule, progress, hidden=n)
        k_normal, relative_sd, test_loss = [], [], []
        for r in range(runs):
            params = jax.tree_util.tree_map(lambda a: np.asarray(a)[r], final)
            mean, var = output_moments(params, splits[r].X_test, keep_prob=(1.0, KEEP))
            k_normal.append(samples_normal(var, REGRESSION_TOLERANCE * float(np.std(mean)),
                                           CONFIDENCE))
            relative_sd.append(np.sqrt(var) / float(np.std(mean)))
            test_loss.append(float(np.mean(np.square(mean - splits[r].Y_test))))
        sweep["k_normal"].append(np.concatenate(k_normal))
        sweep["relative_sd"].append(np.concatenate(relative_sd))
        sweep["test_loss"].append(test_loss)
    return sweep


def _pooled(ds, key):
    """Every test example of every network, one array."""
    return np.concatenate([np.asarray(v, dtype=np.float64) for v in ds["networks"][key]], axis=-1)


def _tolerances(ds):
    """Each pooled test example's tolerance (its network's)."""
    return np.concatenate([np.full(len(sd), t) for sd, t in zip(ds["networks"]["sd"],
                                                                ds["networks"]["tolerance"])])


def _bound(ds, k):
    return np.concatenate([np.asarray(b[str(k)]) for b in ds["networks"]["coverage_bound"]])


def _quantiles(values):
    q = np.quantile(values, [0.5, 0.9])
    return f"median {q[0]:,.0f}, 90th percentile {q[1]:,.0f}, max {np.max(values):,.0f}"


def findings(data):
    rows = []
    needed = []
    for name, ds in data["datasets"].items():
        k = _pooled(ds, "k_normal")
        unit = ("0.01 in the predicted class's probability" if ds["classes"]
                else "1% of the ensemble prediction's sd over the test set")
        needed.append(f"{name} (tol {unit}): {_quantiles(k)}; {np.mean(k > BELIEF[1]):.1%} of "
                      f"examples need more than {BELIEF[1]}, {np.mean(k <= BELIEF[0]):.1%} at most "
                      f"{BELIEF[0]}")
    examples = sum(_pooled(ds, "k_normal").size for ds in data["datasets"].values())
    rows.append(Finding(
        "B73", "MC dropout: the forward passes K for the K-pass average to land within a "
               "tolerance of the exact ensemble prediction with 95% probability (trained networks, "
               "test examples)",
        f"{data['runs']} networks per data set, {examples:,} test examples; " + "; ".join(needed),
        "K = (1.96 sd / tol)^2 with the exact sd of one pass (normal approximation; the figure's "
        "simulated runs check it)", "reported"))

    parts, witness, short = [], None, 0
    classifiers = {n: ds for n, ds in data["datasets"].items() if ds["classes"]}
    for name, ds in classifiers.items():
        sufficient = _pooled(ds, "k_sufficient")
        sd = _pooled(ds, "sd")
        shares = []
        for k in BELIEF:
            proven_short = _bound(ds, k) < data["confidence"]
            proven_enough = sufficient <= k
            shares.append(f"at {k} passes {proven_short.mean():.1%} provably short, "
                          f"{proven_enough.mean():.1%} provably enough, "
                          f"{np.mean(~proven_short & ~proven_enough):.1%} undetermined")
        parts.append(f"{name}: " + "; ".join(shares))
        bound = _bound(ds, BELIEF[1])
        short += int(np.sum(bound < data["confidence"]))
        if np.any(bound < data["confidence"]):
            i = int(np.argmin(bound))
            if witness is None or bound[i] < witness[1]:
                witness = (name, float(bound[i]), float(sd[i]))
    text = " | ".join(parts)
    if witness is not None:
        text += (f". Witness: a {witness[0]} test example whose predicted-class probability has "
                 f"sd {witness[2]:.3f} per pass; 100 passes land within 0.01 with probability "
                 f"at most {witness[1]:.3f}")
    rows.append(Finding(
        "B74", "'30-100 forward passes are an appropriate range to consider' for MC dropout (AWS "
               "Prescriptive Guidance, citing Gal and Ghahramani 2016; no tolerance stated), in "
               "our reading: 100 passes give each test example's predicted-class probability "
               "within 0.01 with 95% probability (networks with 12 noisy units at keep 0.5)",
        text, "fails when some test example of a trained classifier has a Berry-Esseen upper bound "
              "(Shevtsova's constant) below 0.95 on landing within 0.01 at K = 100 (an exact "
              "witness); holds when Bernstein's inequality proves K = 100 enough for every example; "
              "the verdict depends on the tolerance (figure, top left)",
        "fails" if short else ("holds" if all(
            np.all(_pooled(ds, "k_sufficient") <= BELIEF[1]) for ds in classifiers.values())
            else "undecided")))

    parts = []
    for name, ds in classifiers.items():
        disagree = _pooled(ds, "disagree")                                  # (passes, examples)
        per_network = np.stack([np.mean(d, axis=1) for d in
                                np.asarray(ds["networks"]["disagree"], dtype=np.float64)])
        cells = []
        for j, k in enumerate(data["passes"]):
            se = per_network[:, j].std(ddof=1) / np.sqrt(per_network.shape[0])
            cells.append(f"K={k}: {disagree[j].mean():.2%} (SE {se:.2%})")
        parts.append(f"{name}: " + ", ".join(cells))
    rows.append(Finding(
        "B75", "MC dropout: how often the K-pass average predicts another class than the exact "
               "ensemble",
        "; ".join(parts) + f" ({data['repeats']} simulated MC-dropout runs per test example)",
        "share of (test example, run) pairs whose K-pass average's argmax differs from the exact "
        "ensemble's; standard error over the networks (their mean rates)", "reported"))

    sweep = data["width_sweep"]
    cells = [f"n = {n}: {_quantiles(np.asarray(k))}; one pass's sd, median "
             f"{np.median(sd):.3f} of the predictions' sd (test loss {np.mean(loss):.3f})"
             for n, k, sd, loss in zip(sweep["widths"], sweep["k_normal"], sweep["relative_sd"],
                                       sweep["test_loss"])]
    rows.append(Finding(
        "B76", "MC dropout on wider layers: the passes K for 1% of the prediction's sd at 95% "
               "(diabetes, networks 10-n-1, the exact sd in closed form)",
        "; ".join(cells), "K = (1.96 sd / tol)^2 per test example over the runs' networks; the "
        "tolerance scales with each network's own spread of predictions, and the networks of "
        "different widths fit differently (test loss)", "reported"))
    return rows


def plot(result):
    import matplotlib.pyplot as plt

    datasets = result["datasets"]
    colors = dict(zip(datasets, (COLORS["dropout"], COLORS["weight_decay"], COLORS["none"])))
    z = stats.norm.ppf(0.5 + result["confidence"] / 2)
    fig, axes = plt.subplots(2, 3, figsize=(17, 9.5))
    ax = axes[0, 0]
    for name, ds in datasets.items():
        sd = _pooled(ds, "sd")
        tol = _tolerances(ds)
        relative = sd / tol                    # K(c tol) = (z sd / (c tol))^2, c a multiple
        multiples = np.logspace(-0.5, 1.5, 60)
        for q, style in ((0.5, "-"), (0.9, "--")):
            level = np.quantile(relative, q)
            ax.plot(multiples, np.maximum((z * level / multiples) ** 2, 1), style,
                    color=colors[name], label=f"{name}, {'median' if q == 0.5 else '90th pct'}")
    ax.axhspan(*result["belief"], color="grey", alpha=0.2, label="the belief: 30-100 passes")
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="tolerance / default tolerance (0.01 in probability; "
           "1% of sd for diabetes)", ylabel="passes K for 95% within tolerance",
           title="Passes needed against the tolerance (normal approximation, exact sd)")
    ax.legend(fontsize=7)

    ax = axes[0, 1]
    for name, ds in datasets.items():
        k = np.sort(_pooled(ds, "k_normal"))
        ax.step(k, np.arange(1, k.size + 1) / k.size, where="post", color=colors[name],
                label=f"{name}: K_normal")
        if ds["classes"]:
            short = _bound(ds, result["belief"][1]) < result["confidence"]
            ax.plot([], [], " ", label=f"{name}: {short.mean():.1%} provably short at 100")
    ax.axvspan(*result["belief"], color="grey", alpha=0.2)
    ax.set(xscale="log", xlabel="passes K for 95% within the default tolerance",
           ylabel="share of test examples", title="Per test example, at the default tolerance "
           f"({result['runs']} networks per data set)")
    ax.legend(fontsize=7, loc="lower right")

    ax = axes[1, 0]
    passes = np.asarray(result["passes"])
    for name, ds in datasets.items():
        within = np.mean(ds["networks"]["simulated_within"], axis=0)       # (passes,)
        sd, tol = _pooled(ds, "sd"), _tolerances(ds)
        with np.errstate(divide="ignore"):
            predicted = [np.mean(np.where(sd > 0, 2 * stats.norm.cdf(tol * np.sqrt(k) / sd) - 1,
                                          1.0)) for k in passes]
        ax.plot(passes, within, "o-", color=colors[name],
                label=f"{name}: simulated MC dropout")
        ax.plot(passes, predicted, "x:", color=colors[name], label=f"{name}: normal approximation")
    ax.axhline(result["confidence"], color="black", lw=0.8)
    ax.set(xscale="log", ylim=(0, 1.02), xlabel="passes K", ylabel="share landing within tolerance",
           title=f"Simulated MC dropout ({result['repeats']} runs per example) against\nthe normal "
                 "approximation: share within the default tolerance")
    ax.legend(fontsize=7)

    ax = axes[1, 1]
    for name, ds in datasets.items():
        if not ds["classes"]:
            continue
        disagree = _pooled(ds, "disagree")
        se = disagree.std(axis=1, ddof=1) / np.sqrt(disagree.shape[1])
        ax.errorbar(passes, disagree.mean(axis=1), yerr=se, marker="o", color=colors[name],
                    capsize=3, label=name)
    ax.set(xscale="log", yscale="log", xlabel="passes K", ylabel="share predicting another class",
           title="The K-pass average's class against the exact ensemble's\n(mean over (example, "
                 "run), SE over examples)")
    ax.legend(fontsize=8)

    ax = axes[0, 2]
    sweep = result["width_sweep"]
    widths = np.asarray(sweep["widths"])
    for q, style in ((0.5, "o-"), (0.9, "s--")):
        ax.plot(widths, [np.quantile(k, q) for k in sweep["k_normal"]], style,
                color=colors["diabetes"],
                label=f"diabetes, {'median' if q == 0.5 else '90th percentile'}")
    ax.axhspan(*result["belief"], color="grey", alpha=0.2, label="the belief: 30-100 passes")
    ax.set(xscale="log", yscale="log", xlabel="hidden width n (one dropout layer)",
           ylabel="passes K for 95% within 1% of sd", ylim=(10, None),
           title="Diabetes, wider layers (exact sd in closed form)")
    ax.set_xticks(widths, [str(n) for n in widths])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.legend(fontsize=7)

    ax = axes[1, 2]
    for name, ds in datasets.items():
        if ds["classes"]:
            ax.scatter(_pooled(ds, "ensemble_probability"), _pooled(ds, "k_normal"), s=3,
                       alpha=0.3, lw=0, color=colors[name], label=name)
    ax.axhspan(*result["belief"], color="grey", alpha=0.2, label="the belief: 30-100 passes")
    ax.set(yscale="log", xlabel="the exact ensemble's probability of its predicted class",
           ylabel="passes K for 95% within 0.01", title="Uncertain predictions need the most "
                                                        "passes (one dot per test example)")
    ax.legend(fontsize=7, markerscale=3)
    fig.suptitle(f"MC dropout on trained K-{result['hidden']}-C networks (PyTorch's placement, keep "
                 f"{result['keep']}): the exact ensemble against K forward passes", fontsize=10.5)
    fig.tight_layout()
    fig.text(0.5, -0.01, "\n".join(ds["description"] for ds in datasets.values()), ha="center",
             va="top", fontsize=8)
    return fig
