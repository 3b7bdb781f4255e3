"""Every experiment runs end to end in quick mode; its exact parts agree with theory; the committed
figures carry the keys readers rely on and a report row for every claim and finding.

`make test` runs the quick runs of the experiments with exact checks; the quick runs of the SGD
experiments (smoke tests of code that `make all` runs at full size) are marked slow and run with
`make test-all`. Every claim keeps its own test elsewhere in tests/ either way."""

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.__main__ import main
from experiments.registry import EXPERIMENTS, load

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "figures"

# Checks that rest on exact computation only, so they must pass even in quick mode: None for every
# check of the experiment, else (claim ID, words of the paper's statement) pairs that pick them.
EXACT_CHECKS = {
    "fig1_negative_penalty": None,
    "rescaling_invariance": None,
    "penalty_vs_keep_prob": None,
    "negative_weights_many_features": None,
    "depth_penalty": [("C12", "J_D = y^2"), ("C12", "grows exponentially")],
    "negative_weights": [("C9", "W_neg"), ("C10", "psi_W(l)")],
}
FAST = ("fig1_negative_penalty", "rescaling_invariance", "penalty_vs_keep_prob",
        "negative_weights_many_features")

@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """quick_run(name): run experiment ``name`` (after the experiments it reads) in quick mode,
    once per module; returns the directory with results/ and figures/."""
    root = tmp_path_factory.mktemp("quick")
    done = set()

    def run(name):
        for source in getattr(load(name), "INPUTS", ()):
            run(source)
        if name not in done:
            assert main([name, "--quick", "--results-dir", str(root / "results"),
                         "--figures-dir", str(root / "figures")]) == 0
            done.add(name)
        return root

    return run


@pytest.mark.parametrize("name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow)
                                  for n in EXPERIMENTS])
def test_quick_run_writes_figure_and_json(quick_run, name):
    figures = quick_run(name) / "figures"
    for suffix in (".png", ".json"):                 # quick runs skip the PDF (half the drawing)
        assert (figures / f"{name}{suffix}").stat().st_size > 0
    payload = json.loads((figures / f"{name}.json").read_text())
    module = load(name)
    assert payload["meta"]["claims"] == list(module.CLAIMS) and payload["meta"]["quick"]
    assert {c["claim"] for c in payload["checks"]} <= set(module.CLAIMS)
    wanted = EXACT_CHECKS.get(name, [])
    rows = payload["checks"] if wanted is None else [
        row for row in payload["checks"]
        if any(row["claim"] == claim and words in row["paper"] for claim, words in wanted)]
    assert wanted is None or len(rows) == len(wanted), (name, rows)
    assert all(row["passed"] for row in rows), [r for r in rows if not r["passed"]]


def test_committed_figures_have_the_keys_readers_rely_on():
    fig2 = json.loads((FIGURES / "fig2_input_scale.json").read_text())
    assert len(fig2["scales"]) == 5 and "paper" in fig2
    assert fig2["many_runs"]["runs"] == 1000 and not fig2["meta"]["quick"]
    for regime in ("dropout", "weight_decay", "none"):
        assert len(fig2[regime]["mean"]) == len(fig2[regime]["std"]) == len(fig2["scales"])
        band = fig2["many_runs"][regime]
        assert len(band["p025"]) == len(band["p975"]) == len(fig2["scales"])
        assert all(lo <= hi for lo, hi in zip(band["p025"], band["p975"]))
    negative = json.loads((FIGURES / "negative_weights.json").read_text())
    for variant in ("free", "nonneg"):
        assert len(negative[variant]["final_criterion"]) == len(negative[variant]["min_weight"])
    assert negative["wneg_threshold_n"] == {"2": 18, "3": 26}
    depth = json.loads((FIGURES / "depth_penalty.json").read_text())
    head, growth = depth["headline"], depth["sgd_growth"]
    assert len(head["depths"]) == len(head["dropout_penalty"]) == len(head["l2_penalty"])
    assert len(growth["depths"]) == len(growth["closed_form"]) == len(growth["min_norm_l2"])
    for arm in growth["arms"]:
        assert len(growth["fitted"][arm]) == len(growth["dropout_penalty_runs"][arm]) \
            == len(growth["l2_penalty_runs"][arm]) == len(growth["depths"])
        assert [len(p) for p in growth["dropout_penalty_runs"][arm]] == \
            [sum(f) for f in growth["fitted"][arm]]            # a penalty for every fitted run


