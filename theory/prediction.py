"""MC dropout at inference, exactly: how far the average of K stochastic forward passes is from the
ensemble it estimates, and how many passes a tolerance needs (issue 27, part 2; ours).

"MC dropout" (Gal and Ghahramani, ICML 2016) predicts with the average of K forward passes with
dropout active, s_K(x) = (1/K) sum_k s(x; R_k), where s is what the network predicts under its loss
(:func:`theory.losses.predictions`: the output under the square loss, sigmoid(D) under the logistic
loss, the class probabilities softmax(D) under the cross-entropy) and R_1..R_K are independent noise
patterns. It estimates the ensemble prediction E_R s(x; R). Enumerating every pattern gives, per
example and output, the exact mean mu, variance sigma^2, third absolute central moment
rho = E|s - mu|^3 and largest deviation b = max_R |s - mu| (:func:`prediction_moments`). From them:

- the root-mean-square error of s_K is sigma / sqrt(K), exactly;
- :func:`samples_normal`: the K at which P(|s_K - mu| <= t) reaches the confidence (95% by default)
  under the central limit theorem's normal approximation, K = (z sigma / t)^2, z = 1.96 at 95%;
- :func:`samples_sufficient`: a K that provably suffices, from Bernstein's inequality for a mean of
  K independent variables within b of their mean (Boucheron, Lugosi and Massart, "Concentration
  Inequalities", Oxford University Press 2013, Theorem 2.10 and Section 2.8): the probability of
  missing by more than t is at most 2 exp(-K t^2 / (2 sigma^2 + 2 b t / 3)), so any K at least
  log(2 / (1 - confidence)) (2 sigma^2 + 2 b t / 3) / t^2 reaches the confidence;
- :func:`coverage_upper_bound`: a bound that K passes cannot beat, from the Berry-Esseen theorem with
  Shevtsova's constant for identically distributed summands (I. G. Shevtsova, "On the absolute
  constants in the Berry-Esseen type inequalities for identically distributed summands", arXiv
  1111.6554, 2011): the distribution function of the standardised sum is within C rho / (sigma^3
  sqrt(K)) of the standard normal's everywhere, C = 0.4748, so P(|s_K - mu| <= t) <= 2 Phi(t sqrt(K)
  / sigma) - 1 + 2 C rho / (sigma^3 sqrt(K)). When the bound is below the confidence, K passes
  provably do not suffice: an exact witness against a rule of thumb.

:func:`mc_prediction_averages` runs MC dropout itself (fixed keys), to check the normal
approximation and to count how often the K-pass average predicts another class than the ensemble.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import ndtr, ndtri   # the standard normal's CDF and quantile, as scipy.stats.norm
                                        # computes them (not imported: it takes half a second)

from theory.compile_options import RANDOM_HEAVY, long_running_jit
from theory.exact import MAX_PATTERNS, check_max_patterns
from theory.exact import prediction_moments as _prediction_moments
from theory.losses import check_loss, predictions
from theory.network import as_inputs, as_params, widths
from theory.noise import Noise, as_noise, draw_raw, is_traced, noisy_outputs, realise_all

BERRY_ESSEEN_CONSTANT = 0.4748
"""Shevtsova (2011): sup_x |P(standardised sum of K i.i.d. variables <= x) - Phi(x)| <=
0.4748 rho / (sigma^3 sqrt(K))."""


class PredictionMoments(NamedTuple):
    """Per example (shape (N,)), or per example and class (N, C) under the cross-entropy: the exact
    summary of one stochastic forward pass's prediction s(x; R) over the noise R."""

    mean: np.ndarray            # E_R s: the ensemble prediction MC dropout estimates
    variance: np.ndarray        # Var_R s
    third_abs: np.ndarray       # E_R |s - E s|^3
    max_deviation: np.ndarray   # max_R |s - E s| over the patterns of positive probability


def prediction_moments(params, X, *, keep_prob=0.5, noise="dropout", groups=None, loss="square",
                       max_patterns=MAX_PATTERNS) -> PredictionMoments:
    """The exact :class:`PredictionMoments` of a network trained under ``loss`` ("square": the
    output; "logistic": sigmoid of the output, the probability of label 1; "cross_entropy": the
    softmax's class probabilities), by enumerating every node (or group, or weight) pattern of
    every dropout layer, the last hidden layer included: 2^(K + n_1 + ... + n_{d-1}) patterns for
    node dropout with every layer noisy, 2^(n_{d-1}) with PyTorch's placement at d = 2.
    ``keep_prob``, ``noise`` and ``groups`` as for :func:`theory.dropout_criterion` (one keep
    probability or one per dropout layer); Gaussian noise has no patterns and is refused; more
    than ``max_patterns`` patterns are refused with their count (use :func:`mc_prediction_averages`
    there)."""
    params = as_params(params, check_loss(loss))
    X = as_inputs(X, params[0][0].shape[1])
    check_max_patterns(max_patterns)
    spec = as_noise(widths(params), keep_prob, noise, groups)
    if spec.kind == "gaussian":
        raise ValueError("noise='gaussian' has no finite set of patterns to enumerate, so the "
                         "prediction's exact distribution is out of reach; use "
                         "theory.prediction.mc_prediction_averages")
    moments = [np.asarray(m) for m in _prediction_moments(params, X, spec, loss,
                                                           max_patterns=max_patterns)]
    if loss != "cross_entropy":
        moments = [m[:, 0] for m in moments]
    return PredictionMoments(*moments)


