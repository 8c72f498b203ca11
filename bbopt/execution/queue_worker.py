"""A queue worker: claims queued trials from a shared storage, evaluates them, writes results.

``bbopt worker --storage mongodb://host/db [--study NAME]`` runs a
:class:`QueueWorker`, on any machine and at any time; any number of them serve
the same studies. A worker serves the studies whose driver published queue
settings (:mod:`bbopt.execution.queue`). For each queued trial it:

1. claims it: compare-and-set QUEUED -> RUNNING, so a trial goes to one worker;
2. evaluates it, while a thread writes a heartbeat (``heartbeat_at``) every few
   seconds; if the trial is meanwhile given up as lost (no heartbeat reached the
   storage for the grace period), its heartbeats are refused and so is its result:
   a late result is never counted twice;
3. records the result: compare-and-set RUNNING -> DONE/FAILED, with the objective's
   reports (``bbopt.report``; the driver's pruner does not stop trials in queue
   workers) and the budget a multi-fidelity backend gave the trial (``bbopt.budget()``).

When idle, a worker also abandons and re-queues trials whose worker stopped
heartbeating, so a study goes on while its driver is away. Stopped with Ctrl-C or
SIGTERM mid-trial, it abandons that trial and re-queues it at once.

The objective comes from this process, never from the database, unless you
allow it: a registered objective of the stored name (built in, from an entry point
or from a module given with ``--import``) whose space matches the study's; or,
with ``allow_pickle=True`` (``--allow-pickle``), the objective the driver stored
pickled, which runs code from the database: only for databases you trust.
"""

from __future__ import annotations

import dataclasses
import logging
import pickle
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from bbopt.errors import BBoptError, UnknownNameError
from bbopt.execution.queue import OBJECTIVE_BLOB, Liveness, QueueSettings, read_settings
from bbopt.execution.runner import finished_trial, worker_name
from bbopt.objective import Objective, evaluate_point, get_objective, prepare_objective
from bbopt.reporting import Reporter
from bbopt.space import Space, as_space
from bbopt.storage import Storage, StorageError
from bbopt.study import Study
from bbopt.trial import Trial, TrialState

log = logging.getLogger("bbopt.worker")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Heartbeat:
    """While its ``with`` block runs, writes ``trial.heartbeat_at`` every ``interval``
    seconds (compare-and-set from RUNNING); :attr:`lost` turns True once the storage
    refuses, i.e. the trial was given up."""

    def __init__(self, storage: Storage, study: str, trial: Trial, interval: float) -> None:
        self.storage = storage
        self.study = study
        self.trial = trial
        self.interval = interval
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="bbopt-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            beat = dataclasses.replace(self.trial, heartbeat_at=_now())
            try:
                written = self.storage.update_trial(
                    self.study, beat, expected_state=TrialState.RUNNING
                )
            except StorageError as exc:  # the server is away: try again next time
                log.warning("heartbeat of trial %s not written: %s", beat.tid, exc)
                continue
            if not written:
                self.lost = True
                return
            self.trial = beat

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class _Served:
    """A study this worker looked at: its Study, settings and the loaded objective (or why
    it cannot run it)."""

    study: Study
    settings: QueueSettings | None = None
    objective: tuple[Objective, Space] | None = None
    refusal: str | None = None
    liveness: Liveness | None = None
    said: set[str] = field(default_factory=set)  # messages already logged


