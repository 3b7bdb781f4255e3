"""Hardening (issue 24): inputs that used to kill the process, fail with someone else's message or
return a plausible wrong number are refused by name, before any work is done."""

import warnings

import jax
import jax.numpy as jnp
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


# Traced values: a value a direct call would refuse gives NaN under jax.jit and jax.grad (the
# convention of jax.scipy). One program evaluates every public function at once; each case below
# makes exactly one argument invalid, so exactly the entry that reads it must turn NaN.
P3 = (P[0], (np.array([[1.0, -2.0], [0.5, 0.5], [-1.0, 0.2]]), np.zeros(3)))
VALID = {"keep": 0.6, "logistic_label": 1.0, "class_label": 2.0, "weight": 0.2, "lam": 0.1,
         "x": 0.4, "w": 1.0}


def _every_function(args):
    Y_logistic = jnp.array([0.0, 1.0, 1.0]).at[0].set(args["logistic_label"])
    Y_class = jnp.array([0.0, 1.0, 2.0]).at[0].set(args["class_label"])
    params_w = ((jnp.asarray(P[0][0]).at[0, 0].set(args["w"]), P[0][1]), P[1])
    return jnp.stack([
        theory.dropout_criterion(P, X, Y, keep_prob=args["keep"]),
        theory.dropout_criterion(P, X, Y_logistic, loss="logistic"),
        theory.dropout_criterion(P3, X, Y_class, loss="cross_entropy"),
        theory.dropout_penalty(P, X, Y, weights=jnp.stack([args["weight"], 0.5, 0.3])),
        theory.l2_criterion(P, X, Y, lam=args["lam"]),
        theory.risk(P, jnp.asarray(X).at[0, 0].set(args["x"]), Y),
        theory.network_output(params_w, X)[0]])


ENTRY = {name: i for i, name in enumerate(VALID)}      # the entry of _every_function that reads it
INVALID = [("keep", 1.5), ("keep", 0.0), ("keep", -0.2), ("keep", np.nan),
           ("logistic_label", 3.0), ("logistic_label", 0.5), ("class_label", 2.5),
           ("class_label", 3.0), ("class_label", -1.0), ("weight", -0.1), ("weight", 0.7),
           ("lam", -1.0), ("lam", np.inf), ("x", np.inf), ("x", np.nan), ("w", -np.inf)]


def test_traced_values_a_direct_call_would_refuse_give_nan_and_nan_gradients():
    args = {name: jnp.float64(value) for name, value in VALID.items()}
    values = jax.jit(_every_function)
    gradients = jax.jit(jax.grad(lambda a: jnp.sum(_every_function(a))))
    valid = np.asarray(values(args))
    # Traced valid values agree with the direct (checked) calls, and their gradients are finite.
    Y3 = np.array([2.0, 1.0, 2.0])
    direct = [theory.dropout_criterion(P, X, Y, keep_prob=0.6),
              theory.dropout_criterion(P, X, np.array([1.0, 1.0, 1.0]), loss="logistic"),
              theory.dropout_criterion(P3, X, Y3, loss="cross_entropy"),
              theory.dropout_penalty(P, X, Y, weights=np.array([0.2, 0.5, 0.3])),
              theory.l2_criterion(P, X, Y, lam=0.1)]
    np.testing.assert_allclose(valid[:5], direct, rtol=1e-12)
    assert all(np.isfinite(g) for g in gradients(args).values())
    for name, value in INVALID:
        out = np.asarray(values({**args, name: jnp.float64(value)}))
        expected_nan = np.arange(len(VALID)) == ENTRY[name]
        assert np.array_equal(np.isnan(out), expected_nan), (name, value, out)
        np.testing.assert_array_equal(out[~expected_nan], valid[~expected_nan])
        if name != "class_label":          # an index: JAX defines its derivative as 0
            assert np.isnan(gradients({**args, name: jnp.float64(value)})[name]), (name, value)


def test_help_of_every_differentiable_function_states_the_nan_convention():
    for function in (theory.dropout_criterion, theory.dropout_penalty, theory.deviation_moments,
                     theory.output_moments, theory.risk, theory.l2_penalty, theory.l2_criterion):
        assert "NaN" in function.__doc__, function.__name__


# Overflow: a result past float64 is refused with the layer whose values overflow, not returned as
# inf or NaN with a NumPy warning.
BIG = tuple((W * 1e200, b * 1e200) for W, b in P)
HIDDEN_FIRST = r"dropout layer 1 \(hidden layer 1\) is the first past 1.3e154, where a square"


@pytest.mark.parametrize("call, where", [
    (lambda: theory.risk(BIG, X, Y), HIDDEN_FIRST),
    (lambda: theory.dropout_criterion(BIG, X, Y), HIDDEN_FIRST),
    (lambda: theory.dropout_penalty(BIG, X, Y), HIDDEN_FIRST),
    (lambda: theory.output_moments(BIG, X), HIDDEN_FIRST),
    (lambda: theory.mc_dropout_criterion(jax.random.key(0), BIG, X, Y, num_samples=64),
     HIDDEN_FIRST),
    (lambda: theory.dropout_criterion(P, X, Y, keep_prob=1e-200),
     r"dropout layer 0 \(the inputs\) is the first past 1.3e154, where a square overflows \(its "
     r"dropout scaling is 1e\+200\)"),
    (lambda: theory.network_output(BIG, X), "the output is the first past float64's largest"),
    (lambda: theory.l2_penalty(BIG, lam=1.0), r"weights up to 2e\+200"),
])
def test_overflow_is_refused_naming_the_layer(call, where):
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # no NumPy warning on the way either
        with pytest.raises(OverflowError, match=where):
            call()


def test_large_values_that_fit_are_computed_not_refused():
    """The output layer and the labels x 1e150: squares near 1e300 still fit, and J_D scales by
    exactly 1e300 (D - y scales by 1e150)."""
    scaled = (P[0], (P[1][0] * 1e150, P[1][1] * 1e150))
    ratio = theory.dropout_criterion(scaled, X, 1e150 * Y) / theory.dropout_criterion(P, X, Y)
    assert ratio == pytest.approx(1e300, rel=1e-12)


# The Gaussian route: its unit pairs count against max_patterns, and wide layers are taken in
# blocks of rows (bounded memory) with the same result.
def test_gaussian_route_counts_its_unit_pairs_and_blocks_wide_layers(monkeypatch):
    rng = np.random.default_rng(3)
    wide = theory.network.random_network(rng, (3, 40, 1), scale=0.3)
    assert theory.num_enumerated_patterns(wide, noise="gaussian") == 40 ** 2
    with pytest.raises(ValueError, match=r"needs 1,600 enumerated patterns \(gaussian: the "
                                         r"n_\{d-1\}\^2 pairs of last hidden units"):
        theory.dropout_criterion(wide, X, Y, noise="gaussian", max_patterns=1000)
    whole = theory.dropout_criterion(wide, X, Y, noise="gaussian")
    monkeypatch.setattr(theory.exact, "GAUSSIAN_PAIR_ELEMENTS", 7 * 40)   # 7 rows: 6 blocks, padded
    plan = theory.exact.make_plan(wide, theory.noise.as_noise((3, 40), 0.5, "gaussian"), 3)
    assert plan.pair_rows == 7
    assert theory.dropout_criterion(wide, X, Y, noise="gaussian") == pytest.approx(whole, rel=1e-13)
