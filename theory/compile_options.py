"""XLA's full optimisation for the programs that run long, whatever XLA_FLAGS asks of the others.

Most programs of the suite run for milliseconds and take a second or more to compile, so `make all`
compiles them at XLA's lowest backend optimisation level with XLA:CPU's older elementwise emitters
(the Makefile's FAST_COMPILE; `make test` does the same, tests/conftest.py): about a third of the
compile time, code that runs about half as fast. A few programs run for seconds to minutes: the SGD
engine (:mod:`sgd.training`) and the optimisers of the exact criteria. They pass
:data:`LONG_RUNNING` to ``jax.jit(..., compiler_options=...)`` and so get XLA's defaults back
(measured on this 2-core machine: the Figure 2 engine runs 9x slower at the low level).

The tests keep the low level for these programs too (they run them briefly): with the environment
variable ``DROPOUT_COMPILE_LONG_RUNNING=fast`` (set by tests/conftest.py before this module is
imported), :data:`LONG_RUNNING` is None and the process-wide flags apply.
"""

from __future__ import annotations

import os

FULL_OPTIMISATION = {"xla_backend_optimization_level": 3, "xla_cpu_use_fusion_emitters": True}
"""XLA's own defaults for the two options FAST_COMPILE lowers (XLA's DebugOptions)."""

LONG_RUNNING = None if os.environ.get("DROPOUT_COMPILE_LONG_RUNNING") == "fast" \
    else FULL_OPTIMISATION
"""``compiler_options`` for ``jax.jit`` of a program that runs long (see the module doc)."""
