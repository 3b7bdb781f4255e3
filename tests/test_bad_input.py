"""Hardening (issue 24): inputs that used to kill the process, fail with someone else's message or
return a plausible wrong number are refused by name, before any work is done."""

import jax
import numpy as np
import pytest

import theory

P = ((np.array([[1.0, -1, 0.5], [0.3, 0.2, -0.7]]), np.array([0.1, -0.2])),
     (np.array([[1.0, -2.0]]), np.array([0.5])))
X = np.random.default_rng(0).normal(size=(3, 3))
Y = np.array([0.3, -1.0, 2.0])


@pytest.mark.parametrize("max_patterns", [None, "big", 2.5, True, 0, 2 ** 80])
def test_max_patterns_outside_its_range_is_refused_by_name(max_patterns):
    with pytest.raises(ValueError, match=r"max_patterns must be an integer from 1 to 2\^40"):
        theory.dropout_criterion(P, X, Y, max_patterns=max_patterns)
    with pytest.raises(ValueError, match="max_patterns"):      # also where no pattern is counted
        theory.deviation_moments(P, np.abs(X), method="linear", max_patterns=max_patterns)


def test_too_many_patterns_says_two_to_the_k_without_printing_its_digits():
    """20,003 enumerated units: 2^20003 has 6,022 digits, past Python's int-to-str limit."""
    wide = ((np.ones((20_000, 3)), np.zeros(20_000)), (np.ones((1, 20_000)), np.zeros(1)))
    with pytest.raises(ValueError, match=r"needs 2\^20003 \(about 10\^6021\) enumerated") as info:
        theory.dropout_criterion(wide, X, (Y > 0).astype(float), loss="logistic")
    assert len(str(info.value)) < 600
    narrow = ((np.ones((26, 3)), np.zeros(26)), (np.ones((1, 26)), np.zeros(1)))
    with pytest.raises(ValueError, match=r"needs 2\^29 = 536,870,912 enumerated"):
        theory.dropout_criterion(narrow, X, (Y > 0).astype(float), loss="logistic")


@pytest.mark.parametrize("num_samples", [10 ** 13, 2 ** 27 + 1, 1, True, 100.0])
def test_monte_carlo_sample_count_is_bounded_before_anything_is_allocated(num_samples):
    with pytest.raises(ValueError, match=r"num_samples must be an integer from 2 to 2\^27"):
        theory.mc_dropout_criterion(jax.random.key(0), P, X, Y, num_samples=num_samples)


def test_monte_carlo_under_a_transformation_is_refused_with_its_reason():
    def estimate(keep):
        return theory.mc_dropout_criterion(jax.random.key(0), P, X, Y, keep_prob=keep,
                                           num_samples=100)[0]

    for transform in (jax.grad, jax.jit):
        with pytest.raises(TypeError, match="cannot run under jax.jit, jax.vmap or jax.grad"):
            transform(estimate)(0.5)
    assert "Not\n    differentiable" in theory.mc_dropout_criterion.__doc__


def test_network_output_checks_its_arguments():
    with pytest.raises(TypeError, match=r"params\[0\] must be a \(W, b\) pair"):
        theory.network_output([[[1.0]], [0.0]], X)
    with pytest.raises(ValueError, match=r"params\[1\] W takes 4 inputs but layer 0 has 2"):
        theory.network_output(((np.ones((2, 3)), np.zeros(2)), (np.ones((1, 4)), np.zeros(1))), X)
    three = ((np.ones((2, 3)), np.zeros(2)), (np.ones((3, 2)), np.zeros(3)))
    with pytest.raises(ValueError, match="one output node, but the last layer has 3"):
        theory.network_output(three, X)
    with pytest.raises(ValueError, match="X has 2 features"):
        theory.network_output(P, X[:, :2])
    expected = [P[1][0][0] @ np.maximum(P[0][0] @ x + P[0][1], 0.0) + P[1][1][0] for x in X]
    np.testing.assert_allclose(theory.network_output(P, X), expected, rtol=1e-15)


@pytest.mark.parametrize("where", ["W", "b", "X"])
def test_complex_values_are_refused_not_silently_made_real(where):
    (W, b), output = P
    first = (W * (1 + 1j) if where == "W" else W, b * 1j if where == "b" else b)
    params = [first, output]
    inputs = X.astype(complex) if where == "X" else X
    with pytest.raises(TypeError, match="must be real: complex values are not supported"):
        theory.dropout_criterion(params, inputs, Y)


@pytest.mark.parametrize("groups", [5, 2.0, object()])
def test_groups_that_are_not_a_sequence_are_refused_by_name(groups):
    with pytest.raises(ValueError, match="groups must be None or a sequence of 2 entries"):
        theory.dropout_criterion(P, X, Y, groups=groups)


def test_help_documents_only_the_arguments_a_function_takes():
    for function in (theory.deviation_moments, theory.output_moments):
        assert "weights:" not in function.__doc__ and "loss:" not in function.__doc__
    for function in (theory.dropout_criterion, theory.dropout_penalty):
        assert "weights:" in function.__doc__ and "loss:" in function.__doc__


def test_a_sequential_with_its_own_forward_is_refused(torch):
    nn = torch.nn

    class Shifted(nn.Sequential):
        def forward(self, x):
            return super().forward(x) + 100.0

    model = Shifted(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    with pytest.raises(ValueError, match="Shifted overrides forward()"):
        theory.from_torch(model)
    inner = nn.Sequential(nn.Linear(3, 2), Shifted(nn.ReLU()), nn.Linear(2, 1))
    with pytest.raises(ValueError, match="Shifted overrides forward()"):
        theory.from_torch(inner)

    class Named(nn.Sequential):            # a subclass that keeps Sequential's forward is fine
        pass

    params, keep = theory.from_torch(Named(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1)))
    assert keep == (1.0, 1.0) and params[0][0].shape == (2, 3)
