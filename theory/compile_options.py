"""XLA's full optimisation for the programs that run long, whatever XLA_FLAGS asks of the others.

Most programs of the suite run for milliseconds and take a second or more to compile, so `make all`
compiles them at XLA's lowest backend optimisation level with XLA:CPU's older elementwise emitters
(the Makefile's FAST_COMPILE; `make test` does the same, tests/conftest.py): about a third of the
compile time, code that runs about half as fast. A few programs run for seconds to minutes: the SGD
engine (:mod:`sgd.training`), the exact evaluator over many networks (:mod:`theory.evaluation`) or
over many patterns (:mod:`theory.exact`), Monte Carlo, and Adam on the exact criteria. They are
built with :func:`long_running_jit` and so get XLA's full optimisation back (measured on the
project's earlier 2-core machine: the Figure 2 engine runs 9x slower at the low level). Under XLA's
default flags the options change the engine's and MC dropout's level (:data:`RANDOM_HEAVY`),
nothing else.

Every program of the process is also compiled for the same bits on every x86-64 CPU
(:data:`PORTABLE_FLAGS`, asked for in ``XLA_FLAGS`` at import, like :data:`SMALL_LOOP_BYTES`).

The tests keep the low level for these programs too (they run them briefly): with the environment
variable ``DROPOUT_COMPILE_LONG_RUNNING=fast`` (set by tests/conftest.py before this module is
imported), :data:`LONG_RUNNING` is None and the process-wide flags apply.
"""

from __future__ import annotations

import functools
import os
import platform

import jax

FULL_OPTIMISATION = {"xla_backend_optimization_level": 3, "xla_cpu_use_fusion_emitters": True}
"""XLA's own defaults for the two options FAST_COMPILE lowers (XLA's DebugOptions)."""

SMALL_LOOP_BYTES = 1 << 18
"""XLA:CPU compiles a while loop that touches fewer bytes per iteration than this (its cost
analysis) into one call, instead of dispatching each fused loop of its body on its own (XLA's
default threshold: 1024 bytes). It is one of XLA:CPU's backend extra options (a map that JAX's
``compiler_options`` cannot set), asked for in ``XLA_FLAGS`` at import with the rest of
:data:`PORTABLE_FLAGS`. The SGD engine's step loop is such a loop: with :data:`sgd.kernel.LANES` =
32 it ran the Figure 2 protocol about 2x faster (:mod:`sgd.kernel` gives the numbers). It changes
no bit of the engine: 18 configurations (dropout, DropConnect and Gaussian noise x square, logistic
and cross-entropy losses x 10 and 40 examples, 70 runs x 1000 steps) came out bit for bit as under
XLA's default. Other loops it compiles as one call may round differently in the last bit: over
`make all` (2026-12-02) no reported number or verdict moved, real_cross_entropy's exact penalties
under the cross-entropy loss (an enumeration's loop) moved by up to 1e-12, and five values of
mc_dropout_samples and dropout_training_time in the 12th digit; every other figure's JSON was the
same."""

PORTABLE_FLAGS = {
    "xla_backend_extra_options": "xla_cpu_small_while_loop_byte_threshold="
                                 f"{SMALL_LOOP_BYTES},xla_cpu_disable_platform_dependent_math",
    "xla_cpu_experimental_ynn_fusion_type": "",
    **({"xla_cpu_max_isa": "AVX2"} if platform.machine().lower() in ("x86_64", "amd64") else {}),
}
"""XLA flags for the same bits on every x86-64 CPU with AVX2, asked for in ``XLA_FLAGS`` at import
(with :data:`SMALL_LOOP_BYTES`). Without them XLA:CPU picks code by the CPU it runs on, and 30 epochs
of float32 SGD carry a last-bit difference into another trajectory: a cold `make all` on the
project's Zen 3 machine (AVX2) and on its Zen 5 (AVX-512) gave other CNN results (up to 57% in one
run's value; B67's verdict flipped, paper_notes.md "Revisions") and another Concrete arm.

- ``xla_cpu_max_isa=AVX2`` (x86-64 only): XLA generates code for AVX2 at most, so an AVX-512 CPU
  gets the AVX2 CPU's vector widths, reduction orders and math routines (its 512-bit vectors gave
  the SGD engine about 1.3x on Zen 5; given up for the same bits).
- ``xla_cpu_experimental_ynn_fusion_type=`` (empty): no YNNPACK fusions. XLA:CPU hands dots and
  reductions, float32 and float64, to YNNPACK, whose kernels are chosen at run time by the CPU; off,
  XLA emits them itself or calls Eigen. Its cost on Zen 3 (2026-12-03): the CNN studies take 7-14 s
  more each in `make all`. It once cost the exact evaluator's subset sums 4x (a transposing copy that
  YNNPACK's dots had hidden), until :func:`theory.exact._split_moments` laid its sums out for XLA's
  own loops: `make bench`'s 2^24 patterns now take 6.5 s without YNNPACK and 7.6 s with it.
- ``xla_cpu_disable_platform_dependent_math``: no math routines that differ between vendors (XLA's
  own comment: "across e.g. AMD vs. Intel CPUs"), such as float32 rsqrt by the CPU's approximate
  instruction (checked on Zen 3: with it, ``lax.rsqrt`` of float32 values changes in the last bit).

Measured on Zen 3 only (2026-12-03): the first and third change no bit of a CNN study there; the
second does (other kernels). Whether Zen 5 now gives Zen 3's bits can only be checked on Zen 5.
Each flag is added unless ``XLA_FLAGS`` already names it (name one yourself to keep your value),
and only while JAX's backend has not started (XLA reads the flags then): import ``theory`` or
``sgd`` before running anything in JAX, and set XLA_FLAGS yourself (for example
``--xla_force_host_platform_device_count``) before importing them. Child processes inherit them."""


def _ask_for_portable_flags() -> None:
    """Append PORTABLE_FLAGS to XLA_FLAGS (see its doc) where they can still take effect. (JAX's
    test for a started backend is private: if a JAX version lacks it, the flags are appended anyway,
    harmlessly: XLA then reads them only in processes that have not started.)"""
    try:
        from jax._src.xla_bridge import backends_are_initialized
    except ImportError:
        def backends_are_initialized():
            return False

    if backends_are_initialized():
        return
    flags = os.environ.get("XLA_FLAGS", "")
    added = [f"--{name}={value}" for name, value in PORTABLE_FLAGS.items() if name not in flags]
    os.environ["XLA_FLAGS"] = " ".join([flags, *added]).strip()


_ask_for_portable_flags()

LONG_RUNNING = None if os.environ.get("DROPOUT_COMPILE_LONG_RUNNING") == "fast" \
    else FULL_OPTIMISATION
"""The ``compiler_options`` of the long-running programs (see the module doc): XLA's full
optimisation."""

RANDOM_HEAVY = None if LONG_RUNNING is None else {**LONG_RUNNING,
                                                  "xla_backend_optimization_level": 1}
"""The options of long-running programs whose loop mostly draws random numbers (Threefry): XLA's
level 1 with the fusion emitters. MC dropout's passes on digits
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
