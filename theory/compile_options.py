"""XLA's full optimisation for the programs that run long, whatever XLA_FLAGS asks of the others.

Most programs of the suite run for milliseconds and take a second or more to compile, so `make all`
compiles them at XLA's lowest backend optimisation level with XLA:CPU's older elementwise emitters
(the Makefile's FAST_COMPILE; `make test` does the same, tests/conftest.py): about a third of the
compile time, code that runs about half as fast. A few programs run for seconds to minutes: the SGD
engine (:mod:`sgd.training`), the exact evaluator over many networks (:mod:`theory.evaluation`) or
over many patterns (:mod:`theory.exact`), Monte Carlo, and Adam on the exact criteria. They are
built with :func:`long_running_jit` and so get XLA's full optimisation back (measured on the
project's earlier 2-core machine: the Figure 2 engine runs 9x slower at the low level), with
512-bit vectors where the CPU has them (:data:`WIDE_VECTORS`). Under XLA's default flags the
options change the engine's and MC dropout's level (:data:`RANDOM_HEAVY`) and the vector width,
nothing else.

The tests keep the low level for these programs too (they run them briefly): with the environment
variable ``DROPOUT_COMPILE_LONG_RUNNING=fast`` (set by tests/conftest.py before this module is
imported), :data:`LONG_RUNNING` is None and the process-wide flags apply.
"""

from __future__ import annotations

import functools
import os

import jax

FULL_OPTIMISATION = {"xla_backend_optimization_level": 3, "xla_cpu_use_fusion_emitters": True}
"""XLA's own defaults for the two options FAST_COMPILE lowers (XLA's DebugOptions)."""

WIDE_VECTORS = {"xla_cpu_prefer_vector_width": 512}
"""LLVM told to prefer 512-bit vectors where the CPU has them (AVX-512; elsewhere the widest it
has, as without it; XLA's default is 256 bits). On this 2-core AMD EPYC (Zen 5, CPU family 26,
whose 512-bit pipes do twice the arithmetic per instruction of 256-bit ones), measured
2026-12-02, configurations alternated within the hour (the machine's speed drifts by up to 30%
between hours): the SGD engine ran the Figure 2 protocol at 36-39 against 23-33 million model-steps per
second at 150 models and 42-49 against 30-36 at 1,500 (three and five runs of each; at 15,000 too
noisy to tell, 31-48 against 29-34), and practitioner_claims' Adam on the exact J_D of 32 depth-3
networks took 40 s against 51 s. The engine's numbers are bit for bit those of 256-bit vectors for
the square and cross-entropy losses under dropout, DropConnect and Gaussian noise, with the example
picked by selects or by a gather (tests/test_compile_options.py checks one); the logistic loss
differs in the last bit (exp and log1p vectorised differently), and sums the exact evaluator
vectorises along their own axis round differently (practitioner_claims moved in the 12th digit,
and values that are zero up to rounding, near 1e-30, by more)."""

SMALL_LOOP_BYTES = 1 << 18
"""XLA:CPU compiles a while loop that touches fewer bytes per iteration than this (its cost
analysis) into one call, instead of dispatching each fused loop of its body on its own (XLA's
default threshold: 1024 bytes). At import this module asks for it in ``XLA_FLAGS``
(``--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=...``; JAX's
``compiler_options`` cannot set that map), for every program of the process, unless XLA_FLAGS
already sets ``xla_backend_extra_options`` or JAX's backend has started (XLA reads the flags then):
import ``theory`` or ``sgd`` before running anything in JAX, and set XLA_FLAGS yourself (for
example ``--xla_force_host_platform_device_count``) before importing them, since afterwards it is
no longer unset (``os.environ.setdefault`` would do nothing). Child processes inherit it. The SGD
engine's step loop is such a loop: with :data:`sgd.kernel.LANES` = 32 it ran the Figure 2 protocol
about 2x faster
(:mod:`sgd.kernel` gives the numbers). It changes no bit of the engine: 18 configurations (dropout,
DropConnect and Gaussian noise x square, logistic and cross-entropy losses x 10 and 40 examples, 70
runs x 1000 steps) came out bit for bit as under XLA's default. Other loops it compiles as one call
may round differently in the last bit: over `make all` (2026-12-02) no reported number or verdict
moved, real_cross_entropy's exact penalties under the cross-entropy loss (an enumeration's loop)
moved by up to 1e-12, and five values of mc_dropout_samples and dropout_training_time in the 12th
digit; every other figure's JSON was the same."""


