"""Dropout before the classifier of a CNN: does it lower the test loss, and what penalty does it add?
(ours; finding B69)

    python -m experiments cnn_classifier_dropout      # writes figures/cnn_classifier_dropout.*

The belief: "put dropout before the final fully connected classifier", the placement of AlexNet
(Krizhevsky, Sutskever and Hinton, NeurIPS 2012: dropout in the fully connected layers only) that
Keras' and PyTorch's example CNNs keep, with the rate PyTorch's ``nn.Dropout()`` defaults to (0.5).

Two arms on digits (experiments/shared/cnn_digits.py), paired by run, nothing between the
convolutions: Dropout(0.5) after Flatten, before the Linear classifier (``classifier``), or none
(``none``). Judged: B69, d = test loss(none) - test loss(classifier) > 0, exact sign test, 32 runs.
Beside it, the penalty the classifier's dropout adds at the trained weights of both arms: under the
cross-entropy, exact only by enumerating the 2^128 patterns of the 128 units the classifier reads, so
Monte Carlo with its standard error; and, exact in closed form, the
variance the dropout puts on each logit, sum_j w_cj^2 h_j^2 (1 - p)/p (the square loss's penalty on
one-hot targets is its sum over the classes: the last noisy layer integrated analytically, B32).
"""

from __future__ import annotations

import numpy as np

from experiments.common import COLORS, Finding
from experiments.shared import cnn_digits, statistics
from sgd.cnn import Architecture, dense_network
from theory.network import network_outputs
from theory.noise import noise_variance

TITLE = "Dropout before the classifier (digits CNN): test loss and the penalty it adds"
CLAIMS = ()

KEEP_HEAD = 0.5
ARMS = {"none": Architecture(block1=("relu",)),
        "classifier": Architecture(block1=("relu",), head_keep=KEEP_HEAD)}
LABELS = {"none": "no dropout", "classifier": "Dropout(0.5) before the classifier"}


def _logit_variance(trained, splits) -> np.ndarray:
    """Per run: the mean over the penalty examples and the classes of the exact variance of a logit
    under the classifier's dropout alone, (1 - p)/p sum_j w_cj^2 h_j^2."""
    out = []
    for r, split in enumerate(splits):
        layers, _, _ = dense_network(ARMS["classifier"], *cnn_digits.run_of(trained, r))
        h = network_outputs(layers[:2], split.X_train[:cnn_digits.PENALTY_EXAMPLES])   # ReLU values
        h = np.maximum(h, 0.0)
        w = np.asarray(layers[2][0])
        out.append(float(noise_variance(KEEP_HEAD) * np.mean(np.square(h) @ np.square(w).T)))
    return np.asarray(out)


def compute(*, quick: bool, progress):
    splits, description, schedule, trained = cnn_digits.train_study(ARMS, quick=quick, seed=2700,
                                                                    progress=progress)
    runs = len(splits)
    data = {"runs": runs, "description": description, "arms": {}}
    for name, arch in ARMS.items():
        progress(f"'{name}': test metrics; the classifier dropout's penalty (Monte Carlo) and logit "
                 f"variance (exact) at the trained weights")
        data["arms"][name] = {
            "test": cnn_digits.test_metrics(arch, trained[name], splits),
            "penalty": cnn_digits.penalty_of_runs(ARMS["classifier"], trained[name], splits,
                                                  seed=2701),
            "logit_variance": _logit_variance(trained[name], splits)}
    config = {"schedule": schedule._asdict(), "runs": runs, "keep_head": KEEP_HEAD,
              "penalty_examples": cnn_digits.PENALTY_EXAMPLES,
              "penalty_samples": cnn_digits.PENALTY_SAMPLES}
    return data, config


def _test(data, measure, arm):
    return np.asarray(data["arms"][arm]["test"][measure])


def findings(data):
    test = statistics.sign_test(_test(data, "loss", "none") - _test(data, "loss", "classifier"))
    accuracy = {arm: _test(data, "accuracy", arm).mean() for arm in ARMS}
    penalty = {arm: np.asarray(data["arms"][arm]["penalty"]["value"]) for arm in ARMS}
    se = max(np.asarray(data["arms"][arm]["penalty"]["se"]).max() for arm in ARMS)
    variance = {arm: np.asarray(data["arms"][arm]["logit_variance"]) for arm in ARMS}
    return [Finding(
        "B69", "Dropout before a CNN's final classifier lowers the test loss (AlexNet's placement, "
               "kept by the frameworks' example CNNs)",
        f"{data['runs']} runs paired by split seed; test loss none {_test(data, 'loss', 'none').mean():.4f}, "
        f"classifier dropout {_test(data, 'loss', 'classifier').mean():.4f}; accuracy "
        f"{accuracy['none']:.2%} against {accuracy['classifier']:.2%}. none - classifier: "
        f"{statistics.describe_sign_test(test, test.p_two_sided)}. The classifier dropout's "
        f"cross-entropy penalty at the trained weights (Monte Carlo, largest SE {se:.2g}): mean "
        f"{penalty['classifier'].mean():.4f} trained with it, {penalty['none'].mean():.4f} trained "
        f"without; exact mean logit variance it adds {variance['classifier'].mean():.3g} against "
        f"{variance['none'].mean():.3g}",
        "d = test loss without - with the classifier's dropout > 0: exact sign test (one test, "
        "no family)", statistics.direction_verdict(test, test.p_two_sided))]


def plot(result):
    import matplotlib.pyplot as plt

    arms = list(ARMS)
    colors = {"none": COLORS["none"], "classifier": COLORS["dropout"]}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    cnn_digits.draw_test_measure(axes[0], result, "loss", LABELS, colors,
                                 "test cross-entropy (each run; mean +- SE)", pairs=True)
    cnn_digits.draw_test_measure(axes[1], result, "accuracy", LABELS, colors, "test accuracy")
    for arm in arms:
        penalty = result["arms"][arm]["penalty"]
        axes[2].errorbar(np.asarray(result["arms"][arm]["logit_variance"]),
                         np.asarray(penalty["value"]), yerr=2 * np.asarray(penalty["se"]), fmt="o",
                         ms=4, color=colors[arm], label=f"trained with {LABELS[arm].lower()}")
    axes[2].set_xlabel("exact mean logit variance the classifier's dropout adds")
    axes[2].set_ylabel("cross-entropy penalty (Monte Carlo, +- 2 SE)")
    axes[2].set_title(f"the classifier dropout's penalty at keep {KEEP_HEAD}, per trained network")
    axes[2].legend(fontsize=8)
    fig.suptitle(f"Digits CNN, {result['runs']} runs per arm, nothing between the convolutions: "
                 "dropout before the classifier or none", fontsize=10)
    fig.tight_layout()
    fig.text(0.5, -0.01, result["description"], ha="center", va="top", fontsize=8)
    return fig
