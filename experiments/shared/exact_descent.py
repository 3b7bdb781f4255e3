"""Adam on an exact criterion, for a batch of starts at once (shared by the studies that optimise
the exact J_D rather than train by SGD: the (e) column's minima, the keep probability learned
jointly with the weights).

The exact criteria of :mod:`theory` are differentiable in the weights and in the keep probability,
so a deterministic optimiser can minimise them directly: no sampling noise, and the value where it
stops is the exact criterion of the network it returns.
"""

from __future__ import annotations

from functools import partial

import jax
import optax

from theory.compile_options import LONG_RUNNING, RANDOM_HEAVY, long_running_jit
from theory.evaluation import each_run


def adam_descent(criterion, steps: int, project=None, *, stochastic: bool = False,
                 runs_at_once: int | None = None):
    """A jitted ``(state, data, step_size) -> state`` for a batch of runs (a leading run axis on
    every leaf of ``state`` and ``data``): ``steps`` steps of Adam (optax) on
    ``criterion(state, data)``, the step size halved every steps/4 steps, and
    ``project(state, data)`` applied after every step (None: no projection). With ``stochastic``
    the criterion is ``criterion(state, data, step)``, the step's index given so that a sampled
    objective (Concrete dropout's relaxed masks) can draw its step's noise from a key in ``data``.
    ``step_size`` is an argument, so calls with different step sizes share one compiled program; it
    runs long, so it is compiled with XLA's full optimisation (:mod:`theory.compile_options`).

    The optimiser updates every run at once; the gradients are computed for every run at once too
    (``jax.vmap``), or ``runs_at_once`` runs at a time (:func:`theory.evaluation.each_run`), which
    pays when each run's exact criterion is large enough to fill the cache on its own. Measured on
    the project's earlier 2-core machine, per step: 32 networks 5-5-5-1 on 10 examples (2^10
    patterns), 15.6 / 16.2 / 17.9 / 25.7 ms at 1 / 4 / 8 / all 32 at once; rate_choice's networks
    (hidden dropout, closed form) gained nothing (that study then: 116 s all at once, 117 s 4 at a
    time)."""
    def objective_gradient(state, data, index):
        objective = (lambda s: criterion(s, data, index)) if stochastic \
            else (lambda s: criterion(s, data))
        return jax.grad(objective)(state)

    def descend(state, data, step_size, gradient, over_runs):
        """The loop, written once for both layouts: ``over_runs`` lifts a per-run function to the
        state's runs (the identity when the whole loop is vmapped, ``jax.vmap`` otherwise)."""
        optimiser = optax.adam(lambda count: step_size * 0.5 ** (count // max(steps // 4, 1)))

        def step(carry, index):
            state, opt_state = carry
            updates, opt_state = over_runs(optimiser.update)(gradient(state, data, index),
                                                             opt_state, state)
            state = optax.apply_updates(state, updates)
            if project is not None:
                state = over_runs(project)(state, data)
            return (state, opt_state), None

        indices = jax.numpy.arange(steps) if stochastic else None
        start = (state, over_runs(optimiser.init)(state))
        (state, _), _ = jax.lax.scan(step, start, indices, steps)
        return state

    if runs_at_once is None:            # every run's whole loop, vmapped
        program = jax.vmap(lambda state, data, step_size: descend(
            state, data, step_size, objective_gradient, lambda f: f), in_axes=(0, 0, None))
    else:                               # one loop; each step's gradients a few runs at a time
        def gradients(state, data, index):
            return each_run(lambda s, d: objective_gradient(s, d, index), state, data,
                            batch=runs_at_once)
        program = partial(descend, gradient=gradients, over_runs=jax.vmap)
    # A sampled objective's loop is mostly random numbers: RANDOM_HEAVY compiles it much faster.
    return long_running_jit(program, options=RANDOM_HEAVY if stochastic else LONG_RUNNING)
