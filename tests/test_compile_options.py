"""The long-running programs' compiler options (theory/compile_options.py): XLA's full optimisation
unless the environment asks for fast compiles, and the exact evaluator's choice by size."""

import os
import subprocess
import sys

from theory import exact
from theory.compile_options import FULL_OPTIMISATION, LONG_RUNNING


def _long_running_in_a_fresh_process(value):
    env = {k: v for k, v in os.environ.items() if k != "DROPOUT_COMPILE_LONG_RUNNING"}
    if value is not None:
        env["DROPOUT_COMPILE_LONG_RUNNING"] = value
    return subprocess.run([sys.executable, "-c", "import theory.compile_options as c; "
                           "print(c.LONG_RUNNING)"], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_long_running_programs_get_full_optimisation_unless_told_fast():
    assert LONG_RUNNING is None                     # tests/conftest.py asks for fast compiles
    assert _long_running_in_a_fresh_process(None) == str(FULL_OPTIMISATION)
    assert _long_running_in_a_fresh_process("fast") == "None"


def test_enumerations_from_the_threshold_on_take_the_long_running_program():
    short, long = (exact._enumerate_compiled(exact.LONG_ENUMERATION + offset) for offset in (-1, 0))
    assert long is not short
    assert exact._enumerate_compiled(1) is short
    assert exact._enumerate_compiled(exact.LONG_ENUMERATION * 4) is long
