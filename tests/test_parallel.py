"""Parallel trials in bbopt's local process pool: real spawned worker processes."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import bbopt
from bbopt import hp
from bbopt.objective import FunctionObjective
from bbopt.study import Study
from bbopt.trial import TrialState

SPACE = {"x": hp.uniform("x", -5, 5), "k": hp.choice("k", [0, 1, 2])}


def quadratic(params: dict[str, Any]) -> float:
    """Deterministic and importable, so workers find it by reference."""
    return (params["x"] - 1.0) ** 2 + params["k"]


def timed_sleep(params: dict[str, Any]) -> dict[str, Any]:
    """Sleeps 0.3 s and reports when it ran and where."""
    started = time.time()
    time.sleep(0.3)
    return {"loss": (params["x"] - 1.0) ** 2, "t0": started, "t1": time.time(), "pid": os.getpid()}


def pid_of(worker: str | None) -> int:
    assert worker is not None
    return int(worker.rsplit(":", 1)[1])


def overlapping_pairs(study: Study) -> list[tuple[Any, Any]]:
    trials = [t for t in study.trials if t.ok]
    return [
        (a, b)
        for a, b in itertools.combinations(trials, 2)
        if a.extras["t0"] < b.extras["t1"] and b.extras["t0"] < a.extras["t1"]
    ]


def max_concurrency(study: Study) -> int:
    """Most trials running at one instant, from the times the objective recorded."""
    events = sorted(
        [(t.extras["t0"], 1) for t in study.ok_trials]
        + [(t.extras["t1"], -1) for t in study.ok_trials]
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.slow
def test_same_points_and_results_as_a_serial_run() -> None:
    # Random search asks the same points whatever came back, so a serial and a parallel
    # run with one seed must evaluate the same points, in the same trial order.
    serial = bbopt.minimize(quadratic, SPACE, backend="hyperopt.rand", max_evals=10, seed=3)
    parallel = bbopt.minimize(
        quadratic, SPACE, backend="hyperopt.rand", max_evals=10, seed=3, workers=2, progress=False
    )
    assert [t.flat_params for t in parallel.trials] == [t.flat_params for t in serial.trials]
    assert [t.loss for t in parallel.trials] == [t.loss for t in serial.trials]
    assert [t.params for t in parallel.trials] == [t.params for t in serial.trials]
    pids = {pid_of(t.worker) for t in parallel.trials}
    assert os.getpid() not in pids
    assert all(t.state is TrialState.DONE and t.duration is not None for t in parallel.trials)


@pytest.mark.slow
def test_n_trials_in_flight_and_never_the_same_point() -> None:
    study = bbopt.minimize(
        timed_sleep,
        SPACE,
        backend="hyperopt.tpe",
        backend_options={"n_startup_jobs": 3},  # TPE proper from the 4th trial on
        max_evals=12,
        seed=0,
        workers=3,
        progress=False,
    )
    assert len(study.ok_trials) == 12
    assert max_concurrency(study) == 3
    assert len({t.extras["pid"] for t in study.trials}) == 3
    pairs = overlapping_pairs(study)
    assert len(pairs) >= 12  # about two neighbours per trial
    assert all(a.flat_params != b.flat_params for a, b in pairs)


@pytest.mark.slow
def test_a_closure_runs_in_workers() -> None:
    offset = 7.5  # captured: the function travels by value

    def shifted(x: float) -> float:
        return (x - offset) ** 2

    study = bbopt.minimize(shifted, hp.uniform("x", 0, 10), max_evals=6, seed=1, workers=2)
    assert len(study.ok_trials) == 6
    assert all(t.loss == pytest.approx((t.params - offset) ** 2) for t in study.trials)
    assert all(pid_of(t.worker) != os.getpid() for t in study.trials)


@pytest.mark.slow
def test_a_killed_worker_costs_one_retry(tmp_path: Any) -> None:
    marker = tmp_path / "killed"

    def dies_once(x: float) -> float:
        try:  # the first trial to get here records its pid and kills its own process
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            time.sleep(0.2)
            return x**2
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    study = bbopt.minimize(dies_once, hp.uniform("x", -1, 1), max_evals=8, seed=0, workers=2)
    killed = int(marker.read_text())
    assert len(study.trials) == 8
    assert all(t.ok for t in study.trials), [t.error for t in study.trials]
    retried = [t for t in study.trials if t.extras.get("retries")]
    assert len(retried) == 1 and retried[0].extras["retries"] == 1
    assert killed not in {pid_of(t.worker) for t in study.trials}


@pytest.mark.slow
def test_a_trial_that_always_kills_its_worker_fails_and_the_others_do_not() -> None:
    def crashes_at_the_warm_start_point(x: float) -> float:
        if x == 4.5:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.2)
        return x**2

    study = bbopt.minimize(
        crashes_at_the_warm_start_point,
        hp.uniform("x", -5, 5),
        points_to_evaluate=[{"x": 4.5}],
        max_evals=6,
        seed=0,
        workers=2,
    )
    assert len(study.trials) == 6
    (failed,) = [t for t in study.trials if not t.ok]
    assert failed.flat_params == {"x": 4.5} and failed.state is TrialState.FAILED
    assert "SIGKILL" in (failed.error or "") and "2 attempts" in (failed.error or "")
    assert failed.extras == {"retries": 1}
    # the bystanders re-ran without being charged
    assert all(t.ok and "retries" not in t.extras for t in study.trials if t is not failed)


@pytest.mark.slow
def test_trial_timeout_fails_a_hanging_trial_and_frees_its_worker() -> None:
    def hangs_at_the_warm_start_point(x: float) -> float:
        time.sleep(600 if x == 4.5 else 0.1)
        return x**2

    started = time.monotonic()
    study = bbopt.minimize(
        hangs_at_the_warm_start_point,
        hp.uniform("x", -5, 5),
        points_to_evaluate=[{"x": 4.5}],
        max_evals=8,
        seed=0,
        workers=2,
        trial_timeout=2.0,
    )
    assert time.monotonic() - started < 40
    (failed,) = [t for t in study.trials if not t.ok]
    assert failed.flat_params == {"x": 4.5}
    assert "timed out" in (failed.error or "") and failed.duration >= 2.0
    assert len(study.ok_trials) == 7


@pytest.mark.slow
def test_ctrl_c_abandons_trials_in_flight_and_stops_the_workers() -> None:
    def ctrl_c_soon(study: Study) -> bool:
        # Once two trials finished, send the driver a real SIGINT while the next ones run.
        if len(study.finished_trials) >= 2 and not timers:
            timers.append(threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)))
            timers[0].start()
        return False

    timers: list[threading.Timer] = []
    with pytest.warns(RuntimeWarning, match="interrupted"):
        study = bbopt.minimize(
            timed_sleep, SPACE, max_evals=20, seed=0, workers=2, early_stop=ctrl_c_soon
        )
    states = study.count_by_state()
    assert set(states) == {"done", "abandoned"} and states["done"] >= 2
    assert len(study.trials) < 20
    assert all("interrupted" in (t.error or "") for t in study.trials if not t.finished)
    for pid in {pid_of(t.worker) for t in study.finished_trials}:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.slow
def test_storage_records_every_trial_of_a_parallel_run(tmp_path: Any) -> None:
    path = tmp_path / "studies.db"
    study = bbopt.minimize(
        quadratic, SPACE, max_evals=8, seed=0, workers=2, storage=str(path), study="par"
    )
    stored = bbopt.load_study("par", str(path))
    assert [t.to_dict() for t in stored.trials] == [t.to_dict() for t in study.trials]
    assert len(stored.ok_trials) == 8


def thread_settings(x: float) -> dict[str, Any]:
    names = ("BBOPT_WORKER_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    return {"loss": x, **{name: os.environ.get(name) for name in names}}


@pytest.mark.slow
def test_workers_share_the_cores_through_thread_variables(monkeypatch: Any) -> None:
    monkeypatch.delenv("BBOPT_WORKER_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")  # set by the user: kept
    study = bbopt.minimize(thread_settings, hp.uniform("x", 0, 1), max_evals=2, workers=2)
    expected = str(max(1, len(os.sched_getaffinity(0)) // 2))
    for trial in study.trials:
        assert trial.extras["BBOPT_WORKER_THREADS"] == expected
        assert trial.extras["OMP_NUM_THREADS"] == expected
        assert trial.extras["OPENBLAS_NUM_THREADS"] == "3"
    assert "BBOPT_WORKER_THREADS" not in os.environ  # the driver's environment is restored


@pytest.mark.slow
def test_the_command_line_runs_trials_in_workers(capsys: Any) -> None:
    from bbopt.cli import main

    assert (
        main(["run", "toy.sin", "--max-evals", "4", "--seed", "0", "--quiet", "--workers", "2"])
        == 0
    )
    assert "4 trials (4 done)" in capsys.readouterr().out


def test_the_command_line_refuses_bad_parallel_settings(capsys: Any) -> None:
    from bbopt.cli import main

    assert main(["run", "toy.sin", "--executor", "threads"]) == 2
    assert "unknown executor 'threads'" in capsys.readouterr().err
    assert main(["run", "toy.sin", "--trial-timeout", "5"]) == 2
    assert "--trial-timeout needs --workers N" in capsys.readouterr().err


def test_a_user_executor_runs_the_trials() -> None:
    with ThreadPoolExecutor(2) as pool, pytest.warns(RuntimeWarning, match="has 2 threads"):
        study = bbopt.minimize(quadratic, SPACE, max_evals=5, seed=0, executor=pool)
    assert [t.loss for t in study.trials] == [quadratic(t.params) for t in study.trials]


def test_a_thread_pool_runs_one_trial_at_a_time_unless_the_objective_is_thread_safe() -> None:
    with ThreadPoolExecutor(3) as pool, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        one_at_a_time = bbopt.minimize(timed_sleep, SPACE, max_evals=6, executor=pool, workers=3)
        thread_safe = FunctionObjective(timed_sleep, SPACE, thread_safe=True)
        shared = bbopt.minimize(thread_safe, max_evals=6, executor=pool, workers=3)
    assert max_concurrency(one_at_a_time) == 1
    assert max_concurrency(shared) == 3
    (unused,) = [str(w.message) for w in caught if "threads" in str(w.message)]
    assert "has 3 threads, but the objective is not thread-safe" in unused


# A driver script: 4 pool workers, each writes its pid into the folder given, then sleeps.
DRIVER = """
import os, sys, time
from pathlib import Path
import bbopt
from bbopt import hp

