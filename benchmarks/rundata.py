"""What the analysis knows of a run, and the one function that reads stored runs.

Everything downstream (scores, statistics, figures, the report, COCO's files,
``index.html``) works on :class:`RunData` only: the losses of a run's finished
trials in order, the optimizer's time per trial, the run's wall time and f*.
:func:`load_runs` is the only code that knows how runs are stored (today the JSON
run files of :mod:`benchmarks.execute`), so storing runs differently changes this
function and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.execute import load_run
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
    suggest_seconds: tuple[float, ...]  # optimizer time (ask + tell) per trial; NaN = unknown
    wall_seconds: float


def load_runs(specs: Sequence[RunSpec]) -> tuple[list[RunData], list[str]]:
    """The complete runs among ``specs`` and notes on the missing ones.

    A run counts once it holds its spec's budget of finished trials; a longer run (an
    earlier, larger budget) is cut to the budget.
    """
    runs, missing = [], 0
    for spec in specs:
        data = load_run(spec.path)
        if data is None or len(data["trials"]) < spec.budget:
            missing += 1
            continue
        runs.append(_run_data(spec, data))
    notes = [f"{missing} of {len(specs)} runs are missing or unfinished"] if missing else []
    return runs, notes


def _run_data(spec: RunSpec, data: dict[str, Any]) -> RunData:
    trials = data["trials"][: spec.budget]
    seconds = list(data["suggest_seconds"][: spec.budget])
    seconds += [None] * (len(trials) - len(seconds))
    return RunData(
        backend=spec.backend,
        objective=spec.objective,
        run_index=spec.run_index,
        seed=spec.seed,
        f_star=data.get("f_star"),
        losses=tuple(_loss(trial) for trial in trials),
        suggest_seconds=tuple(math.nan if s is None else float(s) for s in seconds),
        wall_seconds=float(data["wall_seconds"]),
    )


def _loss(trial: dict[str, Any]) -> float:
    if trial["state"] == "done" and trial["loss"] is not None:
        return float(trial["loss"])
    return math.nan
