"""A sharded sweep gives the same numbers as the unsharded one (forced host devices)."""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(devices):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, str(HERE / "sharded_run.py")], env=env, check=True,
                         capture_output=True, text=True, cwd=HERE.parent)
    count, digest = out.stdout.split()
    return int(count), digest


def test_sharded_training_is_bitwise_identical_to_one_device():
    one, digest_one = _run(1)
    four, digest_four = _run(4)
    assert (one, four) == (1, 4)
    assert digest_four == digest_one
