"""The paper's Figure 2 at full protocol: training loss against input scale (C16, C2, C5).

    python -m experiments fig2_input_scale             # ~1 min; writes figures/fig2_input_scale.*

Protocol (Section 6): K = 5, d = 2, n = 5. Ten runs; in each, ten inputs uniform on [-1, 1]^5 with
labels prod_i sign(x_i), scaled by 0.5, 0.75, 1, 1.25, 1.5 (labels unchanged). One Torch-default
initial network per run, cloned for every scale and regime, trained by SGD with batch size 1 for
100000 steps, learning rate 0.01 / (1 + 1e-5 t), momentum 0.5: with dropout (keep 1/2), with weight
decay lambda = 1/2, or with neither. 10 x 5 x 3 x 100000 = 15 million SGD steps.

Where the paper is silent we run every cheap alternative side by side (same data, initial networks
and seeds): weight decay on weights only (the paper's J2) or on weights and biases (Torch's
optim.sgd decays every parameter); Torch7's momentum (dampening = momentum, optim.sgd's default) or
PyTorch's (no dampening); and three measures of the final training loss: the exact risk R on the
training set (no dropout, no penalty), the exact regularised criterion the run minimises (J_D for
dropout, J2 for weight decay, R otherwise), and the mean minibatch loss over the last 1000 SGD steps
(dropout active, penalty excluded: what a Torch training loop prints).
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import COLORS, MARKERS, Check
from theory.evaluation import exact_risk_and_dropout_criterion
from experiments.training import Regime, Schedule, stack_runs, train
from experiments.initialisation import torch_default_init
from theory.network import sum_squared_weights

TITLE = "Figure 2: dropout is flat in the input scale, weight decay is not"
CLAIMS = ("C16", "C2", "C5")

SCALES = (0.5, 0.75, 1.0, 1.25, 1.5)
PAPER = {"dropout": [0.71, 0.71, 0.745, 0.73, 0.715],          # read off the published plot
         "weight_decay": [0.98, 0.915, 0.78, 0.65, 0.575],     # (about +-0.02, CLAIMS.md C16)
         "none_below": 0.05, "read_off_error": 0.02}
REGIMES = {
    "dropout": Regime(keep_prob=0.5),
    "weight_decay": Regime(lam=0.5),
    "weight_decay_biases": Regime(lam=0.5, decay_biases=1.0),
    "none": Regime(),
}
CONVENTIONS = {"torch7": 0.5, "pytorch": 0.0}   # momentum dampening
MEASURES = ("risk", "criterion", "sgd")
# The figure's main curves follow Torch7's optim.sgd and a Torch training loop, the paper's tools:
# dampened momentum, weight decay on every parameter, the loss printed during training.
PRIMARY = {"convention": "torch7", "measure": "sgd", "weight_decay": "weight_decay_biases"}
K, N_HIDDEN, DEPTH, N_EXAMPLES = 5, 5, 2, 10


def parity_data(key, num_examples: int = N_EXAMPLES):
    """The protocol's task: inputs uniform on [-1, 1]^K, labels prod_i sign(x_i)."""
    X = jax.random.uniform(key, (num_examples, K), jnp.float64, -1.0, 1.0)
    return X, jnp.prod(jnp.sign(X), axis=1)


def protocol_runs(runs, regimes=REGIMES, conventions=CONVENTIONS):
    """The protocol's networks on one run axis: runs x scales x regimes x conventions.

    Returns the grid of (run, scale index, regime name, convention name), one PRNG key per
    network, the stacked initial networks (one Torch-default network per run, cloned), inputs,
    labels and the list of per-network Regimes.
    """
    root = jax.random.key(2017)
    grid = list(itertools.product(range(runs), range(len(SCALES)), regimes, conventions))
    inits, datasets, keys, per_run, X, Y = [], [], [], [], [], []
    for run in range(runs):
        run_key = jax.random.fold_in(root, run)
        inits.append(torch_default_init(jax.random.fold_in(run_key, 0), K, N_HIDDEN, DEPTH))
        datasets.append(parity_data(jax.random.fold_in(run_key, 1)))
    for index, (run, s, regime, convention) in enumerate(grid):
        keys.append(jax.random.fold_in(jax.random.fold_in(root, 10_000 + run), index))
        per_run.append(regimes[regime]._replace(dampening=conventions[convention]))
        X.append(SCALES[s] * datasets[run][0])
        Y.append(datasets[run][1])
    params = stack_runs([inits[run] for run, *_ in grid])
    return grid, jnp.stack(keys), params, jnp.stack(X), jnp.stack(Y), per_run


