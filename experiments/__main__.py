"""Command line: run one experiment, list them, or write the report.

    python -m experiments --list                     # the experiments and their claims
    python -m experiments NAME                       # compute (cache results/NAME.json) and plot
    python -m experiments NAME --stage compute       # only compute; --stage plot only draws
    python -m experiments NAME --quick               # a small version, into results/quick/
    python -m experiments report                     # figures/REPORT.md from figures/*.json

Figures go to figures/NAME.png, .pdf and .json (with --quick: results/quick/figures/, no PDF).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.common import FIGURES_DIR, RESULTS_DIR, Progress, code_version, read_json
from experiments.common import VERDICTS, save_figure, style, write_json
from experiments.registry import EXPERIMENTS, load


def compute(name: str, quick: bool, results_dir: Path) -> Path:
    module = load(name)
    progress = Progress(name + (" --quick" if quick else ""))
    extra = {}
    if hasattr(module, "INPUTS"):        # experiments that read other experiments' cached results
        extra["inputs"] = {source: read_json(results_dir / f"{source}.json")
                           for source in module.INPUTS}
    data, config = module.compute(quick=quick, progress=progress, **extra)
    checks = module.checks(data) if hasattr(module, "checks") else []
    payload = dict(data)
    payload["meta"] = {"name": name, "title": module.TITLE, "claims": list(module.CLAIMS),
                       "quick": quick, "config": config,
                       "code_version": code_version(name, *getattr(module, "SOURCES", ()))}
    payload["checks"] = [dict(check._asdict(), figure=name) for check in checks]
    payload["observations"] = module.observations(data) if hasattr(module, "observations") else []
    findings = module.findings(data) if hasattr(module, "findings") else []
    for finding in findings:
        if finding.verdict not in VERDICTS:
            raise ValueError(f"{name}: finding {finding.id} has verdict {finding.verdict!r}, "
                             f"not one of {VERDICTS}")
    payload["findings"] = [dict(finding._asdict(), figure=finding.figure or name)
                           for finding in findings]
    path = results_dir / f"{name}.json"
    write_json(path, payload)
    failed = [c.claim for c in checks if not c.passed]
    progress(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}; "
             f"checks: {len(checks) - len(failed)} PASS, {len(failed)} FAIL {failed or ''}")
    return path


def plot(name: str, results_dir: Path, figures_dir: Path) -> None:
    style()
    payload = read_json(results_dir / f"{name}.json")
    fig = load(name).plot(payload)
    save_figure(fig, figures_dir / name, pdf=not payload["meta"]["quick"])   # quick: PNG only
    write_json(figures_dir / f"{name}.json", payload)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", help="experiment name, or 'report'")
    parser.add_argument("--list", action="store_true", help="list the experiments and claims")
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
    if args.name is None:
        parser.error("give an experiment name (see --list) or 'report'")
    results_dir = args.results_dir or (RESULTS_DIR / "quick" if args.quick else RESULTS_DIR)
    figures_dir = args.figures_dir or (results_dir / "figures" if args.quick else FIGURES_DIR)
    if args.name == "report":
        from experiments.report import write_report
        print(write_report(figures_dir))
        return 0
    if args.name not in EXPERIMENTS:
        parser.error(f"unknown experiment {args.name!r}; see --list")
    if args.stage in ("all", "compute"):
        compute(args.name, args.quick, results_dir)
    if args.stage in ("all", "plot"):
        plot(args.name, results_dir, figures_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
