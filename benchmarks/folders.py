"""Where a benchmark's results go: one folder per selection, so none overwrites another.

The quick default writes ``results/quick/``. Any other selection without ``--name``
gets a readable name from its arguments plus a short hash of what it resolved to
(backends, objectives, seeds, budget, master seed, baseline), e.g.
``hyperopt.tpe+1_bbob-d2_s3_b100-1f0c9a2e`` for ``--backends hyperopt.tpe,optuna.tpe
--objectives bbob-d2 --seeds 3``: the same command finds its folder again,
and a different selection (even one where ``quick`` now means other backends) gets
a different one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from benchmarks.grid import safe_name

QUICK_NAME = "quick"
_PART = 32  # characters kept of an entry


@dataclass(frozen=True)
class Selection:
    """Everything that decides a benchmark's tables."""

    backends: tuple[str, ...]
    objectives: tuple[str, ...]
    seeds: int
    budget: int
    master_seed: int
    baseline: str

    def digest(self) -> str:
        """8 hex digits of a hash of the selection."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]


def _part(text: str) -> str:
    """The first comma-separated entry and how many follow: ``hyperopt.tpe+3``."""
    entries = [e.strip() for e in text.split(",") if e.strip()] or ["none"]
    first = safe_name(entries[0].replace("*", "x"))[:_PART]
    return first + (f"+{len(entries) - 1}" if len(entries) > 1 else "")


def folder_name(backends_arg: str, objectives_arg: str, selection: Selection) -> str:
    """A readable, selection-specific folder name (see the module doc)."""
    return (
        f"{_part(backends_arg)}_{_part(objectives_arg)}_s{selection.seeds}_b{selection.budget}"
        f"-{selection.digest()}"
    )


def results_name(
    name: str | None, backends_arg: str, objectives_arg: str, selection: Selection, quick: bool
) -> str:
    """``name`` when given, ``quick`` for the quick default, else :func:`folder_name`."""
    if name:
        return name
    return QUICK_NAME if quick else folder_name(backends_arg, objectives_arg, selection)
