"""The work queue: a driver queues trials in MongoDB (or SQLite), ``bbopt worker`` processes
claim, heartbeat, evaluate and record them; dead workers' trials are re-queued once."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from crashed_runs import leave_running

import bbopt
from bbopt import WorkQueue, hp
from bbopt.execution.queue import SETTINGS_BLOB, Liveness, QueueSettings
from bbopt.execution.queue_worker import QueueWorker
from bbopt.space import as_space
from bbopt.storage import InMemoryStorage, MongoStorage, SQLiteStorage, as_storage
from bbopt.study import Study
from bbopt.trial import TrialState

pytest.importorskip("pymongo")
pytestmark = pytest.mark.usefixtures("queue_objectives")
SPACE = {"x": hp.uniform("x", -5, 5)}  # the space of tests/queue_objectives.py

Start = Callable[..., subprocess.Popen[str]]
FAST = WorkQueue(in_flight=2, heartbeat=0.2, grace=1.0, poll=0.02)


def _worker(start: Start, url: str, study: str, *extra: str, **env: str) -> subprocess.Popen[str]:
    return start("worker", "--storage", url, "--study", study, "--poll", "0.02", *extra, **env)


def _in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``target`` in a thread; its result or exception lands in the returned dict."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = target()
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _drive(
    url: str, study: str, max_evals: int, seed: int, queue: WorkQueue
) -> tuple[threading.Thread, dict[str, Any]]:
    """A driver of ``queue.sleepy`` trials, in a thread (see :func:`_result`)."""
    return _in_thread(
        lambda: bbopt.minimize(
            "queue.sleepy",
            max_evals=max_evals,
            seed=seed,
            storage=url,
            study=study,
            executor=queue,
            progress=False,
        )
    )


def _own(storage: SQLiteStorage) -> SQLiteStorage:
    """The same file through its own connection, as a worker process would have it (a
    study rereads its file only after another connection wrote it)."""
    return SQLiteStorage(storage.path)


def _result(thread: threading.Thread, out: dict[str, Any], timeout: float = 120) -> Any:
    thread.join(timeout)
    assert not thread.is_alive(), "the driver did not finish"
    if "error" in out:
        raise out["error"]
    return out["result"]


def _wait_for(condition: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _running_on(url: str, study: str, pid: int) -> Any:
    """The trial of ``study`` running in process ``pid``, if any."""
    if study not in as_storage(url).study_names():
        return None
    for trial in as_storage(url).get_trials(study):
        if trial.state is TrialState.RUNNING and trial.worker and trial.worker.endswith(f":{pid}"):
            return trial
    return None


def _stop(*workers: subprocess.Popen[str]) -> list[str]:
    """SIGTERM each worker; returns their stderr (they must exit cleanly)."""
    logs = []
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err
        logs.append(err)
    return logs


# -- the driver's side, without workers ------------------------------------------------


def test_work_queue_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="in_flight must be an integer >= 1, got 0"):
        WorkQueue(in_flight=0)
    with pytest.raises(ValueError, match=r"grace .* at least twice heartbeat"):
        WorkQueue(heartbeat=5, grace=6)
    with pytest.raises(ValueError, match="trial_timeout does not work with the queue"):
        bbopt.minimize("queue.instant", executor="queue", trial_timeout=3)


def test_the_queue_needs_a_storage_workers_reach() -> None:
    with pytest.raises(ValueError, match="needs a storage that worker processes reach"):
        bbopt.minimize("queue.instant", executor="queue", storage=InMemoryStorage())


def test_an_unregistered_objective_is_not_pickled_unless_asked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"not registered.*WorkQueue\(pickle=True\)"):
        bbopt.minimize(
            lambda p: p["x"] ** 2,
            SPACE,
            executor="queue",
            storage=tmp_path / "s.db",
            progress=False,
        )
    assert SQLiteStorage(tmp_path / "s.db").study_names() == [], "nothing stored"


def test_queue_settings_are_read_as_checked_data() -> None:
    good = QueueSettings("o", "f", False, "t", 1.0, 5.0)
    assert QueueSettings.from_json(good.to_json()) == good
    for bad, problem in [
        (b"__import__('os')", "not JSON"),
        (b'{"version": 9}', "version 9"),
        (good.to_json().replace(b'"grace": 5.0', b'"grace": "x"'), "'grace' has a bad value"),
        (good.to_json().replace(b'"pickled": false', b'"pickled": 1'), "'pickled'"),
    ]:
        with pytest.raises(ValueError, match=problem):
            QueueSettings.from_json(bad)


def test_a_stop_rule_withdraws_the_trials_no_worker_took(tmp_path: Path) -> None:
    """No worker runs: the driver queues in_flight trials, times out, withdraws them (a
    resumed study runs them first), and the resumed study is served by a worker."""
    storage = SQLiteStorage(tmp_path / "s.db")
    settings: dict[str, Any] = {"storage": storage, "study": "s", "seed": 1, "progress": False}
    first = bbopt.minimize("queue.instant", max_evals=5, timeout=0.5, executor=FAST, **settings)
    assert first.stop_reason == "timeout"
    assert [t.state for t in first.trials] == [TrialState.ABANDONED] * 2
    assert all(t.error and t.error.startswith("withdrawn") for t in first.trials)
    worker = QueueWorker(_own(storage), "s", poll=0.01, idle_timeout=1.0)
    thread, out = _in_thread(worker.run)
    again = bbopt.minimize("queue.instant", max_evals=5, executor=FAST, **settings)
    assert _result(thread, out) == 5
    assert again.stop_reason == "max_evals"
    reruns = [t for t in again.trials if t.retry_of is not None]
    assert sorted(t.retry_of for t in reruns) == [0, 1], "each withdrawn point re-run once"
    assert len(again.finished_trials) == 5 and all(t.ok for t in again.finished_trials)


def test_the_queue_in_one_process_equals_a_serial_run(tmp_path: Path) -> None:
    """One in-flight trial and one worker thread: the backend sees exactly what a serial
    run sees (its own suggestions, told in order), so the trials are the same."""
    storage = SQLiteStorage(tmp_path / "s.db")
    worker = QueueWorker(_own(storage), "s", poll=0.005, idle_timeout=1.0)
    thread, out = _in_thread(worker.run)
    queued = bbopt.minimize(
        "queue.instant",
        backend="hyperopt.tpe",
        max_evals=15,
        seed=4,
        storage=storage,
        study="s",
        executor=WorkQueue(in_flight=1, poll=0.005),
        progress=False,
    )
    serial = bbopt.minimize(
        "queue.instant", backend="hyperopt.tpe", max_evals=15, seed=4, progress=False
    )
    assert _result(thread, out) == 15
    assert [t.flat_params for t in queued.trials] == [t.flat_params for t in serial.trials]
    assert queued.best_loss == serial.best_loss


class _InterruptedAfterClaiming(QueueWorker):
    """A worker stopped (Ctrl-C, SIGTERM) just after claiming a trial, before its
    evaluation started: the window where a stop used to leave the trial running."""

    def _evaluate(self, served: Any, trial: Any) -> None:
        raise KeyboardInterrupt


def test_a_worker_stopped_between_claim_and_start_gives_the_trial_back(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "s.db")
    settings: dict[str, Any] = {"storage": storage, "study": "s", "seed": 2, "progress": False}
    thread, out = _drive_queue(settings)
    interrupted = _InterruptedAfterClaiming(_own(storage), "s", poll=0.01, idle_timeout=5.0)
    with pytest.raises(KeyboardInterrupt):
        interrupted.run()
    given_back = [t for t in storage.get_trials("s") if t.state is TrialState.ABANDONED]
    assert len(given_back) == 1 and "was stopped while running it" in (given_back[0].error or "")
    worker = QueueWorker(_own(storage), "s", poll=0.01, idle_timeout=1.0)
    assert _in_thread_result(worker.run) == 3
    study = _result(thread, out)
    assert [t.retry_of for t in study.trials if t.retry_of is not None] == [given_back[0].tid]
    assert len(study.finished_trials) == 3 and all(t.ok for t in study.finished_trials)


def _drive_queue(settings: dict[str, Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """A driver of three ``queue.instant`` trials through a one-trial queue, in a thread."""
    queue = WorkQueue(in_flight=1, heartbeat=0.2, grace=30, poll=0.01)
    return _in_thread(
        lambda: bbopt.minimize("queue.instant", max_evals=3, executor=queue, **settings)
    )


def _in_thread_result(target: Callable[[], Any]) -> Any:
    return _result(*_in_thread(target))


def test_a_live_worker_keeps_a_trial_longer_than_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Heartbeats keep a 1.5 s trial alive under a 0.6 s grace period: never reaped."""
    monkeypatch.setenv("QUEUE_TEST_SLEEP", "1.5")
    storage = SQLiteStorage(tmp_path / "s.db")
    thread, out = _in_thread(QueueWorker(_own(storage), "s", poll=0.01, idle_timeout=1.0).run)
    study = bbopt.minimize(
        "queue.sleepy",
        max_evals=2,
        seed=0,
        storage=storage,
        study="s",
        executor=WorkQueue(in_flight=1, heartbeat=0.1, grace=0.6, poll=0.02),
        progress=False,
    )
    assert _result(thread, out) == 2
    assert [t.state for t in study.trials] == [TrialState.DONE] * 2, study.count_by_state()
    assert all(
        t.heartbeat_at and t.started_at and t.heartbeat_at > t.started_at for t in study.trials
    )


