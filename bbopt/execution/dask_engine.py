"""Trials on Dask distributed: a LocalCluster bbopt starts, or a running scheduler.

A LocalCluster listens on 127.0.0.1 only and serves no HTTP (no dashboard, no
/health or /metrics pages); it accepts only bbopt's own client: its scheduler,
nannies and workers speak TLS with credentials made for this cluster alone
(``Security.temporary``), so another local process can neither connect nor run code
in its workers. Its nannies restart a worker process that died. A running scheduler
secured with TLS (``executor="tls://host:8786"``) is reached with the credentials of
Dask's configuration (``distributed.comm.tls.*``), or through a Client the user made.

Dask itself re-runs a trial whose worker died, on
another worker, up to ``distributed.scheduler.allowed-failures`` times (3 by
default; a restart that frees a hung trial's worker counts against the trials
queued there too), after which the trial fails with Dask's ``KilledWorker``.
Each result is fetched the moment its task ends: a finished result still held by
a worker that dies would otherwise be computed again.

A worker process runs one trial at a time (see :mod:`~bbopt.execution.worker`)
unless the objective is thread-safe, so the trials in flight default to the
cluster's worker processes, or to its threads for a thread-safe objective.

The workers present at start load and prepare the objective (``Objective.prepare``)
before the first trial, in their task thread; a worker that joins or restarts later
does so before its first trial of the run.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
import warnings
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from bbopt.errors import BBoptError, MissingDependencyError
from bbopt.execution.channel import ReportInbox
from bbopt.execution.dask_noise import (
    TRIAL_KEY_PREFIX,
    quiet_cancelled_trials,
    quiet_closing_heartbeat,
)
from bbopt.execution.engine import Engine, usable_cores, worker_environment
from bbopt.execution.worker import Outcome, Task, load_objective, run_task

#: How long to wait for the first worker of a running scheduler to show up.
WORKER_WAIT_SECONDS = 60


class MissingCredentialsError(BBoptError, ValueError):
    """A ``tls://`` executor address, but Dask's configuration holds no TLS credentials."""


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError("distributed", "dask", "executor='dask'") from None
    return distributed


@dataclass
class Connection:
    """A Client of the cluster an executor names, and the LocalCluster bbopt started for
    it (None for a running scheduler); :meth:`close` releases only what bbopt made."""

    client: Any
    cluster: Any = None
    owns_client: bool = True

    def close(self) -> None:
        if self.owns_client:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def connect(target: Any, workers: int | None = None) -> Connection:
    """Reach the cluster ``target`` names: ``"dask"`` starts a LocalCluster of
    ``workers`` single-thread processes (default: the usable cores) on 127.0.0.1, with
    TLS credentials of its own and no HTTP; an address such as ``"tcp://host:8786"`` or
    ``"tls://host:8786"`` connects to a running scheduler (TLS with the credentials of
    Dask's configuration); a ``distributed.Client`` is used as it is."""
    distributed = _import_distributed()
    if target == "dask":
        cluster = _local_cluster(distributed, workers or usable_cores())
        connection = Connection(distributed.Client(cluster), cluster)  # its credentials
        try:
            connection.client.register_worker_callbacks(_ignore_ctrl_c)
            _stop_http_servers(connection.client)
        except BaseException:
            connection.close()
            raise
        return connection
    if isinstance(target, str):
        return Connection(distributed.Client(target, security=_security_for(distributed, target)))
    return Connection(target, owns_client=False)


class DaskEngine(Engine):
    """Trials as Dask tasks: ``target`` is ``"dask"`` (a LocalCluster of ``workers``
    processes), a scheduler address such as ``"tcp://host:8786"``, or a ``Client``."""

    executor: Any  # distributed's ClientExecutor (its submit takes Client.submit's ``key``)

    def __init__(
        self, target: Any, workers: int | None, objective: bytes, token: str, thread_safe: bool
    ) -> None:
        started = time.perf_counter()
        quiet_cancelled_trials()
        self._connection = connect(target, workers)
        client = self._client = self._connection.client
        # The Client's concurrent.futures view moves each result into its Future on
        # Dask's event loop the moment the task ends.
        super().__init__(client.get_executor(pure=False), slots=0)  # counted below
        try:
            self.slots = workers or self._trials_at_once(thread_safe)
            if not thread_safe:
                _warn_unused_threads(client.nthreads())
            failures = client.run(_prepare_worker, objective, token).values()
            for failure in filter(None, failures):
                raise failure
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.perf_counter() - started
        self._run = uuid.uuid4().hex[:8]

    def _trials_at_once(self, thread_safe: bool) -> int:
        """The cluster's threads for a thread-safe objective, else its worker processes."""
        threads = self._client.nthreads()
        if not threads:
            self._client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
            threads = self._client.nthreads()
        return sum(threads.values()) if thread_safe else len(threads)

    def report_server(self) -> ReportInbox:
        """A LocalCluster's workers reach the driver's socket; a running scheduler's
        workers, maybe on other machines, report through Dask
        (:mod:`bbopt.execution.dask_channel`)."""
        if self._connection.cluster is not None:
            return super().report_server()
        from bbopt.execution.dask_channel import DaskReportServer

        return DaskReportServer(self._client, f"bbopt-{self._run}")

    def _key(self, tid: int) -> str:
        return f"{TRIAL_KEY_PREFIX}{self._run}-{tid}"

    def submit(self, task: Task) -> Future[Outcome]:
        # The executor passes ``key`` on to Client.submit: a known key finds the trial's
        # worker if it has to be stopped.
        return self.executor.submit(run_task, task, key=self._key(task.tid))

    def kill(self, tid: int, future: Future[Outcome]) -> None:
        key = self._key(tid)
        busy = [addr for addr, keys in self._client.processing().items() if key in keys]
        future.cancel()  # cancels the Dask task too
        if busy:  # its thread cannot be interrupted: the nanny restarts the worker process
            self._client.restart_workers(busy, raise_for_error=False)

    def close(self, interrupted: bool = False) -> None:
        self.executor.shutdown(wait=False)  # cancels the tasks still in flight
        self._connection.close()


