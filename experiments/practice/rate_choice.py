"""Which dropout rate? A validation grid against learning the rate (ours; issue 27, part 3)

    python -m experiments rate_choice                  # writes figures/rate_choice.*

The question practitioners ask, and the seed's "future directions" name: choose the dropout rate
(with the learning rate) automatically. Three ways, on diabetes and breast cancer, K-6-1 networks
with PyTorch's placement (inputs kept, keep p on the hidden layer), RUNS = 32 seeds, all under the
square loss (breast cancer's labels 0/1: the Brier score; square-loss classifiers are competitive,
Hui and Belkin, ICLR 2021). The square loss keeps J_D in closed form here; the logistic loss's exact
J_D lists 2^6 patterns per example and its gradient made the grid alone about 50 times slower
(measured: 0.9 ms against 33 us per network and Adam step), beyond `make all`'s budget. Seed r uses
split r; its training set is cut once into a fitting part (three quarters) and a validation part
(one quarter, rows drawn by seed), and every method of the seed starts from the same Torch-default
network (paired). Every method is trained the same way: 1,000 steps of full-batch Adam (step size
halved every quarter), at each learning rate of 0.003, 0.01 and 0.03; the learning rate is chosen by
the validation loss, and the test loss is reported. Losses are those of the network as used at test
time (weight-scaled), exactly.

- ``grid``: the baseline. The exact J_D (:func:`theory.dropout_criterion`) minimised at each keep of
  0.2, 0.35, 0.5, 0.65, 0.8 and 1; keep and learning rate chosen together by the validation loss (18
  training runs).
- ``joint``: the keep probability learned with the weights by gradient descent on the same exact
  training criterion, p = sigmoid(theta) from p = 1/2 (3 runs: one per learning rate).
- ``concrete``: Concrete dropout (Gal, Hron and Kendall, NeurIPS 2017). Its drop probability
  q = sigmoid(theta) is learned through relaxed masks: a unit is kept with weight
  1 - sigmoid((log q - log(1 - q) + log u - log(1 - u)) / t), u uniform, temperature t = 0.1, kept
  values scaled by 1/(1 - q); one relaxed mask per example and step (a fixed key per run). Its
  objective is a Gaussian negative log-likelihood with a learned precision tau,
  mean(tau/2 (y - f)^2 - log(tau)/2), plus the paper's regulariser: l^2/N ||W||^2 / (1 - q) for the
  weights that read the dropped layer and 2/N times the layer's width times the negative entropy
  q log q + (1 - q) log(1 - q) (N the fitting examples; prior length scale l = 1e-4, as in the
  authors' examples, whose 2/N belongs with a Euclidean likelihood). 3 runs. The authors' examples
  learn a heteroscedastic precision; ours is one precision per network.

Both learned methods start at drop probability 0.1 (keep 0.9), Concrete dropout's default.

Criteria (experiments/shared/statistics.py): B83 "Concrete dropout performs as well as a grid
search over the rate" (the authors present it as removing the grid search): equivalence of the
paired test-loss difference concrete - grid within +-5% of the labels' variance (the constant
predictor's loss), two one-sided t-tests; "beyond the margin" is the two-sided test. Revised after
a first run, whose margin (5% of the grid's mean test loss, +-0.0016 on breast cancer) was below
the differences' standard error there, so equivalence could not have been shown; that run also used
a bare square loss with the 2/N regulariser and started at keep 1/2. B84, the same for "learning the keep probability on
the training criterion (the exact J_D) does as well as the grid", beside the learned keeps (the
share of seeds ending above 0.99). Holm over the study's eight p-values. A verdict rests on SGD-like
evidence here too (full-batch Adam from paired starts), so it reads "holds in SGD" / "fails in
SGD" / "undecided". B85 (reported): test loss against training runs spent.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import theory
from experiments.common import COLORS, Finding
from experiments.shared import statistics
from experiments.shared.datasets import load_runs
from experiments.shared.exact_descent import adam_descent
from sgd.initialisation import torch_default_init
from sgd.training import stack_runs
from theory.evaluation import exact_risks

TITLE = "Which dropout rate? A validation grid against learning the rate (joint, Concrete dropout)"
CLAIMS = ()

DATASETS = {"diabetes": "square", "breast_cancer": "square"}
HIDDEN, RUNS, ADAM_STEPS = 6, statistics.MIN_PAIRS, 1000
KEEP_GRID = (0.2, 0.35, 0.5, 0.65, 0.8, 1.0)
LEARNING_RATES = (0.003, 0.01, 0.03)
METHODS = ("grid", "joint", "concrete")
TEMPERATURE, LENGTH_SCALE = 0.1, 1e-4
MARGIN = 0.05                       # B83, B84: +-5% of the labels' variance (module doc)
START_DROP = 0.1                    # both learned methods start at drop 0.1 (Concrete's default)
VALIDATION = 0.25


def _fit_and_validation(split, seed):
    """The split's training set cut into a fitting part and a validation part (rows by seed)."""
    order = np.random.default_rng(seed).permutation(split.X_train.shape[0])
    cut = int(round(split.X_train.shape[0] * (1 - VALIDATION)))
    fit, val = order[:cut], order[cut:]
    return (split.X_train[fit], split.Y_train[fit]), (split.X_train[val], split.Y_train[val])


