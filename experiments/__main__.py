"""Command line: run one experiment, list them, or write the report.

    python -m experiments --list                     # the experiments and their claims
    python -m experiments NAME                       # compute (cache results/NAME.json) and plot
    python -m experiments NAME --stage compute       # only compute; --stage plot only draws
    python -m experiments NAME --quick               # a small version, into results/quick/
    python -m experiments report                     # figures/REPORT.md from figures/*.json
    python -m experiments --deps                     # the Makefile's prerequisites, from imports
    python -m experiments --clean-invalid            # delete unusable cached results (make all)

Figures go to figures/NAME.png, .pdf and .json (with --quick: results/quick/figures/, no PDF).

A sweep over several processes or hosts: run the same command in each, with
JAX_COORDINATOR_ADDRESS=host:port, JAX_NUM_PROCESSES=P and JAX_PROCESS_ID=0..P-1
(:mod:`sgd.distributed`); the SGD runs are split between them and process 0 writes the results.
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

import jax

from experiments.common import FIGURES_DIR, RESULTS_DIR, TEMPORARY_SUFFIX, VERDICTS, InvalidResult
from experiments.common import Progress, read_result, save_figure, style, write_json
from experiments.compilation import compilations, describe
from experiments.dependencies import ROOT, code_version, declared_inputs, module_file, project_files
from experiments.registry import EXPERIMENTS, load, module_name
from sgd.distributed import join_from_environment


def compute(name: str, quick: bool, results_dir: Path, write: bool = True) -> Path | None:
    """Compute one experiment and cache its results in ``results_dir`` (``write=False``: compute
    only, as the other processes of a multi-process sweep do)."""
    compiled = compilations()
    module = load(name)
    progress = Progress(name + (" --quick" if quick else ""))
    extra = {}
    if hasattr(module, "INPUTS"):        # experiments that read other experiments' cached results
        extra["inputs"] = {source: _cached(source, quick, results_dir) for source in module.INPUTS}
    data, config = module.compute(quick=quick, progress=progress, **extra)
    checks = module.checks(data) if hasattr(module, "checks") else []
    payload = dict(data)
    payload["meta"] = {"name": name, "title": module.TITLE, "claims": list(module.CLAIMS),
                       "quick": quick, "config": config,
                       "code_version": code_version(module_name(name))}
    payload["checks"] = [dict(check._asdict(), figure=name) for check in checks]
    payload["observations"] = module.observations(data) if hasattr(module, "observations") else []
    findings = module.findings(data) if hasattr(module, "findings") else []
    for finding in findings:
        if finding.verdict not in VERDICTS:
            raise ValueError(f"{name}: finding {finding.id} has verdict {finding.verdict!r}, "
                             f"not one of {VERDICTS}")
    payload["findings"] = [dict(finding._asdict(), figure=finding.figure or name)
                           for finding in findings]
    if not write:
        progress(f"computed (process {jax.process_index()}: results written by process 0); "
                 f"{describe(compiled)}")
        return None
    path = results_dir / f"{name}.json"
    write_json(path, payload)
    failed = [c.claim for c in checks if not c.passed]
    progress(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}; "
             f"checks: {len(checks) - len(failed)} PASS, {len(failed)} FAIL"
             f"{f' {failed}' if failed else ''}; {describe(compiled)}")
    return path


def _cached(name: str, quick: bool, results_dir: Path) -> dict:
    """The cached result of ``name``, refused (:class:`InvalidResult`) unless this code wrote it."""
    return read_result(results_dir / f"{name}.json", name, code_version(module_name(name)), quick)


def plot(name: str, quick: bool, results_dir: Path, figures_dir: Path) -> None:
    """Draw figures/NAME.{json,pdf,png} from the cached result alone, the PNG (make's target)
    last."""
    style()
    payload = _cached(name, quick, results_dir)
    fig = load(name).plot(payload)
    write_json(figures_dir / f"{name}.json", payload)
    save_figure(fig, figures_dir / name, pdf=not quick)                    # quick: PNG only


def clean_invalid(quick: bool, results_dir: Path, figures_dir: Path) -> list[str]:
    """Delete every cached result that :func:`_cached` would refuse and every file a killed run
    left half-written; return what was deleted and why (make then recomputes what it needs)."""
    removed = []
    for name in EXPERIMENTS:
        path = results_dir / f"{name}.json"
        if not path.exists():
            continue
        try:
            _cached(name, quick, results_dir)
        except InvalidResult as reason:
            path.unlink()
            removed.append(f"removed {path}: {str(reason).split(';')[0]}")
    for directory in (results_dir, figures_dir):
        for partial in sorted(directory.glob(f".*{TEMPORARY_SUFFIX}")):
            partial.unlink()
            removed.append(f"removed {partial}: left half-written by an interrupted run")
    return removed


RUNNER = ("experiments/__main__.py",)
"""Runner files every result depends on besides its imports (they shape the cached payload)."""


def makefile_dependencies() -> str:
    """Makefile rules, one pair per experiment: results/NAME.json on the files its module imports
    (transitively), the runner and the cached results it reads (``INPUTS``); figures/NAME.png on its
    results and its module. The recipes are the Makefile's pattern rules."""
    lines = ["# Generated by `python -m experiments --deps` from the studies' imports: do not edit",
             f"EXPERIMENTS := {' '.join(EXPERIMENTS)}"]
    for name in EXPERIMENTS:
        files = [path.relative_to(ROOT).as_posix() for path in project_files(module_name(name))]
        inputs = [f"results/{source}.json" for source in declared_inputs(module_name(name))]
        study = module_file(module_name(name)).relative_to(ROOT).as_posix()
        lines.append(f"results/{name}.json: {' '.join([*files, *RUNNER, *inputs])}")
        lines.append(f"figures/{name}.png: results/{name}.json {study} experiments/common.py")
    return "\n".join(lines) + "\n"


GC_THRESHOLDS = (10_000, 50, 100)
"""Python's cyclic garbage collector, run less often than its default (700, 10, 10): JAX's tracing
allocates many short-lived objects, and by default the collector ran about a thousand times in an
experiment and walked the whole heap of imported modules in its full passes. With the modules
imported before frozen out of its reach (``gc.freeze``) and these thresholds, measured on
2026-12-02: depth_penalty 362 collections in 0.15-0.16 s against 1,148 in 1.01-1.10 s (of about
30 s), negative_weights 349 in 0.12-0.15 s against 847 in 0.60-0.61 s (of about 15 s); most of the
collections left are those of the imports, before this is set. Memory is not at stake: the
young generation holds at most ten thousand objects before a collection. Nothing computed changes.
tests/conftest.py does the same for the tests."""


def collect_garbage_less_often() -> None:
    """Freeze the objects that exist now (the imported modules) out of the garbage collector's
    passes and set :data:`GC_THRESHOLDS`."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def main(argv=None) -> int:
    collect_garbage_less_often()
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", help="experiment name, or 'report'")
    parser.add_argument("--list", action="store_true", help="list the experiments and claims")
    parser.add_argument("--deps", action="store_true",
                        help="print the Makefile's prerequisites of every result and figure")
    parser.add_argument("--clean-invalid", action="store_true",
                        help="delete cached results that are corrupt, another experiment's or "
                             "from other code, and half-written files (make all does this first)")
    parser.add_argument("--quick", action="store_true", help="small version for smoke tests")
    parser.add_argument("--stage", choices=("all", "compute", "plot"), default="all")
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--figures-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.list:
        for name in EXPERIMENTS:
            module = load(name)
            print(f"{name:32s} {', '.join(module.CLAIMS):22s} {module.TITLE}")
        return 0
    if args.deps:
        sys.stdout.write(makefile_dependencies())
        return 0
    results_dir = args.results_dir or (RESULTS_DIR / "quick" if args.quick else RESULTS_DIR)
    figures_dir = args.figures_dir or (results_dir / "figures" if args.quick else FIGURES_DIR)
    if args.clean_invalid:
        for line in clean_invalid(args.quick, results_dir, figures_dir):
            print(line)
        return 0
    if args.name is None:
        parser.error("give an experiment name (see --list) or 'report'")
    if args.name == "report":
        from experiments.report import write_report
        print(write_report(figures_dir))
        return 0
    if args.name not in EXPERIMENTS:
        parser.error(f"unknown experiment {args.name!r}; see --list")
    try:
        if args.stage in ("all", "compute"):
            if join_from_environment() and jax.process_index() > 0:
                compute(args.name, args.quick, results_dir, write=False)   # its share of the runs
                return 0
            compute(args.name, args.quick, results_dir)
        if args.stage in ("all", "plot"):
            plot(args.name, args.quick, results_dir, figures_dir)
    except InvalidResult as reason:
        print(f"python -m experiments {args.name}: {reason}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
