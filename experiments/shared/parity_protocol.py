"""The Figure 2 protocol (Section 6): the parity task, Torch's initial networks and the regimes.

K = 5 inputs, d = 2, n = 5 hidden nodes. In each run, ten inputs uniform on [-1, 1]^5 with labels
prod_i sign(x_i), scaled by each of SCALES (labels unchanged); one Torch-default initial network per
run, cloned for every scale and regime; every network its own SGD key. Run r's data and network
come from fold_in(key(2017), r), so runs 0-9 are the same in every study that uses the protocol
(the Figure 2 study, the practitioner's beliefs, ``make bench``).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from sgd.initialisation import torch_default_init
from sgd.training import Regime

SCALES = (0.5, 0.75, 1.0, 1.25, 1.5)
REGIMES = {
    "dropout": Regime(keep_prob=0.5),
    "weight_decay": Regime(lam=0.5),
    "weight_decay_biases": Regime(lam=0.5, decay_biases=1.0),
    "none": Regime(),
}
CONVENTIONS = {"torch7": 0.5, "pytorch": 0.0}   # momentum dampening
K, N_HIDDEN, DEPTH, N_EXAMPLES = 5, 5, 2, 10
SEED = 2017


def parity_data(key, num_examples: int = N_EXAMPLES):
    """The protocol's task: inputs uniform on [-1, 1]^K, labels prod_i sign(x_i)."""
    X = jax.random.uniform(key, (num_examples, K), jnp.float64, -1.0, 1.0)
    return X, jnp.prod(jnp.sign(X), axis=1)


def protocol_runs(runs, regimes=REGIMES, conventions=CONVENTIONS):
    """The protocol's networks on one run axis: runs x scales x regimes x conventions.

    Returns the grid of (run, scale index, regime name, convention name), one PRNG key per
    network, the stacked initial networks (one Torch-default network per run, cloned), inputs,
    labels and the networks' Regimes (stacked). One compiled program builds the arrays, so the cost
    is a compilation plus work linear in the number of runs (``make bench`` measures it).
    """
    names, dampening = list(regimes), list(conventions.values())
    axes = np.meshgrid(np.arange(runs), np.arange(len(SCALES)), np.arange(len(names)),
                       np.arange(len(dampening)), indexing="ij")
    run, scale, regime, convention = (a.ravel() for a in axes)
    grid = [(int(r), int(s), names[g], list(conventions)[c])
            for r, s, g, c in zip(run, scale, regime, convention)]
    keys, params, X, Y = _protocol_arrays(runs, run, scale)
    combos = [regimes[name]._replace(dampening=value) for name in names for value in dampening]
    per_network = jax.tree_util.tree_map(
        lambda *leaves: np.stack([np.asarray(leaf, np.float64) for leaf in leaves])[
            regime * len(dampening) + convention], *combos)
    return grid, keys, params, X, Y, per_network


@partial(jax.jit, static_argnums=0)
def _protocol_arrays(runs, run, scale):
    """Keys, initial networks, inputs and labels of the networks with run index ``run`` and scale
    index ``scale`` (one entry per network); run r's data and network come from fold_in(root, r)."""
    root = jax.random.key(SEED)
    run_keys = jax.vmap(lambda r: jax.random.fold_in(root, r))(jnp.arange(runs))
    inits = jax.vmap(lambda k: torch_default_init(jax.random.fold_in(k, 0), K, N_HIDDEN, DEPTH))(
        run_keys)
    inputs, labels = jax.vmap(lambda k: parity_data(jax.random.fold_in(k, 1)))(run_keys)
    keys = jax.vmap(lambda r, i: jax.random.fold_in(jax.random.fold_in(root, 10_000 + r), i))(
        run, jnp.arange(run.shape[0]))
    params = jax.tree_util.tree_map(lambda a: a[run], inits)
    return keys, params, jnp.asarray(SCALES)[scale][:, None, None] * inputs[run], labels[run]
