"""Helper for test_distributed.py: one process of a sweep (or the only one) trains 7 runs split over
every process and, within each, over its local devices; it then trains the same runs in one
single-device call and prints the process count, its device count and whether the two agree bit for
bit. Run as a script in a fresh process, so that XLA_FLAGS and the JAX_* variables take effect."""

import jax
import jax.numpy as jnp
import numpy as np

import theory  # noqa: F401  (float64)
from sgd.distributed import join_from_environment
from sgd.initialisation import torch_default_init
from sgd.training import (Regime, Schedule, _train_single, random_fields, run_noise, stack_runs,
                          train)

RUNS = 7  # not a multiple of the process or device count: blocks of unequal size, padding

join_from_environment()
keys = jax.random.split(jax.random.key(3), RUNS)
params = jax.jit(jax.vmap(lambda k: torch_default_init(k, 3, 4, 3)))(keys)     # one program
X = jax.random.uniform(jax.random.key(4), (RUNS, 6, 3), jnp.float64, -1, 1)
Y = jnp.prod(jnp.sign(X), axis=-1)
regime = stack_runs([Regime(keep_prob=0.5), Regime(lam=0.1, decay_biases=1.0), Regime(),
                     Regime(keep_prob=0.7, nonnegative=1.0), Regime(dampening=0.0),
                     Regime(keep_prob=0.5, lam=0.05), Regime()])
schedule = Schedule(steps=400, log_every=100)
split = train(keys, params, X, Y, regime, schedule, split_above=0)     # split however small
fields, bits = random_fields(regime, RUNS, 3, "dropout")
single = _train_single(keys, jnp.asarray(bits), params, X, Y, regime, schedule=schedule,
                       noise=run_noise(params), fields=fields, loss="square")      # one device
equal = all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(split),
                                                 jax.tree_util.tree_leaves(single)))
print(jax.process_count(), len(jax.local_devices()), equal)
