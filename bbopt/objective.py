"""What to optimize: an Objective is a name, a search space and an evaluate function.

Objectives register by name (decorator or the ``bbopt.objectives`` entry-point
group) so that benchmarks and the command line can find them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import Any

from bbopt.errors import BBoptError, PrunerError
from bbopt.registry import Registry
from bbopt.reporting import Reporter, TrialPruned, reporting_to
from bbopt.space import Space, as_space
from bbopt.trial import Result

ENTRY_POINT_GROUP = "bbopt.objectives"


@dataclass(frozen=True)
class Fidelity:
    """What an objective can spend more or less of: ``name`` (epochs, iterations, data
    fraction) between ``min`` and ``max``. The objective reports its intermediate values
    at steps on this scale (``bbopt.report(step, value)``); pruners take their default
    resources from it, and a multi-fidelity backend picks budgets in [min, max]."""

    name: str
    min: float
    max: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a fidelity needs a name, got {self.name!r}")
        if not 0 < self.min < self.max:
            raise ValueError(
                f"fidelity {self.name!r} needs 0 < min < max, got min={self.min!r}, "
                f"max={self.max!r}"
            )


class Objective:
    """Base class: subclasses set ``name`` and ``space`` and implement ``evaluate``.

    ``evaluate(params)`` receives the nested configuration and returns a loss
    (float, minimized), a dict with ``loss``, ``status`` (``"ok"``/``"fail"``) and
    any JSON-serialisable extras, or a :class:`~bbopt.trial.Result`. An objective that
    trains may call ``bbopt.report(step, value)`` as it goes (see
    :mod:`bbopt.reporting`) and declare the scale of its steps as ``fidelity``.
    """

    name: str = ""
    space: Any = None
    description: str = ""
    f_star: float | None = None  # known optimal loss, for regret
    x_star: Any = None  # a known optimal configuration, if any
    cost_hint: str = "cheap"  # "cheap" (microseconds) or "expensive" (seconds and up)
    groups: tuple[str, ...] = ()  # benchmark groups, e.g. ("synthetic",)
    # Whether trials may run at the same time in threads of one process. False (the
    # default): a worker process runs one trial at a time whatever its thread count,
    # since an objective with per-process state (a Keras model, global seeds) would
    # mix up concurrent trials. See docs/parallel.md.
    thread_safe: bool = False
    fidelity: Fidelity | None = None  # what its report steps count, if it reports
    # Cost units of a trial that ran to the fraction z = step / fidelity.max of its
    # fidelity (the mf.* functions' cost model); None: the steps themselves (epochs).
    # Benchmarks read it to compare runs at equal spent budget.
    cost_model: Callable[[float], float] | None = None

    def evaluate(self, params: Any) -> float | dict[str, Any] | Result:
        raise NotImplementedError

    def prepare(self) -> None:
        """Set up this process for evaluations: load data, import heavy libraries, trace or
        compile once. bbopt calls it once in each worker process (and once per serial run)
        before the first trial, so start-up is paid before the trials; users may call it
        too. It must not change any result. The default does nothing."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


@dataclass(repr=False)
class FunctionObjective(Objective):
    """An objective made of a plain function and its space."""

    fn: Callable[[Any], Any]
    space: Any
    name: str = ""
    description: str = ""
    f_star: float | None = None
    x_star: Any = None
    cost_hint: str = "cheap"
    groups: tuple[str, ...] = ()
    thread_safe: bool = False
    fidelity: Fidelity | None = None
    cost_model: Callable[[float], float] | None = None

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"an objective function must be callable, got {self.fn!r}")
        if not self.name:
            self.name = getattr(self.fn, "__name__", "objective")
        if not self.description:
            self.description = (self.fn.__doc__ or "").strip().split("\n")[0]

    def evaluate(self, params: Any) -> Any:
        return self.fn(params)

    def __call__(self, params: Any) -> Any:
        """A decorated function stays callable as before."""
        return self.fn(params)


class PrepareError(BBoptError, RuntimeError):
    """An objective's :meth:`Objective.prepare` failed, so no trial can run."""


def prepare_objective(objective: Objective) -> None:
    """Run ``objective.prepare()``, turning any failure into a :class:`PrepareError`."""
    try:
        objective.prepare()
    except Exception as exc:
        raise PrepareError(
            f"objective {objective.name!r} failed to prepare in process {os.getpid()}: {exc!r}"
        ) from exc


def evaluate_point(
    objective: Objective, space: Space, flat: dict[str, Any], reporter: Reporter | None = None
) -> tuple[Any, Result]:
    """Build the nested params for ``flat`` and evaluate them; never raises.

    The objective's reports go to ``reporter`` (a recording one when None) and end up
    in ``Result.intermediate``. Exceptions (from a transform or the objective), NaN and
    inf become a failed Result with the error kept; :class:`~bbopt.reporting.TrialPruned`
    a pruned one whose loss is the last value reported. A :class:`PrunerError` (the
    pruner deciding on a report here failed) propagates.
    """
    params = None
    reporter = Reporter() if reporter is None else reporter
    try:
        params = space.to_params(flat)
        with reporting_to(reporter):
            value = objective.evaluate(params)
        result = Result.from_value(value)
    except TrialPruned:
        return params, Result.from_pruned(reporter.last_value, reporter.intermediate)
    except PrunerError:  # the pruner's failure, not the objective's: it ends the run
        raise
    except Exception as exc:
        result = Result.from_exception(exc)
    result.intermediate = reporter.intermediate
    return params, result


