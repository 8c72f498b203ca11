"""The life of a trial, written in one place: started, finished (or abandoned), told.

:class:`TrialRunner` is shared by the serial loop, the parallel loop and anything else
that runs trials, so storage and the backend see a trial the same way whichever
loop ran it. The study's storage gives trial ids; the backend sees only
suggestions and observations.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from bbopt.backends import Backend, Observation, Suggestion
from bbopt.errors import BackendError, BBoptError
from bbopt.execution.pruning import Pruning
from bbopt.execution.stop import StopRules
from bbopt.objective import Objective, evaluate_point
from bbopt.pruners import Pruner
from bbopt.space import Space
from bbopt.storage import StudyFullError
from bbopt.storage.owners import owner_is_gone
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


def finished_trial(
    trial: Trial, params: Any, result: Result, duration: float, worker: str | None
) -> Trial:
    """A copy of the running ``trial`` with the outcome of its evaluation: done, failed or
    pruned, with its reports."""
    return dataclasses.replace(
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


#: How long a loop that waits for a re-run another process runs sleeps between looks.
RERUN_POLL_SECONDS = 0.2


class Wait(enum.Enum):
    """What :meth:`TrialRunner.start_next` gives while nothing may start yet."""

    RERUN = "a re-run of this seed's point is unfinished (TrialRunner.awaits_reruns)"


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
        self._telling = 0.0  # seconds in backend.tell since the last ask
        self._reruns: set[int] = set()  # re-runs of this seed's points, not told yet

    # -- what the backend knows --------------------------------------------------------

    def resume(self, warm_start: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Tell the backend every finished trial of the study (a reopened study) and return
        the warm-start points not evaluated yet."""
        for trial in self.study.finished_trials:
            self._tell_known(trial, replayed=trial.origin is not TrialOrigin.WARM_START)
        self._reruns = {
            t.tid
            for t in self.study.queued_trials
            if t.origin is TrialOrigin.RETRY and t.seed == self.study.seed
        }
        seen = [
            t.flat_params
            for t in self.study.trials
            if t.origin is TrialOrigin.WARM_START and t.state is not TrialState.ABANDONED
        ]
        return [point for point in warm_start if point not in seen]

    def sync(self) -> None:
        """Bring in trials other processes finished in a shared study, for the backend: as
        this runner's own suggestions when it queued them for queue workers (also when a
        re-run finished one whose worker died), else as points it did not suggest."""
        storage = self.study.storage
        if not (storage.shared and storage.changed_elsewhere(self.study.name)):
            return
        for trial in self.study.refresh():
            if not trial.finished:
                continue
            suggestion = self._suggestions.pop(trial.tid, None)
            if suggestion is None and trial.retry_of is not None:
                suggestion = self._suggestions.pop(trial.retry_of, None)
            if suggestion is None:  # a re-run of this seed's point stands for its suggestion
                self._tell_known(trial, replayed=trial.tid in self._reruns)
            else:
                self._conclude(trial, suggestion)

    def _tell_known(self, trial: Trial, replayed: bool) -> None:
        """Tell the backend a finished trial it did not suggest in this run."""
        if trial.tid in self._told:
            return
        self._told.add(trial.tid)
        self._reruns.discard(trial.tid)
        self._tell(observation_of(trial, replayed=replayed))
        self._note_best(trial)

    def _note_best(self, trial: Trial) -> None:
        if trial.ok and trial.loss is not None:
            self.best_loss = min(self.best_loss, trial.loss)

    # -- a trial's life ------------------------------------------------------------------

    def start_next(
        self, pending: list[dict[str, Any]], limit: int | None = None
    ) -> Trial | Wait | None:
        """Start the next trial: a queued re-run of an abandoned trial, else the first
        pending warm-start point, else the backend's pick.

        ``limit`` (``max_evals``) caps the study's trials that are not re-runs, atomically
        in the storage: None when the study holds them (other processes sharing the
        study took the last ones). :attr:`Wait.RERUN` instead of the backend's pick
        while :meth:`awaits_reruns`."""
        self.sync()
        for queued in self.study.queued_trials:
            claimed = self._claim(queued)
            if claimed is not None:
                return claimed
        return self._next(pending, TrialState.RUNNING, limit)

    def stop_reason(self, rules: StopRules) -> str | None:
        """The stop rule that fires now, if any. At ``max_evals`` in a shared study, a
        trial left running by another process that has ended is abandoned and its
        re-run queued here first (the study would end a trial short, that trial
        'running' for ever): then the run goes on."""
        reason = rules.reached(self.study, self.best_loss)
        if reason == "max_evals" and self._adopt_orphans():
            return rules.reached(self.study, self.best_loss)
        return reason

    def _adopt_orphans(self) -> bool:
        """Abandon the trials of a shared study whose process has ended and queue their
        re-runs; whether one waits to run."""
        if not self.study.storage.shared:
            return False
        self.study.refresh()
        self.study.recover()
        return bool(self.study.queued_trials)

    def queue_next(
        self, pending: list[dict[str, Any]], limit: int | None = None
    ) -> Trial | Wait | None:
        """Queue the next point for queue workers, who claim it: the first pending warm-start
        point, else the backend's pick (queued re-runs are already theirs); ``limit`` as
        for :meth:`start_next`."""
        return self._next(pending, TrialState.QUEUED, limit)

    def awaits_reruns(self) -> bool:
        """Whether re-runs of points this seed drew are still unfinished. A resumed study
        queues a re-run of each abandoned trial; until the backend is told them, an
        identically seeded backend would suggest their points again, so a loop with
        such a re-run in flight waits for it instead of asking. A re-run that another
        process holds and that process ended (or gave up) is no longer waited for."""
        for tid in list(self._reruns):
            trial = self.study.trial(tid)
            if trial is None or not _awaited(trial):
                self._reruns.discard(tid)
        return bool(self._reruns)

    def _next(
        self, pending: list[dict[str, Any]], state: TrialState, limit: int | None
    ) -> Trial | Wait | None:
        if pending:
            return self._start(pending.pop(0), TrialOrigin.WARM_START, state, limit)
        if self.awaits_reruns():
            return Wait.RERUN
        began = time.perf_counter()
        suggestion = self._ask()
        # the backend's time for this point: its ask, and the tells since the last ask
        # (skopt fits its model in tell, hyperopt and Optuna in ask)
        seconds = time.perf_counter() - began + self._telling
        self._telling = 0.0
        flat = self._checked_point(suggestion)
        trial = self._start(flat, TrialOrigin.BACKEND, state, limit, seconds, suggestion.budget)
        if trial is not None:
            self._suggestions[trial.tid] = suggestion
        return trial

    def _ask(self) -> Suggestion:
        """One suggestion from the backend; BackendError if it fails or gives another
        thing than a list of one Suggestion."""
        try:
            answer = self.backend.ask(1)
        except BBoptError:
            raise
        except Exception as exc:
            raise BackendError(f"{self._backend_name} failed in ask: {exc!r}") from exc
        if not isinstance(answer, (list, tuple)) or len(answer) != 1:
            raise BackendError(
                f"{self._backend_name}: ask(1) returned {answer!r:.200}, not a list of one "
                "Suggestion"
            )
        if not isinstance(answer[0], Suggestion):
            raise BackendError(
                f"{self._backend_name}: ask(1) returned {answer[0]!r:.200}, not a Suggestion"
            )
        return answer[0]

    def _checked_point(self, suggestion: Suggestion) -> dict[str, Any]:
        """The suggested point, checked against the space before it is stored (a point
        outside it would be stored as done, and then refused by every reader); labels
        of branches not taken dropped, numbers as plain Python values."""
        flat = suggestion.flat_params
        try:
            if not isinstance(flat, Mapping):
                raise ValueError(f"flat_params is {flat!r:.200}, not a mapping")
            return self.space.validate_flat(flat)
        except (ValueError, TypeError) as exc:
            raise BackendError(
                f"{self._backend_name} suggested a point outside the space: {exc}"
            ) from None

    def _tell(self, observation: Observation) -> None:
        try:
            self.backend.tell(observation)
        except BBoptError:
            raise
        except Exception as exc:
            raise BackendError(f"{self._backend_name} failed in tell: {exc!r}") from exc

    @property
    def _backend_name(self) -> str:
        return f"backend {self.backend.name or type(self.backend).__name__!r}"

    def _start(
        self,
        flat: Mapping[str, Any],
        origin: TrialOrigin,
        state: TrialState,
        limit: int | None,
        suggest_seconds: float | None = None,
        budget: float | None = None,
    ) -> Trial | None:
        trial = Trial(
            tid=-1,
            flat_params=dict(flat),
            state=state,
            started_at=_now() if state is TrialState.RUNNING else None,
            suggest_duration=suggest_seconds,
            backend=self.study.backend_name,
            seed=self.study.seed,
            origin=origin,
            owner=self.study.owner,
            budget=budget,
        )
        try:
            return self.study.add_trial(trial, limit=limit)
        except StudyFullError:
            self.study.refresh()  # the trials that filled it
            return None

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
        finished = finished_trial(trial, params, result, duration, worker)
        suggestion = self._suggestions.pop(trial.tid, None)
        self.pruning.forget(trial)
        if not self.study.update_trial(finished, expected_state=TrialState.RUNNING):
            return None
        self._conclude(finished, suggestion)
        return finished

    def _conclude(self, finished: Trial, suggestion: Suggestion | None) -> None:
        """Tell the backend and the callbacks about a finished trial this run started."""
        self._told.add(finished.tid)
        self._reruns.discard(finished.tid)
        # A re-run of an abandoned backend point that this run did not suggest stands for
        # that earlier suggestion (exact resume).
        replayed = finished.origin is TrialOrigin.RETRY and suggestion is None
        began = time.perf_counter()
        self._tell(observation_of(finished, suggestion, replayed=replayed))
        self._telling += time.perf_counter() - began
        self._note_best(finished)
        for callback in self.callbacks:
            callback(self.study, finished)

    def abandon(self, trial: Trial, reason: str) -> None:
        """Mark a running trial that will never finish (interrupted, lost) as abandoned; it
        is re-run when the study resumes."""
        self._suggestions.pop(trial.tid, None)
        abandoned = dataclasses.replace(
            trial, state=TrialState.ABANDONED, error=reason, finished_at=_now()
        )
        self.study.update_trial(abandoned, expected_state=TrialState.RUNNING)

    def abandon_leftovers(self, reason: str) -> None:
        """At the end of a run: reread the study and abandon every trial this process
        still holds as running (one an interrupt cut short between its storage call and
        the loop's bookkeeping included), so the study and its storage agree."""
        self.study.refresh()
        for trial in self.study.trials:
            if trial.state is TrialState.RUNNING and trial.owner == self.study.owner:
                self.abandon(trial, reason)

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


def _awaited(rerun: Trial) -> bool:
    """Whether a re-run may still finish: queued, or running in a process still alive."""
    if rerun.state is TrialState.RUNNING:
        return not owner_is_gone(rerun.owner)
    return rerun.state is TrialState.QUEUED
