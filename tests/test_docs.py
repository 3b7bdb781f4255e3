"""paper_notes.md and README.md: every claim and figure appears, every code reference and link
resolves."""

import re
from pathlib import Path

import pytest

from experiments.registry import EXPERIMENTS

ROOT = Path(__file__).resolve().parent.parent
NOTES = (ROOT / "paper_notes.md").read_text()
README = (ROOT / "README.md").read_text()


def _slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("claim", [f"C{i}" for i in range(1, 18)])
def test_every_claim_has_a_section(claim):
    assert re.search(rf"^### (.*\b{claim}\b.*)$", NOTES, flags=re.M), claim


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_figure_is_shown_in_the_notes_and_the_readme(name):
    assert f"](figures/{name}.png)" in NOTES
    assert f"(figures/{name}.png)" in README


def test_every_code_reference_resolves():
    references = set(re.findall(r"\b((?:theory|sgd|experiments)(?:/\w+)+\.py):(\w+)", NOTES + README))
    assert len(references) > 30
    missing = [f"{path}:{name}" for path, name in sorted(references)
               if not re.search(rf"^\s*(def|class) {name}\b|^{name} =",
                                (ROOT / path).read_text(), flags=re.M)]
    assert not missing, missing


def test_every_readme_link_into_the_notes_resolves():
    anchors = {_slug(h) for h in re.findall(r"^#+ (.*)$", NOTES, flags=re.M)}
    links = re.findall(r"paper_notes\.md#([\w\-]+)", README)
    assert links and not [link for link in links if link not in anchors]


def test_linked_files_exist():
    for text in (NOTES, README):
        for target in re.findall(r"\]\(([\w/\.\-]+\.(?:md|png))\)", text):
            assert (ROOT / target).exists(), target
