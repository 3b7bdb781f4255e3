"""The roofline of `make bench`: how many Figure 2 model-steps per second this machine could do at
best, and what fraction of that the engine reaches.

Two numbers bound a model-step from below:
* its operations, counted element by element in the jaxpr of one lane's step as the engine writes
  it (sgd/kernel.py: the draws of the example and the masks, the hand-written gradient, the update):
  F float64 operations and I 32-bit integer operations (the Threefry hashes, the fields, the
  comparisons); data movement (broadcasts, slices, reshapes) is not counted;
* the machine's peak rates, measured by benchmarks/roofline.c on data held in registers: float64
  multiply-adds (each counted as 2 operations, so the bound assumes every multiply and add of the
  step pairs into one multiply-add, which flatters the bound) and the Threefry round's 32-bit
  integer operations, on every core at once, on 256-bit vectors and, where the core has AVX-512,
  on 512-bit ones: each rate is the faster width's, the machine's bound (the engine is compiled
  for AVX2 at most, theory.compile_options.PORTABLE_FLAGS, so that an AVX-512 core gives the same
  bits: there it cannot reach this bound).

bound (model-steps/s) = 1 / (F / float64 rate + I / integer rate): the float and integer work are
taken not to overlap (they share the same vector pipes on x86 cores). The microbenchmark is
compiled with the C compiler that ships on PyPI (ziglang, the `bench` extra) or the system's `cc`,
into a temporary folder; its clock measurement (a chain of dependent scalar additions) lets one read
the float64 rate in operations per cycle against the core's documented peak.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

SOURCE = Path(__file__).resolve().parent / "roofline.c"
FMA_FLOPS_PER_CALL_ITERATION = 12 * 4 * 2      # chains x lanes x (multiply + add), 256-bit vectors
INT_OPS_PER_CALL_ITERATION = 6 * 8 * 5         # chains x lanes x (add, two shifts, or, xor)
ADDS_PER_CALL_ITERATION = 8

_ARITHMETIC = {"add", "sub", "mul", "div", "max", "min", "neg", "abs", "sqrt", "rsqrt", "exp",
               "log", "log1p", "logistic", "select_n", "convert_element_type", "floor", "ceil",
               "and", "or", "xor", "not", "shift_left", "shift_right_logical",
               "shift_right_arithmetic", "eq", "ne", "lt", "le", "gt", "ge", "integer_pow",
               "square", "erf_inv", "sign", "rem", "pow"}
_REDUCTIONS = {"reduce_sum", "reduce_max", "reduce_min"}


def _compiler() -> list | None:
    try:
        import ziglang  # noqa: F401
        return [sys.executable, "-m", "ziglang", "cc"]
    except ImportError:
        return [shutil.which("cc")] if shutil.which("cc") else None


def _library(folder: str):
    compiler = _compiler()
    if compiler is None:
        raise RuntimeError("no C compiler: pip install ziglang (the `bench` extra) or install cc")
    target = Path(folder) / "roofline.so"
    subprocess.run(compiler + ["-O2", "-march=native", "-ffp-contract=fast", "-shared", "-fPIC",
                               "-o", str(target), str(SOURCE)], check=True, capture_output=True)
    lib = ctypes.CDLL(str(target))
    lib.fma_f64.restype, lib.fma_f64.argtypes = ctypes.c_double, [ctypes.c_int64]
    lib.int32_ops.restype, lib.int32_ops.argtypes = ctypes.c_int64, [ctypes.c_int64]
    lib.fma_f64_512.restype, lib.fma_f64_512.argtypes = ctypes.c_double, [ctypes.c_int64]
    lib.int32_ops_512.restype, lib.int32_ops_512.argtypes = ctypes.c_int64, [ctypes.c_int64]
    lib.add_chain.restype = ctypes.c_int64
    lib.add_chain.argtypes = [ctypes.c_int64, ctypes.c_int64]
    return lib


def _rate(function, iterations: int, per_iteration: int, threads: int, repeats: int = 3) -> float:
    """Operations per second of ``function(iterations)`` run in ``threads`` threads at once (ctypes
    releases the GIL), best of ``repeats``."""
    function(iterations // 10)                                  # warm-up
    best = 0.0
    for _ in range(repeats):
        workers = [threading.Thread(target=function, args=(iterations,)) for _ in range(threads)]
        start = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        best = max(best, iterations * per_iteration * threads / (time.perf_counter() - start))
    return best


PARALLEL_GAIN = 1.5
"""On ``cores`` > 1 cores the all-cores rate must reach at least this many times one core's (two
idle cores give about 1.9x): below it another process, or a library's spinning threads (PyTorch's
OpenMP pool after a run), held the cores, and a bound read from it would be too low."""


def machine_rates(cores: int) -> dict:
    """The microbenchmark's rates: clock (one core), float64 and int32 operations per second on
    one core and on ``cores`` cores at once, each on the vector width (256 or, with AVX-512, 512
    bits) that runs it faster on one core. Raises RuntimeError when the cores were not free
    (PARALLEL_GAIN); `make bench` measures them first, before PyTorch has started its threads."""
    with tempfile.TemporaryDirectory() as folder:
        lib = _library(folder)
        clock = _rate(lambda n: lib.add_chain(n, 3), 300_000_000, ADDS_PER_CALL_ITERATION, 1)
        rates = {"clock_hz": clock}
        wide = lib.fma_f64_512(1) != -1.0                      # compiled for AVX-512
        for name, kernels in (
                ("float64", {256: (lib.fma_f64, FMA_FLOPS_PER_CALL_ITERATION),
                             512: (lib.fma_f64_512, 2 * FMA_FLOPS_PER_CALL_ITERATION)}),
                ("int32", {256: (lib.int32_ops, INT_OPS_PER_CALL_ITERATION),
                           512: (lib.int32_ops_512, 2 * INT_OPS_PER_CALL_ITERATION)})):
            one_by_width = {bits: _rate(function, 50_000_000, per, 1)
                            for bits, (function, per) in kernels.items() if bits == 256 or wide}
            bits = max(one_by_width, key=one_by_width.get)
            one, (function, per) = one_by_width[bits], kernels[bits]
            rates[name] = {"one_core_per_s": one, "per_cycle_one_core": one / clock,
                           "vector_bits": bits,
                           "one_core_per_s_by_vector_bits": {str(b): r
                                                              for b, r in one_by_width.items()},
                           "all_cores_per_s": _rate(function, 50_000_000, per, cores)}
            gain = rates[name]["all_cores_per_s"] / one
            if cores > 1 and gain < PARALLEL_GAIN:
                raise RuntimeError(
                    f"{name} on {cores} cores ran only {gain:.2f}x one core's rate (at least "
                    f"{PARALLEL_GAIN}x expected): the cores were busy, or they are threads of one "
                    "physical core; rerun on idle physical cores")
    return rates


def _count(jaxpr, counts):
    for eqn in jaxpr.eqns:
        for sub in jax.core.jaxprs_in_params(eqn.params):
            _count(sub, counts)
        name = eqn.primitive.name
        if name not in _ARITHMETIC and name not in _REDUCTIONS:
            continue
        source = eqn.invars[0].aval
        if name in _REDUCTIONS:
            elements = int(np.prod(source.shape)) - int(np.prod(eqn.outvars[0].aval.shape))
        else:
            elements = int(np.prod(eqn.outvars[0].aval.shape))
        dtype = source.dtype if name != "select_n" else eqn.invars[1].aval.dtype
        counts["float64" if jnp.issubdtype(dtype, jnp.floating) else "int32"] += elements


def step_operations(num_examples: int, widths, keep: float = 0.5) -> dict:
    """Element operations of one model-step of one lane (float64 and 32-bit integer), from the
    jaxpr of sgd/kernel.py's draws, gradient and update for a network ``widths`` (K, n, ..., 1)
    under node dropout at ``keep`` on the inputs and every hidden layer, square loss."""
    from sgd import kernel
    from sgd.training import Regime, random_fields
    from theory.noise import as_noise

    depth = len(widths) - 1
    spec = as_noise(tuple(widths[:-1]), keep, "dropout")
    fields, bits = random_fields(Regime(keep_prob=jnp.full((1,), keep)), 1, depth, "dropout")
    params = tuple((jnp.zeros((o, i, 1)), jnp.zeros((o, 1))) for i, o in zip(widths, widths[1:]))
    regime = Regime(keep_prob=jnp.ones(1), lam=jnp.ones(1), decay_biases=jnp.ones(1),
                    nonnegative=jnp.zeros(1), zero_biases=jnp.zeros(1), dampening=jnp.ones(1),
                    lr_scale=jnp.ones(1))

    def step(key, X, Y, params, velocity):
        x, y, masks = kernel.chunk_draws(spec, key, jnp.zeros(1, jnp.int32),
                                         jnp.full((1, depth, 1), keep), X, Y, list(widths[:-1]),
                                         list(widths[1:]), fields, jnp.asarray(bits.T))
        _, grads = kernel.loss_and_gradient("dropout", "square", params, x[0], y[0],
                                            [m if m is None else m[0] for m in masks])
        return kernel.sgd_update(params, velocity, grads, 0.01, 0.5, regime)

    closed = jax.make_jaxpr(step)(jnp.zeros((2, 1), jnp.uint32),
                                  jnp.zeros((num_examples, widths[0], 1)),
                                  jnp.zeros((num_examples, 1)), params, params)
    counts = {"float64": 0, "int32": 0}
    _count(closed.jaxpr, counts)
    return counts


def roofline(engine_model_steps_per_s: float, rates: dict, num_examples: int, widths) -> dict:
    """The bound and the engine's fraction of it (see the module's docstring), from the machine's
    ``rates`` (:func:`machine_rates`)."""
    ops = step_operations(num_examples, widths)
    seconds = (ops["float64"] / rates["float64"]["all_cores_per_s"]
               + ops["int32"] / rates["int32"]["all_cores_per_s"])
    bound = 1.0 / seconds
    return {"machine": rates, "operations_per_model_step": ops,
            "bound_model_steps_per_s": bound,
            "engine_model_steps_per_s": engine_model_steps_per_s,
            "fraction": engine_model_steps_per_s / bound}