def _check_tolerance(tolerance):
    t = np.asarray(tolerance, dtype=np.float64)
    if not np.all(np.isfinite(t) & (t > 0)):
        raise ValueError(f"tolerance must be > 0 and finite (the accuracy wanted of the MC-dropout "
                         f"average, in the prediction's units), got {tolerance!r}")
    return t


def _check_confidence(confidence):
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1 (the probability of landing "
                         f"within the tolerance, e.g. 0.95), got {confidence!r}")
    return float(confidence)


def samples_normal(variance, tolerance, confidence=0.95):
    """The K with P(|s_K - mu| <= tolerance) = confidence under the normal approximation:
    ceil((z sigma / t)^2), z the two-sided normal quantile, at least 1 (an integer array)."""
    t, z = _check_tolerance(tolerance), ndtri(0.5 + _check_confidence(confidence) / 2)
    return np.maximum(np.ceil(z * z * np.asarray(variance) / (t * t)), 1).astype(np.int64)


def samples_sufficient(variance, max_deviation, tolerance, confidence=0.95):
    """A K that provably reaches the confidence (Bernstein's inequality, module doc): the least K
    with 2 exp(-K t^2 / (2 sigma^2 + 2 b t / 3)) <= 1 - confidence, at least 1."""
    t, c = _check_tolerance(tolerance), _check_confidence(confidence)
    scale = 2.0 * np.asarray(variance) + 2.0 * np.asarray(max_deviation) * t / 3.0
    return np.maximum(np.ceil(np.log(2.0 / (1.0 - c)) * scale / (t * t)), 1).astype(np.int64)


def coverage_upper_bound(samples, variance, third_abs, tolerance):
    """An upper bound on P(|s_K - mu| <= tolerance) for K = ``samples`` passes (Berry-Esseen, module
    doc), clipped to [0, 1]; 1 where the prediction does not vary (sigma = 0)."""
    K = np.asarray(samples, dtype=np.float64)
    if not np.all((K >= 1) & (K == np.round(K))):
        raise ValueError(f"samples must be whole numbers of forward passes >= 1, got {samples!r}")
    t = _check_tolerance(tolerance)
    sigma = np.sqrt(np.asarray(variance, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        normal = 2.0 * ndtr(t * np.sqrt(K) / sigma) - 1.0
        bound = normal + 2.0 * BERRY_ESSEEN_CONSTANT * np.asarray(third_abs) / (sigma ** 3
                                                                                 * np.sqrt(K))
    return np.where(sigma > 0, np.clip(bound, 0.0, 1.0), 1.0)


@long_running_jit(static_argnames=("noise", "noisy", "loss", "passes", "repeats"),
                  options=RANDOM_HEAVY)
def _averages(key, params, X, keep, *, noise: Noise, noisy: tuple, loss: str, passes: tuple,
              repeats: int):
    slot_of_pass = np.full(passes[-1], -1)
    slot_of_pass[np.asarray(passes) - 1] = np.arange(len(passes))
    num_outputs = params[-1][0].shape[0]

    def one_pass(carry, step):
        total, records = carry
        t, slot = step
        raw = draw_raw(jax.random.fold_in(key, t), noise, params, (repeats, X.shape[0]))
        outputs = noisy_outputs(noise, params, X, realise_all(noise, raw, keep, noisy), keep)
        total = total + predictions(loss, outputs)
        index = jnp.maximum(slot, 0)
        records = records.at[index].set(jnp.where(slot >= 0, total / (t + 1), records[index]))
        return (total, records), None

    shape = (repeats, X.shape[0], num_outputs)
    init = (jnp.zeros(shape, X.dtype), jnp.zeros((len(passes),) + shape, X.dtype))
    steps = (jnp.arange(passes[-1]), jnp.asarray(slot_of_pass))
    return jax.lax.scan(one_pass, init, steps)[0][1]


def mc_prediction_averages(key, params, X, *, keep_prob=0.5, noise="dropout", groups=None,
                           loss="square", passes=(1, 10, 100), repeats=100) -> np.ndarray:
    """MC dropout as practitioners run it: ``repeats`` independent runs of K forward passes per
    example with dropout active, for every K in ``passes`` (increasing; the K-pass average is the
    first K passes of one run of max(passes)). Returns an array (len(passes), repeats, N), or
    (len(passes), repeats, N, C) under the cross-entropy. ``key``: a ``jax.random`` key; the same key
    and arguments give the same numbers. Every noise kind (Gaussian too)."""
    if any(is_traced(a) for a in jax.tree_util.tree_leaves((params, X, keep_prob))):
        raise TypeError("mc_prediction_averages returns NumPy arrays; call it on concrete values")
    params = as_params(params, check_loss(loss))
    X = as_inputs(X, params[0][0].shape[1])
    spec = as_noise(widths(params), keep_prob, noise, groups)
    passes = tuple(int(k) for k in passes)
    if not passes or passes[0] < 1 or any(b <= a for a, b in zip(passes, passes[1:])):
        raise ValueError(f"passes must be increasing whole numbers >= 1 (the K of each average), "
                         f"got {passes!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1 (independent MC-dropout runs per "
                         f"example), got {repeats!r}")
    noisy = tuple(map(spec.is_noisy, range(spec.depth)))
    averages = np.asarray(_averages(key, params, X, spec.keep_array(),
                                    noise=spec._replace(keep=None), noisy=noisy, loss=loss,
                                    passes=passes, repeats=int(repeats)))
    return averages if loss == "cross_entropy" else averages[..., 0]
