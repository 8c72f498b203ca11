"""Pruning in the driver: each report of a running trial is kept in the study and decided on.

The pruner sees the study's trials with their reports, in the process that runs the
study (the driver), whether the trial runs here or in a worker (whose reports come
through :mod:`bbopt.execution.channel`). In a study shared with other processes
(SQLite), the study is brought up to date before each decision when another process
wrote to it, so their running trials' reports count too (as stored: at most a second
old). Reports of a running trial are written to
the storage with its first report and then at most every :data:`REPORT_WRITE_SECONDS`,
so that reporting stays cheap; the finished trial is written with all of them. A
crash loses at most the last second of a running trial's reports, and that trial is
run again anyway.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable

import numpy as np

from bbopt.errors import BBoptError, PrunerError
from bbopt.pruners import Pruner
from bbopt.reporting import Reporter
from bbopt.study import Study
from bbopt.trial import Trial, TrialState

#: A running trial's reports are stored at most this often (and with its first report).
REPORT_WRITE_SECONDS = 1.0


class Pruning:
    """The run's pruner (None: reports are only recorded) and the study it decides in."""

    def __init__(
        self, study: Study, pruner: Pruner | None, sync: Callable[[], None] = lambda: None
    ) -> None:
        self.study = study
        self.pruner = pruner
        self._sync = sync  # reads what other processes wrote to a shared study
        self._written: dict[int, float] = {}  # trial id -> when its reports were last stored

    @property
    def active(self) -> bool:
        return self.pruner is not None

    def reporter(self, trial: Trial) -> Reporter:
        """A Reporter for ``trial`` evaluated in this process."""
        if self.pruner is None:
            return Reporter(budget=trial.budget)
        return Reporter(functools.partial(self.decide, trial), trial.budget)

    def decide(self, trial: Trial, step: int, value: float) -> bool:
        """Keep the report of the running ``trial`` (the study's own record) and say whether
        it should stop: the pruner says so, or the trial is no longer running here."""
        trial.intermediate[step] = value
        if not self._store(trial):
            return True
        if self.pruner is None or _at_end(trial, step, self.pruner):
            return False
        self._sync()
        return _answer(self.pruner, self.study.trials, trial)

    def _store(self, trial: Trial) -> bool:
        """Store the trial's reports when due; False if it is not running any more."""
        now = time.monotonic()
        if now - self._written.get(trial.tid, -math.inf) < REPORT_WRITE_SECONDS:
            return True
        self._written[trial.tid] = now
        return self.study.update_trial(trial, expected_state=TrialState.RUNNING)

    def forget(self, trial: Trial) -> None:
        """The trial finished: drop its bookkeeping."""
        self._written.pop(trial.tid, None)


def _answer(pruner: Pruner, trials: list[Trial], trial: Trial) -> bool:
    """The pruner's answer for ``trial``; PrunerError if it fails or answers another thing
    than a bool (numpy's included): a string "no" would prune every trial, None none."""
    name = f"pruner {pruner.name or type(pruner).__name__!r}"
    try:
        answer = pruner.prune(trials, trial)
    except BBoptError:
        raise
    except Exception as exc:
        raise PrunerError(f"{name} failed: {exc!r}") from exc
    if not isinstance(answer, (bool, np.bool_)):
        raise PrunerError(f"{name} answered {answer!r:.100}, not True or False")
    return bool(answer)


def _at_end(trial: Trial, step: int, pruner: Pruner) -> bool:
    """Whether ``step`` is as far as the trial goes (its budget, else the objective's
    fidelity maximum): stopping it there saves nothing and loses a finished result."""
    end = trial.budget if trial.budget is not None else getattr(pruner.fidelity, "max", None)
    return end is not None and step >= end * (1 - 1e-9)
