"""What to run: backend and objective selection, seed derivation, one RunSpec per run.

Seeds: run ``k`` (0-based) of every backend on objective ``o`` uses
``derive_seed(master_seed, k, o)``, the first word of numpy's
``SeedSequence(master_seed, spawn_key=(k, zlib.crc32(o.encode()))).generate_state(1)``.
The backend does not enter: all backends share the seed of run ``k`` on an objective
(common random numbers), so e.g. hyperopt.tpe's random start-up trials equal
hyperopt.rand's first trials and differences come from the algorithms alone. The
objective does: with one seed for all objectives, a random search evaluates the same
points everywhere, a lucky seed wins on every objective, and the tests across
objectives (which take objectives as independent) see a difference that is not there.
A single run is re-done alone with
``bbopt.minimize(o, backend=b, max_evals=budget, seed=derive_seed(master, k, o))``.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import bbopt
from bbopt.backends import Backend, create_backend, get_backend
from bbopt.errors import BBoptError, MissingDependencyError
from bbopt.objectives import coco
from bbopt.space import Space, Uniform
from benchmarks.entries import check_entry, split_entry

QUICK_OBJECTIVES = ("synthetic", "toy.sin")
"""The quick default's objectives: the ``synthetic`` group plus the tutorial's toy."""


class SelectionError(BBoptError, LookupError):
    """An ``--objectives`` entry that selects nothing (a usage error)."""


def derive_seed(master_seed: int, run_index: int, objective: str) -> int:
    """The seed of run ``run_index`` of any backend on ``objective`` under ``master_seed``."""
    if master_seed < 0 or run_index < 0:
        raise ValueError("master seed and run index must be >= 0")
    key = (run_index, zlib.crc32(objective.encode()))
    return int(np.random.SeedSequence(master_seed, spawn_key=key).generate_state(1)[0])


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
    max_cost: float | None = None  # stop once the trials spent this (benchmarks/cost.py)

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
    max_cost: float | None = None,
) -> list[RunSpec]:
    """Every (objective, backend, run index) with its derived seed, objectives outermost."""
    if seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    if budget < 1:
        raise ValueError(f"--budget must be >= 1, got {budget}")
    return [
        RunSpec(b, o, k, derive_seed(master_seed, k, o), budget, storage_path(folder), max_cost)
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
            raise _no_match(token, names)
        chosen.extend(n for n in found if n not in chosen)
    if not chosen:
        raise SelectionError(f"--objectives {spec!r} names no objective")
    return chosen


def _no_match(token: str, names: list[str]) -> SelectionError:
    groups = sorted({g for n in names for g in bbopt.get_objective(n).groups})
    close = difflib.get_close_matches(token, [*groups, *names], n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return SelectionError(
        f"no objective, group or pattern matches {token!r}.{hint} Groups: {', '.join(groups)}; "
        "`bbopt objectives` lists the names"
    )


def backend_unavailable(name: str) -> str | None:
    """Why backend ``name`` cannot run here (e.g. a missing optional package), or None.

    Builds it once on a one-parameter space: the cheapest way to learn whether its
    optional packages import.
    """
    try:
        create_backend(split_entry(name)[0], Space(Uniform("x", 0.0, 1.0)), seed=0)
    except ImportError as exc:
        return str(exc)
    return None


def joins_quick_default(cls: type[Backend]) -> bool:
    """Whether a backend class is in the quick default.

    bbopt's own backends say so through their base classes; any other backend
    must set ``quick_benchmark = True`` in its own class body (a plugin that merely
    subclasses a quick built-in is not benchmarked unless named).
    """
    if cls.__module__.startswith("bbopt."):
        return cls.quick_benchmark
    return bool(vars(cls).get("quick_benchmark", False))


def select_backends(spec: str | None) -> tuple[list[str], list[str]]:
    """Backend names to run and notes on those skipped.

    ``None`` or ``quick`` means every registered backend that
    :func:`joins_quick_default`; ``all`` means every registered backend; a name may be
    ``backend+pruner`` (:mod:`benchmarks.entries`). Backends
    whose optional packages are missing are skipped with a note.
    """
    registered = bbopt.list_backends()
    if spec in (None, "quick"):
        wanted = [n for n in registered if joins_quick_default(get_backend(n))]
    elif spec == "all":
        wanted = registered
    else:
        wanted = []
        for name in _split(spec):
            check_entry(name)  # unknown names fail here, with close matches
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
