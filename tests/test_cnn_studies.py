"""The CNN studies' own computations: the Monte-Carlo penalty, drawn with the masks of sgd.cnn (the
trainer's dropout), against the engine's exact one on the dense form
(experiments/shared/cnn_digits.py), and the exact BatchNorm-input variances against Monte Carlo
(experiments/convolutional/cnn_batchnorm_order.py), each within 5 standard errors of the same draws."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.convolutional import cnn_batchnorm_order as order
from experiments.shared import cnn_digits
from sgd.cnn import Architecture, init

Z = 5.0


def _networks(arch, runs, seed, scale=3.0):
    """``runs`` networks stacked over runs, weights scaled up (penalties well above the noise), with
    BatchNorm's running statistics moved off the identity."""
    nets = []
    for r in range(runs):
        params, state = init(jax.random.key(seed + r), arch, jnp.float64)
        params = {k: (v if k.startswith("bn") else tuple(scale * a for a in v))
                  for k, v in params.items()}
        rng = np.random.default_rng(seed + r)
        state = {k: (jnp.asarray(0.2 * rng.normal(size=v[0].shape)),
                     jnp.asarray(rng.random(v[1].shape) + 0.5)) for k, v in state.items()}
        nets.append((params, state))
    return jax.tree_util.tree_map(lambda *a: np.stack(a), *nets)


def test_monte_carlo_penalty_agrees_with_the_exact_one(monkeypatch):
    arch = Architecture(block1=("relu", "dropout2d"), conv_keep=0.7)
    monkeypatch.setattr(cnn_digits, "PENALTY_EXAMPLES", 30)        # small and quick
    splits, _ = cnn_digits.digits_runs(2)
    trained = _networks(arch, 2, 40)
    exact = cnn_digits.penalty_of_runs(arch, trained, splits, seed=41)
    assert exact["route"].startswith("exact (16 patterns")
    monkeypatch.setattr(cnn_digits, "EXACT_PATTERNS", 1)
    sampled = cnn_digits.penalty_of_runs(arch, trained, splits, seed=42)
    assert sampled["route"].startswith("Monte Carlo")
    assert np.all(np.abs(sampled["value"] - exact["value"]) <= Z * sampled["se"])
    assert np.all(exact["value"] > 8 * sampled["se"])         # it could tell a zero penalty apart


@pytest.mark.parametrize("name,bn", [("dropout_first", "bn1"), ("bn_first", "bn2")])
def test_exact_batchnorm_input_variances_agree_with_monte_carlo(name, bn):
    arch = order.ARMS[name]
    stacked = jax.tree_util.tree_map(jnp.asarray, _networks(arch, 1, 43))
    X = cnn_digits.digits_runs(1)[0][0].X_train[:40]
    exact = order.exact_variances(name, *jax.tree_util.tree_map(lambda a: a[0], stacked), X)[bn]
    mc, se = order.monte_carlo_variances(arch, *stacked, jnp.asarray(X[None]),
                                         jax.random.key(44)[None], 400)[bn]
    plain = order.monte_carlo_variances(arch._replace(conv_keep=1.0), *stacked,
                                        jnp.asarray(X[None]), jax.random.key(45)[None], 2)[bn][0]
    assert np.all(np.abs(mc - exact) <= Z * se)
    assert np.all(exact - plain > 20 * se)                      # the shift is resolved