def _ask_for_small_loop_calls() -> None:
    """Append SMALL_LOOP_BYTES to XLA_FLAGS (see its doc) where it can still take effect. (JAX's
    test for a started backend is private: if a JAX version lacks it, the flag is appended anyway,
    harmlessly: XLA then reads it only in processes that have not started.)"""
    try:
        from jax._src.xla_bridge import backends_are_initialized
    except ImportError:
        def backends_are_initialized():
            return False

    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_extra_options" in flags or backends_are_initialized():
        return
    os.environ["XLA_FLAGS"] = (f"{flags} --xla_backend_extra_options="
                               f"xla_cpu_small_while_loop_byte_threshold={SMALL_LOOP_BYTES}").strip()


_ask_for_small_loop_calls()

LONG_RUNNING = None if os.environ.get("DROPOUT_COMPILE_LONG_RUNNING") == "fast" \
    else {**FULL_OPTIMISATION, **WIDE_VECTORS}
"""The ``compiler_options`` of the long-running programs (see the module doc): XLA's full
optimisation, :data:`WIDE_VECTORS`."""

RANDOM_HEAVY = None if LONG_RUNNING is None else {**LONG_RUNNING,
                                                  "xla_backend_optimization_level": 1}
"""The options of long-running programs whose loop mostly draws random numbers (Threefry): XLA's
level 1 with the fusion emitters and :data:`WIDE_VECTORS`. MC dropout's passes on digits
(:mod:`theory.prediction`): level 3 spends about ten times longer compiling them (4.8 s against 0.5
s on that machine) for code about 20% faster. The SGD engine (:mod:`sgd.training`, about 40% of its
step is random bits): level 1 both compiles faster (7.6 s against 10.1 s for the Figure 2 protocol's
program) and runs faster, 17.1 against 13.2 million model-steps per second at 15,000 runs and 19.1
against 12.4 at 1,500 (measured 2026-12-01 on the 2-core machine before the AVX-512 one). Its
results were bitwise level 3's for five of six configurations checked (square and cross-entropy
losses, dropout, DropConnect and Gaussian noise, example picked by selects or by a gather), not for
the logistic loss (XLA compiles exp and log1p differently across levels, and SGD carries a last-bit
difference on); over the whole `make all` every SGD number of 24 studies stayed the same and 4
values of mc_dropout_samples moved in the 12th digit. The other long-running programs keep level 3
(whether level 1 would help them was not measured cleanly)."""


def long_running_jit(function=None, *, long_if=None, options=LONG_RUNNING, **jit_kwargs):
    """``jax.jit(function, **jit_kwargs)`` compiled with ``options`` (default :data:`LONG_RUNNING`)
    when called on its own and, if ``long_if`` is given, ``long_if(*args, **kwargs)`` is true (a
    program that runs long only for some shapes). Called inside another traced program (an argument
    is a tracer: under ``jax.jit``, ``jax.vmap`` or ``jax.grad``) it is the plain jit, whose body
    the outer program takes in, with the outer program's options (JAX refuses options on a nested
    jit). Usable as a decorator, with or without arguments."""
    if function is None:
        return functools.partial(long_running_jit, long_if=long_if, options=options, **jit_kwargs)
    plain = jax.jit(function, **jit_kwargs)
    if options is None:
        return plain
    optimised = jax.jit(function, compiler_options=options, **jit_kwargs)

    @functools.wraps(function)
    def call(*args, **kwargs):
        nested = any(isinstance(leaf, jax.core.Tracer)
                     for leaf in jax.tree_util.tree_leaves((args, kwargs)))
        long = not nested and (long_if is None or long_if(*args, **kwargs))
        return (optimised if long else plain)(*args, **kwargs)

    return call
