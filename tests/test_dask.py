"""Parallel trials on Dask: a LocalCluster bbopt starts, and a scheduler + workers started
apart (as on several machines), all on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import bbopt
from bbopt import hp

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow
DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pid_of(worker: str | None) -> int:
    assert worker is not None
    return int(worker.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """``dask scheduler`` and ``dask worker`` (2 processes of 1 thread) as separate commands."""
    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    loopback = ["--host", "127.0.0.1", "--no-dashboard"]
    commands = [
        [DASK, "scheduler", "--port", port, *loopback],
        [DASK, "worker", address, "--nworkers", "2", "--nthreads", "1", *loopback],
    ]
    processes = [
        subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in commands
    ]
    try:
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def timed_quadratic(offset: float) -> Any:
    """A closure (sent by value): sleeps 0.3 s, records when and where it ran."""

    def objective(x: float) -> dict[str, Any]:
        started = time.time()
        time.sleep(0.3)
        threads = os.environ.get("BBOPT_WORKER_THREADS")
        loss = (x - offset) ** 2
        return {
            "loss": loss,
            "t0": started,
            "t1": time.time(),
            "pid": os.getpid(),
            "threads": threads,
        }

    return objective


def overlapping(study: Any) -> list[tuple[Any, Any]]:
    trials = study.ok_trials
    return [
        (a, b)
        for i, a in enumerate(trials)
        for b in trials[i + 1 :]
        if a.extras["t0"] < b.extras["t1"] and b.extras["t0"] < a.extras["t1"]
    ]


def test_local_cluster_gives_the_serial_runs_points_and_results(monkeypatch: Any) -> None:
    monkeypatch.delenv("BBOPT_WORKER_THREADS", raising=False)
    space = hp.uniform("x", -5, 5)
    objective = timed_quadratic(1.5)
    serial = bbopt.minimize(objective, space, backend="hyperopt.rand", max_evals=8, seed=2)
    study = bbopt.minimize(
        objective, space, backend="hyperopt.rand", max_evals=8, seed=2, executor="dask", workers=2
    )
    assert [t.flat_params for t in study.trials] == [t.flat_params for t in serial.trials]
    assert [t.loss for t in study.trials] == [t.loss for t in serial.trials]
    pids = {t.extras["pid"] for t in study.trials}
    assert len(pids) == 2 and os.getpid() not in pids
    assert {pid_of(t.worker) for t in study.trials} == pids
    assert len(overlapping(study)) >= 4
    cores = len(os.sched_getaffinity(0))
    assert {t.extras["threads"] for t in study.trials} == {str(max(1, cores // 2))}


def test_local_cluster_reruns_a_killed_workers_trial_and_times_out_a_hanging_one(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "killed"

    def objective(x: float) -> float:
        if x == 4.5:
            time.sleep(600)  # hangs
        if x == -4.5:
            try:  # the first run records its pid and kills its own worker process
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.2)
        return x**2

    study = bbopt.minimize(
        objective,
        hp.uniform("x", -5, 5),
        points_to_evaluate=[{"x": 4.5}, {"x": -4.5}],
        max_evals=8,
        seed=0,
        executor="dask",
        workers=2,
        trial_timeout=3.0,
    )
    hanging, killed = study.trials[:2]
    assert hanging.status == "fail" and "timed out" in (hanging.error or "")
    assert killed.ok and pid_of(killed.worker) != int(marker.read_text())
    assert len(study.ok_trials) == 7


def test_a_running_scheduler_by_address(scheduler: str) -> None:
    study = bbopt.minimize(
        timed_quadratic(-2.0),
        hp.uniform("x", -5, 5),
        backend="hyperopt.tpe",
        backend_options={"n_startup_jobs": 3},
        max_evals=10,
        seed=0,
        executor=scheduler,
    )
    assert len(study.ok_trials) == 10
    assert all(t.loss == pytest.approx((t.params + 2.0) ** 2) for t in study.trials)
    with distributed.Client(scheduler) as client:
        worker_pids = set(client.run(os.getpid).values())
    assert {t.extras["pid"] for t in study.trials} == worker_pids
    pairs = overlapping(study)
    assert len(pairs) >= 5
    assert all(a.flat_params != b.flat_params for a, b in pairs)


def test_a_client_is_used_and_left_open(scheduler: str) -> None:
    with distributed.Client(scheduler) as client:
        study = bbopt.minimize(
            timed_quadratic(0.0), hp.uniform("x", -5, 5), max_evals=4, seed=0, executor=client
        )
        assert client.submit(sum, [1, 2], pure=False).result() == 3
    assert len(study.ok_trials) == 4
