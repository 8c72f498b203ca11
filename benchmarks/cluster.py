"""Benchmark runs on a Dask cluster: ``python -m benchmarks.run --executor dask`` or
``--executor tcp://host:8786`` (``tls://``: with the TLS credentials of Dask's
configuration).

A worker on another machine cannot write the results folder's SQLite file, so the
driver keeps the storage: it sends each unfinished run (its spec and, when the run
was started before, a copy of its stored study as plain records) as one task; the
worker runs it with :func:`benchmarks.execute.run_study`, the call a local run makes,
in an in-memory storage, and returns the study's record and trials as plain records;
the driver writes them into the results storage (ids kept) the moment the task's
future finishes. So an interrupted sweep keeps every run that came back, the same
command resumes it (locally or on a cluster), and a run's stored study holds the same
points, losses, states and ids wherever it ran.

Objectives and backends are found by name on the workers: bbopt's own, plugins'
entry points and the ``--import`` modules, which every worker imports before its
first run (a ``.py`` file by its absolute path). bbopt's LocalCluster workers share
this machine's files and Python path; the workers of a running scheduler need bbopt
(the same version), the optional packages of the chosen backends and objectives, and
the ``--import`` modules importable there. The driver checks each worker present at
the start and stops with one line naming the first worker that lacks something.

A worker process runs one benchmark run at a time, so suggest times are not shared
with another run; start workers with one thread each (``dask worker ADDRESS
--nworkers N --nthreads 1``).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bbopt
from bbopt.errors import BBoptError
from bbopt.execution.runner import worker_name
from bbopt.storage import InMemoryStorage, Storage, StorageError, StudyRecord
from bbopt.study import Study
from bbopt.trial import Trial
from benchmarks.execute import Outcome, last_line, run_study, storage_of
from benchmarks.grid import RunSpec, backend_unavailable

WORKER_WAIT_SECONDS = 60  # for the first worker of a running scheduler


@dataclass(frozen=True)
class StudyCopy:
    """A run's study as plain records: its ``StudyRecord.to_dict()`` and its trials'
    ``Trial.to_dict()`` in id order."""

    record: dict[str, Any]
    trials: list[dict[str, Any]]


@dataclass(frozen=True)
class RemoteRun:
    """What a worker sends back for one run: the study, or why it could not run."""

    study: StudyCopy | None
    error: str = ""


# -- the driver's side ----------------------------------------------------------------


def stored_copy(spec: RunSpec) -> StudyCopy | None:
    """The run's stored study, to continue on a worker; None when it was never started.

    Running trials whose process has ended are abandoned and queued again here, as a
    local resume does, since a worker on another host cannot tell that they ended."""
    storage = storage_of(spec)
    record = storage.get_study(spec.study)
    if record is None:
        return None
    study = Study(spec.study, None, storage=storage)
    study.attach(record)
    study.recover()
    return StudyCopy(record.to_dict(), [t.to_dict() for t in study.trials])


def store(spec: RunSpec, copy: StudyCopy) -> None:
    """Write a study that came back from a worker into the results storage: its record
    if new, its new trials under their own ids, the new states of trials stored before
    (a queued re-run the worker ran). Trials go in id order, so an interruption leaves a
    study that resumes."""
    storage = storage_of(spec)
    record = StudyRecord.from_dict(copy.record)
    if record.name != spec.study or record.seed != spec.seed:
        raise StorageError(
            f"a worker returned study {record.name!r} with seed {record.seed} for run "
            f"{spec.study!r} with seed {spec.seed}"
        )
    storage.create_study(record)
    states = {t.tid: t.state for t in storage.get_trials(spec.study)}
    for data in copy.trials:
        trial = Trial.from_dict(data)
        if trial.tid not in states:
            written = storage.add_trial(spec.study, trial) == trial.tid
        elif states[trial.tid] is not trial.state:
            written = storage.update_trial(spec.study, trial, expected_state=states[trial.tid])
        else:
            continue
        if not written:
            raise StorageError(
                f"study {spec.study!r} in {spec.path} changed while its run was on the "
                f"cluster (trial {trial.tid}); run the command again"
            )


def run_on_cluster(
    todo: Sequence[RunSpec],
    executor: Any,
    workers: int,
    imports: Sequence[str],
    record: Callable[[Outcome], None],
) -> None:
    """Run ``todo`` on the Dask cluster ``executor`` names (``"dask"``: a LocalCluster of
    ``workers`` processes), storing each run as it comes back and passing its outcome to
    ``record``. Ctrl-C cancels the runs still out; the ones stored stay."""
    from bbopt.execution.dask_engine import connect

    if not todo:
        return
    imports = tuple(_absolute(name) for name in imports)
    connection = connect(executor, workers)
    futures: list[Any] = []
    try:
        client = connection.client
        _check_workers(client, imports, todo)
        futures = [
            client.submit(run_remotely, spec, stored_copy(spec), imports, pure=False)
            for spec in todo
        ]
        by_future = dict(zip(futures, todo, strict=True))
        from distributed import as_completed

        for future in as_completed(futures):
            spec = by_future[future]
            record(_outcome(spec, future))
            future.release()
    finally:
        if futures:
            connection.client.cancel(futures)
        connection.close()


def _outcome(spec: RunSpec, future: Any) -> Outcome:
    """Store the run a finished future holds; a run that failed is a ``failed`` outcome."""
    try:
        remote = future.result()
    except Exception as exc:  # the task itself failed: e.g. KilledWorker, a lost connection
        return Outcome(spec, "failed", last_line(exc))
    if remote.study is None:
        return Outcome(spec, "failed", remote.error)
    try:
        store(spec, remote.study)
    except StorageError as exc:  # e.g. another process wrote the study meanwhile
        return Outcome(spec, "failed", last_line(exc))
    return Outcome(spec, "done")


def _absolute(name: str) -> str:
    """A ``--import`` of a ``.py`` file by absolute path (workers run elsewhere)."""
    return str(Path(name).resolve()) if name.endswith(".py") else name


def _check_workers(client: Any, imports: tuple[str, ...], todo: Sequence[RunSpec]) -> None:
    """Fail early, naming the worker, when a worker lacks what the runs need; note
    workers with threads that will stay idle."""
    if not client.nthreads():
        client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
    objectives = sorted({spec.objective for spec in todo})
    backends = sorted({spec.backend for spec in todo})
    problems = client.run(_worker_problem, imports, objectives, backends, bbopt.__version__)
    for address, problem in sorted(problems.items()):
        if problem:
            raise BBoptError(
                f"Dask worker {address} {problem}; every worker needs bbopt, the chosen "
                "backends' packages and the --import modules (see docs/benchmarks.md)"
            )
    threaded = {address: n for address, n in client.nthreads().items() if n > 1}
    if threaded:
        address, n = next(iter(threaded.items()))
        others = f" (and {len(threaded) - 1} more workers)" if len(threaded) > 1 else ""
        print(
            f"note: Dask worker {address} has {n} threads{others}, but a worker process "
            "runs one benchmark run at a time: start workers with --nthreads 1",
            file=sys.stderr,
        )


# -- the worker's side ----------------------------------------------------------------

_ONE_RUN = threading.Lock()  # one run at a time per worker process, whatever its threads


async def _worker_problem(
    imports: tuple[str, ...],
    objectives: list[str],
    backends: list[str],
    version: str,
    dask_worker: Any,
) -> str | None:
    """What this worker lacks for the runs (None: nothing), checked in its task thread
    (``Client.run`` calls this on the worker's event loop, which must not block)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        dask_worker.executor, _lacks, imports, objectives, backends, version
    )


