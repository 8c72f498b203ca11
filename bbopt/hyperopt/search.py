"""``fmin``: hyperopt's signature and behaviour, run by :func:`bbopt.minimize`.

Serially, with ``rstate=np.random.default_rng(s)``, fmin evaluates the points,
losses and statuses ``hyperopt.fmin`` evaluates, trial by trial, for ``tpe``,
``rand`` and ``anneal``. Beyond hyperopt, the same call takes ``workers=N``,
``executor="dask"`` (or a scheduler address), ``storage="studies.db"`` (committed
trial by trial, resumed when run again), and any bbopt backend by name as ``algo``.
See docs/hyperopt.md for the port table and what differs.
"""

from __future__ import annotations

import functools
import inspect
import math
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from bbopt.errors import NoSuccessfulTrialError
from bbopt.execution import Callback, EarlyStop, WorkQueue
from bbopt.hyperopt.algos import Algo, fmin_backend
from bbopt.hyperopt.trials import MongoTrials, Trials
from bbopt.objective import FunctionObjective
from bbopt.optimize import minimize
from bbopt.space import Distribution, as_space
from bbopt.space import sample as bbopt_sample
from bbopt.space.pyll import is_pyll
from bbopt.storage import StorageLike
from bbopt.study import Study
from bbopt.trial import Trial

if TYPE_CHECKING:
    import distributed


def fmin(
    fn: Callable[..., Any],
    space: Any,
    algo: Algo = None,
    max_evals: int | None = None,
    timeout: float | None = None,
    loss_threshold: float | None = None,
    trials: Trials | None = None,
    rstate: Any = None,
    allow_trials_fmin: bool = True,
    pass_expr_memo_ctrl: bool | None = None,
    catch_eval_exceptions: bool = False,
    verbose: bool = True,
    return_argmin: bool = True,
    points_to_evaluate: list[dict[str, Any]] | None = None,
    max_queue_len: int = 1,
    show_progressbar: bool = True,
    early_stop_fn: Callable[..., Any] | None = None,
    trials_save_file: str = "",
    *,
    workers: int | None = None,
    executor: str | Executor | distributed.Client | WorkQueue | None = None,
    storage: StorageLike | None = None,
    study: str | None = None,
    trial_timeout: float | None = None,
) -> Any:
    """Minimize ``fn`` over ``space``, as ``hyperopt.fmin`` does (same arguments).

    ``space`` is built with hyperopt's ``hp`` and ``scope`` (or bbopt's ``hp``).
    ``algo`` is ``tpe.suggest``, ``rand.suggest``, ``anneal.suggest``, a
    ``partial`` of one with its options, or any bbopt backend by name
    (``"optuna.tpe"``). ``trials`` (:class:`~bbopt.hyperopt.Trials`) receives the
    trials; giving the same object again continues its search. ``trials_save_file``
    keeps the study in that SQLite file, committed trial by trial, and a run given
    an existing file continues it (hyperopt pickles the Trials object instead).

    Beyond hyperopt: ``workers=N`` evaluates N trials at a time in local processes,
    ``executor="dask"`` on a Dask LocalCluster (an address such as
    ``"tcp://host:8786"`` on a running scheduler), ``storage`` keeps the study in an
    SQLite file or any bbopt Storage (as ``trials_save_file`` does), ``study`` names it
    and ``trial_timeout`` fails trials that run too long (with workers).

    Returns the best flat point (choices as indices), or with ``return_argmin=False``
    the best configuration (``space_eval(space, argmin)``; None without trials).
    """
    queued = isinstance(trials, MongoTrials) and workers is None and executor is None
    if queued:  # hyperopt's MongoDB mode: trials queued for bbopt-mongo-worker processes
        executor = WorkQueue(max_queue_len=max_queue_len, pickle=True)
    _refuse_unsupported(pass_expr_memo_ctrl, 1 if queued else max_queue_len, show_progressbar)
    if isinstance(space, str) and space == "annotated":
        fn, space = _from_annotations(fn)
    compiled = as_space(space)
    trials, made_here = _trials_for(trials, storage, trials_save_file)
    parallel = workers is not None or executor is not None
    raised = _Raised(fn, reraise=not catch_eval_exceptions and not parallel)
    objective = FunctionObjective(
        raised.call,
        compiled,
        name=getattr(fn, "__name__", "objective"),
        description=(fn.__doc__ or "").strip().split("\n")[0],
    )
    name = study or (trials.study.name if trials.study else None) or trials.exp_key
    name = name or objective.name
    points = _points(points_to_evaluate, trials, made_here, name)
    backend = fmin_backend(algo, compiled, rstate, max_evals)
    try:
        result = minimize(
            objective,
            backend=backend,
            max_evals=(sys.maxsize if max_evals is None else max_evals) + len(points),
            timeout=timeout,
            loss_threshold=None
            if loss_threshold is None
            else math.nextafter(loss_threshold, -math.inf),
            early_stop=_early_stop(early_stop_fn, trials),
            points_to_evaluate=points,
            progress=bool(show_progressbar) and bool(verbose),
            storage=trials.storage,
            study=name,
            workers=workers,
            executor=executor,
            trial_timeout=trial_timeout,
            callbacks=[trials_callback(trials), raised.check],
        )
    finally:
        if backend is not algo:  # made here, not the caller's own Backend instance
            backend.close()
    trials.attach(result)
    if return_argmin:
        if not len(trials):
            raise NoSuccessfulTrialError(
                "there are no evaluation tasks, cannot return argmin of task losses"
            )
        return trials.argmin
    return space_eval(compiled, trials.argmin) if len(trials) else None


