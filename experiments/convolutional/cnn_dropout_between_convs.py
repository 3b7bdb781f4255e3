"""Dropout between convolutions: "pointless" as element dropout, "effective" as channel dropout?
(ours; findings B65-B68)

    python -m experiments cnn_dropout_between_convs      # writes figures/cnn_dropout_between_convs.*

The belief, as the Keras documentation of SpatialDropout2D states it (after Tompson, Goroshin, Jain,
LeCun and Bregler, CVPR 2015, who introduced channel dropout): "If adjacent pixels within feature
maps are strongly correlated (as is normally the case in early convolution layers) then regular
dropout will not regularize the activations and will otherwise just result in an effective learning
rate decrease. In this case, SpatialDropout2D will help promote independence between feature maps
and should be used instead." (keras.io/api/layers/regularization_layers/spatial_dropout2d).

Three arms on digits (experiments/shared/cnn_digits.py), paired by run, each with PyTorch's default
Dropout(0.5) before the classifier: nothing between the convolutions (``none``), element dropout
(``nn.Dropout(0.2)``, keep 0.8) after the first ReLU (``element``), or channel dropout
(``nn.Dropout2d(0.2)``) there (``channel``).

Judged (32 runs, the rule of experiments/shared/statistics.py, Holm over B65-B67):
- B65, "element dropout there is pointless": a claim of no effect, two one-sided tests of the mean
  test-loss difference element - none against +-MARGIN nats (fixed before the full runs: a tenth of
  these networks' test loss of about 0.1, the size a practitioner would call a change; the row states
  the margin 32 pairs can show with 80% power, and a smaller one needs more runs);
- B66, "channel dropout there helps": d = test loss(none) - test loss(channel) > 0, sign test;
- B67, "channel dropout should be used instead": d = test loss(element) - test loss(channel) > 0.
- B68 (reported), the exact lens on the mechanism, "element dropout does not regularize": at the same
  trained weights, the cross-entropy penalty of element dropout between the convolutions (Monte Carlo,
  2^256 patterns) against that of channel dropout at the same keep (exact, 2^4 patterns).
"""

from __future__ import annotations

import numpy as np

from experiments.common import COLORS, Finding
from experiments.shared import cnn_digits, statistics
from sgd.cnn import Architecture

TITLE = "Dropout between convolutions (digits CNN): element against channel dropout"
CLAIMS = ()

KEEP_BETWEEN, KEEP_HEAD, MARGIN = 0.8, 0.5, 0.01
ARMS = {
    "none": Architecture(block1=("relu",), head_keep=KEEP_HEAD),
    "element": Architecture(block1=("relu", "dropout"), conv_keep=KEEP_BETWEEN, head_keep=KEEP_HEAD),
    "channel": Architecture(block1=("relu", "dropout2d"), conv_keep=KEEP_BETWEEN,
                            head_keep=KEEP_HEAD),
}
LABELS = {"none": "nothing between", "element": "Dropout(0.2) between",
          "channel": "Dropout2d(0.2) between"}
PENALTIES = {           # each layer's dropout alone, evaluated at every arm's trained weights
    "element between": Architecture(block1=("relu", "dropout"), conv_keep=KEEP_BETWEEN),
    "channel between": Architecture(block1=("relu", "dropout2d"), conv_keep=KEEP_BETWEEN),
    "classifier": Architecture(block1=("relu",), head_keep=KEEP_HEAD),
}


def compute(*, quick: bool, progress):
    splits, description, schedule, trained = cnn_digits.train_study(ARMS, quick=quick, seed=2600,
                                                                    progress=progress)
    runs = len(splits)
    data = {"runs": runs, "description": description, "arms": {}}
    for name, arch in ARMS.items():
        progress(f"'{name}': test loss and accuracy; penalties of each layer's dropout at the "
                 f"trained weights ({cnn_digits.PENALTY_EXAMPLES} training examples per run)")
        data["arms"][name] = {
            "test": cnn_digits.test_metrics(arch, trained[name], splits),
            "penalty": {label: cnn_digits.penalty_of_runs(noise, trained[name], splits,
                                                          seed=2601 + 10 * i)
                        for i, (label, noise) in enumerate(PENALTIES.items())}}
    config = {"schedule": schedule._asdict(), "runs": runs, "keep_between": KEEP_BETWEEN,
              "keep_head": KEEP_HEAD, "margin": MARGIN,
              "penalty_examples": cnn_digits.PENALTY_EXAMPLES,
              "penalty_samples": cnn_digits.PENALTY_SAMPLES}
    return data, config


def _loss(data, arm):
    return np.asarray(data["arms"][arm]["test"]["loss"])


def _accuracy(data, arm):
    return np.asarray(data["arms"][arm]["test"]["accuracy"])


def _tests(data):
    pointless = statistics.equivalence_test(_loss(data, "element") - _loss(data, "none"), MARGIN)
    helps = statistics.sign_test(_loss(data, "none") - _loss(data, "channel"))
    instead = statistics.sign_test(_loss(data, "element") - _loss(data, "channel"))
    adjusted = statistics.holm([pointless.p_equivalent, pointless.p_beyond, helps.p_two_sided,
                                instead.p_two_sided])
    return (pointless, adjusted[0], adjusted[1]), (helps, adjusted[2]), (instead, adjusted[3])


