"""The protocol of Section 5's SGD experiment on P_(1,1) (C9): free against non-negative weights.

K inputs (2 on P_(1,1)), d = 2, n = 40, keep 1/2, SGD with batch 1 from Torch's initialisation; the
non-negative runs start from the absolute values of the same networks and are projected onto
W >= 0 after every step. Every checkpoint is judged with the exact J_D of the same dropout variant.
Shared by the paper's study (negative_weights) and the variants' (variants_negative_weights).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from sgd.initialisation import torch_default_init
from sgd.training import Regime, final_checkpoint, stack_runs, train
from theory.evaluation import exact_along_training

WIDTH, DEPTH, KEEP = 40, 2, 0.5


def train_free_and_nonnegative(X0, Y0, seeds, schedule, seed, progress, label, *, keep_prob=KEEP,
                               noise="dropout", groups=None):
    """Free and non-negative dropout SGD (width WIDTH, depth DEPTH) from the same initial networks
    (Torch's, absolute values for the non-negative runs); exact J_D of the same dropout variant at
    every checkpoint. ``keep_prob`` (one or one per dropout layer), ``noise`` and ``groups`` as in
    :func:`theory.dropout_criterion`."""
    K = X0.shape[1]
    kinds = (("free", 0.0), ("nonneg", 1.0))        # trained together: one call, one program
    X, Y = jnp.tile(X0, (2 * seeds, 1, 1)), jnp.tile(Y0, (2 * seeds, 1))
    init = jax.vmap(lambda k: torch_default_init(k, K, WIDTH, DEPTH))(
        jax.random.split(jax.random.key(seed), seeds))
    params = tuple((jnp.concatenate([W, jnp.abs(W)]), jnp.concatenate([b, b])) for W, b in init)
    regime = stack_runs([Regime(keep_prob=jnp.asarray(keep_prob, jnp.float64),
                                nonnegative=nonnegative) for _, nonnegative in kinds
                         for _ in range(seeds)])
    keys = jnp.concatenate([jax.random.split(jax.random.key(seed + 1 + int(nonnegative)), seeds)
                            for _, nonnegative in kinds])
    variant = {"noise": noise, "groups": groups}
    progress(f"{label}: free and non-negative, {seeds} seeds each x {schedule.steps} SGD steps "
             f"with {noise}")
    trajectory = train(keys, params, X, Y, regime, schedule, **variant)
    _, j_d = exact_along_training(trajectory.params, X, Y, keep_prob, **variant)
    j_d = np.asarray(j_d)
    final = jax.tree_util.tree_map(np.asarray, final_checkpoint(trajectory.params))
    out = {}
    for i, (name, _) in enumerate(kinds):
        runs = slice(i * seeds, (i + 1) * seeds)
        mine = tuple((W[runs], b[runs]) for W, b in final)
        out[name] = {"criterion": j_d[runs], "final_criterion": j_d[runs, -1],
                     "min_weight": np.min([W.min(axis=(1, 2)) for W, _ in mine], axis=0),
                     "final_params": mine}
    return out
