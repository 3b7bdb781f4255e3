"""Sweeps over several JAX processes: on one machine over localhost, or on several hosts.

Every process runs the same command with three environment variables:

    JAX_COORDINATOR_ADDRESS=host0:12345  JAX_NUM_PROCESSES=2  JAX_PROCESS_ID=0   (1 on the other)

:func:`join_from_environment` (called by ``python -m experiments`` before anything is computed)
then joins the processes with ``jax.distributed.initialize``, using the Gloo collectives on CPU
hosts (``jax_cpu_collectives_implementation``; accelerators use their own). From then on
:func:`sgd.training.train` gives each process one contiguous block of every call's runs (split
further over its local devices as usual) and gathers every block to every process, so each process
holds the whole result and goes on as if alone. A run's numbers depend on its key and its own
hyperparameters only (:mod:`sgd.kernel`), so the results are bitwise those of one process
(tests/test_distributed.py starts two processes on localhost and checks it). The exact evaluation
is not split: every process repeats it (it is cheap next to training), and only process 0 writes
results and figures.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from jax.experimental import multihost_utils


def _environment_int(name: str, minimum: int) -> int:
    value = os.environ[name]
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise ValueError(f"{name}={value!r}: expected a whole number >= {minimum}")
    return number


def join_from_environment() -> bool:
    """Join a multi-process sweep when JAX_NUM_PROCESSES (> 1) is set; returns whether it did.
    JAX_PROCESS_ID (0 .. JAX_NUM_PROCESSES - 1) and JAX_COORDINATOR_ADDRESS (host:port of process
    0, reachable from every process) are then required. Call before any JAX computation."""
    if "JAX_NUM_PROCESSES" not in os.environ:
        return False
    processes = _environment_int("JAX_NUM_PROCESSES", 1)
    if processes == 1:
        return False
    missing = [name for name in ("JAX_PROCESS_ID", "JAX_COORDINATOR_ADDRESS")
               if not os.environ.get(name)]
    if missing:
        raise ValueError(f"JAX_NUM_PROCESSES={processes} needs {' and '.join(missing)} too: "
                         "every process gets its own id 0.."
                         f"{processes - 1} and the same coordinator address host:port")
    process = _environment_int("JAX_PROCESS_ID", 0)
    if process >= processes:
        raise ValueError(f"JAX_PROCESS_ID={process}: expected 0..{processes - 1} "
                         f"(JAX_NUM_PROCESSES={processes})")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")   # CPU hosts; GPUs: NCCL
    jax.distributed.initialize(coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
                               num_processes=processes, process_id=process)
    return True


def process_block(runs: int) -> tuple:
    """This process's runs lo..hi-1 of ``runs``, and the common block size (blocks are contiguous,
    in process order, all but the last of that size)."""
    size = -(-runs // jax.process_count())
    lo = min(runs, jax.process_index() * size)
    return lo, min(runs, lo + size), size


def padded_block(tree, runs: int):
    """This process's block of every leaf's leading run axis, padded with run 0 to the common block
    size (padding runs are trained and dropped: runs are independent)."""
    lo, hi, size = process_block(runs)
    return _take_runs(tree, np.concatenate([np.arange(lo, hi), np.zeros(size - (hi - lo), int)]))


@jax.jit
def _take_runs(tree, index):
    """Runs ``index`` of every leaf (one program for the whole tree, not one per leaf)."""
    return jax.tree_util.tree_map(lambda a: a[index], tree)


def gather_runs(tree, runs: int):
    """Every process's block (leaves (size, ...)), concatenated in process order on every process:
    leaves (runs, ...)."""
    gathered = multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a[:runs]), gathered)
