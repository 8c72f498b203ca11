"""The parallel loop: keep N trials in flight, ask for a new point as soon as a slot frees.

Trials are started and recorded with the serial loop's
:class:`~bbopt.execution.runner.TrialRunner`, in this (the driver's) process, so storage and
the backend see a trial exactly as in a serial run; only the evaluation happens in
a worker. Each result is recorded the moment its future finishes.

Faults: a trial whose worker process died is run once more, then recorded as
failed with the reason. The other trials in flight when a process pool broke are
re-run without being charged (see :mod:`bbopt.execution.pool` for how the dead
worker's trial is told apart; when it cannot be told, every trial in flight is
charged). A trial over ``trial_timeout`` seconds is recorded as failed and its
worker stopped.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from bbopt.execution.channel import ReportInbox
from bbopt.execution.engine import Engine
from bbopt.execution.plan import Execution
from bbopt.execution.progress import Progress, warn_interrupted
from bbopt.execution.runner import RERUN_POLL_SECONDS, TrialRunner, Wait
from bbopt.execution.serial import INTERRUPTED
from bbopt.execution.stop import StopRules
from bbopt.execution.worker import Outcome, Task, pack_objective
from bbopt.trial import Result, Trial

#: A trial whose worker died is started at most this many times.
MAX_ATTEMPTS = 2


@dataclass
class Flight:
    """A trial in flight: when it was (re)submitted and how many times it was started."""

    trial: Trial
    first_submitted: float = field(default_factory=time.monotonic)
    submitted: float = field(default_factory=time.monotonic)
    attempts: int = 1


class Flights:
    """The trials in flight on one engine, and what happens when their futures finish."""

    def __init__(
        self,
        runner: TrialRunner,
        engine: Engine,
        objective: bytes,
        token: str,
        trial_timeout: float | None,
        reports: ReportInbox | None = None,
    ) -> None:
        self.runner = runner
        self.engine = engine
        self.trial_timeout = trial_timeout
        self.reports = reports  # the report channel of a run with a pruner
        self.by_future: dict[Future[Outcome], Flight] = {}
        self._objective = objective  # pack_objective(runner.objective, runner.space)
        self._token = token  # names the run

    def __len__(self) -> int:
        return len(self.by_future)

    def submit(self, flight: Flight) -> None:
        flight.submitted = time.monotonic()
        link = None if self.reports is None else self.reports.link
        trial = flight.trial
        task = Task(trial.tid, trial.flat_params, self._objective, self._token, link, trial.budget)
        self.by_future[self.engine.submit(task)] = flight

    def wait(self) -> None:
        """Wait for the next finished trial, report (answered at once) or timeout, and
        record what finished."""
        waiting: set[Future[Any]] = set(self.by_future)
        if self.reports is not None:
            waiting.add(self.reports.arrived)
        done, _ = wait(waiting, timeout=self._until_timeout(), return_when=FIRST_COMPLETED)
        if self.reports is not None:
            done.discard(self.reports.arrived)
            self.reports.serve(self._decide)
        lost = self._settle(done)
        if lost:
            self._recover(lost)
        self._expire()

    def _decide(self, tid: int, step: int, value: float) -> bool:
        """The pruner's answer to a report of trial ``tid``; stop it if it is not in flight."""
        for flight in self.by_future.values():
            if flight.trial.tid == tid:
                return self.runner.pruning.decide(flight.trial, step, value)
        return True

    def _settle(self, futures: Any) -> list[Flight]:
        """Record the finished ``futures``; return the trials lost to a broken engine."""
        lost = []
        for future in futures:
            flight = self.by_future.pop(future)
            if future.cancelled():  # by someone else: bbopt forgets the trials it cancels
                self._fail(flight, "the executor cancelled this trial")
                continue
            error = future.exception()
            if error is None:
                outcome = future.result()
                if flight.attempts > 1:
                    outcome.result.extras.setdefault("retries", flight.attempts - 1)
                self.runner.finish(
                    flight.trial, outcome.params, outcome.result, outcome.duration, outcome.worker
                )
            elif self.engine.is_broken(error):
                lost.append(flight)
            else:  # the engine failed to run it (worker lost for good, unpicklable result, ...)
                self._fail(flight, Result.from_exception(error).error or repr(error))
        return lost

    def _recover(self, lost: list[Flight]) -> None:
        """The engine broke: rebuild it, charge the trials whose worker died, re-run the rest."""
        blamed = self.engine.rebuild()  # every future of the broken engine is finished now
        lost += self._settle(list(self.by_future))  # some may have finished before the break
        for flight in lost:
            tid = flight.trial.tid
            reason = (
                "the process pool broke and the dead worker's trial cannot be told"
                if blamed is None
                else blamed.get(tid)
            )
            if reason is None:  # a bystander of another trial's crash
                self.submit(flight)
            elif flight.attempts >= MAX_ATTEMPTS:
                self._fail(
                    flight,
                    f"{reason} while running this trial, on each of its {flight.attempts} attempts",
                )
            else:
                flight.attempts += 1
                self.submit(flight)

    def _until_timeout(self) -> float | None:
        if self.trial_timeout is None or not self.by_future:
            return None
        first = min(f.submitted for f in self.by_future.values())
        return max(0.0, first + self.trial_timeout - time.monotonic())

    def _expire(self) -> None:
        """Fail the trials running longer than ``trial_timeout`` and stop their workers."""
        if self.trial_timeout is None:
            return
        now = time.monotonic()
        for future, flight in list(self.by_future.items()):
            if not future.done() and now - flight.submitted >= self.trial_timeout:
                del self.by_future[future]
                self.engine.kill(flight.trial.tid, future)
                self._fail(
                    flight, f"timed out: still running after trial_timeout={self.trial_timeout:g} s"
                )

    def _fail(self, flight: Flight, reason: str) -> None:
        extras = {"retries": flight.attempts - 1} if flight.attempts > 1 else {}
        self.runner.fail(flight.trial, reason, extras)

    def abandon_all(self, reason: str) -> None:
        for flight in self.by_future.values():
            self.runner.abandon(flight.trial, reason)
        self.by_future.clear()


