"""Bad input gets a clear error that names the argument."""

import numpy as np
import pytest

import theory
from theory.paper.negative_penalty import figure1_network

PARAMS, X, Y = figure1_network()


@pytest.mark.parametrize("keep_prob", [0.0, -0.5, 1.5, float("nan")])
def test_keep_prob_outside_unit_interval(keep_prob):
    with pytest.raises(ValueError, match=r"keep_prob must be in \(0, 1\].*KEEPING"):
        theory.dropout_criterion(PARAMS, X, Y, keep_prob=keep_prob)


def test_keep_prob_not_a_number():
    with pytest.raises(TypeError, match="keep_prob"):
        theory.dropout_penalty(PARAMS, X, Y, keep_prob="half")


def test_shapes_that_do_not_chain():
    params = ((np.ones((2, 2)), np.zeros(2)), (np.ones((1, 3)), np.zeros(1)))
    with pytest.raises(ValueError, match=r"params\[1\] W takes 3 inputs .* 2 outputs"):
        theory.risk(params, X, Y)


def test_bias_of_wrong_length():
    params = ((np.ones((2, 2)), np.zeros(3)), (np.ones((1, 2)), np.zeros(1)))
    with pytest.raises(ValueError, match=r"params\[0\] b must have shape \(2,\)"):
        theory.risk(params, X, Y)


def test_last_layer_with_more_than_one_output():
    params = ((np.ones((2, 2)), np.zeros(2)), (np.ones((2, 2)), np.zeros(2)))
    with pytest.raises(ValueError, match="last layer must have exactly one output"):
        theory.dropout_criterion(params, X, Y)


def test_params_not_a_sequence_of_pairs():
    with pytest.raises(TypeError, match="params"):
        theory.risk(np.ones((2, 2)), X, Y)
    with pytest.raises(TypeError, match=r"params\[0\]"):
        theory.risk([(np.ones((1, 2)),)], X, Y)


@pytest.mark.parametrize("weights,message", [
    ([-0.5, 1.5], "non-negative"), ([0.3, 0.3], "sum to 1"), ([1.0], r"shape \(2,\)")])
def test_bad_example_weights(weights, message):
    X2, Y2 = np.ones((2, 2)), np.ones(2)
    with pytest.raises(ValueError, match=f"weights must.*{message}"):
        theory.dropout_criterion(PARAMS, X2, Y2, weights=weights)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_values_are_named(bad):
    with pytest.raises(ValueError, match=r"params\[0\] W contains NaN or infinite"):
        theory.dropout_criterion(((np.array([[1.0, bad], [1, 1]]), np.zeros(2)), PARAMS[1]), X, Y)
    with pytest.raises(ValueError, match="X contains NaN or infinite"):
        theory.dropout_criterion(PARAMS, np.array([[1.0, bad]]), Y)
    with pytest.raises(ValueError, match="Y contains NaN or infinite"):
        theory.risk(PARAMS, X, np.array([bad]))
    with pytest.raises(ValueError, match="weights contains NaN or infinite"):
        theory.risk(PARAMS, X, Y, weights=[bad])


def test_data_shapes():
    with pytest.raises(ValueError, match=r"X must have shape \(N, K\)"):
        theory.risk(PARAMS, np.ones(2), Y)
    with pytest.raises(ValueError, match="X has 3 features .* takes 2 inputs"):
        theory.risk(PARAMS, np.ones((1, 3)), Y)
    with pytest.raises(ValueError, match=r"Y must have shape \(1,\)"):
        theory.risk(PARAMS, X, np.ones(2))


def test_negative_lambda_and_unknown_method():
    with pytest.raises(ValueError, match="lam must be"):
        theory.l2_criterion(PARAMS, X, Y, lam=-1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        theory.dropout_criterion(PARAMS, X, Y, method="fast")
    with pytest.raises(ValueError, match="method='linear' needs"):
        theory.dropout_criterion(PARAMS, X, Y, method="linear")


def test_keep_prob_per_layer_of_the_wrong_length_or_range():
    with pytest.raises(ValueError, match=r"one number or a sequence of 2 numbers.*inputs"):
        theory.dropout_criterion(PARAMS, X, Y, keep_prob=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match=r"keep_prob\[1\] must be in \(0, 1\].*Dropout\(p\) keeps"):
        theory.dropout_criterion(PARAMS, X, Y, keep_prob=(1.0, 0.0))


def test_unknown_noise_and_misplaced_groups():
    with pytest.raises(ValueError, match="noise must be one of"):
        theory.dropout_criterion(PARAMS, X, Y, noise="bernoulli")
    with pytest.raises(ValueError, match="groups apply to noise='dropout' only"):
        theory.dropout_criterion(PARAMS, X, Y, noise="gaussian", groups=[None, [0, 0]])
    with pytest.raises(ValueError, match="groups must be None or a sequence of 2 entries"):
        theory.dropout_criterion(PARAMS, X, Y, groups=[[0, 0]])
    with pytest.raises(ValueError, match=r"groups\[1\] must be an integer array of shape \(2,\)"):
        theory.dropout_criterion(PARAMS, X, Y, groups=[None, [0, 0, 1]])
    with pytest.raises(ValueError, match="method='linear' does not apply to Gaussian"):
        theory.dropout_criterion(PARAMS, X, Y, noise="gaussian", method="linear")
