"""Weight decay's aversion depends on the input scale and collapses; dropout's does not (C5, C6, C4).

    python -m experiments weight_decay_threshold

Data P_(x,1) (mass 1/2 on (x, 1), 1/2 on (0, 0)), K = 2, x = s (0.6, 0.8) so |x| = s; networks
with d = 2, n = 5 trained by SGD (batch 1, Torch-default initialisation) with weight decay
(weights only, the paper's J2) or with dropout (keep 1/2). The aversion of a trained network is its
risk R (the least risk, 0, is attainable). Theory (Theorem 7 and the text after it):
weight-decay aversion = min(1/4, lam^2 / (x.x)); for 2 lam > |x| the optimum is the all-zero
network with output bias 1/2. Left: against lam at |x| = 1. Middle: against the input scale s at
lam = 1/4, with dropout for comparison (Theorem 4: its aversion does not depend on s). Right:
labels multiplied by c (Theorem 6: dropout's aversion scales by c^2).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from experiments.common import COLORS, Check
from sgd.initialisation import torch_default_init
from sgd.training import Regime, Schedule, final_checkpoint, stack_runs, train
from theory.evaluation import exact_risks
from theory.network import sum_squared_weights
from theory.paper.distributions import point_and_origin
from theory.paper.weight_decay import weight_decay_aversion

TITLE = "Weight decay's aversion depends on the input scale and collapses; dropout's does not"
CLAIMS = ("C5", "C6", "C4", "C2")

X0 = np.array([0.6, 0.8])
LAMS = tuple(float(v) for v in np.round(np.linspace(0.05, 1.0, 12), 4))
SCALES = tuple(float(v) for v in np.round(np.geomspace(0.25, 4.0, 9), 4))
LABEL_SCALES = (0.5, 1.0, 2.0, 4.0)
LAM_SCALE = 0.25
WIDTH = 5


def _configs():
    """(panel, value, regime name, input scale, label scale, Regime) for every configuration."""
    out = [("lambda", lam, "weight_decay", 1.0, 1.0, Regime(lam=lam)) for lam in LAMS]
    for s in SCALES:
        out.append(("scale", s, "weight_decay", s, 1.0, Regime(lam=LAM_SCALE)))
        out.append(("scale", s, "dropout", s, 1.0, Regime(keep_prob=0.5)))
    for c in LABEL_SCALES:
        out.append(("label", c, "weight_decay", 1.0, c, Regime(lam=LAM_SCALE)))
        out.append(("label", c, "dropout", 1.0, c, Regime(keep_prob=0.5)))
    return out


def compute(*, quick: bool, progress):
    seeds = 4 if quick else 16
    schedule = Schedule(steps=4000 if quick else 60_000, lr=0.02, lr_decay=1e-4, log_every=1000)
    configs = _configs()
    runs = [(config, seed) for config in configs for seed in range(seeds)]
    inits = [torch_default_init(jax.random.fold_in(jax.random.key(7), seed), 2, WIDTH, 2)
             for seed in range(seeds)]
    params = stack_runs([inits[seed] for _, seed in runs])
    X = np.stack([point_and_origin(c[3] * X0, c[4])[0] for c, _ in runs])
    Y = np.stack([point_and_origin(c[3] * X0, c[4])[1] for c, _ in runs])
    regime = stack_runs([c[5] for c, _ in runs])
    keys = jax.random.split(jax.random.key(77), len(runs))
    progress(f"training {len(runs)} networks x {schedule.steps} SGD steps")
    trained = train(keys, params, jnp.asarray(X), jnp.asarray(Y), regime, schedule)
    final = final_checkpoint(trained.params)
    risk = exact_risks(final, jnp.asarray(X), jnp.asarray(Y))
    sq = np.asarray(jax.vmap(sum_squared_weights)(final)).reshape(len(configs), seeds)
    bias = np.asarray(final[-1][1][:, 0]).reshape(len(configs), seeds)
    risk = np.asarray(risk).reshape(len(configs), seeds)
    panels = {}
    for (panel, value, name, s, c, _), r, w, b in zip(configs, risk, sq, bias):
        entry = panels.setdefault(panel, {}).setdefault(name, {"values": [], "risk": [],
                                                              "sum_sq_weights": [],
                                                              "output_bias": []})
        entry["values"].append(value)
        entry["risk"].append(r)
        entry["sum_sq_weights"].append(w)
        entry["output_bias"].append(b)
    theory_curves = {
        "lambda": {"values": np.linspace(0.01, 1.0, 200),
                   "aversion": [weight_decay_aversion(X0, lam) for lam in np.linspace(0.01, 1, 200)]},
        "scale": {"values": np.geomspace(0.2, 5.0, 200),
                  "aversion": [weight_decay_aversion(s * X0, LAM_SCALE)
                               for s in np.geomspace(0.2, 5.0, 200)]}}
    data = {"panels": panels, "theory": theory_curves, "x0": X0, "lam_scale": LAM_SCALE,
            "collapse_lambda": float(np.linalg.norm(X0) / 2)}
    config = {"seeds": seeds, "schedule": schedule._asdict(), "n": WIDTH, "d": 2,
              "weight_decay": "weights only (J2 of the paper)", "keep_prob": 0.5,
              "lams": LAMS, "scales": SCALES, "label_scales": LABEL_SCALES}
    return data, config


def _median_se(values):
    values = np.asarray(values)
    return np.median(values, axis=-1), values.std(axis=-1, ddof=1) / np.sqrt(values.shape[-1])


def _paired_shifts(entry):
    """(scale, mean, 95% t-interval low, high) of each scale's risk minus scale 1's, paired by
    seed (the runs at every scale start from the same initial networks)."""
    values, risk = list(entry["values"]), np.asarray(entry["risk"])
    reference = risk[values.index(1.0)]
    out = []
    for value, row in zip(values, risk):
        if value == 1.0:
            continue
        d = row - reference
        half = stats.t(df=d.size - 1).ppf(0.975) * d.std(ddof=1) / np.sqrt(d.size)
        out.append((value, float(d.mean()), float(d.mean() - half), float(d.mean() + half)))
    return out


def checks(data):
    panels, out = data["panels"], []
    wd = panels["lambda"]["weight_decay"]
    lams = np.asarray(wd["values"])
    median, se = _median_se(wd["risk"])
    closed = np.array([weight_decay_aversion(data["x0"], lam) for lam in lams])
    gap = np.abs(median - closed)
    out.append(Check("C5", "weight-decay aversion of P_(x,1) = min(1/4, lam^2/x.x) (|x| = 1)",
                     f"SGD median over lambda {np.round(median, 3).tolist()} vs "
                     f"{np.round(closed, 3).tolist()}; max gap {gap.max():.3f}",
                     "each lambda within 0.01 + 3 standard errors (SGD is not run to convergence)",
                     bool(np.all(gap <= 0.01 + 3 * se))))
    above = lams > data["collapse_lambda"]
    sq = np.median(np.asarray(wd["sum_sq_weights"])[above], axis=1)
    bias = np.median(np.asarray(wd["output_bias"])[above], axis=1)
    out.append(Check("C6", "for 2 lam > |x| the optimum is all weights 0, output bias 1/2",
                     f"lam > {data['collapse_lambda']:.2f}: median ||W||^2 {sq.max():.1e}, "
                     f"output bias {np.round(bias, 3).tolist()}",
                     "||W||^2 < 1e-3 and |bias - 1/2| < 0.02 for every collapsed lambda",
                     bool(np.all(sq < 1e-3) and np.all(np.abs(bias - 0.5) < 0.02))))
    scale = panels["scale"]
    wd_s, wd_se = _median_se(scale["weight_decay"]["risk"])
    do_s, do_se = _median_se(scale["dropout"]["risk"])
    out.append(Check("C5", "weight decay's aversion moves with the input scale",
                     f"weight decay {np.round(wd_s, 3).tolist()} over scales "
                     f"{scale['weight_decay']['values']}",
                     "range > 0.1 (theory: 1/4 down to 0.004)", bool(np.ptp(wd_s) > 0.1)))
    shifts = _paired_shifts(scale["dropout"])
    largest = max(shifts, key=lambda item: abs(item[1]))
    out.append(Check("C2", "dropout's aversion does not depend on the input scale (Theorem 4)",
                     f"dropout-trained risk (median) {np.round(do_s, 3).tolist()}: range "
                     f"{np.ptp(do_s):.3f} against weight decay's {np.ptp(wd_s):.3f}; largest "
                     f"paired shift from scale 1 (same initial networks): {largest[1]:+.4f} at "
                     f"scale {largest[0]:g} (mean of {len(scale['dropout']['risk'][0])} pairs, "
                     f"95% t-interval [{largest[2]:+.4f}, {largest[3]:+.4f}])",
                     "range over scales < 1/3 of weight decay's range over the same scales (as "
                     "for Figure 2's C2 row)", bool(np.ptp(do_s) < np.ptp(wd_s) / 3)))
    label = panels["label"]
    c = np.asarray(label["dropout"]["values"])
    ratio = np.asarray(label["dropout"]["risk"]) / (c[:, None] ** 2)
    r_med, r_se = _median_se(ratio)
    wd_ratio = np.median(np.asarray(label["weight_decay"]["risk"]) / (c[:, None] ** 2), axis=1)
    out.append(Check("C4", "labels x c multiply dropout's aversion by c^2 (Theorem 6)",
                     f"dropout risk / c^2 for c = {c.tolist()}: {np.round(r_med, 4).tolist()}; "
                     f"weight decay: {np.round(wd_ratio, 4).tolist()}",
                     "dropout's ratios within 0.01 + 3 standard errors of each other",
                     bool(np.ptp(r_med) <= 0.01 + 3 * r_se.max())))
    return out


def plot(result):
    import matplotlib.pyplot as plt

    panels, theory_curves = result["panels"], result["theory"]
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 4.4))

    def markers(ax, entry, color, marker, label, scale=None):
        values = np.asarray(entry["values"])
        risk = np.asarray(entry["risk"])
        if scale is not None:
            risk = risk / scale[:, None] ** 2
        q25, q50, q75 = np.percentile(risk, [25, 50, 75], axis=1)
        ax.errorbar(values, q50, yerr=[q50 - q25, q75 - q50], fmt=marker, color=color,
                    capsize=3, ms=5, label=label)

    a.plot(theory_curves["lambda"]["values"], theory_curves["lambda"]["aversion"],
           color=COLORS["theory"], label="Theorem 7: min(1/4, λ²/x·x)")
    markers(a, panels["lambda"]["weight_decay"], COLORS["weight_decay"], "s",
            "SGD with weight decay (median, IQR)")
    a.axvline(result["collapse_lambda"], color="grey", ls=":", label="collapse: 2λ = |x|")
    a.set_xlabel("weight decay λ   (|x| = 1)")
    a.set_ylabel("aversion: risk R of the trained network")
    a.set_title("C5, C6: weight-decay aversion against λ")
    a.legend(fontsize=7.5)
    b.semilogx(theory_curves["scale"]["values"], theory_curves["scale"]["aversion"],
               color=COLORS["theory"], label=f"Theorem 7 (λ = {result['lam_scale']:g})")
    markers(b, panels["scale"]["weight_decay"], COLORS["weight_decay"], "s", "weight decay (SGD)")
    markers(b, panels["scale"]["dropout"], COLORS["dropout"], "o", "dropout, keep 1/2 (SGD)")
    b.set_xticks([0.25, 0.5, 1, 2, 4], ["1/4", "1/2", "1", "2", "4"])
    b.minorticks_off()
    b.set_xlabel("input scale s = |x|")
    b.set_ylabel("aversion: risk R of the trained network")
    b.set_title("C5 vs C2: weight decay moves with the scale,\ndropout does not")
    b.legend(fontsize=7.5)
    scales = np.asarray(panels["label"]["dropout"]["values"])
    markers(c, panels["label"]["dropout"], COLORS["dropout"], "o", "dropout: R / c²", scales)
    markers(c, panels["label"]["weight_decay"], COLORS["weight_decay"], "s",
            f"weight decay (λ = {result['lam_scale']:g}): R / c²", scales)
    c.set_xscale("log", base=2)
    c.set_xlabel("label scale c (labels multiplied by c)")
    c.set_ylabel("risk of the trained network / c²")
    c.set_title("C4: dropout's aversion scales with c²")
    c.legend(fontsize=7.5)
    fig.tight_layout()
    return fig
