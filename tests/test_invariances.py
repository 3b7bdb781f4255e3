"""C2-C4: dropout's invariances hold pattern by pattern to rounding; weight decay lacks C3."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import theory
from helpers import networks
from theory.network import random_network
from theory.enumeration import pattern_outputs
from theory.paper.invariances import rescale_layers, scale_inputs, scale_output

KEEP_PROBS = st.sampled_from([0.25, 0.5, 0.8])
FACTORS = st.floats(0.1, 10.0)
INPUTS = arrays(np.float64, 3, elements=st.floats(-2, 2))


def assert_rounding_close(actual, expected):
    scale = max(1.0, np.abs(expected).max())
    np.testing.assert_allclose(actual, expected, rtol=1e-11, atol=1e-12 * scale)


@given(networks(3), arrays(np.float64, 3, elements=FACTORS), st.lists(st.booleans(), min_size=3,
       max_size=3), INPUTS, KEEP_PROBS)
def test_c2_input_scaling_preserves_every_pattern_output(params, a, flips, x, keep_prob):
    a = np.where(flips, -a, a)                      # any full-rank diagonal, signs included
    scaled, _, _ = pattern_outputs(scale_inputs(params, a), a * x, keep_prob)
    original, _, _ = pattern_outputs(params, x, keep_prob)
    assert_rounding_close(scaled, original)


@given(networks(3, depths=(2, 3, 4)), st.lists(FACTORS, min_size=4, max_size=4), INPUTS,
       KEEP_PROBS)
def test_c3_cross_layer_rescaling_multiplies_every_pattern_output(params, c, x, keep_prob):
    c = np.asarray(c[:len(params)])
    rescaled, _, _ = pattern_outputs(rescale_layers(params, c), x, keep_prob)
    original, _, _ = pattern_outputs(params, x, keep_prob)
    assert_rounding_close(rescaled, np.prod(c) * original)


@given(networks(3), FACTORS, KEEP_PROBS)
def test_c4_output_scaling_scales_every_criterion_by_c_squared(params, c, keep_prob):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(3, 3)), rng.normal(size=3)
    scaled = scale_output(params, c)
    for f in (theory.risk, lambda *a: theory.dropout_criterion(*a, keep_prob=keep_prob)):
        assert_rounding_close(f(scaled, X, c * Y), c * c * f(params, X, Y))


def test_c3_product_one_keeps_dropout_but_weight_decay_explodes():
    rng = np.random.default_rng(1)
    params = random_network(rng, [3, 4, 4, 1])
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=4)
    j_d, j_2 = [], []
    for c in (1.0, 10.0, 100.0):
        moved = rescale_layers(params, [c, 1.0, 1.0 / c])
        j_d.append(theory.dropout_criterion(moved, X, Y))
        j_2.append(theory.l2_criterion(moved, X, Y, lam=0.1))
    assert_rounding_close(np.array(j_d), np.full(3, j_d[0]))
    (W1, _), (W2, _), (w, _) = params
    risk = theory.risk(params, X, Y)
    for c, value in zip((1.0, 10.0, 100.0), j_2):   # J2 = R + (lam/2)(c^2 |W1|^2 + |W2|^2 + |w|^2/c^2)
        expected = risk + 0.05 * (c * c * np.sum(W1 ** 2) + np.sum(W2 ** 2) + np.sum(w ** 2) / c ** 2)
        np.testing.assert_allclose(value, expected, rtol=1e-12)
    assert j_2[0] < j_2[1] < j_2[2]


def test_c2_centering_is_not_covered():
    """Shifting the inputs by s and absorbing it into the first bias keeps R but not J_D."""
    rng = np.random.default_rng(2)
    params = random_network(rng, [3, 4, 1])
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=4)
    s = np.array([1.0, -2.0, 0.5])
    (W1, b1), out = params
    shifted = ((W1, b1 - W1 @ s), out)
    np.testing.assert_allclose(theory.risk(shifted, X + s, Y), theory.risk(params, X, Y),
                               rtol=1e-12)
    assert abs(theory.dropout_criterion(shifted, X + s, Y)
               - theory.dropout_criterion(params, X, Y)) > 0.01