def test_report_has_a_row_for_every_claim_and_finding(tmp_path):
    """The report, written afresh from the committed figures' JSON."""
    for path in FIGURES.glob("*.json"):
        shutil.copy(path, tmp_path)
    assert main(["report", "--figures-dir", str(tmp_path)]) == 0
    report = (tmp_path / "REPORT.md").read_text()
    for i in range(1, 18):
        assert f"| C{i} |" in report
    for i in range(1, 86):
        assert f"| B{i} |" in report
    assert "## Beyond the paper" in report
    summary = next(line for line in report.splitlines() if " B rows. " in line)
    assert "8 re-check the paper's own claims" in summary and "1 states an identity" in summary
    assert "76 are new findings" in summary


def test_committed_variants_matrix_has_a_cell_for_every_variant_and_finding():
    from experiments.common import VERDICTS
    from experiments.shared.variants import COLUMNS, VARIANTS

    matrix = json.loads((FIGURES / "variants_matrix.json").read_text())
    assert [r["key"] for r in matrix["rows"]] == [v.key for v in VARIANTS]
    assert [c["key"] for c in matrix["columns"]] == [key for key, _, _ in COLUMNS]
    assert len(matrix["cells"]) == len(VARIANTS) * len(COLUMNS)
    for cell in matrix["cells"]:
        assert cell["verdict"] in VERDICTS and "value" in cell
        assert ("witness" in cell) or ("reason" in cell), cell


def test_belief_studies_exact_parts():
    """The exact numbers practitioner_claims and approximations report (B40, B45-B49), computed by
    their own functions (the training they also do is left to make all)."""
    from experiments.beliefs import approximations, practitioner_claims

    rate = practitioner_claims.figure1_rate()  # Figure 1: J_D(1/2) = 54 < 64 = J_D(1), slope 28
    assert rate["argmin"] == 0.5 and abs(rate["min"] - 54) < 1e-9 and abs(rate["at_1"] - 64) < 1e-9
    assert abs(rate["slope_at_1"] - 28) < 1e-9 and abs(rate["slope_at_argmin"]) < 1e-9
    figure1 = approximations.penalties(*approximations.paper_networks()["Figure 1 (C1)"])
    assert abs(figure1["exact"] + 10) < 1e-12 and abs(figure1["expectation_linear"] - 5) < 1e-12
    assert figure1["wager"] == figure1["arora"] == figure1["wei"] == 0.0
    for row in approximations.random_network_penalties([1], 4, lambda message: None)["by_depth"][0]:
        for key in ("wager", "arora", "wei", "expectation_linear"):   # d = 1: all exact
            assert abs(row[key] - row["exact"]) <= 1e-12 * abs(row["exact"])


def test_an_interrupted_run_leaves_nothing_half_written_and_resumes_to_the_same_bytes(
        quick_run, tmp_path):
    """`kill -9` mid-compute, then a rerun: the bytes of an uninterrupted run (so quick results are
    deterministic too)."""
    name = "fig1_negative_penalty"
    reference = quick_run(name)
    dirs = ["--results-dir", str(tmp_path / "results"), "--figures-dir", str(tmp_path / "figures")]
    run = subprocess.Popen([sys.executable, "-m", "experiments", name, "--quick", *dirs],
                           cwd=ROOT, stderr=subprocess.PIPE, text=True)
    for line in run.stderr:              # its first progress line: computing (JAX's own log
        if line.startswith(f"[{name}"):  # lines, with JAX_LOG_COMPILES=1, may come before it)
            break
    else:
        pytest.fail(f"{name} ended without a progress line")
    run.kill()
    assert run.wait() == -signal.SIGKILL
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []
    assert main([name, "--quick", *dirs]) == 0
    for relative in (f"results/{name}.json", f"figures/{name}.json", f"figures/{name}.png"):
        assert (tmp_path / relative).read_bytes() == (reference / relative).read_bytes(), relative


def test_an_interrupted_plot_keeps_the_old_figure_whole(quick_run, tmp_path, monkeypatch):
    import matplotlib.figure

    name = "fig1_negative_penalty"
    shutil.copytree(quick_run(name), tmp_path, dirs_exist_ok=True)
    figure = tmp_path / "figures" / f"{name}.png"
    before = figure.read_bytes()

    def interrupted(self, fname, **kwargs):
        Path(fname).write_bytes(b"\x89PNG, the first bytes only")
        raise KeyboardInterrupt

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main([name, "--quick", "--stage", "plot", "--results-dir", str(tmp_path / "results"),
              "--figures-dir", str(tmp_path / "figures")])
    assert figure.read_bytes() == before
    assert not [path for path in tmp_path.rglob("*") if path.name.startswith(".")]