def _lacks(
    imports: tuple[str, ...], objectives: list[str], backends: list[str], version: str
) -> str | None:
    from benchmarks.run import import_user_modules

    if bbopt.__version__ != version:
        return f"runs bbopt {bbopt.__version__}, this driver bbopt {version}"
    try:
        import_user_modules(imports)
    except Exception as exc:
        return f"cannot import: {exc}"
    known = set(bbopt.list_objectives())
    unknown = [name for name in objectives if name not in known]
    if unknown:
        return f"knows no objective {', '.join(unknown)}"
    for name in backends:
        try:
            reason = backend_unavailable(name)
        except Exception as exc:  # not registered there
            reason = last_line(exc)
        if reason is not None:
            return f"cannot run backend {name}: {reason}"
    return None


def run_remotely(spec: RunSpec, stored: StudyCopy | None, imports: tuple[str, ...]) -> RemoteRun:
    """On a worker: run ``spec`` to its budget from its stored trials, in memory, and
    return the whole study; an error becomes a message (nothing of the user's is sent)."""
    from benchmarks.run import import_user_modules

    with _ONE_RUN:
        try:
            import_user_modules(imports)
            storage = InMemoryStorage()
            if stored is not None:
                _load(storage, stored)
            run_study(spec, storage)
            return RemoteRun(_copy(storage, spec.study))
        except Exception as exc:
            return RemoteRun(None, f"on Dask worker {worker_name()}: {last_line(exc)}")


def _load(storage: Storage, copy: StudyCopy) -> None:
    record = StudyRecord.from_dict(copy.record)
    storage.create_study(record)
    for data in copy.trials:
        trial = Trial.from_dict(data)
        if storage.add_trial(record.name, trial) != trial.tid:
            raise StorageError(f"study {record.name!r}: trial ids are not 0, 1, 2, ...")


def _copy(storage: Storage, name: str) -> StudyCopy:
    record = storage.get_study(name)
    assert record is not None  # run_study stored it
    return StudyCopy(record.to_dict(), [t.to_dict() for t in storage.get_trials(name)])
