"""What JAX compiles while an experiment or a test module runs, counted from JAX's own events.

XLA compiling small programs is most of the time of the tests and of several experiments, so the
runner prints, after each stage, how many programs were compiled, how many of them came from JAX's
persistent compilation cache (the Makefile points ``JAX_COMPILATION_CACHE_DIR`` at the project's
git-ignored ``.cache/jax``) and how long compiling took.
"""

from __future__ import annotations

import jax

_COMPILE = "/jax/core/compile/backend_compile_duration"   # every program XLA builds or loads
_CACHE_HIT = "/jax/compilation_cache/cache_hits"         # ... of which loaded from the disk cache
_TOTALS = {"programs": 0, "cache_hits": 0, "seconds": 0.0}
_LISTENING = []


def _on_duration(event: str, duration: float, **_) -> None:
    if event == _COMPILE:
        _TOTALS["programs"] += 1
        _TOTALS["seconds"] += duration


def _on_event(event: str, **_) -> None:
    if event == _CACHE_HIT:
        _TOTALS["cache_hits"] += 1


def compilations() -> dict:
    """The totals so far in this process: programs (built or loaded), cache_hits, seconds.
    Counting starts at the first call."""
    if not _LISTENING:
        jax.monitoring.register_event_duration_secs_listener(_on_duration)
        jax.monitoring.register_event_listener(_on_event)
        _LISTENING.append(True)
    return dict(_TOTALS)


def describe(before: dict) -> str:
    """What was compiled since ``before`` (an earlier :func:`compilations`), as one phrase."""
    now = compilations()
    programs, hits = now["programs"] - before["programs"], now["cache_hits"] - before["cache_hits"]
    return (f"compiled {programs - hits} programs in {now['seconds'] - before['seconds']:.1f} s"
            + (f" (another {hits} loaded from the compilation cache)" if hits else ""))