def compute(*, quick: bool, progress):
    runs = 2 if quick else 10
    schedule = Schedule(steps=2000 if quick else 100_000, log_every=1000)
    grid, keys, params, X, Y, per_run = protocol_runs(runs)
    regime = stack_runs(per_run)
    total = len(grid) * schedule.steps
    progress(f"training {len(grid)} networks x {schedule.steps} SGD steps = {total:,} steps "
             f"(the paper's protocol is {runs}x5x3 = {runs * 15} of them)")
    trajectory = jax.block_until_ready(train(keys, params, X, Y, regime, schedule))
    progress("judging the trained networks with the exact evaluator")
    final = jax.tree_util.tree_map(lambda leaf: leaf[:, -1], trajectory.params)
    risk, j_d = exact_risk_and_dropout_criterion(final, X, Y, 0.5)
    bias_sq = sum(jnp.sum(jnp.square(b), axis=-1) for _, b in final)
    weights_sq = jax.vmap(sum_squared_weights)(final)
    j2 = risk + 0.5 * regime.lam * (weights_sq + regime.decay_biases * bias_sq)
    criterion = jnp.where(regime.keep_prob < 1, j_d, jnp.where(regime.lam > 0, j2, risk))
    values = {"risk": np.asarray(risk), "criterion": np.asarray(criterion),
              "sgd": np.asarray(trajectory.sgd_loss[:, -1])}
    shape = (runs, len(SCALES), len(REGIMES), len(CONVENTIONS))
    per_run = {m: v.reshape(shape) for m, v in values.items()}

    variants = {}
    for (r, regime_name), (c, convention), measure in itertools.product(
            enumerate(REGIMES), enumerate(CONVENTIONS), MEASURES):
        runs_by_scale = per_run[measure][:, :, r, c]
        variants[f"{regime_name}/{convention}/{measure}"] = {
            "mean": runs_by_scale.mean(axis=0), "std": runs_by_scale.std(axis=0, ddof=1),
            "runs": runs_by_scale.T}
    data = {"scales": SCALES, "paper": PAPER, "primary": PRIMARY, "variants": variants}
    for name, regime_name in (("dropout", "dropout"), ("weight_decay", PRIMARY["weight_decay"]),
                              ("none", "none")):
        chosen = variants[f"{regime_name}/{PRIMARY['convention']}/{PRIMARY['measure']}"]
        data[name] = {"mean": chosen["mean"], "std": chosen["std"], "runs": chosen["runs"]}
    data["rms_distance_to_paper"] = {
        key: float(np.sqrt(np.mean(np.square(np.subtract(
            v["mean"], PAPER["dropout" if key.startswith("dropout") else "weight_decay"])))))
        for key, v in variants.items() if not key.startswith("none")}
    config = {"runs": runs, "schedule": schedule._asdict(), "regimes":
              {k: v._asdict() for k, v in REGIMES.items()}, "conventions": CONVENTIONS,
              "K": K, "n": N_HIDDEN, "d": DEPTH, "examples": N_EXAMPLES, "seed": 2017,
              "total_sgd_steps": total}
    return data, config


