"""The work queue's speed and liveness: ``python -m benchmarks.queue`` (from the repository root).

Starts a MongoDB wire-protocol server on 127.0.0.1 (``nx-27017``, or ``--server
mongod``) and ``bbopt worker`` processes, and prints:

1. Throughput: ``--trials`` trials (default 300) of an instant objective with the
   trivial ``bbopt.random`` backend (so the backend's cost does not hide the queue's),
   driven through the queue to ``--workers`` workers (default 4), for each
   ``--in-flight`` (default 4,8); trials per second over the loop (first trial
   started to last finished). Reference in the same run: the same trials in a serial
   loop on the same storage (no queue: ask, evaluate, record in one process).
2. Liveness: a worker is SIGKILLed mid-trial; the time from the kill to the moment its
   trial's re-run is queued, for each ``--liveness`` heartbeat/grace pair (seconds,
   default 0.25/1,2/20), ``--repeats`` times (default 2). Expected: between the grace
   period less one heartbeat (the driver counts the grace from the moment it saw the
   last heartbeat, which may be up to one interval before the kill) and the grace
   period plus the driver's poll (0.05 s here).

Timings are only comparable within one run.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import bbopt
from bbopt import hp
from bbopt.objective import register_objective
from bbopt.storage import MongoStorage
from bbopt.study import Study
from bbopt.testing.servers import LocalMongo
from bbopt.trial import TrialState

SPACE = {"x": hp.uniform("x", -5, 5)}
WORKER_MODULE = "benchmarks.queue"


@register_objective("bench.queue.instant", space=SPACE, replace=True)
def instant(params: dict[str, float]) -> float:
    """(x - 1)^2 at once."""
    return (params["x"] - 1) ** 2


@register_objective("bench.queue.slow", space=SPACE, replace=True)
def slow(params: dict[str, float]) -> float:
    """(x - 1)^2 after BENCH_QUEUE_SLEEP seconds (default 60)."""
    time.sleep(float(os.environ.get("BENCH_QUEUE_SLEEP", "60")))
    return (params["x"] - 1) ** 2


def start_worker(url: str, study: str, sleep: float = 0.0) -> subprocess.Popen[bytes]:
    """A ``bbopt worker`` process serving ``study``, its log discarded."""
    command = [sys.executable, "-m", "bbopt.cli", "worker", "--storage", url, "--study", study]
    command += ["--poll", "0.01", "--import", WORKER_MODULE, "--quiet"]
    env = {**os.environ, "BENCH_QUEUE_SLEEP": str(sleep)}
    return subprocess.Popen(command, stderr=subprocess.DEVNULL, env=env)


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(30)


def loop_rate(study: Study) -> float:
    """Finished trials per second, first trial started to last trial finished."""
    starts = [t.started_at for t in study.trials if t.started_at is not None]
    ends = [t.finished_at for t in study.trials if t.finished_at is not None]
    return len(study.finished_trials) / (max(ends) - min(starts)).total_seconds()


def throughput(server: LocalMongo, trials: int, workers: int, in_flights: list[int]) -> None:
    print(f"{trials} trials of an instant objective, bbopt.random, {workers} workers")
    print(f"{'run':<28} {'trials/s':>9} {'vs serial':>10}")
    serial = bbopt.minimize(
        "bench.queue.instant",
        backend="bbopt.random",
        max_evals=trials,
        seed=0,
        storage=server.url("bench_serial"),
        progress=False,
    )
    reference = loop_rate(serial)
    print(f"{'serial loop, same storage':<28} {reference:>9.1f} {1.0:>9.2f}x")
    for in_flight in in_flights:
        url = server.url(f"bench_queue_{in_flight}")
        pool = [start_worker(url, "q") for _ in range(workers)]
        study = bbopt.minimize(
            "bench.queue.instant",
            backend="bbopt.random",
            max_evals=trials,
            seed=0,
            storage=url,
            study="q",
            executor=bbopt.WorkQueue(in_flight=in_flight, poll=0.005),
            progress=False,
        )
        stop(pool)
        rate = loop_rate(study)
        label = f"queue, in_flight={in_flight}"
        print(f"{label:<28} {rate:>9.1f} {rate / reference:>9.2f}x")


def death_to_requeue(server: LocalMongo, heartbeat: float, grace: float, run: int) -> float:
    """Seconds from SIGKILL of a worker mid-trial to its trial's re-run being queued."""
    url = server.url(f"bench_liveness_{run}")
    storage = MongoStorage(url, timeout=10)
    victim = start_worker(url, "live", sleep=3600)
    queue = bbopt.WorkQueue(in_flight=1, heartbeat=heartbeat, grace=grace, poll=0.05)
    out: dict[str, Any] = {}

    def drive() -> None:
        out["study"] = bbopt.minimize(
            "bench.queue.slow",
            max_evals=1,
            seed=run,
            storage=url,
            study="live",
            executor=queue,
            progress=False,
        )

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    while not _running(storage):
        time.sleep(0.01)
    time.sleep(heartbeat * 1.5)  # the kill lands anywhere between two heartbeats
    killed = time.monotonic()
    victim.kill()
    victim.wait()
    while not any(t.retry_of is not None for t in _trials(storage)):
        time.sleep(0.005)
    seconds = time.monotonic() - killed
    rescuer = start_worker(url, "live", sleep=0)
    driver.join(120)
    stop([rescuer])
    assert len(out["study"].finished_trials) == 1, "the re-run finished the study"
    return seconds


def _trials(storage: MongoStorage) -> list[Any]:
    return storage.get_trials("live") if "live" in storage.study_names() else []


def _running(storage: MongoStorage) -> bool:
    return any(t.state is TrialState.RUNNING for t in _trials(storage))


def liveness(server: LocalMongo, pairs: list[tuple[float, float]], repeats: int) -> None:
    print("\nworker SIGKILLed mid-trial: seconds until its trial is re-queued")
    print(f"{'heartbeat s':>11} {'grace s':>8} {'median s':>9} {'runs':>20}")
    run = 0
    for heartbeat, grace in pairs:
        times = []
        for _ in range(repeats):
            run += 1
            times.append(death_to_requeue(server, heartbeat, grace, run))
        shown = ", ".join(f"{t:.2f}" for t in times)
        print(f"{heartbeat:>11g} {grace:>8g} {statistics.median(times):>9.2f} {shown:>20}")


def _pairs(text: str) -> list[tuple[float, float]]:
    pairs = []
    for item in text.split(","):
        heartbeat, _, grace = item.partition("/")
        pairs.append((float(heartbeat), float(grace)))
    return pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="nx-27017", choices=("nx-27017", "mongod"))
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--in-flight", default="4,8", help="comma-separated")
    parser.add_argument("--liveness", default="0.25/1,2/20", help="heartbeat/grace pairs")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", choices=("throughput", "liveness"), default=None)
    args = parser.parse_args(argv)
    with LocalMongo(args.server) as server:
        print(f"server: {args.server} on 127.0.0.1:{server.port}")
        if args.only in (None, "throughput"):
            in_flights = [int(n) for n in args.in_flight.split(",")]
            throughput(server, args.trials, args.workers, in_flights)
        if args.only in (None, "liveness"):
            liveness(server, _pairs(args.liveness), args.repeats)


if __name__ == "__main__":
    main()