def _grid_criterion(loss):
    """The sum over KEEP_GRID of J_D of one seed's networks (leaves with a leading keep axis), each
    at its own keep on the seed's data: Adam on the sum moves each network as Adam on its own J_D
    would (the sum's gradient in network k is J_D_k's, and Adam works elementwise). Vmapping the
    keeps over the data they share makes the first layer one matrix product for the seed's six
    networks instead of six: the grid took 8.2 s against 23.4 s on breast cancer (30 features) and
    4.9 s against 8.5 s on diabetes (10), and its results were bit for bit those of one run per
    network (measured, 2026-12-02, the study on its own)."""
    def criterion(params, data):
        X, Y, keeps = data
        return jnp.sum(jax.vmap(lambda one, keep: theory.dropout_criterion(
            one, X, Y, keep_prob=(1.0, keep), loss=loss))(params, keeps))
    return criterion


def _joint_criterion(loss):
    def criterion(state, data):
        (params, theta), (X, Y) = state, data
        return theory.dropout_criterion(params, X, Y, keep_prob=(1.0, jax.nn.sigmoid(theta)),
                                        loss=loss)
    return criterion


def relaxed_keep(theta, u, temperature=TEMPERATURE):
    """Concrete dropout's relaxed keep mask for drop probability q = sigmoid(theta) and uniforms u:
    1 - sigmoid((log q - log(1 - q) + log u - log(1 - u)) / t). It exceeds 1/2 exactly when
    u < 1 - q, so rounded it is a Bernoulli(1 - q) keep mask at every temperature."""
    logit_q = jax.nn.log_sigmoid(theta) - jax.nn.log_sigmoid(-theta)
    return 1.0 - jax.nn.sigmoid((logit_q + jnp.log(u) - jnp.log1p(-u)) / temperature)


def concrete_objective(state, data, step, *, temperature=TEMPERATURE, length_scale=LENGTH_SCALE):
    """Concrete dropout's objective (module doc) on one relaxed mask per example, drawn from
    ``fold_in(key, step)``: ``state`` = (params, theta), drop probability q = sigmoid(theta);
    ``data`` = (X, Y, key)."""
    (params, theta, log_precision), (X, Y, key) = state, data
    (W1, b1), (W2, b2) = params
    q = jax.nn.sigmoid(theta)
    log_q, log_kept = jax.nn.log_sigmoid(theta), jax.nn.log_sigmoid(-theta)     # log q, log(1 - q)
    h = jnp.maximum(X @ W1.T + b1, 0.0)
    u = jax.random.uniform(jax.random.fold_in(key, step), h.shape, h.dtype, 1e-7, 1 - 1e-7)
    out = (h * relaxed_keep(theta, u, temperature) / (1.0 - q)) @ W2.T + b2
    # Gaussian likelihood with a learned precision tau (the square loss's own scale): the authors'
    # 2/N dropout regulariser is for a Euclidean negative log-likelihood, not a bare square loss.
    data_loss = jnp.mean(0.5 * jnp.exp(log_precision) * jnp.square(out[:, 0] - Y)
                         - 0.5 * log_precision)
    n = X.shape[0]
    weights = length_scale ** 2 / n * jnp.sum(jnp.square(W2)) / (1.0 - q)
    entropy = 2.0 / n * h.shape[1] * (q * log_q + (1.0 - q) * log_kept)
    return data_loss + weights + entropy


