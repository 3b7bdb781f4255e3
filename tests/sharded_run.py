"""Helper for test_sharding.py: train a small batch of runs and print a digest of the result.

Run as a script in a fresh process, so XLA_FLAGS (the number of host devices) takes effect.
"""

import hashlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

import theory  # noqa: F401  (float64)
from experiments.training import Regime, Schedule, stack_regimes, train
from theory.initialisation import torch_default_init

RUNS = 7  # not a multiple of the device count: exercises the padding

keys = jax.random.split(jax.random.key(3), RUNS)
params = jax.vmap(lambda k: torch_default_init(k, 3, 4, 3))(keys)
X = jax.random.uniform(jax.random.key(4), (RUNS, 6, 3), jnp.float64, -1, 1)
Y = jnp.prod(jnp.sign(X), axis=-1)
regime = stack_regimes([Regime(keep_prob=0.5), Regime(lam=0.1, decay_biases=1.0), Regime(),
                        Regime(keep_prob=0.7, nonnegative=1.0), Regime(dampening=0.0),
                        Regime(keep_prob=0.5, lam=0.05), Regime()])
out = train(keys, params, X, Y, regime, Schedule(steps=400, log_every=100))
digest = hashlib.sha256()
for leaf in jax.tree_util.tree_leaves(out):
    digest.update(np.asarray(leaf).tobytes())
if len(sys.argv) > 1:
    np.save(sys.argv[1], np.concatenate([np.ravel(leaf) for leaf in jax.tree_util.tree_leaves(out)]))
print(len(jax.local_devices()), digest.hexdigest())
sys.exit(0)
