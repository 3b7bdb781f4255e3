"""experiments.shared.exact_descent: Adam on an exact criterion for a batch of starts."""

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