def _dataset(name, loss, runs, steps, progress):
    splits, description = load_runs(name, runs)
    K = splits[0].X_train.shape[1]
    parts = [_fit_and_validation(splits[r], r) for r in range(runs)]
    inits = [torch_default_init(jax.random.fold_in(jax.random.key(2710), r), K, HIDDEN, 2)
             for r in range(runs)]
    fit_X = np.stack([p[0][0] for p in parts])
    fit_Y = np.stack([p[0][1] for p in parts])
    val = [np.stack([p[1][i] for p in parts]) for i in (0, 1)]
    test = [np.stack([s.X_test for s in splits]), np.stack([s.Y_test for s in splits])]
    out = {"description": description, "loss": loss, "label_variance": np.var(fit_Y, axis=1)}
    # grid: runs x keeps at each learning rate (one program, the step size an argument)
    keeps = len(KEEP_GRID)
    rows = np.repeat(np.arange(runs), keeps)                      # run r, keep k: row r keeps + k
    grid_data = (fit_X, fit_Y, np.tile(np.asarray(KEEP_GRID), (runs, 1)))
    progress(f"{name}: grid, {runs * keeps} runs x {len(LEARNING_RATES)} learning rates x "
             f"{steps:,} Adam steps on the exact J_D")
    descend = adam_descent(_grid_criterion(loss), steps)
    starts = stack_runs([stack_runs([inits[r]] * keeps) for r in range(runs)])   # (runs, keeps, ...)
    losses = {"validation": [], "test": []}
    for lr in LEARNING_RATES:
        params = jax.tree_util.tree_map(lambda a: a.reshape((runs * keeps,) + a.shape[2:]),
                                        descend(starts, grid_data, lr))
        for part, (X, Y) in (("validation", val), ("test", test)):
            losses[part].append(np.asarray(exact_risks(params, X[rows], Y[rows], loss=loss))
                                .reshape(runs, keeps))
    out["grid"] = {k: np.stack(v, axis=-1) for k, v in losses.items()}   # (runs, keeps, lrs)
    # joint and concrete: one run per seed at each learning rate
    stacked_inits = stack_runs(inits)
    theta0 = jnp.full(runs, np.log(START_DROP / (1 - START_DROP)))    # drop 0.1
    for method in ("joint", "concrete"):
        progress(f"{name}: {method}, {runs} runs x {len(LEARNING_RATES)} learning rates x "
                 f"{steps:,} Adam steps")
        if method == "joint":
            descend, data = adam_descent(_joint_criterion(loss), steps), (fit_X, fit_Y)
            start = (stacked_inits, -theta0)                    # theta: logit of the keep
        else:
            descend = adam_descent(concrete_objective, steps, stochastic=True)
            keys = jax.vmap(lambda r: jax.random.fold_in(jax.random.key(2711), r))(
                jnp.arange(runs))
            data = (fit_X, fit_Y, keys)
            start = (stacked_inits, theta0, jnp.zeros(runs))   # theta: logit of the drop
        result = {"validation": [], "test": [], "keep": []}
        for lr in LEARNING_RATES:
            params, theta = descend(start, data, lr)[:2]
            for part, (X, Y) in (("validation", val), ("test", test)):
                result[part].append(np.asarray(exact_risks(params, X, Y, loss=loss)))
            q = np.asarray(jax.nn.sigmoid(theta))
            result["keep"].append(q if method == "joint" else 1.0 - q)
        out[method] = {k: np.stack(v, axis=-1) for k, v in result.items()}   # (runs, lrs)
    return out


def compute(*, quick: bool, progress):
    runs = 4 if quick else RUNS
    steps = 100 if quick else ADAM_STEPS
    data = {"runs": runs, "keep_grid": KEEP_GRID, "learning_rates": LEARNING_RATES,
            "margin": MARGIN, "datasets": {name: _dataset(name, loss, runs, steps, progress)
                                           for name, loss in DATASETS.items()}}
    return data, {"hidden": HIDDEN, "adam_steps": steps, "temperature": TEMPERATURE,
                  "length_scale": LENGTH_SCALE, "validation": VALIDATION}


