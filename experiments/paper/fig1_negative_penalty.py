"""Negative dropout penalty and its dependence on the label (C1, C13, C14, C17).

    python -m experiments fig1_negative_penalty        # writes figures/fig1_negative_penalty.*

Left: the Figure 1 network's output under each of its 16 dropout patterns (brute force), with
J_D = 54 against R = 64. Right: the dropout penalty as a function of the label y for the Figure 1
network, the Theorem 20 witness, a one-layer network (C17) and a non-negative network (C13): lines
are the C14 decomposition E[delta^2] + 2 (W(x) - y) E[delta], markers the brute-force values.
"""

from __future__ import annotations

import numpy as np

import theory
from experiments.common import COLORS, Check, rounding_bound
from theory.enumeration import brute_force_criterion, pattern_outputs
from theory.paper.label_dependence import label_decomposition, one_layer_penalty, theorem20_witness
from theory.paper.negative_penalty import figure1_network

TITLE = "The dropout penalty can be negative and depends on the label"
CLAIMS = ("C1", "C13", "C14", "C17")


def _networks():
    """(label, params, x) of the four single-example cases of the right panel."""
    fig1_params, fig1_X, _ = figure1_network()
    witness, witness_x = theorem20_witness()
    one_layer = ((np.array([[0.8, -1.5]]), np.array([0.3])),)
    nonneg = ((np.array([[1.0, 0.5], [0.2, 1.0]]), np.array([0.1, 0.0])),
              (np.array([[0.7, 0.9]]), np.array([0.2])))
    return [("Figure 1 network, x = (1, -1)", fig1_params, fig1_X[0]),
            ("Theorem 20 witness, x = (1, -2)", witness, witness_x),
            ("one layer (d = 1), x = (1, -2)", one_layer, np.array([1.0, -2.0])),
            ("non-negative network, x = (1, 2)", nonneg, np.array([1.0, 2.0]))]


def compute(*, quick: bool, progress):
    params, X, Y = figure1_network()
    outputs, probs, patterns = pattern_outputs(params, X[0], 0.5)
    data = {"figure1": {"outputs": outputs, "probs": probs, "patterns": patterns,
                        "J_D": theory.dropout_criterion(params, X, Y),
                        "R": theory.risk(params, X, Y), "y": float(Y[0])}}
    labels = np.linspace(-4.0, 12.0, 9)
    cases = []
    for name, net, x in _networks():
        progress(f"penalty against the label: {name}")
        dec = label_decomposition(net, x)
        risk = [float((dec.output - y) ** 2) for y in labels]
        brute = [brute_force_criterion(net, x[None], [y], [1.0], 0.5) - r
                 for y, r in zip(labels, risk)]
        cases.append({"name": name, "output": dec.output, "mean_delta": dec.mean_delta,
                      "mean_delta_sq": dec.mean_delta_sq, "labels": labels,
                      "line": dec.penalty(labels), "brute_force": brute})
    data["label_dependence"] = cases
    one_layer = _networks()[2][1]
    data["one_layer_closed_form"] = one_layer_penalty(one_layer, np.array([[1.0, -2.0]]))
    rng = np.random.default_rng(0)
    progress("C13: penalties of 500 random non-negative networks")
    penalties = []
    for _ in range(50 if quick else 500):
        net = tuple((np.abs(rng.normal(size=(o, i))), np.abs(rng.normal(size=o)))
                    for i, o in ((3, 3), (3, 3), (3, 1)))
        penalties.append(theory.dropout_penalty(net, np.abs(rng.normal(size=(2, 3))),
                                                rng.normal(size=2) * 3, method="enumerate"))
    data["nonnegative_min_penalty"] = min(penalties)
    data["nonnegative_networks"] = len(penalties)
    return data, {"keep_prob": 0.5, "labels": labels, "nonnegative_seed": 0}


