"""Which engine runs the trials: ``minimize``'s ``workers``, ``executor`` and ``trial_timeout``."""

from __future__ import annotations

import dataclasses
import difflib
import sys
import warnings
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bbopt.execution.engine import Engine, usable_cores
from bbopt.execution.queue import WorkQueue

EXECUTOR_NAMES = ("process", "dask", "queue")


def is_executor_name(text: str) -> bool:
    """Whether ``text`` names an executor: one of :data:`EXECUTOR_NAMES` or an address."""
    return text in EXECUTOR_NAMES or "://" in text


def unknown_executor(name: str) -> str:
    """The start of the message for an executor name that is none of the known ones."""
    close = difflib.get_close_matches(name, EXECUTOR_NAMES, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"unknown executor {name!r}{hint}: use 'process', 'dask', 'queue', a Dask scheduler "
        "address such as 'tcp://host:8786'"
    )


def _is_dask_client(executor: Any) -> bool:
    distributed = sys.modules.get("distributed")  # a Client exists only if it was imported
    return distributed is not None and isinstance(executor, distributed.Client)


@dataclass(frozen=True)
class Execution:
    """Validated parallel settings; :meth:`open` starts the engine they describe."""

    workers: int | None
    executor: Any
    trial_timeout: float | None

    @classmethod
    def from_args(
        cls, workers: int | None, executor: Any, trial_timeout: float | None
    ) -> Execution | None:
        """Check the arguments; None means the serial loop (no workers, no executor)."""
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        if trial_timeout is not None and not trial_timeout > 0:
            raise ValueError(f"trial_timeout must be > 0 seconds, got {trial_timeout!r}")
        if isinstance(executor, str):
            if not is_executor_name(executor):
                raise ValueError(
                    f"{unknown_executor(executor)}, a concurrent.futures.Executor, a "
                    "distributed.Client or a bbopt WorkQueue"
                )
        elif not (
            executor is None
            or isinstance(executor, (Executor, WorkQueue))
            or _is_dask_client(executor)
        ):
            raise TypeError(
                f"executor must be a name, an address, a concurrent.futures.Executor, a "
                f"distributed.Client or a bbopt WorkQueue, got {executor!r}"
            )
        queued = executor == "queue" or isinstance(executor, WorkQueue)
        if queued and trial_timeout is not None:
            raise ValueError(
                "trial_timeout does not work with the queue: its workers run on their own "
                "(a trial whose worker dies is re-queued after the queue's grace period)"
            )
        if workers is None and executor is None:
            if trial_timeout is not None:
                raise ValueError(
                    "trial_timeout needs trials in worker processes: give workers=N "
                    "(a trial in the calling process cannot be stopped)"
                )
            return None
        return cls(workers, executor, trial_timeout)

    def work_queue(self) -> WorkQueue | None:
        """The queue's settings when trials go through the work queue (``workers`` sets its
        ``in_flight``), else None."""
        if isinstance(self.executor, WorkQueue):
            queue = self.executor
        elif isinstance(self.executor, str) and self.executor == "queue":
            queue = WorkQueue()
        else:
            return None
        return queue if self.workers is None else dataclasses.replace(queue, in_flight=self.workers)

    def open(self, objective: bytes, token: str, thread_safe: bool) -> Engine:
        """Start the engine (pool, cluster or connection) and prepare its workers for the
        run ``token`` of the packed ``objective``; close it with ``Engine.close``.

        Unless the objective is ``thread_safe``, trials in threads of one process run
        one at a time, so a thread pool counts as one slot."""
        if self.executor is None or self.executor == "process":
            from bbopt.execution.pool import ProcessPoolEngine

            return ProcessPoolEngine(self.workers or usable_cores(), objective, token)
        if isinstance(self.executor, ThreadPoolExecutor) and not thread_safe:
            _warn_one_thread(self.executor)
            return Engine(self.executor, 1)
        if isinstance(self.executor, Executor):
            slots = self.workers or getattr(self.executor, "_max_workers", None) or usable_cores()
            return Engine(self.executor, slots)
        from bbopt.execution.dask_engine import DaskEngine

        return DaskEngine(self.executor, self.workers, objective, token, thread_safe)


def _warn_one_thread(pool: ThreadPoolExecutor) -> None:
    """Tell the user that the pool's other threads will not run trials."""
    if pool._max_workers > 1:
        warnings.warn(
            f"the ThreadPoolExecutor has {pool._max_workers} threads, but the objective is not "
            "thread-safe: bbopt runs one trial at a time in it. Use workers=N for N worker "
            "processes, or set thread_safe = True on the objective if its trials can share "
            "a process",
            RuntimeWarning,
            stacklevel=5,  # minimize's caller
        )
