"""The long-running programs' compiler options (theory/compile_options.py): XLA's full optimisation
unless the environment asks for fast compiles, at top level only (nested, the outer program's), and
the exact evaluator's choice by size; the process's flags for the same bits on every x86 CPU."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory import exact
from theory.noise import as_noise
from theory.compile_options import (FULL_OPTIMISATION, LONG_RUNNING, PORTABLE_FLAGS,
                                    long_running_jit)

ROOT = Path(__file__).resolve().parent.parent


# The checks that need the library's own options run in one fresh interpreter without
# DROPOUT_COMPILE_LONG_RUNNING (one start-up of Python and JAX instead of one per test): the SGD
# engine's run-batch check first, then the exact evaluator's (which lowers a threshold of
# theory.exact). Each prints its name and its verdict.
ENGINE_BATCH = """
import jax, jax.numpy as jnp, numpy as np
from sgd import training
from sgd.initialisation import torch_default_init
runs = 70
keys = jax.random.split(jax.random.key(8), runs)
params = jax.vmap(lambda k: torch_default_init(k, 4, 5, 3))(keys)
X = jax.random.uniform(jax.random.key(9), (runs, 10, 4), jnp.float64, -1, 1)
Y = (jnp.prod(jnp.sign(X), axis=-1) > 0).astype(jnp.float64)
regime = training.stack_runs([training.Regime(keep_prob=(0.5, 0.3, 0.75)[i % 3])
                              for i in range(runs)])
schedule = training.Schedule(steps=1000, log_every=500)
run = lambda *a: training.train(*a, schedule, noise="dropconnect", loss="logistic")
together = run(keys, params, X, Y, regime)
subset = np.array([37, *range(60, 70)])
alone = run(*jax.tree_util.tree_map(lambda a: a[subset], (keys, params, X, Y, regime)))
print("batch", all(np.array_equal(a, b[subset]) for a, b in
                   zip(jax.tree_util.tree_leaves(alone), jax.tree_util.tree_leaves(together))))
"""
OPTIONS = """
import jax, jax.numpy as jnp, numpy as np
import theory
from theory.compile_options import LONG_RUNNING
from theory.evaluation import exact_risk_and_dropout_criterion
rng = np.random.default_rng(0)
params = tuple((jnp.asarray(rng.normal(size=(2, o, i))), jnp.asarray(rng.normal(size=(2, o))))
               for o, i in ((3, 3), (3, 3), (1, 3)))
X, Y = jnp.asarray(rng.normal(size=(2, 5, 3))), jnp.asarray(rng.normal(size=(2, 5)))
top = exact_risk_and_dropout_criterion(params, X, Y, 0.5)
inner = jax.jit(lambda p: exact_risk_and_dropout_criterion(p, X, Y, 0.5))(params)
theory.exact.LONG_ENUMERATION = 2 ** 6 * 4 * 3                # 2^6 patterns x 4 examples x 3
net = [(jnp.asarray(rng.normal(size=(o, i))), jnp.asarray(rng.normal(size=o)))
        for o, i in ((3, 3), (3, 3), (1, 3))]
Xl, Yl = jnp.asarray(rng.normal(size=(4, 3))), jnp.asarray(rng.normal(size=4))
value = theory.dropout_criterion(net, Xl, Yl)
grad = jax.grad(lambda p: theory.dropout_criterion(p, Xl, Yl))(net)
plan = theory.exact.make_plan(net, theory.noise.as_noise((3, 3, 3), 0.5), 4)
print("options", LONG_RUNNING == {"xla_backend_optimization_level": 3,
                                  "xla_cpu_use_fusion_emitters": True},
      theory.exact.long_enumeration(net, Xl, plan=plan)
      and np.allclose(top, inner, rtol=1e-12, atol=0) and np.isfinite(value)
      and all(np.isfinite(g).all() for g in jax.tree_util.tree_leaves(grad)))
