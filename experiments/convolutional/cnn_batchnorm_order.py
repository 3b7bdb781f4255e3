"""BatchNorm and dropout in a CNN: "Conv -> BN -> ReLU -> Dropout, never dropout before BatchNorm",
judged by the test loss and by the exact variance shift at every BatchNorm input (ours; B70-B72)

    python -m experiments cnn_batchnorm_order      # writes figures/cnn_batchnorm_order.*

The belief, as the most-cited answer to "Ordering of batch normalization and dropout?" states it
(stackoverflow.com/questions/39691902): "-> CONV/FC -> BatchNorm -> ReLu (or other activation) ->
Dropout -> CONV/FC ->". Its reason is the variance shift (Li, Chen, Hu and Yang, CVPR 2019): a
BatchNorm that reads dropout's output collects its statistics under dropout's variance in training
and meets the smaller variance of the un-dropped network at test.

Two arms on digits (experiments/shared/cnn_digits.py), paired by run, BatchNorm before the ReLU of
both blocks, element dropout at keep 0.8 in the first block, none before the classifier:
``bn_first``: Conv -> BN -> ReLU -> Dropout -> Conv -> BN -> ReLU (the belief's order), and
``dropout_first``: Conv -> Dropout -> BN -> ReLU -> Conv -> BN -> ReLU. BatchNorm in training mode
(minibatch statistics) during training, evaluation mode (running statistics) at test.

At every BatchNorm input, per channel, over the run's training set at the trained weights (the
BatchNorm before it normalising by its running statistics): the variance at test (no dropout), and
in training (dropout's masks), exact where the dropout acts linearly on it:
- bn1 of ``bn_first``: no dropout before it, so no shift;
- bn1 of ``dropout_first``: it reads m z / p with z the convolution's output, so its training
  variance is mean(z^2) / p - mean(z)^2 (means over examples and positions);
- bn2 of ``bn_first``: it reads a convolution of the first dropout layer, whose values a are not
  noisy: Li et al.'s formula Var_test + (q/p) sum_i W_i^2 E[a_i^2] per unit is exact
  (:func:`theory.beliefs.variance_shift.one_layer_train_variance`), and a channel's training variance
  adds the mean of that term over its units;
- bn2 of ``dropout_first``: the mask passes through BatchNorm's shift and the ReLU, so no closed form:
  Monte Carlo over SHIFT_SAMPLES draws of every example's masks, with the delta method's standard
  error. Monte Carlo runs for the three exact ones too, as their check.

Judged: B70, d = test loss(dropout_first) - test loss(bn_first) > 0, exact sign test, 32 runs;
B71, "in a stack of the belief's blocks no BatchNorm meets the variance shift": exact, it fails
when some channel of some trained ``bn_first`` network has a training/test variance ratio at bn2
(the next block's BatchNorm, which reads the dropped values through a convolution) above 1 + SHIFT; B72 (reported), the running variances the networks end with against those values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import COLORS, Finding
from experiments.shared import cnn_digits, statistics
from sgd.cnn import Architecture, batchnorm_inputs, dense_network
from theory.beliefs.variance_shift import one_layer_train_variance
from theory.compile_options import long_running_jit
from theory.evaluation import each_run
from theory.network import network_outputs

TITLE = "BatchNorm and dropout (digits CNN): the order, the test loss and the exact variance shift"
CLAIMS = ()

KEEP, SHIFT, SHIFT_SAMPLES = 0.8, 0.05, 32
ARMS = {"bn_first": Architecture(block1=("bn", "relu", "dropout"), block2=("bn", "relu"),
                                 conv_keep=KEEP),
        "dropout_first": Architecture(block1=("dropout", "bn", "relu"), block2=("bn", "relu"),
                                      conv_keep=KEEP)}
LABELS = {"bn_first": "Conv-BN-ReLU-Dropout", "dropout_first": "Conv-Dropout-BN-ReLU"}
SHORT = {"bn_first": "BN first", "dropout_first": "dropout first"}


def _channel_moments(h):
    """Per channel: mean and mean square over examples and positions of h (N, C, H, W)."""
    return jnp.mean(h, axis=(0, 2, 3)), jnp.mean(jnp.square(h), axis=(0, 2, 3))


@long_running_jit(static_argnames=("arch", "samples"))
def _moment_draws(params, state, X, keys, *, arch, samples):
    """{bn: (m1, m2)}, each (runs, samples, channels): every run's channel moments of every
    BatchNorm input under ``samples`` independent draws of every example's masks."""
    def run(p, s, x, key):
        return jax.lax.map(lambda k: {bn: _channel_moments(h) for bn, h in
                                      batchnorm_inputs(arch, p, s, x, k).items()},
                           jax.random.split(key, samples))
    # One run at a time, its draws one at a time (each is the whole training set): 5.1 s for 32
    # runs x 32 draws on the project's earlier 2-core machine (before 2026-12-02), against 10.6 s
    # with the runs vmapped and 8.6 / 12.6 s with the draws 4 / 8 at a time.
    return each_run(run, params, state, X, keys)


