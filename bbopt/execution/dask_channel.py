"""The report channel through Dask: for workers of a running scheduler, on any machine.

A worker of a scheduler bbopt did not start may run on another machine, where the
driver's socket (:mod:`bbopt.execution.channel`) cannot be reached. Its reports go
through the scheduler instead, over the connections Dask already has (and its
security: TLS where the scheduler speaks it), with two kinds of ``distributed.Queue``
named after the run: the worker puts ``(tid, step, value, answer queue)`` into the
run's report queue and waits on its trial's answer queue; a reader thread in the
driver moves each report into the :class:`~bbopt.execution.channel.ReportInbox` the
parallel loop answers from, and the answer is put into the trial's queue. A round
trip costs a few scheduler messages (milliseconds), against well under one through a
local socket, so a LocalCluster bbopt starts keeps the socket.

A message that is not a well-formed report is dropped; a worker without an answer in
:data:`~bbopt.execution.channel.ANSWER_TIMEOUT_SECONDS` goes on unpruned. When the run
ends, the driver deletes the run's queues on the scheduler.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass
from typing import Any

from bbopt.execution.channel import ANSWER_TIMEOUT_SECONDS, ReportInbox
from bbopt.reporting import Reporter

#: How often the driver's reader thread looks whether the run ended.
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class DaskReportLink:
    """The run's queue names (travels with each task)."""

    name: str

    @property
    def reports(self) -> str:
        return f"{self.name}-reports"

    def answers(self, tid: int) -> str:
        return f"{self.name}-answers-{tid}"

    def reporter(self, tid: int, budget: float | None = None) -> Reporter:
        """A Reporter for trial ``tid`` in a Dask worker: each report is decided by the driver."""
        return Reporter(functools.partial(_ask_driver, self, tid), budget)


def _is_report(message: Any) -> bool:
    if not (isinstance(message, (tuple, list)) and len(message) == 4):
        return False
    tid, step, value, answers = message
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (tid, step))
    return ints and isinstance(value, (int, float)) and isinstance(answers, str)


class DaskReportServer(ReportInbox):
    """The driver's end: reads the run's report queue into the inbox, answers by queue."""

    link: DaskReportLink

    def __init__(self, client: Any, name: str) -> None:
        super().__init__()
        from distributed import Queue

        self._client, self._queue_class = client, Queue
        self.link = DaskReportLink(name)
        self._reports = Queue(self.link.reports, client=client)
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="bbopt-dask-reports", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                message = self._reports.get(timeout=POLL_SECONDS)
            except Exception:  # the timeout (its class differs between versions), or closed
                continue
            if _is_report(message):
                tid, step, value, answers = message
                self.put(functools.partial(self._answer, answers), tid, step, float(value))

    def _answer(self, answers: str, message: tuple[int, int, bool]) -> None:
        with contextlib.suppress(Exception):  # the client closed, the run ended
            queue = self._queue_class(answers, client=self._client)
            queue.put(list(message))
            queue.close()

    def close(self) -> None:
        """Stop reading and drop the run's queues from the scheduler (the workers' handles
        to them included)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._reader.join(timeout=2 * POLL_SECONDS)
        with contextlib.suppress(Exception):  # the scheduler is gone: so are its queues
            self._client.run_on_scheduler(_drop_queues, f"{self.link.name}-")


def _drop_queues(prefix: str, dask_scheduler: Any = None) -> None:
    """On the scheduler: delete the queues whose names start with ``prefix``."""
    extension = dask_scheduler.extensions["queues"]
    for name in [n for n in extension.queues if n.startswith(prefix)]:
        extension.client_refcount[name] = 1
        extension.release(name=name)


# -- the worker's end -------------------------------------------------------------------

_local = threading.local()  # per thread: (link, tid) -> (report queue, answer queue)


def _queues(link: DaskReportLink, tid: int) -> tuple[Any, Any]:
    """This thread's queues for trial ``tid`` (the previous trial's answer queue closed)."""
    key = (link, tid)
    if getattr(_local, "key", None) != key:
        from distributed import Queue, get_client

        old = getattr(_local, "queues", None)
        if old is not None:
            with contextlib.suppress(Exception):
                old[1].close()
        client = get_client()
        _local.key = key
        _local.queues = (
            Queue(link.reports, client=client),
            Queue(link.answers(tid), client=client),
        )
    queues: tuple[Any, Any] = _local.queues
    return queues


def _ask_driver(link: DaskReportLink, tid: int, step: int, value: float) -> bool:
    """Send one report through the scheduler and wait for the answer (not pruned if none)."""
    reports, answers = _queues(link, tid)
    reports.put([tid, step, value, answers.name])
    try:
        while True:
            answered_tid, answered_step, prune = answers.get(timeout=ANSWER_TIMEOUT_SECONDS)
            if (answered_tid, answered_step) == (tid, step):  # not a late answer
                return bool(prune)
    except Exception:  # no answer in time, or the run is gone
        return False
