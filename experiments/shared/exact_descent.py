"""Adam on an exact criterion, for a batch of starts at once (shared by the studies that optimise
the exact J_D rather than train by SGD: the (e) column's minima, the keep probability learned
jointly with the weights).

The exact criteria of :mod:`theory` are differentiable in the weights and in the keep probability,
so a deterministic optimiser can minimise them directly: no sampling noise, and the value where it
stops is the exact criterion of the network it returns.
"""

from __future__ import annotations

import jax
import optax

from theory.compile_options import LONG_RUNNING, RANDOM_HEAVY, long_running_jit


def adam_descent(criterion, steps: int, project=None, *, stochastic: bool = False):
    """A jitted ``(state, data, step_size) -> state`` for a batch of runs (a leading run axis on
    every leaf of ``state`` and ``data``): ``steps`` steps of Adam (optax) on
    ``criterion(state, data)``, the step size halved every steps/4 steps, and
    ``project(state, data)`` applied after every step (None: no projection). With ``stochastic``
    the criterion is ``criterion(state, data, step)``, the step's index given so that a sampled
    objective (Concrete dropout's relaxed masks) can draw its step's noise from a key in ``data``.
    ``step_size`` is an argument, so calls with different step sizes share one compiled program; it
    runs long, so it is compiled with XLA's full optimisation (:mod:`theory.compile_options`)."""
    def run(state, data, step_size):
        optimiser = optax.adam(lambda count: step_size * 0.5 ** (count // max(steps // 4, 1)))

        def step(carry, index):
            state, opt_state = carry
            objective = (lambda s: criterion(s, data, index)) if stochastic \
                else (lambda s: criterion(s, data))
            updates, opt_state = optimiser.update(jax.grad(objective)(state), opt_state, state)
            state = optax.apply_updates(state, updates)
            return ((state if project is None else project(state, data)), opt_state), None

        indices = jax.numpy.arange(steps) if stochastic else None
        (state, _), _ = jax.lax.scan(step, (state, optimiser.init(state)), indices, steps)
        return state

    # A sampled objective's loop is mostly random numbers: RANDOM_HEAVY compiles it much faster.
    return long_running_jit(jax.vmap(run, in_axes=(0, 0, None)),
                            options=RANDOM_HEAVY if stochastic else LONG_RUNNING)