def chosen(ds, method):
    """Per seed, the test loss of the method's network chosen by the validation loss (over keeps
    and learning rates for the grid, over learning rates otherwise), its keep and the training runs
    it spent."""
    part = ds[method]
    validation, test = np.asarray(part["validation"]), np.asarray(part["test"])
    runs = validation.shape[0]
    flat_val = np.where(np.isfinite(validation), validation, np.inf).reshape(runs, -1)
    best = np.argmin(flat_val, axis=1)
    test_loss = test.reshape(runs, -1)[np.arange(runs), best]
    if method == "grid":
        keep = np.asarray(KEEP_GRID)[best // len(LEARNING_RATES)]
    else:
        keep = np.asarray(part["keep"]).reshape(runs, -1)[np.arange(runs), best]
    return test_loss, keep, flat_val.shape[1]


def findings(data):
    tests, texts = {}, {}
    for name, ds in data["datasets"].items():
        grid, grid_keep, _ = chosen(ds, "grid")
        concrete, concrete_keep, _ = chosen(ds, "concrete")
        joint, joint_keep, _ = chosen(ds, "joint")
        margin = data["margin"] * float(np.mean(ds["label_variance"]))
        tests[name, "concrete"] = statistics.equivalence_test(concrete - grid, margin)
        tests[name, "joint"] = statistics.equivalence_test(joint - grid, margin)
        texts[name] = (grid, grid_keep, concrete, concrete_keep, joint, joint_keep, margin)
    p_values = [p for t in tests.values() for p in (t.p_equivalent, t.p_beyond)]
    adjusted = iter(statistics.holm(p_values))
    verdicts, concrete_parts, joint_parts = [], [], []
    joint_verdicts = []
    for (name, kind), t in tests.items():
        grid, grid_keep, concrete, concrete_keep, joint, joint_keep, margin = texts[name]
        p_eq, p_beyond = next(adjusted), next(adjusted)
        if kind == "concrete":
            verdicts.append(statistics.no_effect_verdict(t, p_eq, p_beyond))
            concrete_parts.append(
                f"{name}: test loss grid {np.mean(grid):.4f} (chosen keep median "
                f"{np.median(grid_keep):g}), Concrete {np.mean(concrete):.4f} (learned keep median "
                f"{np.median(concrete_keep):.3f}, range {np.min(concrete_keep):.3f}-"
                f"{np.max(concrete_keep):.3f}); "
                + statistics.describe_equivalence_test(t, p_eq, p_beyond, "concrete - grid"))
        else:
            joint_verdicts.append(statistics.no_effect_verdict(t, p_eq, p_beyond))
            joint_parts.append(
                f"{name}: learned keep median {np.median(joint_keep):.3f} "
                f"({np.mean(joint_keep > 0.99):.0%} of seeds above 0.99); test loss joint "
                f"{np.mean(joint):.4f} against grid {np.mean(grid):.4f}; "
                + statistics.describe_equivalence_test(t, p_eq, p_beyond, "joint - grid"))
    cost = "; ".join(
        f"{name}: " + ", ".join(f"{m} {np.mean(chosen(ds, m)[0]):.4f} for {chosen(ds, m)[2]} runs"
                                for m in METHODS) for name, ds in data["datasets"].items())
    return [
        Finding("B83", "Concrete dropout (Gal, Hron and Kendall, NeurIPS 2017) finds a rate as good "
                       "as a validation grid search over the keep probability and the learning "
                       "rate (diabetes, breast cancer)",
                " | ".join(concrete_parts),
                f"no effect within +-{data['margin']:.0%} of the labels' variance: two one-sided "
                "t-tests of the paired differences, Holm over the study's eight p-values; holds "
                "in SGD when both data sets show equivalence, fails in SGD when either is "
                "significantly beyond the margin", statistics.combined_verdict(verdicts)),
        Finding("B84", "Learning the keep probability with the weights on the training criterion "
                       "(the exact J_D; 1,000 Adam steps from keep 0.9) does as well as the grid",
                " | ".join(joint_parts),
                "as B83, for joint - grid", statistics.combined_verdict(joint_verdicts)),
        Finding("B85", "Test loss against training runs spent, per method (means over seeds)", cost,
                "reported", "reported")]


def plot(result):
    import matplotlib.pyplot as plt

    datasets = result["datasets"]
    colors = {"grid": COLORS["none"], "joint": COLORS["weight_decay"],
              "concrete": COLORS["dropout"]}
    fig, axes = plt.subplots(2, len(datasets), figsize=(13, 9))
    for column, (name, ds) in enumerate(datasets.items()):
        ax = axes[0, column]
        for method in METHODS:
            test_loss, _, runs_spent = chosen(ds, method)
            ax.errorbar(runs_spent, np.mean(test_loss),
                        yerr=np.std(test_loss, ddof=1) / np.sqrt(test_loss.size), marker="o",
                        color=colors[method], capsize=4, label=method)
        ax.set(xscale="log", xlabel="training runs spent per seed",
               ylabel=f"test {ds['loss']} loss of the chosen network",
               title=f"{name}: test loss against cost (mean, SE over {result['runs']} seeds;\n"
                     "the rows test the paired differences)")
        spent = sorted({chosen(ds, m)[2] for m in METHODS})
        ax.set_xticks(spent, [str(n) for n in spent])
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.legend(fontsize=8)
        ax = axes[1, column]
        for method in METHODS:
            _, keep, _ = chosen(ds, method)
            ax.hist(keep, bins=np.linspace(0, 1, 41), histtype="step", lw=2,
                    color=colors[method], label=method)
        ax.set(xlabel="keep probability chosen or learned", ylabel="seeds",
               title=f"{name}: the keep each method ends with")
        ax.legend(fontsize=8)
    fig.suptitle("Choosing the dropout rate: a validation grid (keep x learning rate) against "
                 "learning it (joint on the exact J_D, Concrete dropout)", fontsize=10.5)
    fig.tight_layout()
    return fig
