"""Run one (backend, objective, seed) cell and keep every trial in a JSON run file.

A run file (``results/<name>/runs/<objective>/<backend>/run-<k>.json``) holds the
run's identity (backend, objective, run index, seed), every finished trial
(:meth:`bbopt.trial.Trial.to_dict`), the optimizer's own time per trial and the
wall time. It is written atomically (temporary file + rename) at the end of the
run, and every ``checkpoint_seconds`` while a slow run goes on. Executing a spec
whose file already holds ``budget`` trials does nothing; a file with fewer trials
(an interrupted run, or a smaller budget before) is resumed: its trials are replayed
into a fresh backend and the run goes on to the budget. Backends with
``exact_resume`` (hyperopt) then end with the trials of an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bbopt
from bbopt.backends import create_backend
from bbopt.objective import get_objective
from bbopt.optimize import TrialRunner, worker_name
from bbopt.space import Space, as_space
from bbopt.study import Study
from bbopt.trial import Trial
from benchmarks.grid import RunSpec

FORMAT = 1
# Per-run constants stored once at the top of the file instead of in every trial.
_RUN_CONSTANT_FIELDS = ("backend", "seed")


class RunMismatchError(ValueError):
    """A run file exists at the spec's path but was made by a different run."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one spec: ``done``, ``skipped`` (already complete) or ``failed``."""

    spec: RunSpec
    status: str
    message: str = ""


def load_run(path: Path) -> dict[str, Any] | None:
    """The run file's content, or None when there is none yet."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _check_identity(spec: RunSpec, data: dict[str, Any], space: Space) -> None:
    expected = {"backend": spec.backend, "objective": spec.objective, "seed": spec.seed}
    for key, value in expected.items():
        if data.get(key) != value:
            raise RunMismatchError(
                f"{spec.path} was made with {key}={data.get(key)!r}, this run has {value!r}; "
                "use another --name (or the same --master-seed) to keep results apart"
            )
    if data.get("space") != space.fingerprint():
        raise RunMismatchError(
            f"{spec.path} was made with a different search space for {spec.objective!r}; "
            "delete it or use another --name"
        )


def _trial_record(trial: Trial) -> dict[str, Any]:
    record = trial.to_dict()
    for key in _RUN_CONSTANT_FIELDS:
        record.pop(key, None)
    return record


def _one_per_trial(values: list[float], count: int) -> list[float | None]:
    """``values`` cut or padded (None: not measured) to one entry per saved trial."""
    kept: list[float | None] = [None if math.isnan(v) else v for v in values[:count]]
    return kept + [None] * (count - len(kept))


class _RunState:
    """The growing run: trials, optimizer times, and the file they are saved to."""

    def __init__(self, spec: RunSpec, space: Space, f_star: float | None) -> None:
        self.spec = spec
        self.space = space
        self.f_star = f_star
        self.suggest_seconds: list[float] = []
        self.previous_wall = 0.0
        self.started = time.perf_counter()
        self.last_save = time.monotonic()

    def save(self, trials: list[Trial], complete: bool) -> None:
        spec = self.spec
        data = {
            "format": FORMAT,
            "backend": spec.backend,
            "objective": spec.objective,
            "run_index": spec.run_index,
            "seed": spec.seed,
            "budget": spec.budget,
            "complete": complete,
            "f_star": self.f_star,
            "space": self.space.fingerprint(),
            "worker": worker_name(),
            "versions": {"bbopt": bbopt.__version__, "python": platform.python_version()},
            "wall_seconds": self.previous_wall + time.perf_counter() - self.started,
            "suggest_seconds": _one_per_trial(self.suggest_seconds, len(trials)),
            "trials": [_trial_record(t) for t in trials],
        }
        write_atomically(self.spec.path, json.dumps(data, default=repr))
        self.last_save = time.monotonic()


def stored_run(spec: RunSpec, space: Space | None = None) -> dict[str, Any] | None:
    """The run file of ``spec`` if there is one, after checking it belongs to this run."""
    data = load_run(spec.path)
    if data is not None:
        space = as_space(get_objective(spec.objective).space) if space is None else space
        _check_identity(spec, data, space)
    return data


def is_complete(spec: RunSpec) -> bool:
    """Whether the run file of ``spec`` already holds its budget of trials."""
    data = stored_run(spec)
    return data is not None and len(data["trials"]) >= spec.budget


def execute(spec: RunSpec, checkpoint_seconds: float = 5.0) -> Outcome:
    """Run ``spec`` to its budget (resuming a partial run file); raise on errors."""
    objective = get_objective(spec.objective)
    space = as_space(objective.space)
    previous = stored_run(spec, space)
    if previous is not None and len(previous["trials"]) >= spec.budget:
        return Outcome(spec, "skipped")
    backend = create_backend(spec.backend, space, spec.seed)
    study = Study(
        spec.objective,
        space,
        objective=spec.objective,
        backend=spec.backend,
        seed=spec.seed,
        f_star=objective.f_star,
    )
    runner = TrialRunner(objective, space, backend, study)
    state = _RunState(spec, space, objective.f_star)
    if previous is not None:
        state.previous_wall = float(previous["wall_seconds"])
        state.suggest_seconds = [
            float("nan") if s is None else float(s) for s in previous["suggest_seconds"]
        ]
        for record in previous["trials"]:
            trial = Trial.from_dict({**record, "backend": spec.backend, "seed": spec.seed})
            study.trials.append(trial)
            runner.replay(trial)
    here = worker_name()
    try:
        while len(study.trials) < spec.budget:
            begin = time.perf_counter()
            (suggestion,) = backend.ask(1)
            trial = runner.start(suggestion.flat_params, suggestion.tid, "backend")
            runner.evaluate_here(trial, here)
            state.suggest_seconds.append(time.perf_counter() - begin - (trial.duration or 0.0))
            if time.monotonic() - state.last_save >= checkpoint_seconds:
                state.save(study.finished_trials, complete=False)
    except BaseException:
        state.save(study.finished_trials, complete=False)  # keep what finished; resume later
        raise
    state.save(study.trials, complete=True)
    return Outcome(spec, "done")


def execute_safely(spec: RunSpec, checkpoint_seconds: float = 5.0) -> Outcome:
    """:func:`execute` for a process pool: errors become a ``failed`` outcome."""
    try:
        return execute(spec, checkpoint_seconds)
    except Exception as exc:
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Outcome(spec, "failed", last)