"""


@pytest.fixture(scope="module")
def production_options():
    """{check name: its verdict} from one fresh process running ENGINE_BATCH and OPTIONS; a crash
    fails both tests with the process's error."""
    env = {k: v for k, v in os.environ.items() if k != "DROPOUT_COMPILE_LONG_RUNNING"}
    done = subprocess.run([sys.executable, "-c", ENGINE_BATCH + OPTIONS], env=env,
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        pytest.fail(f"the fresh process failed:\n{done.stderr[-3000:]}")
    return dict(line.split(" ", 1) for line in done.stdout.strip().splitlines())


def test_options_apply_at_top_level_and_a_nested_call_takes_the_outer_programs():
    def cube_sum(x, power):
        return jnp.sum(x ** power)

    f = long_running_jit(cube_sum, options=FULL_OPTIMISATION, static_argnames=("power",))
    x = jnp.arange(4.0)
    assert float(f(x, power=3)) == 36.0
    assert float(jax.jit(lambda v: f(v, power=3))(x)) == 36.0           # JAX refuses nested options
    assert np.array_equal(jax.vmap(lambda v: f(v, power=3))(x[:, None]), x ** 3)
    assert np.array_equal(jax.grad(lambda v: f(v, power=3))(x), 3 * x ** 2)


def test_the_library_runs_its_long_running_programs_with_the_options_on(production_options):
    """In this process the options are off (tests/conftest.py asks for fast compiles). In a fresh
    process without DROPOUT_COMPILE_LONG_RUNNING they are XLA's full optimisation, and an exact
    evaluation over runs inside a jitted function and an enumeration past the threshold, at top
    level and under jax.grad, run and agree with the same calls at top level (OPTIONS above). (The
    threshold is lowered there, so that a small enumeration counts as long: compiling a large one
    with the full optimisation took most of the 7 s this check took on its own.)"""
    assert LONG_RUNNING is None
    assert production_options["options"] == "True True"


def test_a_program_long_only_for_some_shapes_takes_the_options_where_long_if_says():
    asked = []

    def long_if(x):
        asked.append(x.shape[0])
        return x.shape[0] >= 3

    f = long_running_jit(lambda x: jnp.sum(x * x), options=FULL_OPTIMISATION, long_if=long_if)
    assert [float(f(jnp.ones(n))) for n in (2, 3)] == [2.0, 3.0]
    assert float(jax.jit(f)(jnp.ones(4))) == 4.0           # nested: long_if is not consulted
    assert asked == [2, 3]


def test_enumerations_from_the_threshold_on_are_long():
    """patterns (here 2^(3 + 3) of the inputs and hidden layer 1) x examples x widest layer (3)."""
    rng = np.random.default_rng(1)
    params = [(rng.normal(size=(3, 3)), rng.normal(size=3)) for _ in range(2)] \
        + [(rng.normal(size=(1, 3)), rng.normal(size=1))]
    plan = exact.make_plan(params, as_noise((3, 3, 3), 0.5), 1)
    per_example = 2 ** 6 * 3
    below = -(-exact.LONG_ENUMERATION // per_example) - 1         # the most examples still short
    for examples, long in ((below, False), (below + 1, True)):
        X = np.zeros((examples, 3))
        assert exact.long_enumeration(params, X, None, plan=plan) is long


def test_every_program_is_compiled_for_the_same_bits_on_every_x86_cpu():
    """theory.compile_options.PORTABLE_FLAGS are in this process's XLA_FLAGS (imported before JAX
    started, as the library asks), and they act: no dot is handed to YNNPACK (whose kernels follow
    the CPU), and float32 rsqrt is 1 / sqrt rounded twice, not the CPU's approximate instruction
    (without the flags both checks fail on the project's AVX2 machine)."""
    for name, value in PORTABLE_FLAGS.items():
        assert f"--{name}={value}" in os.environ["XLA_FLAGS"].split(), name
    matrix = jax.ShapeDtypeStruct((64, 64), jnp.float32)
    assert "ynn" not in jax.jit(jnp.matmul).lower(matrix, matrix).compile().as_text()
    x = np.random.default_rng(3).uniform(0.1, 10.0, 4096).astype(np.float32)
    np.testing.assert_array_equal(jax.jit(jax.lax.rsqrt)(x), np.float32(1) / np.sqrt(x))


def test_under_the_engine_s_own_options_a_run_does_not_depend_on_its_batch(production_options):
    """tests/test_training.py checks this at the tests' fast-compile level, where it held even when
    it did not hold in `make all`: under the engine's own options (a fresh process), DropConnect
    under the logistic loss came out in the last bit differently for run 37 alone (a tile of 8
    lanes) and in a 70-run call (one tile of 72), and likewise runs 60-69 (16 lanes), while tiles
    were cut to the call (sgd/kernel.py). Every tile is now kernel.LANES wide: bit for bit
    (ENGINE_BATCH above: those 11 runs in one call of their own against the 70; with the old tiles,
    16 lanes, that check fails too, measured 2026-12-02)."""
    assert production_options["batch"] == "True"
