"""theory.evaluation: many networks judged a few at a time (each_run, runs_at_once) give what
one network at a time gives, for every batch size, checkpoints included."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import theory
from theory.evaluation import (RUN_ELEMENTS, each_run, exact_along_training,
                               exact_risk_and_dropout_criterion, runs_at_once)
from theory.network import random_network
from theory.noise import as_noise


def test_runs_at_once_is_the_largest_power_of_two_within_the_budget():
    # 5-4-1 under keep 1/2 everywhere: 2^5 input patterns x 8 examples x widest layer 5
    params = random_network(np.random.default_rng(0), [5, 4, 1])
    noise = as_noise((5, 4), 0.5, "dropout", None)
    size = 2 ** 5 * 8 * 5
    assert runs_at_once(params, noise, 8) == 2 ** int(np.log2(RUN_ELEMENTS // size))
    assert runs_at_once(params, noise, RUN_ELEMENTS) == 1          # past the budget: one at a time
    hidden_only = as_noise((5, 4), (1.0, 0.5), "dropout", None)    # no enumerated pattern
    assert runs_at_once(params, hidden_only, 8) == 2 ** int(np.log2(RUN_ELEMENTS // 40))


@pytest.mark.parametrize("batch", [1, 3, 5, 64])
def test_each_run_equals_one_run_at_a_time_for_any_batch(batch):
    rng = np.random.default_rng(1)
    nets = [random_network(rng, [3, 4, 1]) for _ in range(5)]
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *nets)
    X = rng.normal(size=(5, 6, 3))
    out = np.asarray(each_run(lambda p, x: theory.network_output(p, x), stacked, X, batch=batch))
    for r in range(5):
        np.testing.assert_allclose(out[r], np.asarray(theory.network_output(nets[r], X[r])),
                                   rtol=1e-14, atol=1e-15)


def test_criteria_over_runs_and_checkpoints_match_each_network():
    """Five runs x three checkpoints of a 3-4-3-1 network (2^7 patterns): R and J_D per run and per
    checkpoint against theory's one-network functions (several runs share a batch here)."""
    rng = np.random.default_rng(2)
    runs, checkpoints, N = 5, 3, 4
    nets = [[random_network(rng, [3, 4, 3, 1]) for _ in range(checkpoints)] for _ in range(runs)]
    X = rng.normal(size=(runs, N, 3))
    Y = rng.normal(size=(runs, N))
    along = jax.tree_util.tree_map(lambda *a: jnp.stack(a),
                                   *[jax.tree_util.tree_map(lambda *c: jnp.stack(c), *run)
                                     for run in nets])
    risk, j_d = (np.asarray(v) for v in exact_along_training(along, X, Y, 0.5))
    final = jax.tree_util.tree_map(lambda a: a[:, -1], along)
    final_risk, final_j_d = (np.asarray(v) for v in
                             exact_risk_and_dropout_criterion(final, X, Y, 0.5))
    for r in range(runs):
        for c in range(checkpoints):
            np.testing.assert_allclose(risk[r, c], theory.risk(nets[r][c], X[r], Y[r]),
                                       rtol=1e-12)
            np.testing.assert_allclose(j_d[r, c], theory.dropout_criterion(
                nets[r][c], X[r], Y[r], keep_prob=0.5), rtol=1e-12)
        np.testing.assert_allclose(final_j_d[r], j_d[r, -1], rtol=1e-12)
        np.testing.assert_allclose(final_risk[r], risk[r, -1], rtol=1e-12)
