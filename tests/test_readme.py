"""The README's example runs as written, so it cannot rot."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "J_D =" in out and "standard errors off" in out
    assert "keep probability per dropout layer: (1.0, 0.5, 0.5)" in out
    for noise in ("dropout", "dropconnect", "gaussian"):
        assert f"{noise:12s} exact penalty" in out
    assert "cross-entropy, keep (1.0, 0.5): exact penalty" in out
    assert "CNN: 4 layers, keep (1.0, 0.75, 1.0, 0.5), exact penalty" in out
    assert "route                " in out and "exact (8 patterns per example)" in out
    assert "variance shift at BatchNorm2d (module 5) (layer 1)" in out
