"""A sweep split over two processes (jax.distributed on localhost), each splitting its share over
two devices, gives the same numbers, bit for bit, as one process on one device."""

import os
import socket
import subprocess
import sys
from pathlib import Path

from conftest import XLA_TEST_FLAGS

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_are_bitwise_identical_to_one_device():
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count=2 {XLA_TEST_FLAGS}",
               JAX_PLATFORMS="cpu", JAX_NUM_PROCESSES="2",
               JAX_COORDINATOR_ADDRESS=f"localhost:{_free_port()}")
    processes = [subprocess.Popen([sys.executable, str(HERE / "distributed_run.py")],
                                  env=dict(env, JAX_PROCESS_ID=str(rank)), cwd=HERE.parent,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for rank in range(2)]
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        assert out.splitlines()[-1].split() == ["2", "2", "True"], out + err[-3000:]
