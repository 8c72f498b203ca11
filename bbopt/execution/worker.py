"""The worker side of a parallel run: evaluate one trial and send back what came of it.

A worker process imports this module (and through it the light ``bbopt`` core)
before its first trial. The objective and its space travel as bytes pickled once
per run by the driver (by value with cloudpickle when it is installed, so
functions from a script, a notebook or a closure work); a worker unpickles them
and runs the objective's ``prepare`` once per run, then keeps them for the next
trials of that run. Engines that own their workers do this when the workers
start (:func:`load_objective`); any other worker does it before its first trial.

A process runs one trial at a time, whatever its thread count (a Dask worker's
threads, a user's thread pool), unless the objective is ``thread_safe``: trials of
one process share its objective and libraries (a Keras model, TensorFlow's seeds),
so two at once would change each other's losses.
"""

from __future__ import annotations

import os
import pickle
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from bbopt.execution.channel import Link
from bbopt.execution.lifeline import exit_with_parent
from bbopt.execution.runner import worker_name
from bbopt.objective import Objective, evaluate_point, prepare_objective
from bbopt.reporting import Reporter
from bbopt.space import Space
from bbopt.trial import Result


@dataclass(frozen=True)
class Task:
    """One trial to evaluate: the study's trial id, the flat point and the packed objective."""

    tid: int
    flat_params: dict[str, Any]
    objective: bytes  # pack_objective(objective, space): the same bytes for every trial of a run
    token: str  # names the run, so a worker unpickles its objective once
    reports: Link | None = None  # where reports go to be decided on (runs with a pruner)
    budget: float | None = None  # the fidelity a multi-fidelity backend chose


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back: the nested params, the Result, seconds taken and where."""

    params: Any
    result: Result
    duration: float
    worker: str


def pack_objective(objective: Objective, space: Space) -> bytes:
    """Pickle ``(objective, space)`` for workers; by value where plain pickle cannot."""
    try:
        import cloudpickle

        dumps = cloudpickle.dumps
        hint = ""
    except ImportError:
        dumps = pickle.dumps
        hint = " (installing cloudpickle lets closures and notebook functions travel by value)"
    try:
        return dumps((objective, space))
    except Exception as exc:
        raise TypeError(
            f"objective {objective.name!r} cannot be sent to worker processes: {exc}{hint}"
        ) from exc


# Set by the process pool's initializer: trial starts are reported on ``_started``, so
# the driver knows which worker process ran which trial when one of them dies.
_started: Any = None
_all_up: Any = None  # a barrier of all the pool's workers
# (token, objective, space) of the run this worker served last, and the lock that makes
# threads of one worker (Dask workers may have several) load and prepare it once.
_loaded: tuple[str, Objective, Space] | None = None
_loading = threading.Lock()
# Held by the trial running in this process, unless its objective is thread-safe.
_one_trial = threading.Lock()


def init_pool_worker(started: Any, all_up: Any, driver: int) -> None:
    """Process pool initializer: end with the ``driver`` process, keep the queue of trial
    starts and the start-up barrier."""
    global _started, _all_up
    exit_with_parent(driver)
    _started, _all_up = started, all_up


def ready(timeout: float, objective: bytes, token: str) -> int:
    """The pool's first task, one per worker: once every worker runs one (so all have
    started), loads and prepares the run's objective; returns this worker's pid."""
    _all_up.wait(timeout)
    load_objective(objective, token)
    return os.getpid()


def load_objective(objective: bytes, token: str) -> tuple[Objective, Space]:
    """The run ``token``'s objective and space, unpickled and prepared once per process.

    Raises :class:`~bbopt.objective.PrepareError` if the objective's ``prepare`` fails
    (it is tried again on the next call)."""
    global _loaded
    with _loading:
        if _loaded is None or _loaded[0] != token:
            loaded, space = pickle.loads(objective)
            prepare_objective(loaded)
            _loaded = (token, loaded, space)
        return _loaded[1], _loaded[2]


def _exclusive(token: str) -> AbstractContextManager[Any]:
    """What a trial of the run ``token`` holds while it runs: this process's trial lock,
    unless the run's objective is loaded and thread-safe (a first trial, which loads and
    prepares it, always holds the lock)."""
    loaded = _loaded
    if loaded is not None and loaded[0] == token and loaded[1].thread_safe:
        return nullcontext()
    return _one_trial


def run_task(task: Task) -> Outcome:
    """Evaluate one trial in this worker; its duration does not count the wait for another
    trial of this process to end. Whatever the objective raises becomes a failed Result
    holding its type name, message and traceback as text, so nothing of the user's (an
    exception class defined in ``__main__``, say) has to be pickled back."""
    if _started is not None:
        _started.put((task.tid, os.getpid()))
    with _exclusive(task.token):
        started = time.perf_counter()
        params = None
        try:
            objective, space = load_objective(task.objective, task.token)
            reporter = (
                Reporter(budget=task.budget)
                if task.reports is None
                else task.reports.reporter(task.tid, task.budget)
            )
            params, result = evaluate_point(objective, space, task.flat_params, reporter)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # e.g. a BaseException subclass evaluate_point lets by
            result = Result.from_exception(exc)
        return Outcome(params, result, time.perf_counter() - started, worker_name())
