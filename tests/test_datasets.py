"""The real data sets (experiments/shared/datasets.py) and the batched exact judge the real-data studies
use (theory.evaluation.exact_per_example_penalties) against theory's own per-network functions."""

import jax
import numpy as np
import pytest

import theory
from experiments.shared.datasets import DATASETS, load_runs, load_split
from theory.network import random_network
from theory.evaluation import exact_per_example_penalties, exact_risk_and_dropout_criterion

SHAPES = {"diabetes": (442, 10, 0), "breast_cancer": (569, 30, 2), "wine": (178, 13, 3),
          "digits": (1797, 64, 10)}


@pytest.mark.parametrize("name", DATASETS)
def test_split_is_fixed_standardised_and_complete(name):
    total, K, classes = SHAPES[name]
    split = load_split(name, seed=3)
    assert split.X_train.shape[1] == split.X_test.shape[1] == K
    assert len(split.Y_train) + len(split.Y_test) == total
    assert abs(len(split.Y_test) - 0.3 * total) <= 1
    axis = None if name == "digits" else 0          # images: one mean and sd over all pixels
    np.testing.assert_allclose(split.X_train.mean(axis=axis), 0, atol=1e-12)
    np.testing.assert_allclose(split.X_train.std(axis=axis), 1, rtol=1e-12)
    assert split.num_classes == classes
    if classes:
        assert set(np.unique(split.Y_train)) == set(range(classes))
        train_share = np.bincount(split.Y_train.astype(int)) / len(split.Y_train)
        test_share = np.bincount(split.Y_test.astype(int)) / len(split.Y_test)
        np.testing.assert_allclose(train_share, test_share, atol=0.02)     # stratified
    else:
        np.testing.assert_allclose([split.Y_train.mean(), split.Y_train.std()], [0, 1], atol=1e-12)
    again = load_split(name, seed=3)
    np.testing.assert_array_equal(again.X_test, split.X_test)
    assert not np.array_equal(load_split(name, seed=4).Y_test, split.Y_test)


def test_run_r_uses_split_seed_r_and_the_description_says_so():
    splits, description = load_runs("wine", 3)
    np.testing.assert_array_equal(splits[2].X_test, load_split("wine", seed=2).X_test)
    assert "178 x 13" in description and "124/54" in description and "seeds 0-2" in description


def test_unknown_data_set_is_a_clear_error():
    with pytest.raises(ValueError, match="name must be one of"):
        load_split("iris")


@pytest.mark.parametrize("loss,outputs", [("square", 1), ("logistic", 1), ("cross_entropy", 3)])
def test_batched_penalties_match_one_network_at_a_time(loss, outputs):
    rng = np.random.default_rng(0)
    runs, N, keep = 2, 4, (1.0, 0.6, 0.5)
    nets = [random_network(rng, [3, 3, 2, outputs]) for _ in range(runs)]
    X = rng.normal(size=(runs, N, 3))
    Y = rng.integers(0, 3 if outputs == 3 else 2, size=(runs, N)).astype(float)
    stacked = jax.tree_util.tree_map(lambda *a: np.stack(a), *nets)
    batched = np.asarray(exact_per_example_penalties(stacked, X, Y, keep, loss=loss))
    risk, j_d = exact_risk_and_dropout_criterion(stacked, X, Y, keep, loss=loss)
    for r in range(runs):
        for i in range(N):
            one_hot = np.eye(N)[i]
            expected = theory.dropout_penalty(nets[r], X[r], Y[r], keep_prob=keep, loss=loss,
                                              weights=one_hot)
            np.testing.assert_allclose(batched[r, i], expected, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(risk[r], theory.risk(nets[r], X[r], Y[r], loss=loss), rtol=1e-12)
        np.testing.assert_allclose(j_d[r], theory.dropout_criterion(
            nets[r], X[r], Y[r], keep_prob=keep, loss=loss), rtol=1e-10)
