"""The "drive a backend yourself" example of docs/backends.md runs as written, on every
installed quick backend."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import bbopt
from bbopt.backends import get_backend

DOC = Path(__file__).resolve().parents[1] / "docs" / "backends.md"


def example() -> str:
    section = DOC.read_text().split("## Drive a backend yourself", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the section lost its example"
    return match.group(1)


def test_the_documented_example_runs_and_learns() -> None:
    namespace: dict[str, Any] = {}
    exec(example(), namespace)
    backend = namespace["backend"]
    assert len(backend.study.trials) == 21  # the told point and 20 suggestions
    assert all(t.value is not None for t in backend.study.trials)


@pytest.mark.parametrize(
    "name", [n for n in bbopt.list_backends() if get_backend(n).quick_benchmark]
)
def test_the_example_drives_every_quick_backend(name: str) -> None:
    code = example().replace('"optuna.tpe"', repr(name))
    code = code.replace('backend_options={"n_startup_trials": 5}', "backend_options=None")
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    space: bbopt.Space = namespace["space"]
    (suggestion,) = namespace["backend"].ask(1)
    assert space.validate_flat(suggestion.flat_params) == suggestion.flat_params
