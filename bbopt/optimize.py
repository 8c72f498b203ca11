"""``bbopt.minimize``: ask the backend, evaluate, tell, record, until a stop rule fires."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from bbopt.backends import Backend, create_backend
from bbopt.execution import (
    Callback,
    EarlyStop,
    Execution,
    StopRules,
    TrialRunner,
    WorkQueue,
    run_parallel,
    run_queue,
    run_serial,
)
from bbopt.objective import Objective, resolve_objective
from bbopt.pruners import Pruner, create_pruner
from bbopt.space import as_space
from bbopt.storage import InMemoryStorage, Storage, StorageLike, as_storage
from bbopt.study import Study
from bbopt.versions import library_versions

if TYPE_CHECKING:
    from concurrent.futures import Executor

    import distributed

#: Seeds drawn for runs without one stay below hyperopt's bound for its suggest seeds.
SEED_BOUND = 2**31 - 1


def draw_seed() -> int:
    """A fresh seed for a run given none; the study records it, so the run can be repeated."""
    return secrets.randbelow(SEED_BOUND)


def minimize(
    fn: Callable[[Any], Any] | Objective | str,
    space: Any = None,
    *,
    backend: str | Backend | type[Backend] = "hyperopt.tpe",
    backend_options: Mapping[str, Any] | None = None,
    max_evals: int = 100,
    seed: int | None = None,
    timeout: float | None = None,
    loss_threshold: float | None = None,
    early_stop: EarlyStop | None = None,
    points_to_evaluate: Iterable[Mapping[str, Any]] | None = None,
    progress: bool | None = None,
    storage: StorageLike | None = None,
    study: str | None = None,
    workers: int | None = None,
    executor: str | Executor | distributed.Client | WorkQueue | None = None,
    trial_timeout: float | None = None,
    callbacks: Iterable[Callback] | None = None,
    pruner: str | Pruner | type[Pruner] | None = None,
    pruner_options: Mapping[str, Any] | None = None,
) -> Study:
    """Minimize an objective and return the :class:`~bbopt.study.Study`.

    ``fn`` is a function of the nested parameters (with ``space``), an
    :class:`~bbopt.objective.Objective` or a registered objective's name. The
    backend is a registered name (``"hyperopt.tpe"``, ...), a Backend class or an
    instance; ``backend_options`` go to its constructor. ``seed`` makes the run
    reproducible; without one a stored study being resumed keeps the seed it was stored
    with, and a new study draws one and records it (``study.seed``).
    ``points_to_evaluate`` are flat label -> value dicts (choices as indices)
    evaluated first (warm start).

    The run stops after ``max_evals`` trials in all, after ``timeout`` seconds, when
    the best loss is at or below ``loss_threshold``, or when ``early_stop(study)``,
    asked after each finished trial, returns True (hyperopt's protocol
    ``early_stop(study, *args) -> (stop, args)`` works too, e.g.
    ``bbopt.execution.no_progress_loss(20)``); ``study.stop_reason`` says which.
    Failed trials (exceptions, NaN, inf) are kept with their error and the run goes
    on. ``callbacks`` are called as ``callback(study, trial)`` after each finished
    trial. Ctrl-C ends the run with the finished trials kept (``stop_reason ==
    "interrupted"``); any other exception escapes after the trials it cut short are
    marked abandoned.

    ``study`` names the study (default: the objective's name). With ``storage`` (an
    SQLite file path, or any :class:`~bbopt.storage.Storage`) every trial is
    committed as it starts and ends, and running again resumes the stored study:
    the backend relearns its history, trials cut off by a crash are re-run, and
    ``max_evals`` counts the study's trials in all. See docs/storage.md.

    Trials run in this process unless ``workers`` or ``executor`` is given:
    ``workers=N`` keeps N trials in flight in local worker processes;
    ``executor="dask"`` runs them on a Dask LocalCluster of N workers, an address
    such as ``"tcp://host:8786"`` (or a ``distributed.Client``) on a running Dask
    scheduler, and a ``concurrent.futures.Executor`` on that executor. A trial
    running longer than ``trial_timeout`` seconds is recorded as failed and its
    worker stopped. ``executor="queue"`` (or a ``WorkQueue``) with a shared
    ``storage`` (``"mongodb://host:27017/db"``) queues the trials for ``bbopt worker``
    processes on any machines, keeping ``workers`` trials queued or running. See
    docs/parallel.md.
    """
    execution = Execution.from_args(workers, executor, trial_timeout)
    objective = resolve_objective(fn, space)
    if pruner is None and pruner_options:
        raise ValueError("pruner_options need a pruner: give pruner='median', 'hyperband', ...")
    pruner_obj = (
        None if pruner is None else create_pruner(pruner, pruner_options, objective.fidelity)
    )
    compiled = as_space(objective.space)
    rules = StopRules(max_evals, timeout, loss_threshold, early_stop)
    if study is not None and (not isinstance(study, str) or not study):
        raise ValueError(f"a study name must be a non-empty string, got {study!r}")
    study_name = objective.name if study is None else study
    if isinstance(points_to_evaluate, Mapping):  # one point where a list of them goes
        raise TypeError("points_to_evaluate is a list of points: give [point], not point")
    warm = [compiled.validate_flat(point) for point in points_to_evaluate or ()]
    with contextlib.ExitStack() as cleanup:
        store = InMemoryStorage() if storage is None else as_storage(storage)
        if store is not storage:  # opened here from a path: close it (reopened on use)
            cleanup.callback(store.close)
        if seed is None:  # a stored study resumes with its seed, else one is drawn
            seed = _stored_seed(store, study_name)
        backend_obj = create_backend(
            backend,
            compiled,
            draw_seed() if seed is None else seed,
            backend_options,
            max_evals=max_evals,
            objective=objective,
        )
        if backend_obj is not backend:  # made here from a name or class
            cleanup.callback(backend_obj.close)
        backend_name = backend_obj.name or type(backend_obj).__name__
        wanted = Study(
            study_name,
            compiled,
            objective=objective.name,
            backend=backend_name,
            backend_options=dict(backend_obj.options),  # also those of a given instance
            seed=backend_obj.seed,
            f_star=objective.f_star,
            versions=library_versions(
                type(backend_obj).__module__.partition(".")[0], backend_name.partition(".")[0]
            ),
        )
        study_obj = Study.open(store, wanted)
        runner = TrialRunner(
            objective, compiled, backend_obj, study_obj, callbacks or (), pruner_obj
        )
        warm = runner.resume(warm)
        queue = None if execution is None else execution.work_queue()
        if execution is None:
            run_serial(runner, rules, warm, progress)
        elif queue is not None:
            run_queue(runner, rules, warm, progress, queue)
        else:
            run_parallel(runner, rules, warm, progress, execution)
    return study_obj


def _stored_seed(store: Storage, study: str) -> int | None:
    """The seed study ``study`` was stored with, if it exists: running the same command
    again without a seed resumes it as it began (exactly, for hyperopt's backends)."""
    record = store.get_study(study)
    return None if record is None else record.seed
