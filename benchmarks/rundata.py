"""What the analysis knows of a run, and the one function that reads stored runs.

Everything downstream (scores, statistics, figures, the report, COCO's files,
``index.html``) works on :class:`RunData` only: the losses of a run's finished
trials in order, the optimizer's time per trial, the run's wall time and f*.
:func:`load_runs` is the only code that knows how runs are stored (today one study per
run in the results folder's SQLite storage, see :mod:`benchmarks.execute`), so storing
runs differently changes this function and nothing else.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bbopt.backends import get_backend
from bbopt.trial import Trial
from benchmarks.entries import split_entry
from benchmarks.execute import reached_end, storage_of, stored_trials
from benchmarks.grid import RunSpec


@dataclass(frozen=True)
class RunData:
    """One complete run of a backend on an objective, cut to the budget."""

    backend: str
    objective: str
    run_index: int
    seed: int
    f_star: float | None  # the objective's known optimum, None when unknown
    losses: tuple[float, ...]  # one per finished trial, in order; NaN = the trial failed
    suggest_seconds: tuple[float, ...]  # the backend's suggest (ask) time per trial; NaN = unknown
    wall_seconds: float


def load_runs(specs: Sequence[RunSpec]) -> tuple[list[RunData], list[str]]:
    """The complete runs among ``specs`` and notes on the missing ones.

    A run counts once its study holds the spec's budget of finished trials; a longer
    run (an earlier, larger budget) is cut to the budget. A run that a cost budget
    ended before that is whole too (not missing), but has no data at every evaluation
    of the budget: the cost report reads it (:mod:`benchmarks.cost_report`).
    """
    runs, missing = [], 0
    inexact: Counter[str] = Counter()  # resumed runs of backends that do not resume exactly
    for spec in specs:
        trials = stored_trials(spec)
        if trials is None or not reached_end(spec, trials):
            missing += 1
            continue
        trials = trials[: spec.budget]
        if len(trials) == spec.budget:
            record = storage_of(spec).get_study(spec.study)
            runs.append(_run_data(spec, trials, record.f_star if record else None))
        if _resumed(trials) and not _resumes_exactly(spec.backend):
            inexact[spec.backend] += 1
    notes = [f"{missing} of {len(specs)} runs are missing or unfinished"] if missing else []
    notes += [
        f"{n} run(s) of {entry} were resumed (after an interruption, or extended to a "
        f"larger --budget); {entry} does not "
        "resume exactly (it goes on from the replayed trials, not from its own state), so "
        "they may differ from uninterrupted runs of the same seeds: run them again under "
        "another --name to reproduce them"
        for entry, n in sorted(inexact.items())
    ]
    return runs, notes


def _resumed(trials: Sequence[Trial]) -> bool:
    """Whether more than one process ran the trials (a cell runs in one process)."""
    return len({trial.owner for trial in trials if trial.owner}) > 1


def _resumes_exactly(entry: str) -> bool:
    backend, _ = split_entry(entry)
    return get_backend(backend).exact_resume


def _run_data(spec: RunSpec, trials: list[Trial], f_star: float | None) -> RunData:
    """A run's wall time is the sum over its trials of the suggest time plus the time from
    the trial's start to its end, so a resumed run counts the same as an uninterrupted one."""
    wall = 0.0
    for trial in trials:
        if trial.started_at is not None and trial.finished_at is not None:
            wall += (trial.finished_at - trial.started_at).total_seconds()
        wall += trial.suggest_duration or 0.0
    return RunData(
        backend=spec.backend,
        objective=spec.objective,
        run_index=spec.run_index,
        seed=spec.seed,
        f_star=f_star,
        losses=tuple(_loss(trial) for trial in trials),
        suggest_seconds=tuple(
            math.nan if t.suggest_duration is None else t.suggest_duration for t in trials
        ),
        wall_seconds=wall,
    )


def _loss(trial: Trial) -> float:
    return float(trial.loss) if trial.ok and trial.loss is not None else math.nan