def test_a_point_that_loses_its_worker_every_time_fails_after_three_attempts(
    tmp_path: Path,
) -> None:
    """Trials whose heartbeat stops are abandoned and re-queued, twice; the third lost
    attempt is recorded as failed, so a point that kills its workers cannot loop."""
    study = Study("s", as_space(SPACE), storage=SQLiteStorage(tmp_path / "s.db"))
    liveness = Liveness(grace=0.05)
    study.add_trial(_queued())
    for attempt in range(3):
        (queued,) = study.queued_trials
        now = datetime.now(timezone.utc)
        running = dataclasses.replace(
            queued, state=TrialState.RUNNING, heartbeat_at=now, worker=f"gone:{attempt}"
        )
        assert study.update_trial(running, expected_state=TrialState.QUEUED)
        assert liveness.reap(study, requeue=True) == [], "first seen: watched, not reaped"
        time.sleep(0.06)
        (ended,) = liveness.reap(study, requeue=True)
        assert ended.tid == running.tid
    states = [(t.state, t.retry_of) for t in study.trials]
    assert states == [
        (TrialState.ABANDONED, None),
        (TrialState.ABANDONED, 0),
        (TrialState.FAILED, 1),
    ], states
    assert study.trials[2].error == (
        "no heartbeat from worker gone:2 for 0.05 s, on each of its 3 attempts"
    )


