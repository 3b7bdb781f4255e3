"""experiments.shared.exact_descent: Adam on an exact criterion for a batch of starts."""

import jax
import jax.numpy as jnp
import numpy as np

import theory
from experiments.shared.exact_descent import adam_descent
from theory.paper.negative_penalty import figure1_network


def test_adam_descent_minimises_each_run_and_applies_the_projection():
    """Two runs of a convex quadratic with minimiser (1, -2): the free run reaches it, the run
    projected onto >= 0 reaches (1, 0), the constrained minimiser."""
    def criterion(x, _):
        return jnp.sum(jnp.square(x - jnp.array([1.0, -2.0])))

    def project(x, nonnegative):
        return jnp.where(nonnegative, jnp.maximum(x, 0.0), x)

    descend = adam_descent(criterion, 4000, project)
    out = descend(jnp.zeros((2, 2)), jnp.array([False, True]), 0.05)
    np.testing.assert_allclose(out, [[1.0, -2.0], [1.0, 0.0]], atol=1e-6)


def test_keep_learned_with_the_weights_reaches_one_on_the_figure1_network():
    """B40-B41 on the Figure 1 network: with the weights fixed J_D is least at keep 1/2 (54 < 64),
    but Adam on the exact J_D over weights and keep together ends at keep 1 with J_D near 0, the
    minimum the proof of B40 gives (inf R = 0)."""
    from experiments.beliefs.practitioner_claims import joint_rate
    from sgd.training import stack_runs

    params, X, Y = figure1_network()
    result = joint_rate(stack_runs([params]), jnp.asarray(X)[None], jnp.asarray(Y)[None])
    assert result["keep"][0] >= 0.99 and result["criterion"][0] < 1e-6
    assert result["below"] == []
    assert abs(theory.dropout_criterion(params, X, Y, keep_prob=0.5) - 54.0) < 1e-9


def test_gradients_a_few_runs_at_a_time_follow_the_same_descent():
    """runs_at_once computes each step's gradients 2 runs at a time (3 runs: a batch and a
    remainder): the same Adam path as all runs at once, up to rounding, on the exact J_D."""
    from sgd.training import stack_runs
    from theory.network import random_network

    rng = np.random.default_rng(3)
    starts = stack_runs([random_network(rng, [3, 3, 1]) for _ in range(3)])
    X, Y = jnp.asarray(rng.normal(size=(3, 5, 3))), jnp.asarray(rng.normal(size=(3, 5)))

    def criterion(params, data):
        return theory.dropout_criterion(params, data[0], data[1], keep_prob=0.5)

    together = adam_descent(criterion, 50)(starts, (X, Y), 0.01)
    batched = adam_descent(criterion, 50, runs_at_once=2)(starts, (X, Y), 0.01)
    moved = jax.tree_util.tree_map(lambda a, b: float(jnp.max(jnp.abs(a - b))), starts, together)
    assert max(jax.tree_util.tree_leaves(moved)) > 1e-3            # the runs did move
    for a, b in zip(jax.tree_util.tree_leaves(together), jax.tree_util.tree_leaves(batched)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