def _objectives_from_entry_point(entry_point: EntryPoint, loaded: object) -> list[tuple[str, Any]]:
    items = loaded
    if not isinstance(loaded, Objective) and callable(loaded):
        items = loaded()
    found: list[Objective] = []
    for item in items if isinstance(items, (list, tuple)) else [items]:
        if not isinstance(item, Objective):
            raise TypeError(
                f"entry point gave {item!r}, not an Objective, a list of them or a "
                "zero-argument callable returning either"
            )
        found.append(check_objective(item))
    return [(o.name, o) for o in found]


registry: Registry[Objective] = Registry(
    "objective",
    ENTRY_POINT_GROUP,
    [
        "bbopt.objectives.toy",
        "bbopt.objectives.synthetic",
        "bbopt.objectives.multifidelity",
        "bbopt.objectives.coco",
        "bbopt.objectives.wine",
        "bbopt.objectives.sklearn",
        "bbopt.objectives.iterative",
    ],
    _objectives_from_entry_point,
)


def register_objective(
    name: str | Objective,
    space: Any = None,
    *,
    f_star: float | None = None,
    x_star: Any = None,
    description: str = "",
    cost_hint: str = "cheap",
    groups: Iterable[str] = (),
    fidelity: Fidelity | None = None,
    cost_model: Callable[[float], float] | None = None,
    replace: bool = False,
) -> Any:
    """Register an objective.

    ``register_objective(obj)`` registers an Objective instance; as a decorator,
    ``@register_objective("name", space=...)`` turns a function into one and
    returns the Objective (which is still callable through ``.fn``).
    """
    if isinstance(name, Objective):
        return registry.register(name.name, check_objective(name), replace=replace)
    if not isinstance(name, str) or not name:
        raise ValueError(f"an objective name must be a non-empty string, got {name!r}")
    if space is None:
        raise ValueError("register_objective needs a space for a function objective")
    as_space(space)  # validate now, at definition time
    _check_fidelity(name, fidelity)

    def decorator(fn: Callable[[Any], Any]) -> FunctionObjective:
        objective = FunctionObjective(
            fn,
            space,
            name=str(name),
            description=description,
            f_star=f_star,
            x_star=x_star,
            cost_hint=cost_hint,
            groups=tuple(groups),
            fidelity=fidelity,
            cost_model=cost_model,
        )
        registry.register(objective.name, objective, replace=replace)
        return objective

    return decorator


def check_objective(objective: Objective) -> Objective:
    """``objective`` if it can run: a name, a space that compiles, a ``Fidelity`` or None
    as its fidelity; else a ValueError or TypeError saying what is wrong. Registration
    checks it (an entry point that fails is skipped with a warning), so that a missing
    space is not a run over nothing and a bad one not an error at every trial."""
    if not isinstance(objective.name, str) or not objective.name:
        raise ValueError(f"an objective name must be a non-empty string, got {objective.name!r}")
    if objective.space is None:
        raise ValueError(f"objective {objective.name!r} has no space")
    _check_fidelity(objective.name, objective.fidelity)
    try:
        as_space(objective.space)
    except (ValueError, TypeError) as exc:
        kind = TypeError if isinstance(exc, TypeError) else ValueError
        raise kind(f"objective {objective.name!r}: {exc}") from None
    return objective


def _check_fidelity(name: str, fidelity: object) -> None:
    if fidelity is not None and not isinstance(fidelity, Fidelity):
        raise TypeError(
            f"objective {name!r}: fidelity must be a bbopt.Fidelity(name, min, max), "
            f"got {fidelity!r}"
        )


def get_objective(name: str) -> Objective:
    """The registered objective called ``name`` (built-in or from an entry point)."""
    return registry.get(name)


def list_objectives() -> list[str]:
    return registry.names()


def resolve_objective(fn: Any, space: Any = None) -> Objective:
    """An Objective from an Objective, a registered name, or a function plus a space."""
    if isinstance(fn, Objective):
        if space is not None:
            raise ValueError("give a space only with a plain function, not with an Objective")
        return fn
    if isinstance(fn, str):
        if space is not None:
            raise ValueError("a registered objective brings its own space; do not pass one")
        return get_objective(fn)
    if callable(fn):
        if space is None:
            raise ValueError("minimizing a plain function needs a space")
        return FunctionObjective(fn, space)
    raise TypeError(f"cannot optimize {fn!r}: give a function and a space, an Objective or a name")