def slow(x):
    Path(sys.argv[1], str(os.getpid())).touch()
    time.sleep(0.5)
    return x ** 2

if __name__ == "__main__":
    bbopt.minimize(slow, hp.uniform("x", -1, 1), max_evals=10_000, workers=4, progress=False)
"""


def children_of(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``: pid -> command line (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if entry.name.isdigit() and ppid == pid:
                found[int(entry.name)] = (entry / "cmdline").read_text().replace("\0", " ")
        except (OSError, ValueError, IndexError):
            continue
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (an orphan's reaper may be slow)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def still_running_after(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := [p for p in pids if running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_and_resource_tracker_exit_when_the_driver_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    started = tmp_path / "pids"
    started.mkdir()
    driver = subprocess.Popen([sys.executable, str(script), str(started)])
    children: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 120
        while len(list(started.iterdir())) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)  # until all 4 workers run trials
        children = children_of(driver.pid)
        workers = {int(p.name) for p in started.iterdir()}
        assert len(workers) == 4 and workers <= set(children)
        assert any("resource_tracker" in command for command in children.values())
        driver.kill()
        driver.wait()
        assert still_running_after(list(children), 5.0) == []
    finally:
        driver.kill()
        driver.wait()
        for pid in children:
            if running(pid):
                os.kill(pid, signal.SIGKILL)


# A parent that starts a child watching it with the portable fallback (no parent-death
# signal), prints the child's pid once the watch runs, and waits.
WATCHED_CHILD = (
    "import os, sys, time; from bbopt.execution.lifeline import watch_parent; "
    "watch_parent(os.getppid()); print(os.getpid(), flush=True); time.sleep(120)"
)
PARENT = (
    "import subprocess, sys, time; "
    f"subprocess.Popen([sys.executable, '-c', {WATCHED_CHILD!r}]); time.sleep(120)"
)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_watchdog_fallback_exits_when_the_parent_dies() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert running(child)
        parent.kill()
        parent.wait()
        assert still_running_after([child], 5.0) == []
    finally:
        parent.kill()
        parent.wait()
        if running(child):
            os.kill(child, signal.SIGKILL)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workers": 0}, "workers must be an integer >= 1"),
        ({"workers": 2.0}, "workers must be an integer >= 1"),
        ({"trial_timeout": 5}, "trial_timeout needs trials in worker processes"),
        ({"workers": 2, "trial_timeout": 0}, "trial_timeout must be > 0"),
        ({"executor": "threads"}, "unknown executor 'threads'"),
    ],
)
def test_bad_parallel_settings_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bbopt.minimize(quadratic, SPACE, max_evals=2, **options)


def test_an_executor_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(TypeError, match="executor must be"):
        bbopt.minimize(quadratic, SPACE, max_evals=2, executor=object())  # type: ignore[arg-type]


def test_the_report_channel_closes_while_its_accept_thread_is_gone() -> None:
    """The race of a worker connecting as the run ends: the accept thread takes that
    connection, sees the server closing and returns. close() must not then wait for a
    handshake nobody answers (runs with a pruner ending on an error hung for good)."""
    from multiprocessing.connection import Client

    from bbopt.execution.channel import ReportServer

    server = ReportServer()
    server._closed = True  # the accept thread returns after its next connection
    Client(server.link.address, authkey=server.link.authkey).close()
    server._acceptor.join(10)
    assert not server._acceptor.is_alive()
    server._closed = False  # close() now runs as in that race
    closer = threading.Thread(target=server.close, daemon=True)
    closer.start()
    closer.join(10)
    assert not closer.is_alive(), "close() waits for ever"