async def _prepare_worker(objective: bytes, token: str, dask_worker: Any) -> Exception | None:
    """Load and prepare the objective on one worker, in the thread pool its trials run in
    (``Client.run`` calls this on the worker's event loop, which must not block); returns
    the error, if any, for the driver to raise (Dask would log the pickled arguments)."""
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(dask_worker.executor, load_objective, objective, token)
    except Exception as exc:
        return exc
    return None


def _local_cluster(distributed: Any, workers: int) -> Any:
    """A LocalCluster of ``workers`` single-thread processes on 127.0.0.1, speaking TLS
    with credentials made for it alone, its HTTP servers given no pages.

    Dask's scheduler and workers start an HTTP server whatever ``dashboard_address``
    says (None means port 8787 for the scheduler): here it gets a free loopback port and
    no routes, and :func:`_stop_http_servers` closes it once the cluster is up.
    """
    import dask

    try:
        security = distributed.Security.temporary()
    except ImportError:
        raise MissingDependencyError("cryptography", "dask", "executor='dask'") from None
    no_pages: dict[str, list[str]] = {
        "distributed.scheduler.http.routes": [],
        "distributed.worker.http.routes": [],
    }
    with dask.config.set(no_pages):  # read by the scheduler and captured by the nannies now
        return distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            protocol="tls://",
            security=security,
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            env=worker_environment(workers),
        )


def _ignore_ctrl_c(dask_worker: Any = None) -> None:
    """A worker process of bbopt's LocalCluster ignores SIGINT: Ctrl-C reaches every
    process of the terminal's group, and the driver stops the run and the cluster
    itself; the workers would each print a KeyboardInterrupt traceback dying first.
    A handler that does nothing, not SIG_IGN, which the programs an objective starts
    would inherit. It runs on the worker's event loop, in the main thread where
    handlers are set. The heartbeat error of a closing worker is dropped too."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _do_nothing)
    if dask_worker is not None:
        quiet_closing_heartbeat(dask_worker)


def _do_nothing(signum: int, frame: Any) -> None:
    """The SIGINT handler of a LocalCluster worker."""


def _stop_http_server(dask_worker: Any = None, dask_scheduler: Any = None) -> None:
    """Close the HTTP server of the Dask scheduler or worker this runs on."""
    (dask_worker or dask_scheduler).http_server.stop()


def _stop_http_servers(client: Any) -> None:
    """Close the HTTP servers of the cluster's scheduler and of its workers, now and of
    every worker that starts later (a nanny's restart)."""
    client.run_on_scheduler(_stop_http_server)
    client.register_worker_callbacks(_stop_http_server)


def _security_for(distributed: Any, address: str) -> Any:
    """The credentials of Dask's configuration for ``address``; a clear error when a
    ``tls://`` address has none (Dask would fail with an ``ssl_context`` TypeError)."""
    security = distributed.Security()  # from distributed.comm.tls.* (and DASK_* variables)
    if address.startswith("tls://") and not (security.tls_ca_file and security.tls_client_cert):
        raise MissingCredentialsError(
            f"executor {address!r} needs TLS credentials: set distributed.comm.tls.ca-file, "
            "distributed.comm.tls.client.cert and distributed.comm.tls.client.key in Dask's "
            "configuration (or DASK_DISTRIBUTED__COMM__TLS__CA_FILE, ..._CLIENT__CERT, "
            "..._CLIENT__KEY), or pass distributed.Client(address, security=Security(...))"
        )
    return security


def _warn_unused_threads(threads: dict[str, int]) -> None:
    """Tell the user once that worker processes have threads no trial will use."""
    threaded = {address: n for address, n in threads.items() if n > 1}
    if not threaded:
        return
    address, n = next(iter(threaded.items()))
    others = f" and {len(threaded) - 1} more" if len(threaded) > 1 else ""
    warnings.warn(
        f"Dask worker {address} has {n} threads{others}, but the objective is not "
        "thread-safe: bbopt runs one trial at a time per worker process. Start workers "
        "with one thread each (dask worker ADDRESS --nworkers N --nthreads 1), or set "
        "thread_safe = True on the objective if its trials can share a process",
        RuntimeWarning,
        stacklevel=6,  # minimize's caller
    )