def _refuse_unsupported(
    pass_expr_memo_ctrl: bool | None, max_queue_len: int, show_progressbar: Any
) -> None:
    if pass_expr_memo_ctrl:
        raise ValueError(
            "pass_expr_memo_ctrl is not supported: bbopt evaluates the space itself and "
            "calls fn with the configuration"
        )
    if not isinstance(show_progressbar, bool):
        raise TypeError(
            f"show_progressbar must be True or False in bbopt, got {show_progressbar!r}"
        )
    if max_queue_len != 1:
        warnings.warn(
            f"max_queue_len={max_queue_len} is ignored: bbopt suggests one point at a "
            "time; workers=N keeps N trials in flight",
            UserWarning,
            stacklevel=3,
        )


def _from_annotations(fn: Callable[..., Any]) -> tuple[Callable[[Any], Any], dict[str, Any]]:
    """hyperopt's ``space="annotated"``: the space from ``fn``'s annotations, and ``fn``
    called with the configuration as keyword arguments."""
    space = dict(inspect.getfullargspec(fn).annotations)
    space.pop("return", None)
    for name, node in space.items():
        if not (is_pyll(node) or isinstance(node, Distribution)):
            raise TypeError(
                f"space='annotated': annotate each argument of fn with an hp node, "
                f"{name!r} has {node!r}"
            )

    @functools.wraps(fn)
    def objective(params: dict[str, Any]) -> Any:
        return fn(**params)

    return objective, space


def _trials_for(
    trials: Trials | None, storage: StorageLike | None, save_file: str
) -> tuple[Trials, bool]:
    """The Trials object of the run, and whether fmin made it (trials=None)."""
    if storage is not None and save_file:
        raise ValueError("give storage or trials_save_file, not both (they name the same thing)")
    where = storage if storage is not None else (save_file or None)
    if trials is None:
        return Trials(storage=where), True
    if not isinstance(trials, Trials):
        raise TypeError(
            f"trials must be bbopt.hyperopt.Trials, got {type(trials).__module__}."
            f"{type(trials).__name__}: import Trials from bbopt.hyperopt as well"
        )
    if where is not None:
        trials.use_storage(where)
    return trials, False


def _points(
    points: list[dict[str, Any]] | None, trials: Trials, made_here: bool, study: str
) -> list[dict[str, Any]]:
    """The warm-start points fmin evaluates: hyperopt uses them only when it makes the
    Trials itself (trials=None), and not when a saved file brought trials back."""
    if not points:
        return []
    if not made_here:
        warnings.warn(
            "points_to_evaluate is ignored when trials is given (as in hyperopt); "
            "pass trials=None to evaluate them first",
            UserWarning,
            stacklevel=3,
        )
        return []
    if trials.storage.get_study(study) is not None and trials.storage.get_trials(study):
        return []
    return list(points)


def _early_stop(early_stop_fn: Callable[..., Any] | None, trials: Trials) -> EarlyStop | None:
    """hyperopt's ``early_stop_fn(trials, *args) -> (stop, args)``, given the Trials view."""
    if early_stop_fn is None:
        return None

    def early_stop(study: Study, *args: Any) -> Any:
        return early_stop_fn(trials.attach(study), *args)

    return early_stop


def trials_callback(trials: Trials) -> Callback:
    """Keep ``trials`` showing the study as it runs."""

    def attach(study: Study, trial: Trial) -> None:
        trials.attach(study)

    return attach


class _Raised:
    """``fn``, remembering the exception it raised so that fmin re-raises it after the
    trial is recorded, as hyperopt does without ``catch_eval_exceptions``."""

    def __init__(self, fn: Callable[[Any], Any], reraise: bool) -> None:
        self.fn = fn
        self.reraise = reraise
        self.error: BaseException | None = None

    def call(self, params: Any) -> Any:
        try:
            return self.fn(params)
        except Exception as exc:
            if self.reraise:
                self.error = exc
            raise

    def check(self, study: Study, trial: Trial) -> None:
        error, self.error = self.error, None
        if error is not None:
            raise error


def space_eval(space: Any, hp_assignment: dict[str, Any]) -> Any:
    """The configuration of ``space`` for the flat point ``hp_assignment`` (label ->
    value, choices as indices): hyperopt's ``space_eval``."""
    return as_space(space).to_params(hp_assignment)


def sample(space: Any, rng: Any = None) -> Any:
    """One random configuration of ``space`` (hyperopt's ``pyll.stochastic.sample``);
    ``rng`` is a numpy Generator or an int seed."""
    return bbopt_sample(space, rng)
