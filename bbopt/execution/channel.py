"""The report channel: reports of trials running in workers reach the driver, and each gets
the pruner's answer back at once (no waiting for other trials or rungs).

The driver listens on a Unix socket (a loopback TCP port where there are none) with
``multiprocessing.connection``, which authenticates every worker with a random key of
the run. A worker connects once per thread and run, sends ``(tid, step, value)`` for
each report and waits for ``(tid, step, prune)``. The driver's reader threads only
queue what arrives and wake the parallel loop (:attr:`ReportServer.arrived` is a
Future it waits on together with the trials' futures); the loop decides in its own
thread, where the study lives, and answers.

Works for every engine whose workers run on this machine: the process pool, a Dask
LocalCluster, a local ``concurrent.futures`` executor. Workers of a running Dask
scheduler (maybe on other machines) report through Dask itself instead
(:mod:`bbopt.execution.dask_channel`). A worker that cannot reach the driver warns once
and runs its trials unpruned; its reports are still recorded with the trial.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import queue
import secrets
import socket
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener
from typing import Any, Protocol

from bbopt.reporting import Reporter

#: How long a worker waits for the driver's answer before going on unpruned.
ANSWER_TIMEOUT_SECONDS = 300.0

Decide = Callable[[int, int, float], bool]
"""``decide(tid, step, value) -> prune``, called in the driver's loop thread."""


class Link(Protocol):
    """Where a worker sends the reports of its trials (travels with each task)."""

    def reporter(self, tid: int, budget: float | None = None) -> Reporter:
        """A Reporter for trial ``tid`` in a worker: each report is decided by the driver."""
        ...


@dataclass(frozen=True)
class ReportLink:
    """Where a worker sends the reports of its trials (travels with each task)."""

    address: Any
    authkey: bytes = b""

    def __repr__(self) -> str:  # never show the key
        return f"ReportLink({self.address!r})"

    def reporter(self, tid: int, budget: float | None = None) -> Reporter:
        """A Reporter for trial ``tid`` in a worker: each report is decided by the driver."""
        return Reporter(functools.partial(_ask_driver, self, tid), budget)


Answer = Callable[[tuple[int, int, bool]], None]
"""Sends ``(tid, step, prune)`` back to the worker that made a report."""


class ReportInbox:
    """Reports waiting for the driver's answer, whichever way they came: the loop waits on
    :attr:`arrived` and answers them all with :meth:`serve`."""

    link: Link  # what the workers are given

    def __init__(self) -> None:
        self._inbox: queue.SimpleQueue[tuple[Answer, int, int, float]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._arrived: Future[None] = Future()

    @property
    def arrived(self) -> Future[None]:
        """Done once reports wait for an answer (a new Future after each :meth:`serve`)."""
        return self._arrived

    def put(self, answer: Answer, tid: int, step: int, value: float) -> None:
        """Queue one report (any thread) and wake the loop."""
        self._inbox.put((answer, tid, step, value))
        with self._lock:
            if not self._arrived.done():
                self._arrived.set_result(None)

    def serve(self, decide: Decide) -> int:
        """Answer every waiting report with ``decide(tid, step, value)``; returns how many."""
        with self._lock:  # a new Future first, so that no report arriving now goes unseen
            if self._arrived.done():
                self._arrived = Future()
        served = 0
        while True:
            try:
                answer, tid, step, value = self._inbox.get_nowait()
            except queue.Empty:
                return served
            prune = decide(tid, step, value)
            served += 1
            answer((tid, step, prune))

    def close(self) -> None:
        """Stop taking reports."""


def _send(connection: Connection, message: tuple[int, int, bool]) -> None:
    with contextlib.suppress(OSError):  # the worker went away meanwhile
        connection.send(message)


class ReportServer(ReportInbox):
    """The driver's end over a socket: accepts workers, queues their reports."""

    link: ReportLink

    def __init__(self) -> None:
        super().__init__()
        family = "AF_UNIX" if hasattr(socket, "AF_UNIX") else "AF_INET"
        address = None if family == "AF_UNIX" else ("127.0.0.1", 0)
        authkey = secrets.token_bytes(32)
        self._listener = Listener(address, family, authkey=authkey)
        self.link = ReportLink(self._listener.address, authkey)
        self._connections: list[Connection] = []
        self._closed = False
        self._acceptor = threading.Thread(target=self._accept, name="bbopt-reports", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection = self._listener.accept()
            except (OSError, EOFError, multiprocessing.AuthenticationError):
                continue  # closed, or a client that failed to authenticate
            if self._closed:
                connection.close()
                return
            self._connections.append(connection)
            threading.Thread(
                target=self._read, args=(connection,), name="bbopt-reports-reader", daemon=True
            ).start()

    def _read(self, connection: Connection) -> None:
        while True:
            try:
                tid, step, value = connection.recv()
            except (EOFError, OSError, ValueError, TypeError):  # gone, or not a report
                connection.close()
                return
            self.put(functools.partial(_send, connection), tid, step, value)

    def close(self) -> None:
        """Stop listening and drop the workers' connections."""
        if self._closed:
            return
        self._closed = True
        _knock(self.link.address)  # wakes the accept thread if it waits in accept()
        self._listener.close()
        for connection in self._connections:
            connection.close()


def _knock(address: Any) -> None:
    """Connect to ``address`` and hang up at once. A thread blocked in accept() wakes (the
    handshake fails, and it sees the server closed); if none is accepting, the connection
    waits in the backlog until the listener closes. A client that waited for the
    handshake (``Client``) would wait for ever when the accept thread had just returned
    after a worker's connection."""
    family = socket.AF_INET if isinstance(address, tuple) else socket.AF_UNIX
    with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_STREAM) as knock:
        knock.settimeout(5.0)
        knock.connect(address)


# -- the worker's end -------------------------------------------------------------------

_local = threading.local()  # per thread: the connection to one run's driver


def _connection(link: ReportLink) -> Connection | None:
    """This thread's connection to the driver of ``link`` (None if it cannot be reached)."""
    if getattr(_local, "link", None) != link:
        old = getattr(_local, "connection", None)
        if old is not None:
            old.close()
        _local.link, _local.connection = link, None
        try:
            _local.connection = Client(link.address, authkey=link.authkey)
        except OSError as exc:
            warnings.warn(
                f"this worker cannot reach the driver's report channel ({exc}); its trials "
                "run without pruning",
                RuntimeWarning,
                stacklevel=2,
            )
    connection: Connection | None = _local.connection
    return connection


def _ask_driver(link: ReportLink, tid: int, step: int, value: float) -> bool:
    """Send one report and wait for the pruner's answer (not pruned if none comes)."""
    connection = _connection(link)
    if connection is None:
        return False
    try:
        connection.send((tid, step, value))
        while connection.poll(ANSWER_TIMEOUT_SECONDS):
            answered_tid, answered_step, prune = connection.recv()
            if (answered_tid, answered_step) == (tid, step):  # not a late answer
                return bool(prune)
    except (EOFError, OSError):
        _local.connection = None  # the driver is gone: no more asking
    return False
