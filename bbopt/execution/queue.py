"""The work queue: the driver queues trials in a shared storage; workers anywhere run them.

hyperopt's MongoDB mode, on bbopt's storages. ``minimize(..., storage=
"mongodb://host/db", executor="queue")`` makes the calling process the *driver*:

1. it publishes the study's queue settings (the blob ``queue``: JSON data) and, for
   an objective that workers cannot find by name, if the driver allows it
   (``WorkQueue(pickle=True)``), the pickled objective (the blob ``objective.pickle``);
2. it keeps ``in_flight`` trials queued or running: each new point the backend
   suggests is stored as a QUEUED trial, which a ``bbopt worker`` process claims
   (compare-and-set QUEUED -> RUNNING), evaluates and finishes in the storage;
3. every ``poll`` seconds it reads the study: trials the workers finished are told to
   the backend (:meth:`TrialRunner.sync`); a running trial whose heartbeat has not
   changed for ``grace`` seconds (its worker was killed, its machine is gone) is
   abandoned and re-queued once (after MAX_ATTEMPTS lost workers in a row, the point
   is recorded as failed);
4. when a stop rule fires, it stops queueing. After ``max_evals`` it waits until every
   queued and running trial is finished; after the other rules (and on Ctrl-C) it
   withdraws the trials no worker claimed yet (abandoned: a resumed study runs them)
   and waits for the running ones.

Liveness is judged by this process's clock only (a heartbeat that stopped changing),
so the machines' clocks need not agree. Workers are in
:mod:`bbopt.execution.queue_worker`.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bbopt.errors import UnknownNameError
from bbopt.execution.progress import Progress, warn_interrupted
from bbopt.execution.runner import TrialRunner, Wait
from bbopt.execution.serial import INTERRUPTED
from bbopt.execution.stop import StopRules
from bbopt.objective import Objective, get_objective
from bbopt.space import Space
from bbopt.storage.records import load_json
from bbopt.study import Study
from bbopt.trial import Trial, TrialState

SETTINGS_BLOB = "queue"
OBJECTIVE_BLOB = "objective.pickle"
SETTINGS_VERSION = 1
#: A point whose worker was lost this many times in a row is recorded as failed.
MAX_ATTEMPTS = 3
LOST = "no heartbeat from worker"


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")


@dataclass(frozen=True)
class WorkQueue:
    """How a driver runs trials through the queue (``minimize(..., executor=WorkQueue(...))``;
    ``executor="queue"`` is ``WorkQueue()``).

    ``in_flight``: trials kept queued or running (``workers=N`` sets it too); give it
    the number of workers plus one or two, so a worker that frees finds a trial waiting.
    ``max_queue_len``: hyperopt's rule instead: keep that many trials waiting for a
    worker, however many run (the driver then need not know how many workers there
    are; their trials are suggested without the results of those running). ``heartbeat``: seconds
    between a worker's signs of life; ``grace``: seconds without one after which its
    trial is abandoned and re-queued (at least twice ``heartbeat``). ``poll``: seconds
    between the driver's reads of the study. ``pickle``: store the objective pickled
    for workers when they cannot find it by name (they run it only with
    ``--allow-pickle``: that is running code from the database).
    """

    in_flight: int = 4
    max_queue_len: int | None = None
    heartbeat: float = 2.0
    grace: float = 20.0
    poll: float = 0.1
    pickle: bool = False

    def __post_init__(self) -> None:
        for name in ("in_flight", "max_queue_len"):
            value = getattr(self, name)
            if name == "max_queue_len" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("heartbeat", "grace", "poll"):
            _positive(name, getattr(self, name))
        if self.grace < 2 * self.heartbeat:
            raise ValueError(
                f"grace ({self.grace!r} s) must be at least twice heartbeat "
                f"({self.heartbeat!r} s), or live workers would be taken for dead"
            )

    def has_room(self, active: list[Trial]) -> bool:
        """Whether a driver with these queued and running trials queues one more."""
        if self.max_queue_len is None:
            return len(active) < self.in_flight
        return sum(t.state is TrialState.QUEUED for t in active) < self.max_queue_len


@dataclass(frozen=True)
class QueueSettings:
    """What a driver tells workers about its study's queue (stored as JSON, read as data)."""

    objective: str  # the objective's registered name (or the pickled one's name)
    fingerprint: str  # of the study's space: a worker's objective must match it
    pickled: bool  # the objective is in the OBJECTIVE_BLOB, not found by name
    token: str  # names the driver's run: a new one means a new objective to load
    heartbeat: float
    grace: float

    def to_json(self) -> bytes:
        return json.dumps({"version": SETTINGS_VERSION, **dataclasses.asdict(self)}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> QueueSettings:
        """Settings from :meth:`to_json`'s bytes; ValueError naming the bad field."""
        try:
            fields = load_json(data)
        except ValueError as exc:
            raise ValueError(f"queue settings: their text {exc}") from None
        if not isinstance(fields, dict):
            raise ValueError("queue settings are not an object")
        if fields.get("version") != SETTINGS_VERSION:
            raise ValueError(f"queue settings version {fields.get('version')!r} is not known")
        kinds: dict[str, type | tuple[type, ...]] = {
            "objective": str,
            "fingerprint": str,
            "pickled": bool,
            "token": str,
            "heartbeat": (int, float),
            "grace": (int, float),
        }
        for name, kind in kinds.items():
            value = fields.get(name)
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise ValueError(f"queue settings field {name!r} has a bad value: {value!r:.60}")
        settings = cls(**{name: fields[name] for name in kinds})
        _positive("heartbeat", settings.heartbeat)
        _positive("grace", settings.grace)
        return settings


def read_settings(study: Study) -> QueueSettings | None:
    """The queue settings a driver published for ``study``, or None (not a queue study)."""
    data = study.storage.get_blob(study.name, SETTINGS_BLOB)
    return None if data is None else QueueSettings.from_json(data)


def publish(study: Study, objective: Objective, space: Space, queue: WorkQueue) -> QueueSettings:
    """Store the study and what workers need to run its queued trials."""
    packed: bytes | None = None  # the pickled objective, for one workers cannot find by name
    if not _registered(objective):
        if not queue.pickle:
            raise ValueError(
                f"objective {objective.name!r} is not registered, so queue workers cannot "
                "find it by name: register it (bbopt.register_objective) in a module the "
                "workers import (bbopt worker --import MODULE), or pass "
                "executor=bbopt.WorkQueue(pickle=True) to store it pickled (workers then need "
                "--allow-pickle: they run code from the database)"
            )
        from bbopt.execution.worker import pack_objective

        packed = pack_objective(objective, space)
    study.store()
    if packed is not None:
        study.storage.put_blob(study.name, OBJECTIVE_BLOB, packed)
    settings = QueueSettings(
        objective=objective.name,
        fingerprint=space.fingerprint(),
        pickled=packed is not None,
        token=uuid.uuid4().hex,
        heartbeat=queue.heartbeat,
        grace=queue.grace,
    )
    study.storage.put_blob(study.name, SETTINGS_BLOB, settings.to_json())
    return settings


def _registered(objective: Objective) -> bool:
    """Whether ``objective`` is the one registered under its name (workers find it so)."""
    try:
        return get_objective(objective.name) is objective
    except UnknownNameError:
        return False


class Liveness:
    """Running trials whose heartbeat stopped: unchanged for ``grace`` seconds of this
    process's clock (a trial is watched from the first time it is seen)."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._seen: dict[int, tuple[datetime | None, float]] = {}  # tid -> (beat, seen at)

    def stale(self, study: Study) -> list[Trial]:
        now = time.monotonic()
        running = {
            t.tid: t
            for t in study.active_trials
            if t.state is TrialState.RUNNING and t.heartbeat_at is not None
        }
        for tid in set(self._seen) - set(running):
            del self._seen[tid]
        stale = []
        for tid, trial in running.items():
            seen = self._seen.get(tid)
            if seen is None or seen[0] != trial.heartbeat_at:
                self._seen[tid] = (trial.heartbeat_at, now)
            elif now - seen[1] >= self.grace:
                stale.append(trial)
        return stale

    def reap(self, study: Study, requeue: bool) -> list[Trial]:
        """Abandon the stale trials (compare-and-set from RUNNING) and, with ``requeue``,
        queue one re-run of each; a point whose workers were lost on each of its
        MAX_ATTEMPTS attempts is recorded as failed instead (it may be what kills them).
        Returns the trials this call gave up."""
        given_up = []
        for trial in self.stale(study):
            lost = f"{LOST} {trial.worker or trial.owner} for {self.grace:g} s"
            attempts = 1 + _lost_before(study, trial)
            if attempts >= MAX_ATTEMPTS:
                state, error = TrialState.FAILED, f"{lost}, on each of its {attempts} attempts"
            else:
                state, error = TrialState.ABANDONED, f"abandoned: {lost}"
            ended = dataclasses.replace(
                trial, state=state, finished_at=datetime.now(timezone.utc), error=error
            )
            if study.update_trial(ended, expected_state=TrialState.RUNNING):
                given_up.append(ended)
                if requeue and state is TrialState.ABANDONED:
                    study.queue_rerun(ended)
        return given_up


def _lost_before(study: Study, trial: Trial) -> int:
    """How many earlier attempts at ``trial``'s point lost their worker (its chain of
    ``retry_of``)."""
    count, tid = 0, trial.retry_of
    while tid is not None and (earlier := study.trial(tid)) is not None:
        count += LOST in (earlier.error or "")
        tid = earlier.retry_of
    return count


def withdraw(study: Study, reason: str) -> int:
    """Abandon the trials no worker claimed yet (a resumed study runs them); returns how
    many."""
    withdrawn = 0
    for trial in study.queued_trials:
        given_up = dataclasses.replace(
            trial, state=TrialState.ABANDONED, error=f"withdrawn: {reason}"
        )
        withdrawn += study.update_trial(given_up, expected_state=TrialState.QUEUED)
    return withdrawn


def budget_used(study: Study) -> int:
    """Trials that count toward ``max_evals`` in a queue: all but abandoned ones (an
    abandoned trial's re-run takes its place)."""
    return sum(t.state is not TrialState.ABANDONED for t in study.trials)


def run_queue(
    runner: TrialRunner,
    rules: StopRules,
    warm_start: list[dict[str, Any]],
    progress: bool | None,
    queue: WorkQueue,
) -> None:
    """Drive the study through the work queue until a stop rule fires and the trials in
    flight are finished (see the module's docstring)."""
    study = runner.study
    if not study.storage.shared:
        raise ValueError(
            "executor='queue' needs a storage that worker processes reach: "
            "storage='mongodb://host:27017/db', or an SQLite file for workers on this machine"
        )
    settings = publish(study, runner.objective, runner.space, queue)
    liveness = Liveness(settings.grace)
    bar = Progress(progress, rules.max_evals, len(study.finished_trials), study.name)
    idle = _IdleWarning(study, max(60.0, 2 * queue.grace))
    pending = list(warm_start)
    stopping = False
    try:
        while True:
            finished = len(study.finished_trials)
            runner.sync()
            liveness.reap(study, requeue=study.stop_reason in (None, "max_evals"))
            for _ in range(len(study.finished_trials) - finished):
                bar.step(runner.best_loss)
            if not stopping:
                reason = "max_evals" if budget_used(study) >= rules.max_evals else None
                study.stop_reason = reason or rules.reached(study, runner.best_loss)
                stopping = study.stop_reason is not None
                if stopping and study.stop_reason != "max_evals":
                    withdraw(study, f"the driver stopped ({study.stop_reason})")
            active = study.active_trials
            if not stopping and queue.has_room(active):
                queued = runner.queue_next(pending, limit=rules.max_evals)
                if queued is None:
                    study.stop_reason, stopping = "max_evals", True  # other drivers took the last
                if queued is not Wait.RERUN:  # else wait: a re-run's point comes back first
                    continue
            if stopping and not active:
                break
            idle.check(active)
            time.sleep(queue.poll)
    except KeyboardInterrupt:
        study.stop_reason = INTERRUPTED
        withdraw(study, "the driver was interrupted")
        warn_interrupted(study)
    finally:
        bar.close()


class _IdleWarning:
    """Warns once when queued trials have waited ``seconds`` with no worker taking any."""

    def __init__(self, study: Study, seconds: float) -> None:
        self.study = study
        self.seconds = seconds
        self._since = time.monotonic()
        self._running: set[int] = set()
        self._warned = False

    def check(self, active: list[Trial]) -> None:
        running = {t.tid for t in active if t.state is TrialState.RUNNING}
        if running - self._running or not any(t.state is TrialState.QUEUED for t in active):
            self._since = time.monotonic()
        self._running = running
        if not self._warned and time.monotonic() - self._since >= self.seconds:
            self._warned = True
            warnings.warn(
                f"no worker took a trial of study {self.study.name!r} for {self.seconds:g} s; "
                f"start one: bbopt worker --storage ADDRESS --study {self.study.name}",
                RuntimeWarning,
                stacklevel=3,
            )