def monte_carlo_variances(arch, params, state, X, keys, samples: int) -> dict:
    """{bn: (variance, standard error)}, each (runs, channels), of every BatchNorm input in
    training's noise, for networks and data stacked over runs (one key each): ``samples`` draws of
    every example's masks; the variance mean(m2) - mean(m1)^2 of the draws' channel moments, its
    standard error by the delta method over the draws."""
    out = {}
    for bn, (m1, m2) in _moment_draws(params, state, X, keys, arch=arch, samples=samples).items():
        m1, m2 = np.asarray(m1), np.asarray(m2)                     # (runs, samples, C)
        mean1, mean2 = m1.mean(axis=1), m2.mean(axis=1)
        # the draws' deviations projected on the gradient (-2 mean1, 1) of m2 - m1^2
        linear = -2.0 * mean1[:, None] * (m1 - mean1[:, None]) + (m2 - mean2[:, None])
        out[bn] = (mean2 - mean1 ** 2, linear.std(axis=1, ddof=1) / np.sqrt(samples))
    return out


def exact_variances(name, params, state, X) -> dict:
    """{bn: training variance per channel} where the dropout acts linearly on it (module doc)."""
    arch = ARMS[name]
    plain = batchnorm_inputs(arch, params, state, jnp.asarray(X))
    if name == "dropout_first":
        z = np.asarray(plain["bn1"])
        mean, square = (np.asarray(m) for m in _channel_moments(z))
        return {"bn1": square / KEEP - mean ** 2}
    layers, _, _ = dense_network(arch._replace(block2=("relu",)), params, state)   # bn2 unfolded
    # Hidden layer 2's pre-activations do not read the output layer; the function takes a network
    # with one output (the square loss's), so the first logit stands in for the ten.
    one_output = layers[:2] + ((layers[2][0][:1], layers[2][1][:1]),)
    per_unit = one_layer_train_variance(one_output, X, 2, keep_prob=(1.0, KEEP, 1.0))
    z = network_outputs(layers[:2], X)                                 # bn2's input, (N, units)
    extra = (per_unit - np.var(z, axis=0)).reshape(arch.channels[1], -1).mean(axis=1)
    test = np.asarray(plain["bn2"]).var(axis=(0, 2, 3))
    return {"bn1": np.asarray(plain["bn1"]).var(axis=(0, 2, 3)), "bn2": test + extra}


def _variances(name, trained, splits, seed):
    """Per BatchNorm: the test, Monte-Carlo training (with its standard error), exact training
    (None where there is no closed form) and running variances, each (runs, channels)."""
    params, state = cnn_digits.as_float64(trained)
    X = jnp.asarray(np.stack([split.X_train for split in splits]))
    plain = jax.vmap(lambda p, s, x: batchnorm_inputs(ARMS[name], p, s, x))(params, state, X)
    keys = jax.random.split(jax.random.key(seed), len(splits))
    mc = monte_carlo_variances(ARMS[name], params, state, X, keys, SHIFT_SAMPLES)
    exact = [exact_variances(name, *cnn_digits.run_of(trained, r), split.X_train)
             for r, split in enumerate(splits)]
    return {bn: {"test": np.asarray(plain[bn]).var(axis=(1, 3, 4)), "mc": mc[bn][0],
                 "mc_se": mc[bn][1],
                 "exact": np.stack([e[bn] for e in exact]) if bn in exact[0] else None,
                 "running": np.asarray(state[bn][1])}
            for bn in plain}


def compute(*, quick: bool, progress):
    splits, description, schedule, trained = cnn_digits.train_study(ARMS, quick=quick, seed=2800,
                                                                    progress=progress)
    runs = len(splits)
    data = {"runs": runs, "description": description, "arms": {}}
    for i, (name, arch) in enumerate(ARMS.items()):
        progress(f"'{name}': test metrics; every BatchNorm input's variance at test and in "
                 f"training (exact where linear, Monte Carlo with {SHIFT_SAMPLES} draws)")
        data["arms"][name] = {"test": cnn_digits.test_metrics(arch, trained[name], splits),
                              "variances": _variances(name, trained[name], splits, 2801 + i)}
    config = {"schedule": schedule._asdict(), "runs": runs, "keep": KEEP, "shift": SHIFT,
              "shift_samples": SHIFT_SAMPLES}
    return data, config


def _train_variance(entry):
    """The training variance per (run, channel): exact where it exists, else Monte Carlo."""
    return np.asarray(entry["exact"] if entry["exact"] is not None else entry["mc"])


def _ratios(data, name, bn, of="train"):
    entry = data["arms"][name]["variances"][bn]
    test = np.asarray(entry["test"])
    value = _train_variance(entry) if of == "train" else np.asarray(entry["running"])
    return value / test