def checks(data):
    paper, scales = data["paper"], data["scales"]
    runs = len(data["dropout"]["runs"][0])
    out = []
    for regime in ("dropout", "weight_decay"):
        mean, std = np.asarray(data[regime]["mean"]), np.asarray(data[regime]["std"])
        allowed = paper["read_off_error"] + 3 * std / np.sqrt(runs)
        gap = np.abs(mean - paper[regime])
        out.append(Check(
            "C16", f"{regime.replace('_', ' ')} training loss at scales {scales}: "
                   f"{paper[regime]}",
            f"{np.round(mean, 3).tolist()} (std over runs {np.round(std, 3).tolist()})",
            "each scale within read-off error 0.02 + 3 standard errors of our mean",
            bool(np.all(gap <= allowed))))
    none, none_se = np.asarray(data["none"]["mean"]), np.asarray(data["none"]["std"]) / np.sqrt(runs)
    none_runs = np.asarray(data["none"]["runs"])
    stuck = int(np.sum(none_runs > paper["none_below"]))
    out.append(Check("C16", "no regularisation: below 0.05 at every scale",
                     f"max mean {none.max():.3g} (max standard error {none_se.max():.3g}); "
                     f"{stuck} of {none_runs.size} (run, scale) pairs "
                     "end above 0.05", "every scale's mean <= 0.05 + 3 standard errors",
                     bool(np.all(none <= paper["none_below"] + 3 * none_se))))
    dropout, decay = np.asarray(data["dropout"]["mean"]), np.asarray(data["weight_decay"]["mean"])
    dropout_se = np.asarray(data["dropout"]["std"]) / np.sqrt(runs)
    spread = dropout.max() - dropout.min()
    out.append(Check(
        "C2", "dropout's training loss is flat in the input scale (Theorem 4)",
        f"dropout range over scales {spread:.3f}; weight decay range {decay.max() - decay.min():.3f}",
        "dropout range <= 4 standard errors of a mean (<= 0.1) and < 1/3 of weight decay's",
        bool(spread <= max(4 * dropout_se.max(), 0.1) and spread < (decay.max() - decay.min()) / 3)))
    out.append(Check(
        "C5", "weight decay's training loss falls as the input scale grows (Theorem 7)",
        f"{np.round(decay, 3).tolist()}", "strictly decreasing in the scale",
        bool(np.all(np.diff(decay) < 0))))
    return out


def plot(result):
    import matplotlib.pyplot as plt

    scales = np.asarray(result["scales"])
    paper, primary, variants = result["paper"], result["primary"], result["variants"]
    runs = len(result["dropout"]["runs"][0])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.4))
    labels = {"dropout": "dropout (keep 1/2)", "weight_decay": "weight decay (λ = 1/2)",
              "none": "no regularisation"}
    for offset, name in zip((-0.012, 0.0, 0.012), ("dropout", "weight_decay", "none")):
        left.errorbar(scales + offset, result[name]["mean"], yerr=result[name]["std"],
                      color=COLORS[name], marker=MARKERS[name], capsize=3, label=labels[name])
    for name in ("dropout", "weight_decay"):
        left.errorbar(scales, paper[name], yerr=paper["read_off_error"], color=COLORS[name],
                      ls=":", marker="x", ms=7, capsize=2, alpha=0.8,
                      label=f"paper's Figure 2, {name.replace('_', ' ')} (read off, ±0.02)")
    left.set_xlabel("input scale (training inputs multiplied by it; labels unchanged)")
    left.set_ylabel("training loss (mean square loss, last 1000 SGD steps)")
    biases = "decayed" if primary["weight_decay"] == "weight_decay_biases" else "not decayed"
    measure = {"sgd": "loss as printed", "risk": "exact R", "criterion": "trained criterion"}
    left.set_title(f"C16: our SGD runs (mean ± std over {runs} runs) against the paper\n"
                   f"{primary['convention']} momentum, biases {biases}, "
                   f"{measure[primary['measure']]}")
    left.set_ylim(-0.02, 1.32)
    left.legend(fontsize=7.5, loc="upper center", ncol=2)
    styles = {"risk": "-", "criterion": "--", "sgd": ":"}
    measure_names = {"risk": "R", "criterion": "trained criterion", "sgd": "last-1000-step SGD loss"}
    for regime, color in (("dropout", COLORS["dropout"]), ("weight_decay", COLORS["weight_decay"]),
                          ("weight_decay_biases", COLORS["extra1"])):
        for measure, ls in styles.items():
            for convention, marker in (("torch7", "o"), ("pytorch", "d")):
                v = variants[f"{regime}/{convention}/{measure}"]
                label = (f"{regime.replace('_', ' ')}: {measure_names[measure]}"
                         if convention == "torch7" else None)
                right.plot(scales, v["mean"], ls=ls, marker=marker, ms=3.5, color=color,
                           label=label, alpha=1.0 if convention == "torch7" else 0.55)
    for name in ("dropout", "weight_decay"):
        right.plot(scales, paper[name], "x", color="black", ms=7)
    right.set_xlabel("input scale")
    right.set_ylabel("training loss (mean over runs)")
    right.set_title("What the paper leaves unsaid: loss measure, biases decayed or not,\n"
                    "momentum convention (circles Torch7, diamonds PyTorch); × the paper")
    right.set_ylim(0.3, 1.0)
    right.legend(fontsize=6.5, ncol=2, loc="lower left")
    fig.tight_layout()
    return fig