class QueueWorker:
    """Serves the queued trials of ``study`` (or of every queue study of ``storage``).

    ``poll``: seconds between looks when nothing is queued. ``idle_timeout``: stop
    after that many seconds without a trial (None: never). ``max_trials``: stop after
    evaluating that many (hyperopt's ``--max-jobs``). ``allow_pickle``: run objectives
    the driver stored pickled (code from the database: only for databases you trust).
    """

    def __init__(
        self,
        storage: Storage,
        study: str | None = None,
        *,
        allow_pickle: bool = False,
        poll: float = 0.5,
        idle_timeout: float | None = None,
        max_trials: int | None = None,
    ) -> None:
        self.storage = storage
        self.study_name = study
        self.allow_pickle = allow_pickle
        self.poll = poll
        self.idle_timeout = idle_timeout
        self.max_trials = max_trials
        self.evaluated = 0  # trials this worker ran to the end (recorded, or refused as late)
        self.name = worker_name()
        self._served: dict[str, _Served] = {}

    def run(self) -> int:
        """Claim, evaluate and record trials until a limit is reached (or Ctrl-C); returns
        the number of trials evaluated. Stopped by Ctrl-C (or SIGTERM through ``bbopt
        worker``), it gives back the trial it holds, wherever the interrupt came: while
        evaluating, or between claiming a trial and starting it."""
        try:
            return self._run()
        except KeyboardInterrupt:
            self._give_back_held()
            raise

    def _run(self) -> int:
        idle_since = time.monotonic()
        while self.max_trials is None or self.evaluated < self.max_trials:
            claimed = self._claim_next()
            if claimed is not None:
                self._evaluate(*claimed)
                idle_since = time.monotonic()
                continue
            self._reap()
            if self.idle_timeout is not None and time.monotonic() - idle_since >= self.idle_timeout:
                log.info("no queued trial for %g s: stopping", self.idle_timeout)
                break
            time.sleep(self.poll)
        return self.evaluated

    # -- finding work ----------------------------------------------------------------

    def _study_names(self) -> list[str]:
        return [self.study_name] if self.study_name else self.storage.study_names()

    def _serve(self, name: str) -> _Served | None:
        """The study ``name`` made ready to run (objective loaded for the driver's current
        settings), or None when it has no queue or this worker cannot run it."""
        served = self._served.get(name)
        if served is None:
            record = self.storage.get_study(name)
            if record is None:
                return None
            study = Study(name, None, storage=self.storage)
            study.attach(record)
            served = self._served[name] = _Served(study)
        try:
            settings = read_settings(served.study)
        except ValueError as exc:
            self._say(served, f"study {name!r}: unreadable queue settings ({exc}); skipped")
            return None
        if settings is None:
            return None
        if settings != served.settings:
            served.settings, served.liveness = settings, Liveness(settings.grace)
            served.objective, served.refusal = None, None
            try:
                served.objective = self._load(served.study, settings)
                log.info("serving study %r (objective %r)", name, settings.objective)
            except BBoptError as exc:
                served.refusal = str(exc)
        if served.refusal is not None:
            self._say(served, f"study {name!r} skipped: {served.refusal}")
            return None
        return served

    def _load(self, study: Study, settings: QueueSettings) -> tuple[Objective, Space]:
        """The objective and space to evaluate ``study``'s trials with; BBoptError saying
        why not."""
        if settings.pickled:
            if not self.allow_pickle:
                raise BBoptError(
                    f"its objective {settings.objective!r} was stored pickled by the driver; "
                    "start the worker with --allow-pickle to run it (that runs code from the "
                    "database: only for databases you trust), or register the objective in "
                    "a module given with --import"
                )
            data = self.storage.get_blob(study.name, OBJECTIVE_BLOB)
            if data is None:
                raise BBoptError("its pickled objective is missing from the storage")
            objective, space = pickle.loads(data)  # code execution, allowed by the user
        else:
            try:
                objective = get_objective(settings.objective)
            except UnknownNameError as exc:
                raise BBoptError(
                    f"{exc} (import the module that registers it with --import MODULE)"
                ) from None
            space = as_space(objective.space)
        if space.fingerprint() != settings.fingerprint:
            raise BBoptError(
                f"objective {settings.objective!r} here has another search space than the "
                "study's (different code on this machine?)"
            )
        prepare_objective(objective)
        return objective, space

    def _claim_next(self) -> tuple[_Served, Trial] | None:
        """Claim the first queued trial of a study this worker can run."""
        for name in self._study_names():
            served = self._serve(name)
            if served is None:
                continue
            served.study.refresh()
            for queued in served.study.queued_trials:
                now = _now()
                running = dataclasses.replace(
                    queued,
                    state=TrialState.RUNNING,
                    started_at=now,
                    heartbeat_at=now,
                    owner=served.study.owner,
                    worker=self.name,
                )
                if served.study.update_trial(running, expected_state=TrialState.QUEUED):
                    return served, running
        return None

    def _reap(self) -> None:
        """Abandon and re-queue trials of served studies whose worker stopped heartbeating."""
        for served in self._served.values():
            if served.liveness is not None and served.refusal is None:
                for trial in served.liveness.reap(served.study, requeue=True):
                    log.warning("study %r, trial %s: %s", served.study.name, trial.tid, trial.error)

    # -- running a trial ---------------------------------------------------------------

    def _evaluate(self, served: _Served, trial: Trial) -> None:
        assert served.objective is not None and served.settings is not None
        objective, space = served.objective
        study = served.study
        log.info("study %r: trial %s started", study.name, trial.tid)
        started = time.perf_counter()
        with Heartbeat(self.storage, study.name, trial, served.settings.heartbeat) as beat:
            reporter = Reporter(budget=trial.budget)  # reports are kept, not pruned here
            params, result = evaluate_point(objective, space, trial.flat_params, reporter)
        finished = finished_trial(
            beat.trial, params, result, time.perf_counter() - started, self.name
        )
        self.evaluated += 1
        if study.update_trial(finished, expected_state=TrialState.RUNNING):
            log.info("study %r: trial %s %s", study.name, trial.tid, _outcome(finished))
        else:
            log.warning(
                "study %r: trial %s was given up while it ran here (no heartbeat reached the "
                "storage for %g s); its result is not recorded",
                study.name,
                trial.tid,
                served.settings.grace,
            )

    def _give_back_held(self) -> None:
        """Give back every trial the storage says runs on this worker: the stored state,
        not a variable, so an interrupt during the claim itself loses nothing."""
        for served in self._served.values():
            served.study.refresh()
            for trial in served.study.trials:
                if trial.state is TrialState.RUNNING and trial.worker == self.name:
                    self._give_back(served.study, trial)

    def _give_back(self, study: Study, trial: Trial) -> None:
        """Abandon the trial this worker is leaving and queue its re-run for another."""
        abandoned = dataclasses.replace(
            trial,
            state=TrialState.ABANDONED,
            finished_at=_now(),
            error=f"abandoned: worker {self.name} was stopped while running it",
        )
        if study.update_trial(abandoned, expected_state=TrialState.RUNNING):
            study.queue_rerun(abandoned)
            log.warning("study %r: trial %s given back to the queue", study.name, trial.tid)

    def _say(self, served: _Served, message: str) -> None:
        if message not in served.said:
            served.said.add(message)
            log.warning("%s", message)


def _outcome(trial: Trial) -> str:
    if trial.ok:
        return f"done, loss {trial.loss:.6g}"
    error = (trial.error or "").strip().splitlines()
    return f"{trial.state.value}: {error[-1] if error else 'no error text'}"
