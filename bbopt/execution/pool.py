"""Local worker processes: the standard library's process pool, rebuilt when a worker dies.

Workers are started with ``spawn`` (a fresh interpreter: TensorFlow and threads
don't survive ``fork``), with thread variables set so N workers share the cores
(:func:`~bbopt.execution.engine.worker_environment`), and each loads and prepares
the objective (``Objective.prepare``) before the first trial is submitted. A worker
ends when the driver process dies (:mod:`~bbopt.execution.lifeline`).

``ProcessPoolExecutor`` breaks for good when one worker dies: every trial in
flight fails with ``BrokenProcessPool``. To know whose fault it was, each worker
reports ``(trial id, pid)`` when it starts a trial, and after the break the
exit codes of the pool's processes tell which one died on its own (the pool
terminates the others with SIGTERM). The trial running there is blamed; the
other trials in flight were bystanders.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from multiprocessing import connection
from typing import Any

from bbopt.errors import BBoptError
from bbopt.execution.engine import Engine, worker_environment
from bbopt.execution.worker import Outcome, Task, init_pool_worker, ready, run_task
from bbopt.objective import PrepareError


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for processes spawned inside the block, then restore."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


#: How long the processes of a broken pool get to stop before they are killed.
STOP_GRACE_SECONDS = 5.0
#: How long worker processes may take to start (a loaded machine is slow to spawn them).
START_TIMEOUT_SECONDS = 120.0


class WorkerStartError(BBoptError, RuntimeError):
    """The worker processes of a pool could not start."""


def _still_running(processes: list[Any], timeout: float) -> list[Any]:
    """Wait up to ``timeout`` seconds for ``processes`` to end; return those still running."""
    running = {p.sentinel: p for p in processes}
    deadline = time.monotonic() + timeout
    while running and (left := deadline - time.monotonic()) > 0:
        for sentinel in connection.wait(list(running), left):
            del running[sentinel]
    return list(running.values())


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ProcessPoolEngine(Engine):
    """``workers`` spawned processes; rebuilt after a worker died or was killed."""

    def __init__(self, workers: int, objective: bytes, token: str) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._environment = worker_environment(workers)
        self._run = (objective, token)  # each (re)started worker prepares it
        self.slots = workers
        self.startup_seconds = 0.0
        self._start()

    def _start(self) -> None:
        started = time.perf_counter()
        self._started = self._context.SimpleQueue()
        self._pids: dict[int, int] = {}  # trial id -> pid of the worker that started it
        self._killed: set[int] = set()  # pids this engine killed (timeouts)
        with _environment(self._environment):
            pool = ProcessPoolExecutor(
                self.slots,
                mp_context=self._context,
                initializer=init_pool_worker,
                initargs=(self._started, self._context.Barrier(self.slots), os.getpid()),
            )
            # Start every worker now, while the thread variables are set, wait until all
            # are up and have prepared the objective, instead of meeting the first trials
            # with interpreters booting and libraries loading.
            warm_up = [
                pool.submit(ready, START_TIMEOUT_SECONDS, *self._run) for _ in range(self.slots)
            ]
            wait(warm_up)
        failed = [f.exception() for f in warm_up if f.exception() is not None]
        if failed:
            pool.shutdown(wait=True, cancel_futures=True)
            if isinstance(failed[0], PrepareError):
                raise failed[0]
            raise WorkerStartError(
                f"the worker processes did not start or load the objective ({failed[0]!r}); "
                'a script that runs bbopt with workers needs an `if __name__ == "__main__":` '
                "guard"
            ) from failed[0]
        # The pool keeps its processes in a private dict (pid -> Process) that has been
        # there since Python 3.2; a pool without max_tasks_per_child never replaces them.
        self._processes: list[Any] = list(pool._processes.values())
        self.executor = pool
        self.startup_seconds += time.perf_counter() - started

    def _collect_reports(self) -> None:
        while not self._started.empty():
            tid, pid = self._started.get()
            self._pids[tid] = pid

    def submit(self, task: Task) -> Future[Outcome]:
        self._collect_reports()  # keeps the report pipe short
        try:
            return self.executor.submit(run_task, task)
        except BrokenProcessPool as exc:  # broke since the last wait: fail like its trials
            future: Future[Outcome] = Future()
            future.set_exception(exc)
            return future

    def is_broken(self, error: BaseException) -> bool:
        return isinstance(error, BrokenProcessPool)

    def rebuild(self) -> dict[int, str] | None:
        self._collect_reports()
        # The broken pool stops its other processes with SIGTERM; one that ignores it
        # would hold up the shutdown, and was alive after the break: not the culprit.
        stuck = {p.pid for p in _still_running(self._processes, STOP_GRACE_SECONDS)}
        for process in self._processes:
            if process.pid in stuck:
                process.kill()
        # Once shut down, the pool has failed all its futures and joined its processes,
        # so every exit code is known.
        self.executor.shutdown(wait=True, cancel_futures=True)
        died = {
            p.pid: _describe_exit(p.exitcode)
            for p in self._processes
            if p.pid not in self._killed | stuck and p.exitcode != -signal.SIGTERM
        }
        blamed = {
            tid: f"worker process {pid} died ({died[pid]})"
            for tid, pid in self._pids.items()
            if pid in died
        }
        cause_known = bool(died or self._killed)
        self._start()
        return blamed if cause_known else None

    def kill(self, tid: int, future: Future[Outcome]) -> None:
        self._collect_reports()
        pid = self._pids.get(tid)
        # A trial not reported as started is queued in the pool: only a restart frees it.
        victims = [pid] if pid is not None else [p.pid for p in self._processes]
        for victim in victims:
            self._killed.add(victim)
            with suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)  # the pool breaks; the loop rebuilds it

    def close(self, interrupted: bool = False) -> None:
        if interrupted:  # trials in flight will not be waited for
            for process in self._processes:
                process.kill()
        self.executor.shutdown(wait=True, cancel_futures=True)
