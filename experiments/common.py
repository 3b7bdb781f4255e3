"""What every experiment shares: result caching, figure saving, style, progress, report rows.

Two stages (the habit of figure-regenerating repositories): ``compute`` runs the experiment and
caches its numbers, configuration, code version and claim checks as results/NAME.json; ``plot``
reads only that cache and writes figures/NAME.png, .pdf and .json (the plotted numbers). The code
version is :func:`experiments.dependencies.code_version`. Outputs are
deterministic: same code and seeds, same bytes (no timestamps, fixed PDF metadata).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "results"
FIGURES_DIR = ROOT / "figures"

# Okabe-Ito: distinguishable with the common colour-vision deficiencies and in greyscale print.
COLORS = {"dropout": "#0072B2", "weight_decay": "#D55E00", "none": "#009E73", "paper": "#000000",
          "theory": "#CC79A7", "extra1": "#E69F00", "extra2": "#56B4E9", "extra3": "#F0E442"}
MARKERS = {"dropout": "o", "weight_decay": "s", "none": "^", "paper": "x"}


class Check(NamedTuple):
    """One row of figures/REPORT.md: a claim judged by a stated criterion."""

    claim: str
    paper: str
    ours: str
    criterion: str
    passed: bool


VERDICTS = ("holds", "fails", "sgd-only")


class Finding(NamedTuple):
    """One row of REPORT.md's "Beyond the paper" section: a finding of ours, with its stable ID
    (CLAIMS.md lists them), our number, the criterion that decides it and the verdict: "holds"
    (an exact witness or check), "fails" (with the reason) or "sgd-only" (seen in SGD runs only,
    with their statistics)."""

    id: str
    finding: str
    ours: str
    criterion: str
    verdict: str
    figure: str | None = None    # the figure with the evidence; default: the experiment's own


def rounding_bound(value: float, bound: float) -> str:
    """A rounding-level number as text that does not depend on the machine: "< bound" when the value
    is below ``bound`` (its last digits differ between machines and would change committed figures
    on a rebuild), the value itself when it is not (then something is wrong and shows)."""
    return f"< {bound:.0e}" if value < bound else f"= {value:.2e}"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "__array__"):
        return _jsonable(np.asarray(value).tolist())
    if isinstance(value, float):
        return float(f"{value:.12g}")  # rounding noise between machines never changes the bytes
    return value


def as_stored(data: dict) -> dict:
    """``data`` as a cached result stores it (12 significant digits, lists): a verdict computed
    from it can be re-derived by anyone from the JSON file alone."""
    return json.loads(json.dumps(_jsonable(data)))


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(payload), indent=1, sort_keys=True) + "\n")


def read_json(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `python -m experiments "
                                f"{path.stem} --stage compute` first")
    return json.loads(path.read_text())


class Progress:
    """Prints timestamped progress lines to stderr (an experiment may run for a minute or more)."""

    def __init__(self, name: str):
        self.name, self.start = name, time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{self.name} {time.perf_counter() - self.start:6.1f}s] {message}", file=sys.stderr,
              flush=True)


def save_figure(fig, stem: Path, pdf: bool = True) -> None:
    """Write stem.png and (unless ``pdf`` is False) stem.pdf with fixed metadata, so reruns give
    the same bytes."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(stem.with_suffix(".png"), dpi=150, metadata={"Software": None})
    if pdf:
        fig.savefig(stem.with_suffix(".pdf"), metadata={"CreationDate": None, "ModDate": None,
                                                        "Producer": None, "Creator": None})


def style():
    """Matplotlib defaults for legible, print-friendly figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 10.5, "axes.labelsize": 10,
                         "legend.fontsize": 8.5, "figure.dpi": 100, "axes.grid": True,
                         "grid.alpha": 0.3, "savefig.bbox": "tight", "lines.linewidth": 1.8,
                         "svg.hashsalt": "dropout", "pdf.fonttype": 42})
    return plt
