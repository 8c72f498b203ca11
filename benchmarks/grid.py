"""What to run: backend and objective selection, seed derivation, one RunSpec per run.

Seeds: run ``k`` (0-based) of every backend on every objective uses
``derive_seed(master_seed, k)``, i.e.
``numpy.random.SeedSequence(master_seed, spawn_key=(k,)).generate_state(1)[0]``.
Backend and objective do not enter: all backends share the seed of run ``k``
(common random numbers), so e.g. hyperopt.tpe's random start-up trials equal
hyperopt.rand's first trials and differences come from the algorithms alone.
A single run is re-done alone with
``bbopt.minimize(objective, backend=b, max_evals=budget, seed=derive_seed(master, k))``.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import bbopt
from bbopt.backends import create_backend, get_backend
from bbopt.errors import MissingDependencyError, UnknownNameError
from bbopt.objectives import coco
from bbopt.space import Space, Uniform

QUICK_OBJECTIVES = ("synthetic", "toy.sin")
"""The quick default's objectives: the ``synthetic`` group plus the tutorial's toy."""


def derive_seed(master_seed: int, run_index: int) -> int:
    """The seed of run ``run_index`` (any backend, any objective) under ``master_seed``."""
    if master_seed < 0 or run_index < 0:
        raise ValueError("master seed and run index must be >= 0")
    state = np.random.SeedSequence(master_seed, spawn_key=(run_index,)).generate_state(1)
    return int(state[0])


@dataclass(frozen=True)
class RunSpec:
    """One (backend, objective, run index) cell of the grid: a study in the SQLite
    storage ``path``."""

    backend: str
    objective: str
    run_index: int
    seed: int
    budget: int
    path: Path

    @property
    def study(self) -> str:
        """The cell's study name in the storage."""
        return f"{self.objective}/{self.backend}/run-{self.run_index:03d}"


def safe_name(name: str) -> str:
    """A file-system-safe version of a registered name (dots and dashes are kept)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def storage_path(folder: Path) -> Path:
    """The SQLite file that holds every run of a results folder."""
    return folder / "studies.db"


def build_grid(
    folder: Path,
    backends: list[str],
    objectives: list[str],
    seeds: int,
    master_seed: int,
    budget: int,
) -> list[RunSpec]:
    """Every (objective, backend, run index) with its derived seed, objectives outermost."""
    if seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    if budget < 1:
        raise ValueError(f"--budget must be >= 1, got {budget}")
    run_seeds = [derive_seed(master_seed, k) for k in range(seeds)]
    return [
        RunSpec(b, o, k, run_seeds[k], budget, storage_path(folder))
        for o in objectives
        for b in backends
        for k in range(seeds)
    ]


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def select_objectives(spec: str) -> list[str]:
    """Objective names from a comma-separated list of names, groups and glob patterns.

    ``synthetic`` (a group), ``toy.sin`` (a name) and ``bbob.f0*.d05.i01`` (a pattern)
    may be mixed; the order of first appearance is kept and duplicates are dropped.
    """
    names = bbopt.list_objectives()
    chosen: list[str] = []
    for token in _split(spec):
        if token in names:
            found = [token]
        elif any(c in token for c in "*?["):
            found = fnmatch.filter(names, token)
        else:
            found = [n for n in names if token in bbopt.get_objective(n).groups]
        if not found:
            if token.startswith("bbob") and not coco.available():
                raise MissingDependencyError("coco-experiment", "coco", f"objective {token!r}")
            groups = {g for n in names for g in bbopt.get_objective(n).groups}
            shown = [n for n in names if not n.startswith("bbob.")]  # 720 names: too many
            raise UnknownNameError("objective, group or pattern", token, [*groups, *shown])
        chosen.extend(n for n in found if n not in chosen)
    if not chosen:
        raise ValueError("no objective selected")
    return chosen


def backend_unavailable(name: str) -> str | None:
    """Why backend ``name`` cannot run here (e.g. a missing optional package), or None.

    Builds it once on a one-parameter space: the cheapest way to learn whether its
    optional packages import.
    """
    try:
        create_backend(name, Space(Uniform("x", 0.0, 1.0)), seed=0)
    except ImportError as exc:
        return str(exc)
    return None


def select_backends(spec: str | None) -> tuple[list[str], list[str]]:
    """Backend names to run and notes on those skipped.

    ``None`` or ``quick`` means every registered backend whose class sets
    ``quick_benchmark = True``; ``all`` means every registered backend. Backends
    whose optional packages are missing are skipped with a note.
    """
    registered = bbopt.list_backends()
    if spec in (None, "quick"):
        wanted = [n for n in registered if get_backend(n).quick_benchmark]
    elif spec == "all":
        wanted = registered
    else:
        wanted = []
        for name in _split(spec):
            get_backend(name)  # unknown names fail here, with close matches
            if name not in wanted:
                wanted.append(name)
    chosen, notes = [], []
    for name in wanted:
        reason = backend_unavailable(name)
        if reason is None:
            chosen.append(name)
        else:
            notes.append(f"skipped backend {name}: {reason}")
    return chosen, notes
