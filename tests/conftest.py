"""Shared test set-up: float64 via `import theory`, deterministic Hypothesis, one seed source,
fast compilation, and (with --compilations) what each test module compiles."""

import json
import os
from collections import defaultdict
from pathlib import Path

# Most tests are dominated by XLA compiling small programs, not by running them. The lowest backend
# optimisation level compiles about twice as fast (test_family.py: 64 s -> 38 s on 2 cores), and
# XLA:CPU's older elementwise emitters (fusion emitters off) compile the suite's programs in 40% of
# the time again (205 s -> 77 s of compiling over the whole suite), though the code they make runs
# about half as fast (which is why `make all` keeps the defaults). Both change results by rounding
# only; every comparison here is exact to a stated tolerance or between two runs of one program.
# `make test` runs one pytest worker per core, so a worker compiles and runs on one thread (no
# parallel code generation, no Eigen thread pool): two workers then do not fight over two cores.
# Set before JAX creates its CPU backend (and before theory.compile_options is imported).
XLA_TEST_FLAGS = ("--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false "
                  "--xla_cpu_parallel_codegen_split_count=1 --xla_cpu_multi_thread_eigen=false")
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {XLA_TEST_FLAGS}".strip()
os.environ["DROPOUT_COMPILE_LONG_RUNNING"] = "fast"    # ...for the long-running programs too

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import theory  # noqa: F401,E402  (enables float64 for every test, in one place)
from experiments.__main__ import collect_garbage_less_often  # noqa: E402

collect_garbage_less_often()    # as `make all`'s experiments do (experiments.__main__.GC_THRESHOLDS)

SEED = 20170707  # replay a failing statistical test by keeping this fixed

settings.register_profile(
    "suite", derandomize=True, deadline=None, max_examples=40,
    suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


@pytest.fixture(scope="session")
def torch():
    """PyTorch, imported when a test that needs it runs, not when pytest collects its module:
    every test worker collects every module (3.5 s for this import), one of them runs the test."""
    import torch

    return torch


@pytest.fixture
def key():
    """The suite's root PRNG key; tests derive theirs with fold_in/split."""
    return jax.random.key(SEED)


# The test modules, longest first: seconds of their tests (setup and call, `pytest --durations=0`)
# in one `make test` on this 2-core machine with an empty compilation cache, 2026-12-02 (91 s of
# pytest in all): test_family 17.8, test_cnn 13.8, test_compile_options 13 (16.3 before its two
# fresh processes became one), test_exact 10.8, test_report 10.3, test_training 10.2,
# test_experiments 9.0, test_losses 8.6, test_monte_carlo 8.3, test_cnn_studies 7.8,
# test_distributed 7.3, test_beliefs 5.6, test_properties 5.4, test_closed_forms 5.0, test_readme
# 5.0, test_evaluation 4.2, test_bad_input 3.5, test_practice_studies 2.9; the rest, under 2.5 s
# each, follow in pytest's order. With the Makefile's --no-loadscope-reorder, pytest-xdist hands
# whole modules to its workers in this order, a greedy longest-first schedule; by default it
# orders them by their number of tests, which left single-test modules of 10 to 17 s to run alone
# at the end.
LONGEST_FIRST = ("test_family", "test_cnn", "test_compile_options", "test_exact", "test_report",
                 "test_training", "test_experiments", "test_losses", "test_monte_carlo",
                 "test_cnn_studies", "test_distributed", "test_beliefs", "test_properties",
                 "test_closed_forms", "test_readme", "test_evaluation", "test_bad_input",
                 "test_practice_studies")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))       # a stable sort


def pytest_addoption(parser):
    parser.addoption("--compilations", action="store_true",
                     help="count the XLA programs each test module compiles and report them")


COMPILED = defaultdict(lambda: {"programs": 0, "cache_hits": 0, "seconds": 0.0})
REPORTS = Path(__file__).resolve().parent.parent / ".cache" / "compilations"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not item.config.getoption("--compilations"):
        yield
        return
    from experiments.compilation import compilations

    before = compilations()
    yield
    after, module = compilations(), COMPILED[item.module.__name__]
    for key in module:
        module[key] += after[key] - before[key]


def pytest_sessionfinish(session):
    """Each process (an xdist worker, or the only one) leaves its counts for the summary."""
    if session.config.getoption("--compilations"):
        REPORTS.mkdir(parents=True, exist_ok=True)
        name = os.environ.get("PYTEST_XDIST_WORKER", "main")
        (REPORTS / f"{name}.json").write_text(json.dumps(COMPILED))


def pytest_terminal_summary(terminalreporter, config):
    if not config.getoption("--compilations") or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    total = defaultdict(lambda: {"programs": 0, "cache_hits": 0, "seconds": 0.0})
    for path in REPORTS.glob("*.json"):
        for module, counts in json.loads(path.read_text()).items():
            for key, value in counts.items():
                total[module][key] += value
        path.unlink()
    terminalreporter.section("XLA compilations per test module (compiled / from the cache)")
    for module, c in sorted(total.items(), key=lambda item: -item[1]["seconds"]):
        terminalreporter.write_line(f"{module:24s} {c['programs'] - c['cache_hits']:5d} / "
                                    f"{c['cache_hits']:5d}  {c['seconds']:7.1f} s")
