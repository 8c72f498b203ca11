"""The plugin examples in the docs pass the conformance suites the docs point to."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def code_block(page: str, holding: str) -> str:
    """The ```python block of ``docs/<page>`` that holds ``holding``."""
    text = (DOCS / page).read_text()
    at = text.index(holding)
    start = text.rindex("```python\n", 0, at) + len("```python\n")
    return text[start : text.index("```", at)]


@pytest.mark.parametrize(
    ("page", "holding", "check"),
    [
        ("core.md", "class LocalSearch(Backend):", "bbopt.testing.check_backend(LocalSearch)"),
        ("pruning.md", "class AboveOne(Pruner):", "bbopt.testing.check_pruner(AboveOne)"),
    ],
)
def test_a_documented_plugin_passes_its_conformance_suite(
    page: str, holding: str, check: str, tmp_path: Path
) -> None:
    script = tmp_path / "example.py"
    script.write_text(f"{code_block(page, holding)}\nimport bbopt.testing\n{check}\n")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