@pytest.mark.parametrize("damage, reason", [
    (lambda text: text[:len(text) // 2], "is not a result this runner wrote"),
    (lambda text: text.replace('"name": "fig1_negative_penalty"', '"name": "depth_penalty"'),
     "holds the results of experiment 'depth_penalty', not 'fig1_negative_penalty'"),
    (lambda text: text.replace('"quick": true', '"quick": false'), "holds a full run, not a quick"),
    (lambda text: re.sub(r'"code_version": "\w+"', '"code_version": "0123456789ab"', text),
     r"was computed by another version of the code \(code version 0123456789ab, now"),
])
def test_an_unusable_result_is_refused_with_the_command_and_cleaned_away(
        quick_run, tmp_path, capsys, damage, reason):
    name = "fig1_negative_penalty"
    shutil.copytree(quick_run(name), tmp_path, dirs_exist_ok=True)
    result = tmp_path / "results" / f"{name}.json"
    result.write_text(damage(result.read_text()))
    (tmp_path / "figures" / f".{name}.png.x1y2z3.partial").write_bytes(b"left by kill -9")
    dirs = ["--results-dir", str(tmp_path / "results"), "--figures-dir", str(tmp_path / "figures")]
    assert main([name, "--quick", "--stage", "plot", *dirs]) == 2
    error = capsys.readouterr().err
    assert re.search(reason, error) and f"`python -m experiments {name} --quick --stage compute`" \
        in error, error
    assert main(["--clean-invalid", "--quick", *dirs]) == 0
    assert not result.exists() and not list((tmp_path / "figures").glob(".*"))
    assert "removed" in capsys.readouterr().out


def test_cli_lists_experiments(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in EXPERIMENTS)


def test_dependencies_come_from_the_imports():
    """Each result's prerequisites (`python -m experiments --deps`, which the Makefile includes)
    are the project files its study imports, transitively, and the results it reads."""
    from experiments.__main__ import makefile_dependencies
    from experiments.dependencies import declared_inputs
    from experiments.registry import FAMILY, module_name

    rules = {}
    for line in makefile_dependencies().splitlines():
        target, _, prerequisites = line.partition(": ")
        rules[target] = set(prerequisites.split())
    for name in EXPERIMENTS:
        study = f"experiments/{FAMILY[name]}/{name}.py"
        runner = {"experiments/common.py", "experiments/__main__.py"}
        assert {study, *runner} <= rules[f"results/{name}.json"]
        assert {f"results/{s}.json" for s in declared_inputs(module_name(name))} <= \
            rules[f"results/{name}.json"]
        assert {f"results/{name}.json", study} <= rules[f"figures/{name}.png"]
    # reached only through other modules' imports
    assert {"experiments/shared/analysis.py", "theory/enumeration.py", "theory/exact.py"} <= \
        rules["results/variants_witnesses.json"]
    assert {"sgd/kernel.py", "theory/beliefs/variance_shift.py", "theory/paper/__init__.py"} <= \
        rules["results/practitioner_claims.json"]
    assert not any(path.startswith("sgd/") for path in rules["results/fig1_negative_penalty.json"])
    assert declared_inputs(module_name("variants_matrix")) == load("variants_matrix").INPUTS


def test_no_study_imports_another_study():
    """Studies share code through the shared rooms (theory, sgd, experiments/shared, the runner's
    common), never through another study."""
    from experiments.dependencies import module_file, project_files
    from experiments.registry import module_name

    studies = {name: module_file(module_name(name)) for name in EXPERIMENTS}
    for name in EXPERIMENTS:
        others = set(project_files(module_name(name))) & (set(studies.values()) - {studies[name]})
        assert not others, (name, sorted(str(path) for path in others))


def test_compilations_are_counted():
    """The runner's compile report: a new program counts once, a second call of it not at all."""
    import jax
    import jax.numpy as jnp

    from experiments.compilation import compilations, describe

    first, second = jnp.arange(7.0), jnp.arange(7.0) + 1
    before = compilations()
    fresh = jax.jit(lambda x: jnp.sin(x) * 3.25 + 0.125)   # a program no other test compiles
    fresh(first).block_until_ready()
    middle = compilations()
    fresh(second).block_until_ready()
    after = compilations()
    assert middle["programs"] - before["programs"] >= 1 and after == middle
    assert describe(before).startswith("compiled ")