def _means(data):
    return "; ".join(f"{arm}: test loss {_loss(data, arm).mean():.4f}, accuracy "
                     f"{_accuracy(data, arm).mean():.2%}" for arm in ARMS)


def findings(data):
    (pointless, p_eq, p_beyond), (helps, p_helps), (instead, p_instead) = _tests(data)
    common = (f"{data['runs']} runs paired by split seed (same initial weights and minibatch "
              f"order in every arm); {_means(data)}")
    def mean_penalty(arm, label):
        entry = data["arms"][arm]["penalty"][label]
        value = np.asarray(entry["value"])       # the spread over runs includes the draws' noise
        return value.mean(), value.std(ddof=1) / np.sqrt(value.size)

    lens = "; ".join(
        f"trained {LABELS[arm].lower()}: element {mean_penalty(arm, 'element between')[0]:.4f} "
        f"+- {mean_penalty(arm, 'element between')[1]:.4f}, channel "
        f"{mean_penalty(arm, 'channel between')[0]:.4f} +- "
        f"{mean_penalty(arm, 'channel between')[1]:.4f}" for arm in ARMS)
    return [
        Finding("B65", "Element dropout between convolutions is pointless: it leaves the test loss "
                       "where no dropout there leaves it (Keras' SpatialDropout2D documentation, "
                       "after Tompson et al., CVPR 2015)",
                f"{common}. element - none: "
                f"{statistics.describe_equivalence_test(pointless, p_eq, p_beyond, 'd')}",
                f"TOST of the mean test-loss difference within +-{MARGIN:g} nats (fixed before the "
                "full runs), Holm over B65-B67 (four p-values: TOST's, beyond the margin's, B66's and "
                "B67's)", statistics.no_effect_verdict(pointless, p_eq, p_beyond)),
        Finding("B66", "Channel dropout (Dropout2d) between convolutions helps: it lowers the test "
                       "loss against no dropout there (the same source: it 'will help promote "
                       "independence between feature maps')",
                f"{common}. none - channel: {statistics.describe_sign_test(helps, p_helps)}",
                "d = test loss without dropout between - with Dropout2d between > 0: exact sign "
                "test, Holm over B65-B67", statistics.direction_verdict(helps, p_helps)),
        Finding("B67", "Between convolutions, channel dropout beats element dropout at the same "
                       "rate (the same source)",
                f"{common}. element - channel: {statistics.describe_sign_test(instead, p_instead)}",
                "d = test loss with Dropout between - with Dropout2d between > 0: exact sign test, "
                "Holm over B65-B67", statistics.direction_verdict(instead, p_instead)),
        Finding("B68", "Element dropout between convolutions 'will not regularize the activations': "
                       "its dropout penalty at the trained weights against channel dropout's at "
                       "the same keep (the mechanism the same source states)",
                f"mean cross-entropy penalty at keep {KEEP_BETWEEN} between the convolutions over "
                f"{data['runs']} networks per arm (+- its standard error over the runs), "
                f"{lens}; element: Monte Carlo, {cnn_digits.PENALTY_SAMPLES} draws of "
                f"{cnn_digits.PENALTY_EXAMPLES} training examples; channel: exact (2^4 patterns)",
                "reported: the penalties' sizes (no threshold; an element penalty far below the "
                "channel one is what the belief's mechanism predicts)", "reported"),
    ]


def plot(result):
    import matplotlib.pyplot as plt

    arms = list(ARMS)
    colors = {"none": COLORS["none"], "element": COLORS["dropout"], "channel": COLORS["extra1"]}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    cnn_digits.draw_test_measure(axes[0], result, "loss", LABELS, colors,
                                 "test cross-entropy (each run; mean +- SE)", pairs=True)
    cnn_digits.draw_test_measure(axes[1], result, "accuracy", LABELS, colors, "test accuracy")
    width = 0.25
    for j, label in enumerate(PENALTIES):
        for i, arm in enumerate(arms):
            entry = result["arms"][arm]["penalty"][label]
            values = np.asarray(entry["value"])
            axes[2].bar(i + (j - 1) * width, values.mean(), width,
                        yerr=values.std(ddof=1) / np.sqrt(values.size), capsize=2,
                        color=[COLORS["dropout"], COLORS["extra1"], COLORS["theory"]][j],
                        label=f"{label} ({entry['route'].split(' (')[0]})" if i == 0 else None)
    axes[2].set_xticks(range(len(arms)), [f"trained with\n{LABELS[a]}" for a in arms], fontsize=8)
    axes[2].set_title("cross-entropy dropout penalty at the trained weights\n"
                      f"(mean over runs +- SE; keep {KEEP_BETWEEN} between, {KEEP_HEAD} classifier)")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"Digits CNN, {result['runs']} runs per arm, Dropout(0.5) before the classifier in "
                 "every arm: does dropout between the convolutions help, and which kind?",
                 fontsize=10)
    fig.tight_layout()
    fig.text(0.5, -0.01, result["description"], ha="center", va="top", fontsize=8)
    return fig
