"""The explicit-regulariser theories of dropout, restated in our notation (ours; B44-B46).

Three published approximations of the dropout penalty J_D - R for square loss share one form. Let
a^(l)(x) be the values of dropout layer l (the inputs x for l = 0, the hidden values h^(l) after the
ReLU for l = 1..d-1) without noise, and g^(l)_u(x) = a^(l)_u(x) dW(x)/da^(l)_u, the derivative of the
output with respect to a multiplicative factor on unit u at factor 1. Then

    Omega_L(W) = sum_{l in L} (q_l/p_l) E_x sum_u g^(l)_u(x)^2,

for a set L of dropout layers:

* Wager, Wang and Liang (NeurIPS 2013, "Dropout training as adaptive regularization"): for a
  one-layer model (d = 1) the penalty is (q/p) sum_i w_i^2 E[x_i^2], exactly (C17). Carried to a
  network as its input-layer term, L = {0}, with the network linearised at each x.
* Arora, Bartlett, Mianjy and Srebro (ICML 2021, "Dropout: explicit forms and capacity control"):
  dropout on the last hidden layer only gives (q/p) sum_j w_j^2 E[h_j(x)^2], exactly (our B32 for
  every kind of noise); L = {d-1}.
* Wei, Kakade and Ma (ICML 2020, "The implicit and explicit regularization effects of dropout"):
  the second-order expansion of the expected loss in the noise around no noise. Independent noise
  of mean 1 and variance q_l/p_l on every unit, and a loss (f - y)^2, give
  sum_u (q/p) a_u^2 [ (df/da_u)^2 + (f - y) d^2f/da_u^2 ]; a ReLU network is piecewise linear in
  each unit, so the second derivative is 0 almost everywhere (their Gauss-Newton form is then the
  whole expansion) and Omega over every dropout layer remains: L = all layers.

Each is >= 0 and free of the label by construction, so none can reproduce the paper's negative
(C1) or label-dependent (C14) penalties; :mod:`theory.beliefs.inference_gap` says exactly what they miss
(the gap term). ReLU derivatives at exactly 0 are taken as 0 (jax.nn.relu). Bernoulli dropout,
Gaussian noise and groups of one node share these second moments; DropConnect is not covered.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from theory.network import as_inputs, as_params, as_weights, network_output, widths
from theory.noise import as_keep_probs, noise_variance


def _output_with_factors(params, x, factors):
    """W(x) when unit u of dropout layer l is multiplied by factors[l][u] (1: the plain network)."""
    a = x * factors[0]
    for layer, (W, b) in enumerate(params[:-1]):
        a = jax.nn.relu(W @ a + b) * factors[layer + 1]
    W, b = params[-1]
    return (W @ a + b)[0]


@jax.jit
def _sensitivities(params, X):
    ones = [jnp.ones(n, X.dtype) for n in widths(params)]
    gradient = jax.grad(_output_with_factors, argnums=2)
    return jax.vmap(gradient, in_axes=(None, 0, None))(params, X, ones)


def unit_sensitivities(params, X) -> list:
    """g^(l)(x) = a^(l)(x) * dW(x)/da^(l) for every dropout layer l: a list of d arrays (N, n_l)."""
    params = as_params(params)
    X = as_inputs(X, params[0][0].shape[1])
    return [np.asarray(g) for g in _sensitivities(params, X)]


def explicit_regulariser(params, X, *, keep_prob=0.5, layers=None, weights=None) -> float:
    """Omega_L = sum_{l in L} (q_l/p_l) E_x sum_u g^(l)_u(x)^2 (see the module docstring).

    ``layers``: None for every dropout layer (Wei, Kakade and Ma 2020), (0,) for the inputs (Wager,
    Wang and Liang 2013), (d-1,) for the last hidden layer (Arora, Bartlett, Mianjy and Srebro 2021).
    ``keep_prob``: one number or one per dropout layer; ``weights``: example probabilities.
    """
    params = as_params(params)
    X = as_inputs(X, params[0][0].shape[1])
    weights = as_weights(weights, X.shape[0])
    d = len(params)
    keep = as_keep_probs(keep_prob, d)
    chosen = range(d) if layers is None else tuple(layers)
    for layer in chosen:
        if not (isinstance(layer, (int, np.integer)) and 0 <= layer < d):
            raise ValueError(f"layers must hold dropout-layer indices 0..{d - 1} (0: the inputs), "
                             f"got {layers!r}")
    g = unit_sensitivities(params, X)
    return float(sum(noise_variance(keep[layer]) * (weights @ np.sum(np.square(g[layer]), axis=1))
                     for layer in chosen))


@partial(jax.jit, static_argnums=2)
def _single_drop_outputs(params, X, layer):
    """W(x) with unit u of dropout layer ``layer`` dropped alone, every other unit kept: (N, n)."""
    sizes = widths(params)

    def dropped(x, u):
        factors = [jnp.ones(m, X.dtype) for m in sizes]
        factors[layer] = factors[layer].at[u].set(0.0)
        return _output_with_factors(params, x, factors)
    return jax.vmap(lambda x: jax.vmap(lambda u: dropped(x, u))(jnp.arange(sizes[layer])))(X)


def single_drop_penalty_rate(params, X, Y, *, weights=None) -> float:
    """lim_{q -> 0} (J_D - R) / q for Bernoulli dropout with keep 1 - q on every dropout layer
    (ours; the exact small-drop-rate limit that Wei, Kakade and Ma's expansion approximates):

        E_x sum_u [ (W_{-u}(x) - W(x))^2 + 2 (W(x) - y) (W_{-u}(x) - W(x) + g_u(x)) ],

    W_{-u} the network with unit u dropped alone (every other unit kept, unscaled), g_u as in
    :func:`unit_sensitivities`. To first order in q a pattern drops at most one unit (probability
    q each) and the all-kept pattern is scaled by 1/p = 1 + q + O(q^2). Where no single drop flips
    a ReLU downstream, W_{-u} - W = -g_u and the limit is Omega's, sum_u g_u^2; where one does, the
    two differ, and the expansion's relative error does not vanish as q -> 0."""
    params = as_params(params)
    X = as_inputs(X, params[0][0].shape[1])
    Y = np.asarray(Y, np.float64).reshape(-1)
    weights = as_weights(weights, X.shape[0])
    plain = np.asarray(network_output(params, X))[:, None]
    g = unit_sensitivities(params, X)
    total = np.zeros(X.shape[0])
    for layer in range(len(params)):
        change = np.asarray(_single_drop_outputs(params, X, layer)) - plain        # (N, n)
        total += np.sum(change ** 2 + 2 * (plain - Y[:, None]) * (change + g[layer]), axis=1)
    return float(weights @ total)
