"""The life of a trial, written in one place: started, finished (or abandoned), told.

:class:`TrialRunner` is shared by the serial loop, the parallel loop and anything else
that runs trials, so storage and the backend see a trial the same way whichever
loop ran it. The study's storage gives trial ids; the backend sees only
suggestions and observations.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from bbopt.backends import Backend, Observation, Suggestion
from bbopt.execution.pruning import Pruning
from bbopt.objective import Objective, evaluate_point
from bbopt.pruners import Pruner
from bbopt.space import Space
from bbopt.study import Study
from bbopt.trial import Result, Trial, TrialOrigin, TrialState

Callback = Callable[[Study, Trial], Any]
"""Called as ``callback(study, trial)`` after each finished trial (Optuna's shape)."""


def worker_name() -> str:
    """``host:pid`` of this process, recorded with each trial it evaluates."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def observation_of(
    trial: Trial, suggestion: Suggestion | None = None, replayed: bool = False
) -> Observation:
    """What a backend is told of a finished trial, with the budget its loss was reached at:
    the step of a pruned trial's last report, else the budget it was given."""
    budget = trial.budget
    if trial.state is TrialState.PRUNED and trial.intermediate:
        budget = float(next(reversed(trial.intermediate)))
    return Observation(
        trial.flat_params,
        trial.loss,
        state=trial.state,
        suggestion=suggestion,
        replayed=replayed,
        budget=budget,
    )


class TrialRunner:
    """Starts trials (re-runs first, then warm-start points, then the backend's picks),
    records their results in the study and tells the backend; the run's ``pruner``
    decides on the reports of running trials (:class:`~bbopt.execution.pruning.Pruning`)."""

    def __init__(
        self,
        objective: Objective,
        space: Space,
        backend: Backend,
        study: Study,
        callbacks: Iterable[Callback] = (),
        pruner: Pruner | None = None,
    ) -> None:
        self.objective = objective
        self.space = space
        self.backend = backend
        self.study = study
        self.callbacks = list(callbacks)
        self.pruning = Pruning(study, pruner, self.sync)
        self.best_loss = math.inf
        self._suggestions: dict[int, Suggestion] = {}  # trial id -> the backend's suggestion
        self._told: set[int] = set()  # trials the backend knows

    # -- what the backend knows --------------------------------------------------------

    def resume(self, warm_start: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Tell the backend every finished trial of the study (a reopened study) and return
        the warm-start points not evaluated yet."""
        for trial in self.study.finished_trials:
            self._tell_known(trial, replayed=trial.origin is not TrialOrigin.WARM_START)
        seen = [
            t.flat_params
            for t in self.study.trials
            if t.origin is TrialOrigin.WARM_START and t.state is not TrialState.ABANDONED
        ]
        return [point for point in warm_start if point not in seen]

    def sync(self) -> None:
        """Bring in trials other processes finished in a shared study, for the backend."""
        storage = self.study.storage
        if not (storage.shared and storage.changed_elsewhere(self.study.name)):
            return
        for trial in self.study.refresh():
            if trial.finished and trial.tid not in self._suggestions:
                self._tell_known(trial, replayed=False)

    def _tell_known(self, trial: Trial, replayed: bool) -> None:
        """Tell the backend a finished trial it did not suggest in this run."""
        if trial.tid in self._told:
            return
        self._told.add(trial.tid)
        self.backend.tell(observation_of(trial, replayed=replayed))
        self._note_best(trial)

    def _note_best(self, trial: Trial) -> None:
        if trial.ok and trial.loss is not None:
            self.best_loss = min(self.best_loss, trial.loss)

    # -- a trial's life ------------------------------------------------------------------

    def start_next(self, pending: list[dict[str, Any]]) -> Trial:
        """Start the next trial: a queued re-run of an abandoned trial, else the first
        pending warm-start point, else the backend's pick."""
        self.sync()
        for queued in self.study.queued_trials:
            claimed = self._claim(queued)
            if claimed is not None:
                return claimed
        if pending:
            return self._start(pending.pop(0), TrialOrigin.WARM_START)
        began = time.perf_counter()
        (suggestion,) = self.backend.ask(1)
        seconds = time.perf_counter() - began
        trial = self._start(suggestion.flat_params, TrialOrigin.BACKEND, seconds, suggestion.budget)
        self._suggestions[trial.tid] = suggestion
        return trial

    def _start(
        self,
        flat: Mapping[str, Any],
        origin: TrialOrigin,
        suggest_seconds: float | None = None,
        budget: float | None = None,
    ) -> Trial:
        trial = Trial(
            tid=-1,
            flat_params=dict(flat),
            state=TrialState.RUNNING,
            started_at=_now(),
            suggest_duration=suggest_seconds,
            backend=self.study.backend_name,
            seed=self.study.seed,
            origin=origin,
            owner=self.study.owner,
            budget=budget,
        )
        return self.study.add_trial(trial)

    def _claim(self, queued: Trial) -> Trial | None:
        """Start ``queued`` here, unless another process claimed it first."""
        trial = dataclasses.replace(
            queued,
            state=TrialState.RUNNING,
            started_at=_now(),
            backend=self.study.backend_name,
            seed=self.study.seed,
            owner=self.study.owner,
        )
        if self.study.update_trial(trial, expected_state=TrialState.QUEUED):
            return trial
        self.study.refresh()
        return None

    def evaluate_here(self, trial: Trial, worker: str) -> None:
        """Evaluate ``trial`` in this process and record the result."""
        started = time.perf_counter()
        reporter = self.pruning.reporter(trial)
        params, result = evaluate_point(self.objective, self.space, trial.flat_params, reporter)
        self.finish(trial, params, result, time.perf_counter() - started, worker)

    def finish(
        self,
        trial: Trial,
        params: Any,
        result: Result,
        duration: float,
        worker: str | None,
    ) -> Trial | None:
        """Record ``result`` of the running ``trial`` (done, failed or pruned, with its
        reports), commit it, then tell the backend and the callbacks; returns the finished
        trial.

        A result for a trial that is no longer running in the storage (given up as
        lost meanwhile) is not recorded again: None.
        """
        finished = dataclasses.replace(
            trial,
            params=params,
            loss=result.loss,
            extras=result.extras,
            error=result.error,
            finished_at=_now(),
            duration=duration,
            worker=worker,
            state=_state_of(result),
            intermediate=dict(result.intermediate or trial.intermediate),
        )
        suggestion = self._suggestions.pop(trial.tid, None)
        self.pruning.forget(trial)
        if not self.study.update_trial(finished, expected_state=TrialState.RUNNING):
            return None
        self._told.add(finished.tid)
        # A re-run of an abandoned backend point stands for that suggestion (exact resume).
        self.backend.tell(
            observation_of(finished, suggestion, replayed=finished.origin is TrialOrigin.RETRY)
        )
        self._note_best(finished)
        for callback in self.callbacks:
            callback(self.study, finished)
        return finished

    def abandon(self, trial: Trial, reason: str) -> None:
        """Mark a running trial that will never finish (interrupted, lost) as abandoned; it
        is re-run when the study resumes."""
        self._suggestions.pop(trial.tid, None)
        abandoned = dataclasses.replace(
            trial, state=TrialState.ABANDONED, error=reason, finished_at=_now()
        )
        self.study.update_trial(abandoned, expected_state=TrialState.RUNNING)

    def fail(self, trial: Trial, reason: str, extras: dict[str, Any] | None = None) -> None:
        """Record ``trial`` as failed for a reason outside the objective (lost worker,
        timeout), with whatever parameters its point gives."""
        try:
            params = self.space.to_params(trial.flat_params)
        except Exception:  # a failing transform: keep the flat point only
            params = None
        started = trial.started_at or _now()
        duration = (_now() - started).total_seconds()
        self.finish(trial, params, Result(None, "fail", dict(extras or {}), reason), duration, None)


def _state_of(result: Result) -> TrialState:
    if result.pruned:
        return TrialState.PRUNED
    return TrialState.DONE if result.ok else TrialState.FAILED
