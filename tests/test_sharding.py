"""Training split over several devices gives the same numbers, bit for bit, as one device."""

import os
import subprocess
import sys
from pathlib import Path

from conftest import XLA_TEST_FLAGS

HERE = Path(__file__).resolve().parent


def test_split_training_is_bitwise_identical_to_one_device():
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count=4 {XLA_TEST_FLAGS}",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, str(HERE / "sharded_run.py")], env=env, check=True,
                         capture_output=True, text=True, cwd=HERE.parent)
    assert out.stdout.split() == ["4", "1", "True"], out.stdout + out.stderr