def test_max_queue_len_keeps_that_many_waiting_however_many_run(tmp_path: Path) -> None:
    """hyperopt's rule: one trial waits for a worker; the two workers both run trials."""
    storage = SQLiteStorage(tmp_path / "s.db")
    waiting: list[int] = []
    threads = [
        _in_thread(QueueWorker(_own(storage), "s", poll=0.005, idle_timeout=1.0).run)
        for _ in range(2)
    ]
    study = bbopt.minimize(
        "queue.sleepy",
        max_evals=10,
        seed=0,
        storage=storage,
        study="s",
        executor=WorkQueue(max_queue_len=1, poll=0.005),
        callbacks=[lambda study, trial: waiting.append(len(study.queued_trials))],
        progress=False,
    )
    assert sum(_result(*thread) for thread in threads) == 10
    assert len(study.finished_trials) == 10 and max(waiting) <= 1
    spans = sorted((t.started_at, t.finished_at) for t in study.trials)
    overlaps = sum(a[1] > b[0] for a, b in itertools.pairwise(spans))
    assert overlaps >= 3, "the two workers ran trials at the same time"


# -- worker processes against a real wire-protocol server ---------------------------


@pytest.mark.slow
def test_three_workers_and_a_driver_complete_60_trials(
    mongo_url: str, bbopt_process: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUE_TEST_SLEEP", "0.05")  # for the workers started below
    workers = [
        bbopt_process(
            "worker", "--storage", mongo_url, "--poll", "0.02", "--import", "queue_objectives"
        )
        for _ in range(3)
    ]
    study = bbopt.minimize(
        "queue.sleepy",
        backend="hyperopt.rand",
        max_evals=60,
        seed=0,
        storage=mongo_url,
        study="sixty",
        executor=WorkQueue(in_flight=5, poll=0.02),
        progress=False,
    )
    _stop(*workers)
    stored = bbopt.load_study("sixty", mongo_url)
    assert [t.tid for t in stored.trials] == list(range(60)), "60 trials, unique ids"
    assert all(t.state is TrialState.DONE for t in stored.trials)
    assert study.stop_reason == "max_evals" and len(study.finished_trials) == 60
    pids = {f":{w.pid}" for w in workers}
    ran = {t.worker[t.worker.rindex(":") :] for t in stored.trials if t.worker}
    assert ran == pids, f"every worker took trials: {ran} vs {pids}"


@pytest.mark.slow
def test_a_killed_workers_trial_is_re_run_once(mongo_url: str, bbopt_process: Start) -> None:
    victim = _worker(bbopt_process, mongo_url, "kill", QUEUE_TEST_SLEEP="0.4")
    thread, out = _drive(mongo_url, "kill", 5, 1, FAST)
    killed = _wait_for(lambda: _running_on(mongo_url, "kill", victim.pid), what="a running trial")
    victim.kill()  # SIGKILL: no chance to give the trial back
    victim.communicate()
    rescuer = _worker(bbopt_process, mongo_url, "kill", QUEUE_TEST_SLEEP="0.05")
    study = _result(thread, out)
    _stop(rescuer)
    trials = bbopt.load_study("kill", mongo_url).trials
    abandoned = [t for t in trials if t.state is TrialState.ABANDONED]
    assert [t.tid for t in abandoned] == [killed.tid], "only the killed trial was lost"
    assert "no heartbeat" in (abandoned[0].error or "")
    (rerun,) = [t for t in trials if t.retry_of == killed.tid]
    assert rerun.state is TrialState.DONE and rerun.flat_params == killed.flat_params
    assert rerun.worker is not None and rerun.worker.endswith(f":{rescuer.pid}")
    done = [t for t in trials if t.state is TrialState.DONE]
    assert len(done) == 5 == len(study.finished_trials), "none lost, none counted twice"
    assert len({tuple(t.flat_params.items()) for t in done}) == 5


@pytest.mark.slow
def test_a_late_result_from_a_worker_taken_for_dead_is_refused(
    mongo_url: str, bbopt_process: Start
) -> None:
    sleeper = _worker(bbopt_process, mongo_url, "late", "--stop-after", "1", QUEUE_TEST_SLEEP="0.6")
    thread, out = _drive(
        mongo_url, "late", 3, 2, WorkQueue(in_flight=1, heartbeat=0.2, grace=1.0, poll=0.02)
    )
    paused = _wait_for(lambda: _running_on(mongo_url, "late", sleeper.pid), what="a trial")
    os.kill(sleeper.pid, signal.SIGSTOP)  # alive but silent: no heartbeat, no result
    rescuer = _worker(bbopt_process, mongo_url, "late", QUEUE_TEST_SLEEP="0.05")
    storage = MongoStorage(mongo_url, timeout=5)
    _wait_for(
        lambda: any(
            t.retry_of == paused.tid and t.state is TrialState.DONE
            for t in storage.get_trials("late")
        ),
        what="the re-run",
    )
    os.kill(sleeper.pid, signal.SIGCONT)  # wakes up and reports its result, too late
    study = _result(thread, out)
    _, late_log = sleeper.communicate(timeout=60)  # it stops after its one trial
    _stop(rescuer)
    stored = {t.tid: t for t in storage.get_trials("late")}
    assert stored[paused.tid].state is TrialState.ABANDONED and stored[paused.tid].loss is None
    assert f"trial {paused.tid} was given up while it ran here" in late_log, late_log
    assert len([t for t in stored.values() if t.ok]) == 3 == len(study.finished_trials)


@pytest.mark.slow
def test_mongo_and_sqlite_hold_the_same_trials(
    mongo_url: str, bbopt_process: Start, tmp_path: Path
) -> None:
    """Same seed, one worker process each: the MongoDB and the SQLite study are the same."""
    studies = []
    for url in (mongo_url, str(tmp_path / "same.db")):
        worker = _worker(bbopt_process, url, "same", QUEUE_TEST_SLEEP="0")
        studies.append(
            bbopt.minimize(
                "queue.sleepy",
                backend="hyperopt.tpe",
                max_evals=12,
                seed=7,
                storage=url,
                study="same",
                executor=WorkQueue(in_flight=1, poll=0.01),
                progress=False,
            )
        )
        _stop(worker)
    mongo, sqlite = (bbopt.load_study("same", s.storage) for s in studies)
    assert len(mongo.trials) == len(sqlite.trials) == 12
    for a, b in zip(mongo.trials, sqlite.trials, strict=True):
        assert (a.tid, a.flat_params, a.loss, a.state) == (b.tid, b.flat_params, b.loss, b.state)


@pytest.mark.slow
def test_a_stopped_worker_gives_its_trial_back(mongo_url: str, bbopt_process: Start) -> None:
    leaving = _worker(bbopt_process, mongo_url, "term", QUEUE_TEST_SLEEP="5")
    no_reaping = WorkQueue(in_flight=1, grace=60, poll=0.02)
    thread, out = _drive(mongo_url, "term", 2, 3, no_reaping)
    left = _wait_for(lambda: _running_on(mongo_url, "term", leaving.pid), what="a trial")
    (log,) = _stop(leaving)
    assert f"trial {left.tid} given back to the queue" in log
    stayer = _worker(bbopt_process, mongo_url, "term", QUEUE_TEST_SLEEP="0")
    study = _result(thread, out)
    _stop(stayer)
    rerun = [t for t in study.trials if t.retry_of == left.tid]
    assert len(rerun) == 1 and rerun[0].ok, "re-queued at once, without the grace period"
    assert len(study.finished_trials) == 2


# -- objectives reach workers by name, or pickled when both sides allow it ----------


@pytest.mark.slow
def test_pickled_objectives_run_only_with_allow_pickle(
    mongo_url: str, bbopt_process: Start, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    storage = MongoStorage(mongo_url, timeout=5)
    study = Study("trap", as_space(SPACE), objective="trap", storage=storage)
    study.store()
    settings = QueueSettings("trap", study.record.fingerprint, True, "t", 0.2, 1.0)
    storage.put_blob("trap", SETTINGS_BLOB, settings.to_json())
    storage.put_blob("trap", "objective.pickle", _Payload.pickle(marker))
    study.add_trial(_queued())
    careful = bbopt_process(
        "worker", "--storage", mongo_url, "--poll", "0.02", "--idle-timeout", "1"
    )
    _, err = careful.communicate(timeout=60)
    assert careful.returncode == 0, err
    assert "stored pickled by the driver; start the worker with --allow-pickle" in err
    assert not marker.exists(), "nothing read from the database may be unpickled"
    assert storage.get_trials("trap")[0].state is TrialState.QUEUED

    # A real driver's pickled closure, run by a worker that allows it
    offset = 3.0
    worker = _worker(bbopt_process, mongo_url, "closure", "--allow-pickle")
    found = bbopt.minimize(
        lambda p: (p["x"] - offset) ** 2,
        SPACE,
        max_evals=4,
        seed=0,
        storage=mongo_url,
        study="closure",
        executor=WorkQueue(pickle=True, poll=0.02),
        progress=False,
    )
    _stop(worker)
    assert len(found.finished_trials) == 4 and all(t.ok for t in found.trials)
    assert found.best_loss == min((t.flat_params["x"] - offset) ** 2 for t in found.trials)


def _queued() -> Any:
    from bbopt.trial import Trial

    return Trial(tid=-1, flat_params={"x": 0.5}, state=TrialState.QUEUED)


class _Payload:
    """Unpickling this creates a file: proof that a worker unpickled it."""

    @staticmethod
    def pickle(marker: Path) -> bytes:
        import pickle

        class Trap:
            def __reduce__(self) -> Any:
                return (Path.touch, (marker,))

        return pickle.dumps(Trap())


@pytest.mark.slow
def test_hyperopts_worker_command(mongo_url: str, bbopt_process: Start) -> None:
    """``bbopt-mongo-worker --mongo=host:port/db --exp-key NAME``, hyperopt's spelling."""
    address = mongo_url.removeprefix("mongodb://")
    command = [
        str(Path(sys.executable).parent / "bbopt-mongo-worker"),
        f"--mongo={address}",
        "--exp-key",
        "hyperopt",
        "--poll-interval",
        "0.02",
        "--import",
        "queue_objectives",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "QUEUE_TEST_SLEEP": "0"}
    worker = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        study = bbopt.minimize(
            "queue.sleepy",
            max_evals=6,
            seed=5,
            storage=mongo_url,
            study="hyperopt",
            executor=WorkQueue(poll=0.02),
            progress=False,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert len(study.finished_trials) == 6
    assert {t.worker for t in study.trials} == {study.trials[0].worker}
    assert study.trials[0].worker and study.trials[0].worker.endswith(f":{worker.pid}")


@pytest.mark.slow
def test_mongo_trials_run_hyperopts_mongodb_mode(mongo_url: str) -> None:
    """The tutorial's MongoDB mode with bbopt's names: MongoTrials + bbopt-mongo-worker."""
    from hyperopt import hp as hyperopt_hp

    from bbopt.hyperopt import MongoTrials, fmin, tpe

    address = mongo_url.removeprefix("mongodb://")  # host:port/db
    command = [
        str(Path(sys.executable).parent / "bbopt-mongo-worker"),
        f"--mongo={address}",
        "--allow-pickle",  # fmin stores the function pickled, as hyperopt does
        "--poll-interval",
        "0.02",
    ]
    worker = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        trials = MongoTrials(f"mongo://{address}/jobs", exp_key="exp1")
        best = fmin(
            lambda x: (x - 1) ** 2,
            hyperopt_hp.uniform("x", -5, 5),
            algo=tpe.suggest,
            max_evals=8,
            trials=trials,
            max_queue_len=2,
            show_progressbar=False,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert len(trials) == 8 and trials.statuses() == ["ok"] * 8
    assert best == trials.argmin and trials.best_trial["result"]["loss"] == min(trials.losses())
    stored = bbopt.load_study("exp1", mongo_url)
    assert {t.worker for t in stored.trials} == {stored.trials[0].worker}
    assert stored.trials[0].worker and stored.trials[0].worker.endswith(f":{worker.pid}")


def test_a_resumed_queue_driver_waits_for_its_reruns_before_queueing_new_points(
    tmp_path: Path,
) -> None:
    """The driver of a killed queue run left two trials running. Resumed, it queues their
    re-runs; queueing new points before those are told would draw their points again."""
    run = functools.partial(bbopt.minimize, "queue.instant", backend="hyperopt.tpe", seed=0)
    points = [t.flat_params for t in run(max_evals=10).trials]
    storage = SQLiteStorage(tmp_path / "s.db")
    run(max_evals=4, storage=storage, study="s")
    leave_running(storage, "s", points[4:6], "hyperopt.tpe", seed=0)
    worker = QueueWorker(_own(storage), "s", poll=0.005, idle_timeout=1.0)
    thread, out = _in_thread(worker.run)
    queue = WorkQueue(in_flight=3, poll=0.005)
    resumed = run(max_evals=10, storage=storage, study="s", executor=queue, progress=False)
    _result(thread, out)
    done = [t.flat_params for t in resumed.trials if t.state is TrialState.DONE]
    assert sorted(p["x"] for p in done) == sorted(p["x"] for p in points)
