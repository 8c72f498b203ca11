"""Engines: where parallel trials run, behind one small interface built on concurrent.futures.

The parallel loop (:mod:`bbopt.execution.loop`) submits :class:`~bbopt.execution.worker.Task`
objects and waits on the ``concurrent.futures.Future`` each submit returns. An engine
adds what an Executor lacks: how many trials to keep in flight, how to free a worker
whose trial hangs, and (for the process pool) how to recover once a worker died.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import Executor, Future

from bbopt.execution.channel import ReportInbox, ReportServer
from bbopt.execution.worker import Outcome, Task, run_task

THREAD_VARIABLES = (
    "BBOPT_WORKER_THREADS",  # read by bbopt's Keras objectives to size TensorFlow's pools
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
)


def usable_cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_environment(slots: int) -> dict[str, str]:
    """Thread settings for ``slots`` workers on this machine, so they don't oversubscribe it.

    Each worker gets ``max(1, cores // slots)`` threads; a variable the user already
    set in the driver's environment is kept as it is.
    """
    threads = str(max(1, usable_cores() // slots))
    return {name: os.environ.get(name, threads) for name in THREAD_VARIABLES}


class Engine:
    """Runs Tasks on an Executor the user gave; bbopt neither rebuilds nor shuts it down."""

    def __init__(self, executor: Executor, slots: int) -> None:
        self.executor = executor
        self.slots = slots
        self.startup_seconds = 0.0  # time spent starting workers (pools and clusters bbopt owns)

    def submit(self, task: Task) -> Future[Outcome]:
        return self.executor.submit(run_task, task)

    def report_server(self) -> ReportInbox:
        """Where this engine's workers send their reports (runs with a pruner): a socket of
        this machine (:mod:`bbopt.execution.channel`)."""
        return ReportServer()

    def is_broken(self, error: BaseException) -> bool:
        """Whether ``error`` means every trial in flight was lost and :meth:`rebuild` is due."""
        return False

    def rebuild(self) -> dict[int, str] | None:
        """Start over after a break; return trial id -> reason for the trials whose worker
        died, or None when that cannot be told."""
        raise NotImplementedError(f"{type(self).__name__} cannot rebuild")

    def kill(self, tid: int, future: Future[Outcome]) -> None:
        """Stop the trial ``tid`` (timed out) and free its worker if possible."""
        if not future.cancel():
            warnings.warn(
                f"trial {tid} timed out but its worker cannot be stopped on a user-given "
                "executor; it stays busy until the objective returns",
                RuntimeWarning,
                stacklevel=2,
            )

    def close(self, interrupted: bool = False) -> None:
        """Release what bbopt started (nothing for a user-given executor)."""
