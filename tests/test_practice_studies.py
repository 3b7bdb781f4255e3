"""The practitioner studies' own arithmetic (experiments/practice): the time-to-train clocks of
dropout_training_time on curves whose answers are known by hand."""

import numpy as np

from experiments.practice.dropout_training_time import steps_to_common_test_loss, steps_to_train


def test_time_to_train_is_the_first_checkpoint_within_one_percent_of_the_way():
    curves = np.array([[1.0, 0.5, 0.1, 0.005, 0.0],      # target 0.01: checkpoint 3
                       [1.0, 0.0, 0.5, 0.3, 0.2],        # below the final early: checkpoint 1
                       [0.4, 0.5, 0.6, 0.5, 0.45],       # never improves: no time
                       [2.0, 1.0, 1.0, 1.0, 1.0]])       # at the final from checkpoint 1
    steps = steps_to_train(curves, log_every=100)
    np.testing.assert_array_equal(steps[[0, 1, 3]], [300.0, 100.0, 100.0])
    assert np.isnan(steps[2])
    assert steps_to_train(curves[:1], log_every=100, fraction=0.2)[0] == 200.0


def test_steps_to_a_common_test_loss_use_the_higher_best():
    task = {"log_every": 10,
            "dropout_test": np.array([[1.0, 0.6, 0.4, 0.3], [1.0, 0.9, 0.8, 0.7]]),
            "none_test": np.array([[1.0, 0.5, 0.45, 0.5], [1.0, 0.6, 0.6, 0.6]])}
    # seed 0: target max(0.3, 0.45) = 0.45 -> dropout at 2, none at 2;
    # seed 1: target max(0.7, 0.6) = 0.7 -> dropout at 3, none at 1.
    with_, without = steps_to_common_test_loss(task)
    np.testing.assert_array_equal(with_, [20, 30])
    np.testing.assert_array_equal(without, [20, 10])


def test_underfitting_begins_where_the_median_risk_leaves_the_keep_one_value():
    from experiments.practice.underfitting_vs_keep import underfitting_begins

    keeps = (0.25, 0.5, 0.75, 1.0)
    risk = np.array([[0.9, 0.5, 0.12, 0.1], [0.7, 0.3, 0.35, 0.1], [0.8, 0.4, 0.1, 0.1]])
    # medians 0.8, 0.4, 0.12, 0.1: above 0.1 + 0.1 * 1.0 at keeps 0.25 and 0.5
    assert underfitting_begins(keeps, risk, 1.0) == 0.5
    assert underfitting_begins(keeps, risk, 1.0, share=0.9) is None


def test_a_diverged_run_counts_as_the_worse_of_its_pair():
    from experiments.practice.underfitting_vs_keep import paired_differences

    end = np.array([0.5, np.nan, 0.2, np.inf])
    middle = np.array([0.3, 0.4, np.nan, np.nan])
    d = paired_differences(end, middle)
    np.testing.assert_allclose(d[:3], [0.2, 1.2, -1.2])
    assert d[3] == 0.0                                   # both diverged: a tie


def test_concrete_dropout_s_relaxed_mask_rounds_to_a_bernoulli_keep_mask():
    """P(relaxed keep > 1/2) = 1 - q at any temperature: on the uniforms' quantiles the share above
    1/2 is 1 - q to within one quantile step."""
    import jax.numpy as jnp

    from experiments.practice.rate_choice import relaxed_keep

    u = (jnp.arange(10_000) + 0.5) / 10_000
    for theta in (-2.0, 0.0, 0.7):
        q = 1 / (1 + np.exp(-theta))
        for temperature in (0.1, 1.0):
            share = float(jnp.mean(relaxed_keep(jnp.asarray(theta), u, temperature) > 0.5))
            assert abs(share - (1 - q)) <= 1e-4
    assert float(relaxed_keep(jnp.asarray(0.0), jnp.asarray(0.5))) == 0.5


def test_concrete_dropout_s_entropy_term_pulls_toward_one_half():
    """With no weights to decay (l = 0), a mask-free network (W2 = 0) that fits its labels and
    precision 1, the likelihood term is 0 and the objective is (2/N) n (q log q + (1 - q)
    log(1 - q)), stationary at q = 1/2."""
    import jax
    import jax.numpy as jnp

    from experiments.practice.rate_choice import concrete_objective

    X, Y = jnp.ones((4, 2)), jnp.zeros(4)
    params = ((jnp.ones((3, 2)), jnp.zeros(3)), (jnp.zeros((1, 3)), jnp.zeros(1)))
    data = (X, Y, jax.random.key(0))

    def objective(theta):
        return concrete_objective((params, theta, 0.0), data, 0, length_scale=0.0)

    assert abs(float(jax.grad(objective)(0.0))) < 1e-12
    q = 1 / (1 + np.exp(-1.0))
    expected = 2 / 4 * 3 * (q * np.log(q) + (1 - q) * np.log(1 - q))
    assert abs(float(objective(1.0)) - expected) < 1e-12
