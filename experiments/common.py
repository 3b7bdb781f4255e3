"""What every experiment shares: result caching, figure saving, style, progress, report rows.

Two stages (the habit of figure-regenerating repositories): ``compute`` runs the experiment and
caches its numbers, configuration, code version and claim checks as results/NAME.json; ``plot``
reads only that cache and writes figures/NAME.png, .pdf and .json (the plotted numbers). The code
version is :func:`experiments.dependencies.code_version`. Outputs are
deterministic: same code and seeds, same bytes (no timestamps, fixed PDF metadata).

Every file is written whole or not at all (:func:`replace_atomically`: a temporary file beside it,
then a rename), so an interrupted run (Ctrl-C, ``kill -9``, a full disk) leaves either the old file
or the new one, never half of one; :func:`read_result` refuses a cached result that is corrupt,
belongs to another experiment or was computed by other code, naming the command that recomputes
it; ``python -m experiments --clean-invalid`` (the first step of ``make all``) deletes such files,
so that make recomputes them by itself.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
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


VERDICTS = ("holds", "fails", "holds in optimisation", "fails in optimisation", "holds in SGD",
            "fails in SGD", "undecided", "reported")
"""What a finding's evidence shows. "holds" / "fails": an exact computation or a proof (a witness, a
counterexample, an identity, a proven minimum). "holds in optimisation" / "fails in optimisation":
a verdict resting on the value of a minimum that only multi-start optimisation of the exact
criterion supports (its spread in the row). "holds in SGD" / "fails in SGD": a significant effect
in trained networks under the rule of :mod:`experiments.shared.statistics` ("fails in SGD" only
for a significant effect in the refuting direction); "undecided": that rule detected nothing, which
refutes nothing. "reported": a measurement with no natural threshold, its distribution in the row.
"""


class Finding(NamedTuple):
    """One row of REPORT.md's "Beyond the paper" section: a finding of ours, with its stable ID
    (CLAIMS.md lists them), our number, the criterion that decides it and the verdict, one of
    :data:`VERDICTS`."""

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


TEMPORARY_SUFFIX = ".partial"
"""The suffix of a file being written (:func:`replace_atomically`); one left by a killed run is
removed by ``python -m experiments --clean-invalid``."""


@contextmanager
def replace_atomically(path: Path):
    """Yield a temporary path beside ``path``; when the block ends normally, rename it onto
    ``path`` (atomic on POSIX), else delete it. Readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=TEMPORARY_SUFFIX)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: dict) -> None:
    with replace_atomically(path) as temporary:
        temporary.write_text(json.dumps(_jsonable(payload), indent=1, sort_keys=True) + "\n")


def write_text(path: Path, text: str) -> None:
    with replace_atomically(path) as temporary:
        temporary.write_text(text)


class InvalidResult(Exception):
    """A cached result that cannot be used: missing, corrupt, another experiment's or stale."""


def _recompute(name: str, quick: bool) -> str:
    return f"`python -m experiments {name}{' --quick' if quick else ''} --stage compute`"


def read_result(path: Path, name: str, code_version: str, quick: bool | None = False,
                remedy: str | None = None) -> dict:
    """The cached result of experiment ``name`` at ``path`` (or a figure's copy of it), or
    :class:`InvalidResult` saying why it cannot be used (missing, not JSON, another experiment's, a
    quick or full run where the other was asked for (``quick`` None: either), computed by code of
    another version) and what makes it again: ``remedy``, by default the command that recomputes
    it."""
    again = remedy or f"recompute it with {_recompute(name, bool(quick))} (`make all` does so by " \
                      "itself)"
    if not path.exists():
        raise InvalidResult(f"{path} does not exist: {again}")
    try:
        payload = json.loads(path.read_text())
        meta = payload["meta"]
        found = (meta["name"], meta["quick"], meta["code_version"])
    except (ValueError, KeyError, TypeError) as err:
        raise InvalidResult(f"{path} is not a result this runner wrote (corrupt or truncated: "
                            f"{type(err).__name__}: {err}); {again}") from None
    if found[0] != name:
        raise InvalidResult(f"{path} holds the results of experiment {found[0]!r}, not {name!r}; "
                            f"{again}")
    if quick is not None and found[1] != quick:
        raise InvalidResult(f"{path} holds a {'quick' if found[1] else 'full'} run, not a "
                            f"{'quick' if quick else 'full'} one; {again}")
    if found[2] != code_version:
        raise InvalidResult(f"{path} was computed by another version of the code (code version "
                            f"{found[2]}, now {code_version}); {again}")
    return payload


class Progress:
    """Prints timestamped progress lines to stderr (an experiment may run for a minute or more)."""

    def __init__(self, name: str):
        self.name, self.start = name, time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{self.name} {time.perf_counter() - self.start:6.1f}s] {message}", file=sys.stderr,
              flush=True)


def save_figure(fig, stem: Path, pdf: bool = True) -> None:
    """Write stem.pdf (unless ``pdf`` is False) and then stem.png, each whole or not at all, with
    fixed metadata, so reruns give the same bytes. The PNG, the Makefile's target, comes last: a run
    interrupted before it leaves the target older than its result, and make draws it again."""
    if pdf:
        with replace_atomically(stem.with_suffix(".pdf")) as temporary:
            fig.savefig(temporary, format="pdf", metadata={"CreationDate": None, "ModDate": None,
                                                           "Producer": None, "Creator": None})
    with replace_atomically(stem.with_suffix(".png")) as temporary:
        fig.savefig(temporary, format="png", dpi=150, metadata={"Software": None})


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
