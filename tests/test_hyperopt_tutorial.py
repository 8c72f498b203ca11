"""The tutorial's script in docs/hyperopt.md: ported by changing imports only, and it runs.

The hyperopt original is the documented script with its bbopt.hyperopt imports put back
to hyperopt's; both run here, with few evaluations and epochs.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "hyperopt.md"
TUTORIAL_IMPORTS = [  # (module, names) of the tutorial's hyperopt imports, in order
    ("hyperopt", "fmin, tpe, hp, Trials"),
    ("hyperopt", "STATUS_OK"),
    ("hyperopt", "space_eval"),
    ("hyperopt.pyll.stochastic", "sample"),
    ("hyperopt.pyll", "scope"),
]
PORTED_IMPORTS = {  # the ported line -> the tutorial's line
    f"from bbopt.hyperopt import {names}": f"from {module} import {names}"
    for module, names in TUTORIAL_IMPORTS
}


def ported_script() -> str:
    text = DOC.read_text()
    block = text.split("<!-- tutorial-port -->", 1)[1]
    match = re.search(r"```python\n(.*?)```", block, re.DOTALL)
    assert match is not None, "docs/hyperopt.md lost its ported tutorial script"
    return match.group(1)


def original_script() -> str:
    return "".join(
        PORTED_IMPORTS.get(line.rstrip("\n"), line.rstrip("\n")) + "\n"
        for line in ported_script().splitlines()
    )


def test_the_port_changes_only_the_import_lines() -> None:
    ported, original = ported_script().splitlines(), original_script().splitlines()
    changes = [d for d in difflib.ndiff(original, ported) if d[:2] in ("+ ", "- ")]
    assert [d[2:] for d in changes if d.startswith("+ ")] == list(PORTED_IMPORTS)
    assert [d[2:] for d in changes if d.startswith("- ")] == list(PORTED_IMPORTS.values())
    claim = re.search(r"(\d+) of its (\d+) lines change", DOC.read_text())
    assert claim is not None and claim.groups() == (str(len(PORTED_IMPORTS)), str(len(ported)))


def shrunk(script: str) -> str:
    """The script with few Keras trainings of few epochs."""
    script, n = re.subn(r"^MAX_EVALS = 50", "MAX_EVALS = 3", script, flags=re.MULTILINE)
    script, m = re.subn(r"^EPOCHS = 50", "EPOCHS = 2", script, flags=re.MULTILINE)
    assert n == m == 1
    return script


def run(script: str, path: Path) -> list[str]:
    path.write_text(shrunk(script))
    env = {**os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def first_best(output: list[str]) -> float:
    """The toy search's printed minimum (hyperopt prints numpy scalars, bbopt floats)."""
    line = next(line for line in output if line.startswith("{'x': "))
    return float(re.findall(r"-?\d+\.\d+(?:e-?\d+)?", line)[-1])


@pytest.mark.slow
def test_the_ported_tutorial_runs_and_finds_hyperopt_s_toy_minimum(tmp_path: Path) -> None:
    ours = run(ported_script(), tmp_path / "ported.py")
    theirs = run(original_script(), tmp_path / "original.py")
    # the toy search is seeded: the same minimum (hyperopt also draws its bar on stdout)
    assert first_best(ours) == first_best(theirs)
    assert any(line.startswith("Accuracy is: ") for line in ours)
    assert sum("'optimizer'" in line for line in ours) == 3 + 1  # 3 samples, best config
    assert ours[-1] == "3 of 3 trials ok"
