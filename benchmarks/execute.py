"""Run one (backend, objective, seed) cell of the grid as a study in the results storage.

A cell is ``bbopt.minimize(objective, backend=..., max_evals=budget, seed=...,
storage=<results>/studies.db, study=f"<objective>/<backend>/run-{k:03d}")`` (a
``backend+pruner`` entry runs under that pruner; with a cost budget the run stops once
its trials spent it, :class:`benchmarks.cost.CostCap`): every trial
is committed as it ends, with the backend's suggest time (``Trial.suggest_duration``),
so a benchmark resumes the way any stored study does. Executing a cell whose study
already holds ``budget`` finished trials does nothing; a shorter one (an
interrupted run, or a smaller budget before) is resumed to the budget. Backends with
``exact_resume`` (hyperopt) then end with the trials of an uninterrupted run.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

import bbopt
from bbopt.storage import SQLiteStorage, Storage
from bbopt.study import Study
from bbopt.trial import Trial
from benchmarks.cost import CostCap
from benchmarks.entries import split_entry
from benchmarks.grid import RunSpec


class RunMismatchError(ValueError):
    """A cell's study exists but was made with another seed."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one spec: ``done``, ``skipped`` (already complete) or ``failed``."""

    spec: RunSpec
    status: str
    message: str = ""


_STORAGES: dict[Path, SQLiteStorage] = {}


def storage_of(spec: RunSpec) -> SQLiteStorage:
    """This process's storage for the spec's file, opened once: closing an SQLite file
    checkpoints its WAL, which costs more than a whole quick run."""
    storage = _STORAGES.get(spec.path)
    if storage is None:
        spec.path.parent.mkdir(parents=True, exist_ok=True)
        storage = _STORAGES[spec.path] = SQLiteStorage(spec.path)
    return storage


def stored_trials(spec: RunSpec) -> list[Trial] | None:
    """The finished trials of the cell's study in id order, or None when it has none yet.

    Raises RunMismatchError when the study was made with another seed.
    """
    if not spec.path.exists():
        return None
    storage = storage_of(spec)
    record = storage.get_study(spec.study)
    if record is None:
        return None
    if record.seed != spec.seed:
        raise RunMismatchError(
            f"study {spec.study!r} in {spec.path} was made with seed {record.seed}, this "
            f"run has {spec.seed}; use another --name (or the same --master-seed)"
        )
    return [t for t in storage.get_trials(spec.study) if t.finished]


def is_complete(spec: RunSpec) -> bool:
    """Whether the cell's study already holds its budget of finished trials (or, with a
    cost budget, spent it)."""
    trials = stored_trials(spec)
    return trials is not None and reached_end(spec, trials)


def reached_end(spec: RunSpec, trials: list[Trial]) -> bool:
    """Whether the cell's finished ``trials`` make a whole run: its budget of them or,
    with a cost budget, that cost spent (a failed or interrupted run is neither)."""
    if spec.max_cost is not None and _cost_cap(spec).spent(trials) >= spec.max_cost:
        return True
    return len(trials) >= spec.budget


def _cost_cap(spec: RunSpec) -> CostCap:
    assert spec.max_cost is not None
    return CostCap(bbopt.get_objective(spec.objective), spec.max_cost)


def execute(spec: RunSpec) -> Outcome:
    """Run ``spec`` to its budget (resuming its study); raise on errors. Ctrl-C is raised
    again once the trials finished so far are stored."""
    if is_complete(spec):
        return Outcome(spec, "skipped")
    if run_study(spec, storage_of(spec)).stop_reason == "interrupted":
        raise KeyboardInterrupt
    return Outcome(spec, "done")


def run_study(spec: RunSpec, storage: Storage) -> Study:
    """The cell's run, resuming its study in ``storage`` (the results file here, or a copy
    in memory on a Dask worker: the one call both make, so both give the same trials)."""
    backend, pruner = split_entry(spec.backend)
    return bbopt.minimize(
        spec.objective,
        backend=backend,
        pruner=pruner,
        early_stop=None if spec.max_cost is None else _cost_cap(spec),
        max_evals=spec.budget,
        seed=spec.seed,
        storage=storage,
        study=spec.study,
        progress=False,
    )


def execute_safely(spec: RunSpec) -> Outcome:
    """:func:`execute` for a process pool: errors become a ``failed`` outcome."""
    try:
        return execute(spec)
    except Exception as exc:
        return Outcome(spec, "failed", last_line(exc))


def last_line(exc: BaseException) -> str:
    """An error as one line: its type and message, as a failed outcome shows it."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()
