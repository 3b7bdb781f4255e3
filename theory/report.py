"""One call that reports what dropout does to a given network on given data, exactly where it can
(issue 27, part 1; ours).

:func:`dropout_report` takes a ``torch.nn.Sequential`` model (through :func:`theory.from_torch`) or a
network in our layout, and data, and returns a :class:`DropoutReport` that prints as a table:

- the risk R, the dropout criterion J_D and the penalty J_D - R: exact when the engine's enumeration
  fits :data:`theory.MAX_PATTERNS`, else Monte Carlo with its standard error, and the report says
  which and why;
- the per-example penalties: how many are negative (C13's surprise on your data) and the most negative;
- the inference gap m(x) - W(x) (the ensemble mean against the weight-scaled network) and, under the
  square loss, its share of the penalty (the exact split of :mod:`theory.beliefs.inference_gap`);
- J_D at fixed weights against the keep probability of every noisy layer on a grid, and its exact
  minimiser there (a bounded scalar search on the exact criterion; a local optimum if J_D has several);
- how many MC-dropout samples K make the average of K stochastic forward passes land within a
  tolerance of the exact ensemble prediction with 95% probability: the normal approximation
  K = (1.96 sd(x) / tol)^2 per example with the exact sd(x) of one pass (:mod:`theory.prediction`),
  for the output under the square loss (tol = 1% of its standard deviation over the data) and the
  predicted class's probability under the other losses (tol = 0.01);
- for a model with BatchNorm, the variance shift at each BatchNorm input (Li, Chen, Hu and Yang, CVPR
  2019): the exact training-mode variance per channel (dropout's masks, every BatchNorm on its running
  statistics) against the test-mode variance and the running variance the model holds.

It lives above the engine and the beliefs: neither imports it. It never unpickles anything; the user
passes a model object or arrays. Sections that need the exact route say so when it is out of reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import numpy as np

from theory.criteria import (dropout_criterion, network_output, num_enumerated_patterns,
                             output_moments, risk)
from theory.exact import MAX_PATTERNS
from theory.losses import check_loss
from theory.monte_carlo import mc_dropout_criterion
from theory.network import as_params, plain_values
from theory.noise import as_keep_probs
from theory.prediction import prediction_moments, samples_normal

KEEP_GRID = tuple(np.round(np.arange(0.1, 1.0001, 0.1), 10))
NEGATIVE = -1e-12


@dataclass
class DropoutReport:
    """What :func:`dropout_report` found; ``str(report)`` is a readable table."""

    loss: str
    route: str
    risk: float
    criterion: float
    penalty: float
    penalty_se: float
    examples: int
    negative_examples: int | None = None
    most_negative: float | None = None
    gap_mean_abs: float | None = None
    gap_share: float | None = None
    keep_grid: tuple = ()
    criterion_on_grid: tuple = ()
    best_keep: float | None = None
    best_criterion: float | None = None
    mc_tolerance: float | None = None
    mc_samples_median: int | None = None
    mc_samples_max: int | None = None
    batchnorm_shift: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def __str__(self) -> str:
        rows = [("loss", self.loss), ("route", self.route), ("examples", f"{self.examples:,}"),
                ("risk R (no dropout)", f"{self.risk:.6g}"),
                ("dropout criterion J_D", f"{self.criterion:.6g}"
                 + (f" +- {self.penalty_se:.2g} (SE)" if self.penalty_se else "")),
                ("penalty J_D - R", f"{self.penalty:.6g}")]
        if self.negative_examples is not None:
            rows.append(("examples with a negative penalty",
                         f"{self.negative_examples:,} of {self.examples:,} (most negative "
                         f"{self.most_negative:.3g})"))
        if self.gap_mean_abs is not None:
            share = ("" if self.gap_share is None
                     else f"; gap term {self.gap_share:.1%} of the penalty")
            rows.append(("inference gap |m(x) - W(x)|", f"mean {self.gap_mean_abs:.3g}{share}"))
        if self.keep_grid:
            grid = ", ".join(f"{k:g}: {v:.4g}" for k, v in zip(self.keep_grid,
                                                              self.criterion_on_grid))
            rows.append(("J_D against keep (fixed weights)", grid))
            rows.append(("best keep at fixed weights", f"{self.best_keep:.3f} (J_D "
                                                       f"{self.best_criterion:.6g})"))
        if self.mc_samples_median is not None:
            rows.append(("MC-dropout samples for +-tol, 95%",
                         f"median {self.mc_samples_median:,}, worst example "
                         f"{self.mc_samples_max:,} (tol {self.mc_tolerance:.3g})"))
        for shift in self.batchnorm_shift:
            rows.append((f"variance shift at {shift['module']} (layer {shift['layer']})",
                         f"training/test {shift['train_over_test']:.3f}, running/training "
                         f"{shift['running_over_train']:.3f} (medians over channels)"))
        width = max(len(name) for name, _ in rows)
        lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _is_torch_module(obj) -> bool:
    return hasattr(obj, "named_modules") and hasattr(obj, "forward")


def _noisy_keep(keep: tuple, value) -> tuple:
    """``keep`` with every noisy layer (keep < 1) at ``value`` (a number or a tracer)."""
    return tuple(value if k < 1.0 else 1.0 for k in keep)


def _batchnorm_shift(record, params, X, keep, groups) -> dict:
    """The exact training-mode variance per channel of one BatchNorm's input against its test-mode
    variance and the running variance (module doc): unit j of the input reads dropout layer
    ``record.layer`` through row j of the input map, so it is the output of the network cut there."""
    M, c = (np.asarray(a) for a in record.input_map)
    l = record.layer
    mean, var = [], []
    for j in range(M.shape[0]):
        cut = tuple(params[:l]) + ((M[j:j + 1], c[j:j + 1]),)
        m, v = output_moments(cut, X, keep_prob=keep[:l + 1],
                              groups=None if groups is None else groups[:l + 1])
        mean.append(np.asarray(m))
        var.append(np.asarray(v))
    mean, var = np.stack(mean, axis=1), np.stack(var, axis=1)            # (N, units)
    channel = np.asarray(record.channel)
    test_values = plain_values(params, X, l) @ M.T + c
    ratios_train, ratios_running = [], []
    for ch in np.unique(channel):
        units = channel == ch
        train = np.mean(var[:, units] + mean[:, units] ** 2) - np.mean(mean[:, units]) ** 2
        test = np.var(test_values[:, units])
        ratios_train.append(train / test)
        ratios_running.append(np.asarray(record.running_var)[ch] / train)
    return {"module": record.module, "layer": l,
            "train_over_test": float(np.median(ratios_train)),
            "running_over_train": float(np.median(ratios_running))}


def dropout_report(model_or_params, X, Y, *, keep_prob=None, noise="dropout", groups=None,
                   loss="square", input_shape=None, keep_grid=KEEP_GRID, mc_tolerance=None,
                   key=None, num_samples=4096) -> DropoutReport:
    """What dropout does to this network on (X, Y): see the module doc and :class:`DropoutReport`.

    ``model_or_params``: a ``torch.nn.Sequential`` (converted by :func:`theory.from_torch`, with
    ``input_shape`` for convolutions; its dropout modules give the keep probabilities and groups unless
    ``keep_prob`` / ``groups`` are passed) or a network in our layout (then ``keep_prob`` is
    required). ``X``: (N, K), or (N, C, H, W) / (N, C, L) images, flattened here in PyTorch's order.
    ``Y``: (N,) targets or class labels. ``keep_grid``: the keep probabilities of the sweep.
    ``mc_tolerance``: the MC-dropout sample count's tolerance on the ensemble prediction (default
    1% of the output's standard deviation over X under the square loss, 0.01 in the predicted
    class's probability under the others). ``key`` and ``num_samples``: the Monte-Carlo route's,
    used only when the exact one is out of reach."""
    if mc_tolerance is not None and not (np.isfinite(mc_tolerance) and mc_tolerance > 0):
        raise ValueError(f"mc_tolerance must be a number > 0 (the accuracy wanted of the MC-dropout "
                         f"average), got {mc_tolerance!r}")
    check_loss(loss)
    batchnorms = ()
    if _is_torch_module(model_or_params):
        from theory.torch_adapter import from_torch

        net = from_torch(model_or_params, input_shape=input_shape)
        params = net.params
        keep_prob = net.keep_prob if keep_prob is None else keep_prob
        groups = net.groups if groups is None else groups
        batchnorms = net.batchnorms
    else:
        if keep_prob is None:
            raise ValueError("keep_prob is required for a network given as (W, b) pairs (one "
                             "probability of KEEPING a node, or one per dropout layer); a PyTorch "
                             "model gives its own")
        params = as_params(model_or_params, loss)
    X = np.asarray(X, dtype=np.float64)
    X = X.reshape(X.shape[0], -1)
    Y = np.asarray(Y, dtype=np.float64)
    keep = tuple(float(k) for k in as_keep_probs(keep_prob, len(params)))
    variant = {"keep_prob": keep, "noise": noise, "groups": groups}
    patterns = num_enumerated_patterns(params, loss=loss, **variant)
    R = float(risk(params, X, Y, loss=loss))
    report_notes = []
    if patterns <= MAX_PATTERNS:
        J, se = float(dropout_criterion(params, X, Y, loss=loss, **variant)), 0.0
        route = f"exact ({patterns:,} patterns per example)"
    else:
        J, se = mc_dropout_criterion(jax.random.key(0) if key is None else key, params, X, Y,
                                     loss=loss, num_samples=num_samples, **variant)
        route = (f"Monte Carlo ({num_samples:,} samples): the exact route would enumerate "
                 f"{patterns:,} patterns per example, above MAX_PATTERNS = {MAX_PATTERNS:,}")
    report = DropoutReport(loss=loss, route=route, risk=R, criterion=float(J), penalty=float(J) - R,
                           penalty_se=float(se), examples=X.shape[0], notes=report_notes)
    if patterns > MAX_PATTERNS:
        report_notes.append("per-example penalties, the inference gap, J_D against keep, the "
                            "MC-sample count and the variance shift need the exact route: not "
                            "computed")
        return report
    _exact_sections(report, params, X, Y, keep, noise, groups, loss, keep_grid, mc_tolerance,
                    batchnorms)
    return report


def _exact_sections(report, params, X, Y, keep, noise, groups, loss, keep_grid, mc_tolerance,
                    batchnorms):
    from theory.beliefs.inference_gap import penalty_split
    from theory.evaluation import exact_inference_gaps, exact_per_example_penalties

    stacked = jax.tree_util.tree_map(lambda a: np.asarray(a)[None], params)
    per_example = np.asarray(exact_per_example_penalties(stacked, X[None], Y[None], keep,
                                                         noise=noise, groups=groups,
                                                         loss=loss))[0]
    report.negative_examples = int(np.sum(per_example < NEGATIVE))
    report.most_negative = float(per_example.min())
    if loss == "square":
        split = penalty_split(params, X, Y, keep_prob=keep, noise=noise, groups=groups)
        report.gap_mean_abs = float(np.mean(np.abs(np.asarray(split.gap))))
        report.gap_share = (float(np.mean(np.asarray(split.gap_term)) / report.penalty)
                            if report.penalty != 0 else None)
    else:
        gaps = np.asarray(exact_inference_gaps(stacked, X[None], keep, noise=noise,
                                               groups=groups))[0]
        report.gap_mean_abs = float(np.mean(np.abs(gaps)))
    if any(k < 1.0 for k in keep) and keep_grid:
        _keep_sweep(report, params, X, Y, keep, noise, groups, loss, keep_grid)
    if noise == "gaussian" and loss != "square":
        report.notes.append("the MC-sample count needs the prediction's exact variance, which "
                            "Gaussian noise under a non-square loss has no route to: not computed")
    else:
        _mc_samples(report, params, X, keep, noise, groups, loss, mc_tolerance)
    report.batchnorm_shift = [_batchnorm_shift(record, params, X, keep, groups)
                              for record in batchnorms]


def _keep_sweep(report, params, X, Y, keep, noise, groups, loss, keep_grid):
    from scipy import optimize

    # One program for every keep: the keep probability traced, not a new constant each call.
    traced = jax.jit(lambda value: dropout_criterion(
        params, X, Y, keep_prob=_noisy_keep(keep, value), noise=noise, groups=groups, loss=loss))

    def criterion(value):
        return float(traced(float(value)))

    grid = tuple(float(k) for k in keep_grid)
    values = tuple(criterion(k) for k in grid)
    best = int(np.argmin(values))
    low = grid[max(best - 1, 0)]
    high = grid[min(best + 1, len(grid) - 1)]
    result = optimize.minimize_scalar(criterion, bounds=(low, high), method="bounded",
                                      options={"xatol": 1e-4})
    report.keep_grid, report.criterion_on_grid = grid, values
    if result.fun <= values[best]:
        report.best_keep, report.best_criterion = float(result.x), float(result.fun)
    else:
        report.best_keep, report.best_criterion = grid[best], values[best]
    report.notes.append("J_D against keep sets every noisy layer to the same keep probability; "
                        "the best keep is searched between the grid neighbours of the best grid "
                        "point (a local optimum if J_D has several)")


def _mc_samples(report, params, X, keep, noise, groups, loss, tolerance):
    """Per example, the K with P(|mean of K passes - exact ensemble| <= tol) = 95% by the normal
    approximation, K = (1.96 sd(x) / tol)^2, with the exact sd(x) of one pass's prediction
    (:mod:`theory.prediction`): the output under the square loss (tol default 1% of its standard
    deviation over X), the probability of the predicted class (the exact ensemble's argmax) under
    the other losses (tol default 0.01)."""
    if loss == "square":
        mean, var = output_moments(params, X, keep_prob=keep, noise=noise, groups=groups)
        if tolerance is None:
            spread = float(np.std(np.asarray(network_output(params, X))))
            tolerance = 0.01 * spread if spread > 0 else 1e-3
    else:
        moments = prediction_moments(params, X, keep_prob=keep, noise=noise, groups=groups,
                                     loss=loss)
        var = moments.variance
        if loss == "cross_entropy":
            var = var[np.arange(X.shape[0]), np.argmax(moments.mean, axis=1)]
        tolerance = 0.01 if tolerance is None else tolerance
    samples = samples_normal(var, tolerance)
    report.mc_tolerance = tolerance
    report.mc_samples_median = int(np.median(samples))
    report.mc_samples_max = int(samples.max())
