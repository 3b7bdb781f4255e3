"""Variance shift: a hidden pre-activation's variance in train mode against test mode (ours; B38, B39).

Li, Chen, Hu and Yang (CVPR 2019, "Understanding the disharmony between dropout and batch
normalization by variance shift") explain why Dropout before BatchNorm hurts: a unit a with mean c
and variance v over the data has, after inverted dropout with keep p, variance (c^2 + v)/p - c^2 in
training and v at test, so statistics collected in training are wrong at test. Carried to a
pre-activation z = sum_i W_i a_i + b that reads a dropout layer (independent masks leave the
covariances of distinct inputs unchanged), their calculation predicts

    Var_train(z) = Var_test(z) + (q/p) sum_i W_i^2 E_x[a_i(x)^2],

with the inputs' test-mode statistics. That is exact when the layer read is the only noisy one (the
first hidden layer). Deeper, the inputs a are themselves noisy in training: their means shift (the
inference gap of :mod:`theory.beliefs.inference_gap`) and their variance grows, which the formula misses.

The exact train-mode variance is Var_x E_R z + E_x Var_R z: z_j of hidden layer l is the output of
the network cut after layer l with unit j as its output node, whose dropout layers are 0..l-1, so
:func:`theory.output_moments` gives E_R z and Var_R z exactly.
"""

from __future__ import annotations

import numpy as np

from theory.criteria import output_moments
from theory.network import as_inputs, as_params, plain_values
from theory.noise import as_keep_probs, noise_variance


def _check_layer(layer, d: int) -> int:
    if not (isinstance(layer, (int, np.integer)) and 1 <= layer < d):
        raise ValueError(f"layer must be a hidden layer 1..{d - 1} (its pre-activations read "
                         f"dropout layer layer - 1), got {layer!r}")
    return int(layer)


def preactivation_variances(params, X, layer: int, *, keep_prob=0.5):
    """(train, test): the exact variance over uniform examples X (and over the noise, in train mode)
    of each pre-activation of hidden layer ``layer``, shape (n_layer,) each."""
    params = as_params(params)
    X = as_inputs(X, params[0][0].shape[1])
    layer = _check_layer(layer, len(params))
    keep = as_keep_probs(keep_prob, len(params))[:layer]
    W, b = params[layer - 1]
    train = []
    for j in range(W.shape[0]):
        cut = params[:layer - 1] + ((W[j:j + 1], b[j:j + 1]),)
        mean, var = output_moments(cut, X, keep_prob=keep)
        train.append(np.var(mean) + np.mean(var))
    z = plain_values(params, X, layer - 1) @ W.T + b
    return np.asarray(train), np.var(z, axis=0)


def one_layer_train_variance(params, X, layer: int, *, keep_prob=0.5):
    """Li et al.'s prediction of the train-mode variance of each pre-activation of hidden layer
    ``layer``: Var_test(z) + (q/p) sum_i W_i^2 E[a_i^2] with a the plain values of the layer read."""
    params = as_params(params)
    X = as_inputs(X, params[0][0].shape[1])
    layer = _check_layer(layer, len(params))
    p = as_keep_probs(keep_prob, len(params))[layer - 1]
    W, b = params[layer - 1]
    a = plain_values(params, X, layer - 1)
    test = np.var(a @ W.T + b, axis=0)
    return test + noise_variance(p) * (np.square(W) @ np.mean(np.square(a), axis=0))
