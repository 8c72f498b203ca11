"""The optimize loop: ask the backend, evaluate, tell, record; until a stop rule fires."""

from __future__ import annotations

import math
import os
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from bbopt.backends import Backend, Observation, create_backend
from bbopt.objective import Objective, evaluate_point, prepare_objective, resolve_objective
from bbopt.space import Space, as_space
from bbopt.storage import StorageLike, open_study
from bbopt.study import Study
from bbopt.trial import Result, Trial, TrialState

if TYPE_CHECKING:
    from concurrent.futures import Executor

    import distributed

EarlyStop = Callable[[Study], bool]
# Abandoned trials (re-run later) and queued re-runs not started yet count toward no limit.
_NOT_STARTED = (TrialState.ABANDONED, TrialState.QUEUED)


@dataclass
class StopRules:
    """When to stop asking for new trials."""

    max_evals: int
    timeout: float | None = None
    loss_threshold: float | None = None
    early_stop: EarlyStop | None = None
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if not isinstance(self.max_evals, int) or self.max_evals < 0:
            raise ValueError(f"max_evals must be an integer >= 0, got {self.max_evals!r}")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout!r}")

    def reached(self, study: Study, best_loss: float) -> bool:
        if len(study.trials) >= self.max_evals and (  # the count only when it may matter
            sum(t.state not in _NOT_STARTED for t in study.trials) >= self.max_evals
        ):
            return True
        if self.timeout is not None and time.monotonic() - self.started >= self.timeout:
            return True
        if self.loss_threshold is not None and best_loss <= self.loss_threshold:
            return True
        return self.early_stop is not None and bool(self.early_stop(study))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class TrialRunner:
    """Records trials in the study and reports them to the backend.

    Shared by the serial loop and the parallel executors so that a trial's life
    (started, finished, told) is written in one place.
    """

    def __init__(self, objective: Objective, space: Space, backend: Backend, study: Study) -> None:
        self.objective = objective
        self.space = space
        self.backend = backend
        self.study = study
        self.best_loss = math.inf
        self._backend_tids: dict[int, int] = {}
        self.retries: list[Trial] = []  # queued re-runs of abandoned trials, evaluated first

    def start(self, flat: dict[str, Any], backend_tid: int | None, origin: str) -> Trial:
        trial = Trial(
            tid=-1,
            flat_params=flat,
            state=TrialState.RUNNING,
            started_at=datetime.now(timezone.utc),
            backend=self.study.backend_name,
            seed=self.study.seed,
            origin=origin,
        )
        self.study.add_trial(trial)
        # Points the backend did not suggest get a fresh backend id, so they never
        # collide with ids the backend issues itself.
        self._backend_tids[trial.tid] = (
            self.backend.new_tid() if backend_tid is None else backend_tid
        )
        return trial

    def replay(self, trial: Trial) -> None:
        """Tell the backend about a finished trial of an earlier run (resume)."""
        self.backend.tell(
            Observation(
                self.backend.new_tid(),
                trial.flat_params,
                trial.loss,
                trial.status or "fail",
                suggested=trial.origin in ("backend", "retry"),
            )
        )
        if trial.ok and trial.loss is not None:
            self.best_loss = min(self.best_loss, trial.loss)

    def finish(
        self,
        trial: Trial,
        params: Any,
        result: Result,
        duration: float,
        worker: str | None,
    ) -> None:
        trial.params = params
        trial.loss = result.loss
        trial.status = result.status
        trial.extras = result.extras
        trial.error = result.error
        trial.finished_at = datetime.now(timezone.utc)
        trial.duration = duration
        trial.worker = worker
        trial.state = TrialState.DONE if result.status == "ok" else TrialState.FAILED
        self.study.save_trial(trial)
        backend_tid = self._backend_tids.pop(trial.tid)
        # A re-run of an abandoned backend point stands for that suggestion (exact resume).
        retry = trial.origin == "retry"
        self.backend.tell(
            Observation(backend_tid, trial.flat_params, result.loss, result.status, retry)
        )
        if trial.ok and trial.loss is not None:
            self.best_loss = min(self.best_loss, trial.loss)

    def abandon(self, trial: Trial, reason: str) -> None:
        """Mark a trial that will never finish (interrupted, lost)."""
        trial.state = TrialState.ABANDONED
        trial.error = reason
        trial.finished_at = datetime.now(timezone.utc)
        self.study.save_trial(trial)

    def resume(self, warm_start: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rebuild the backend from the study's finished trials (a reopened stored study).

        Queues the re-runs of abandoned trials and returns the warm-start points not
        evaluated yet.
        """
        for trial in sorted(self.study.finished_trials, key=lambda t: t.tid):
            self.replay(trial)
        self.retries = self.study.pending_retries()
        seen = [
            t.flat_params
            for t in self.study.trials
            if t.origin == "warm_start" and t.state is not TrialState.ABANDONED
        ]
        return [point for point in warm_start if point not in seen]

    def start_next(self, pending: list[dict[str, Any]]) -> Trial:
        """Start the next trial: a re-run of an abandoned trial, the first pending
        warm-start point, else the backend's pick."""
        if self.retries:
            queued = self.retries.pop(0)
            return self.start(queued.flat_params, None, queued.origin)
        if pending:
            return self.start(pending.pop(0), None, "warm_start")
        (suggestion,) = self.backend.ask(1)
        return self.start(suggestion.flat_params, suggestion.tid, "backend")

    def evaluate_here(self, trial: Trial, worker: str) -> None:
        """Evaluate ``trial`` in this process and record the result."""
        started = time.perf_counter()
        params, result = evaluate_point(self.objective, self.space, trial.flat_params)
        self.finish(trial, params, result, time.perf_counter() - started, worker)


class Progress:
    """The run's progress bar (when enabled or stderr is a terminal): one step per finished
    trial, showing the best loss so far."""

    def __init__(self, enabled: bool | None, total: int, initial: int, desc: str) -> None:
        self.bar: Any = None
        if enabled if enabled is not None else sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, initial=initial, desc=desc, unit="trial", dynamic_ncols=True
            )

    def step(self, best_loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if math.isfinite(best_loss):
                self.bar.set_postfix(best=f"{best_loss:.6g}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def warn_interrupted(study: Study) -> None:
    """Tell the user a run stopped on Ctrl-C; the finished trials are kept."""
    warnings.warn(
        f"study {study.name!r} interrupted after {len(study.finished_trials)} finished trials",
        RuntimeWarning,
        stacklevel=4,
    )


def minimize(
    fn: Callable[[Any], Any] | Objective | str,
    space: Any = None,
    *,
    backend: str | Backend | type[Backend] = "hyperopt.tpe",
    backend_options: Mapping[str, Any] | None = None,
    max_evals: int = 100,
    seed: int | None = None,
    timeout: float | None = None,
    loss_threshold: float | None = None,
    early_stop: EarlyStop | None = None,
    points_to_evaluate: Iterable[Mapping[str, Any]] | None = None,
    progress: bool | None = None,
    storage: StorageLike | None = None,
    study: str | None = None,
    workers: int | None = None,
    executor: str | Executor | distributed.Client | None = None,
    trial_timeout: float | None = None,
) -> Study:
    """Minimize an objective and return the :class:`~bbopt.study.Study`.

    ``fn`` is a function of the nested parameters (with ``space``), an
    :class:`~bbopt.objective.Objective` or a registered objective's name. The
    backend is a registered name (``"hyperopt.tpe"``, ...), a Backend class or an
    instance. ``points_to_evaluate`` are flat label -> value dicts (choices as
    indices) evaluated first (warm start). The run stops after ``max_evals``
    trials in all, after ``timeout`` seconds, when the best loss is at or below
    ``loss_threshold``, or when ``early_stop(study)`` returns True. Failed trials
    (exceptions, NaN, inf) are kept with their error and the run goes on.

    ``study`` names the study (default: the objective's name). With ``storage`` (an
    SQLite file path or a :class:`~bbopt.storage.SQLiteStorage`) every trial is
    committed as it starts and ends, and running again resumes the stored study:
    the backend relearns its history, trials cut off by a crash are re-run, and
    ``max_evals`` counts the study's trials in all. See docs/storage.md.

    Trials run in this process unless ``workers`` or ``executor`` is given:
    ``workers=N`` keeps N trials in flight in local worker processes;
    ``executor="dask"`` runs them on a Dask LocalCluster of N workers, an address
    such as ``"tcp://host:8786"`` (or a ``distributed.Client``) on a running Dask
    scheduler, and a ``concurrent.futures.Executor`` on that executor. A trial
    running longer than ``trial_timeout`` seconds is recorded as failed and its
    worker stopped. See docs/parallel.md.
    """
    from bbopt.execution import Execution, run_parallel

    execution = Execution.from_args(workers, executor, trial_timeout)
    objective = resolve_objective(fn, space)
    compiled = as_space(objective.space)
    rules = StopRules(max_evals, timeout, loss_threshold, early_stop)
    options = dict(backend_options or {})
    backend_obj = create_backend(backend, compiled, seed, options)
    warm = [compiled.validate_flat(point) for point in points_to_evaluate or ()]
    study_obj = Study(
        study or objective.name,
        compiled,
        objective=objective.name,
        backend=backend_obj.name or type(backend_obj).__name__,
        backend_options=options,
        seed=seed,
        f_star=objective.f_star,
    )
    if storage is not None:
        study_obj = open_study(storage, study_obj, backend_obj)
    runner = TrialRunner(objective, compiled, backend_obj, study_obj)
    warm = runner.resume(warm)
    if execution is None:
        run_serial(runner, rules, warm, progress)
    else:
        run_parallel(runner, rules, warm, progress, execution)
    return study_obj


def run_serial(
    runner: TrialRunner,
    rules: StopRules,
    warm_start: list[dict[str, Any]],
    progress: bool | None,
) -> None:
    """The serial loop: one trial at a time, in this process (prepared once first)."""
    study = runner.study
    prepare_objective(runner.objective)
    bar = Progress(progress, rules.max_evals, len(study.finished_trials), study.name)
    here = worker_name()
    pending = list(warm_start)
    trial: Trial | None = None
    try:
        while not rules.reached(study, runner.best_loss):
            trial = runner.start_next(pending)
            runner.evaluate_here(trial, here)
            trial = None
            bar.step(runner.best_loss)
    except KeyboardInterrupt:
        if trial is not None:
            runner.abandon(trial, "interrupted (KeyboardInterrupt)")
        warn_interrupted(study)
    finally:
        bar.close()