def checks(data):
    fig1 = data["figure1"]
    values, counts = np.unique(np.round(fig1["outputs"], 12), return_counts=True)
    histogram = {float(v): int(c) for v, c in zip(values, counts)}
    cases = {c["name"].split(",")[0]: c for c in data["label_dependence"]}
    witness, one_layer = cases["Theorem 20 witness"], cases["one layer (d = 1)"]
    line_error = max(np.max(np.abs(np.subtract(c["line"], c["brute_force"])))
                     for c in data["label_dependence"])
    y_zero = witness["mean_delta_sq"] / (2 * witness["mean_delta"])
    return [
        Check("C1", "J_D = 54, R = 64; outputs 8 (1 pattern), 4 (2), 0 (13)",
              f"J_D = {fig1['J_D']:.12g}, R = {fig1['R']:.12g}; outputs {histogram}",
              "exact, |difference| < 1e-9 and the same histogram",
              abs(fig1["J_D"] - 54) < 1e-9 and abs(fig1["R"] - 64) < 1e-9
              and histogram == {0.0: 13, 4.0: 2, 8.0: 1}),
        Check("C13", "penalty >= 0 when weights, biases and inputs are >= 0",
              f"min penalty over {data['nonnegative_networks']} random non-negative networks "
              f"= {data['nonnegative_min_penalty']:.3g}; Figure 1 (negative input): -10",
              "exact; min >= -1e-12", data["nonnegative_min_penalty"] >= -1e-12),
        Check("C14", "penalty = E[delta^2] + 2 (W(x) - y) E[delta], slope -2 E[delta] in y",
              f"witness slope {-2 * witness['mean_delta']:.6g}, zero at y = {y_zero:.6g}; "
              f"max |line - brute force| {rounding_bound(line_error, 1e-12)}",
              "brute force on the line to 1e-9 and the witness slope != 0",
              line_error < 1e-9 and witness["mean_delta"] != 0),
        Check("C17", "d = 1: penalty (q/p) sum w_i^2 E[x_i^2], free of the label",
              f"closed form {data['one_layer_closed_form']:.6g}; brute force over labels "
              f"{min(one_layer['brute_force']):.6g}..{max(one_layer['brute_force']):.6g}",
              "every label within 1e-9 of the closed form",
              np.max(np.abs(np.subtract(one_layer["brute_force"],
                                        data["one_layer_closed_form"]))) < 1e-9),
    ]


def plot(result):
    import matplotlib.pyplot as plt

    fig1 = result["figure1"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    outputs = np.asarray(fig1["outputs"])
    order = np.argsort(-outputs, kind="stable")
    patterns = np.asarray(fig1["patterns"])
    left.bar(range(16), outputs[order], color=COLORS["dropout"])
    left.set_xticks(range(16), ["".join(str(b) for b in patterns[i]) for i in order],
                    rotation=90, fontsize=7, family="monospace")
    left.axhline(fig1["y"], color=COLORS["paper"], ls="--", lw=1, label=f"label y = {fig1['y']:g}")
    left.set_xlabel("dropout pattern R (keep bits: x1 x2 h1 h2), each with probability 1/16")
    left.set_ylabel("network output D(W, x, R)")
    left.set_title(f"C1, Figure 1 network: J_D = {fig1['J_D']:g} < R = {fig1['R']:g}\n"
                   f"(penalty {fig1['J_D'] - fig1['R']:g}; without dropout the output is 0)")
    left.legend(loc="upper right")
    colors = [COLORS["dropout"], COLORS["weight_decay"], COLORS["none"], COLORS["theory"]]
    for case, color in zip(result["label_dependence"], colors):
        right.plot(case["labels"], case["line"], color=color,
                   label=f"{case['name']}: slope {-2 * case['mean_delta'] + 0.0:.3g}")
        right.plot(case["labels"], case["brute_force"], "o", color=color, ms=4, mfc="none")
    right.axhline(0, color="grey", lw=0.8)
    right.set_xlabel("label y")
    right.set_ylabel("dropout penalty J_D - R")
    right.set_title("C14, C17, C13: penalty against the label (p = 1/2)\n"
                    "lines: E[δ²] + 2(W(x) - y)E[δ];  circles: brute force over all patterns")
    right.legend(loc="upper left", fontsize=7.5)
    fig.tight_layout()
    return fig