def run_parallel(
    runner: TrialRunner,
    rules: StopRules,
    warm_start: list[dict[str, Any]],
    progress: bool | None,
    execution: Execution,
) -> None:
    """Run trials on the engine ``execution`` describes until a stop rule fires.

    A new trial is started whenever fewer than the engine's slots are in flight and
    no stop rule has fired; trials in flight when a rule fires are waited for.
    """
    study = runner.study
    objective = pack_objective(runner.objective, runner.space)  # fails before workers start
    token = uuid.uuid4().hex
    engine = execution.open(objective, token, runner.objective.thread_safe)
    reports = engine.report_server() if runner.pruning.active else None
    bar = Progress(progress, rules.max_evals, len(study.finished_trials), study.name)
    flights = Flights(runner, engine, objective, token, execution.trial_timeout, reports)
    pending = list(warm_start)
    completed = False
    try:
        while True:
            waiting = False
            while len(flights) < engine.slots:
                study.stop_reason = runner.stop_reason(rules)
                if study.stop_reason is not None:
                    break
                trial = runner.start_next(pending, limit=rules.max_evals)
                if trial is Wait.RERUN:  # its point must reach the backend first
                    waiting = True
                    break
                if trial is None:  # processes sharing the study started the last trials
                    study.stop_reason = "max_evals"
                    break
                flights.submit(Flight(trial))
            if not len(flights):
                if not waiting:
                    break
                time.sleep(RERUN_POLL_SECONDS)  # another process runs that re-run
                continue
            finished = len(study.finished_trials)
            flights.wait()
            for _ in range(len(study.finished_trials) - finished):
                bar.step(runner.best_loss)
        completed = True
    except KeyboardInterrupt:
        study.stop_reason = INTERRUPTED
        flights.abandon_all("the run stopped (interrupted)")
        warn_interrupted(study)
    finally:
        flights.abandon_all("the run stopped on an error")  # trials left only if one escapes
        runner.abandon_leftovers("the run stopped before this trial was sent")
        if reports is not None:  # first: a Dask channel needs the engine's client
            reports.close()
        engine.close(interrupted=not completed)
        bar.close()