def findings(data):
    loss = {arm: np.asarray(data["arms"][arm]["test"]["loss"]) for arm in ARMS}
    accuracy = {arm: np.asarray(data["arms"][arm]["test"]["accuracy"]).mean() for arm in ARMS}
    test = statistics.sign_test(loss["dropout_first"] - loss["bn_first"])
    shift = _ratios(data, "bn_first", "bn2")
    own = _ratios(data, "bn_first", "bn1")
    worst_z = max(float(np.max(np.abs(np.asarray(e["mc"]) - np.asarray(e["exact"]))
                            / np.asarray(e["mc_se"])))
                  for arm in ARMS for e in data["arms"][arm]["variances"].values()
                  if e["exact"] is not None and np.all(np.asarray(e["mc_se"]) > 0))
    running = "; ".join(
        f"{LABELS[arm]} {bn}: running/training {np.median(_ratios(data, arm, bn, 'running') / _ratios(data, arm, bn)):.3f}, "
        f"running/test {np.median(_ratios(data, arm, bn, 'running')):.3f}, training/test "
        f"{np.median(_ratios(data, arm, bn)):.3f}"
        for arm in ARMS for bn in data["arms"][arm]["variances"])
    return [
        Finding("B70", "Never put dropout before BatchNorm: Conv -> BN -> ReLU -> Dropout gives a "
                       "lower test loss than Conv -> Dropout -> BN -> ReLU (Stack Overflow's "
                       "most-cited answer on the ordering; Li et al., CVPR 2019)",
                f"{data['runs']} runs paired by split seed; test loss {loss['bn_first'].mean():.4f} "
                f"against {loss['dropout_first'].mean():.4f}, accuracy {accuracy['bn_first']:.2%} "
                f"against {accuracy['dropout_first']:.2%}. dropout_first - bn_first: "
                f"{statistics.describe_sign_test(test, test.p_two_sided)}",
                "d = test loss(Conv-Dropout-BN-ReLU) - test loss(Conv-BN-ReLU-Dropout) > 0: exact "
                "sign test (one test)", statistics.direction_verdict(test, test.p_two_sided)),
        Finding("B71", "In a stack of Conv -> BN -> ReLU -> Dropout blocks no BatchNorm meets "
                       "dropout's variance shift (the reason the same answer gives: never dropout "
                       "before BatchNorm)",
                f"the block's own BatchNorm: training/test variance ratio {own.min():.3g} to "
                f"{own.max():.3g} (no dropout before it); the next block's BatchNorm, which reads the dropped "
                f"values through the second convolution: exact training/test variance ratio per "
                f"channel over the {shift.shape[0]} trained networks median {np.median(shift):.3f}, "
                f"largest {shift.max():.3f} ({np.mean(shift > 1 + SHIFT):.0%} of channels above "
                f"{1 + SHIFT:g}); exact with the first BatchNorm on its running statistics, as at "
                f"test (in training it uses the minibatch's); Monte Carlo agrees with every exact "
                f"value within {worst_z:.1f} standard errors",
                f"exact: fails when some channel's ratio exceeds 1 + {SHIFT:g} (a witness; the "
                "threshold fixed before the full runs), holds when none does",
                "fails" if shift.max() > 1 + SHIFT else "holds"),
        Finding("B72", "The running variances BatchNorm ends training with, against the exact "
                       "training and test variances of its input (medians over runs and channels)",
                running,
                "reported: running/training near 1 means the running statistics track training's "
                "noise; running/test above 1 is the shift a test input meets", "reported"),
    ]


def plot(result):
    import matplotlib.pyplot as plt

    arms = list(ARMS)
    colors = {"bn_first": COLORS["dropout"], "dropout_first": COLORS["weight_decay"]}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    cnn_digits.draw_test_measure(axes[0], result, "loss", LABELS, colors,
                                 "test cross-entropy (each run; mean +- SE)", pairs=True)
    positions, labels = [], []
    for i, arm in enumerate(arms):
        for j, bn in enumerate(result["arms"][arm]["variances"]):
            x = 2 * j + i * 0.8
            for ax, of in ((axes[1], "train"), (axes[2], "running")):
                ratio = _ratios(result, arm, bn, of).ravel()
                ax.scatter(x + np.linspace(-0.25, 0.25, ratio.size), ratio, s=4,
                           color=colors[arm], alpha=0.5, lw=0)
                ax.plot([x - 0.3, x + 0.3], [np.median(ratio)] * 2, color="black")
            positions.append(x)
            labels.append(f"{bn}\n{SHORT[arm]}")
    for ax, title in ((axes[1], "training / test variance of each BatchNorm input channel\n"
                                "(exact where dropout acts linearly, else Monte Carlo)"),
                      (axes[2], "running variance at the end of training / test variance")):
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_xticks(positions, labels, fontsize=8)
        ax.set_title(title)
    for arm in arms:
        axes[1].scatter([], [], color=colors[arm], label=f"{SHORT[arm]}: {LABELS[arm]}")
    axes[1].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Digits CNN, {result['runs']} runs per order, element dropout keep {KEEP} in the "
                 "first block: the order of BatchNorm and dropout", fontsize=10)
    fig.tight_layout()
    fig.text(0.5, -0.01, result["description"], ha="center", va="top", fontsize=8)
    return fig
