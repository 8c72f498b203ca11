"""Backends by name: ``hyperopt.tpe``, ``hyperopt.rand``, ... and entry-point plugins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bbopt.backends.base import Backend, Observation, Suggestion
from bbopt.errors import BackendError
from bbopt.option_checks import options_refused
from bbopt.registry import ClassRegistry
from bbopt.space import Space, as_space

if TYPE_CHECKING:
    from bbopt.objective import Objective

__all__ = [
    "Backend",
    "Observation",
    "Suggestion",
    "create_backend",
    "get_backend",
    "list_backends",
    "register_backend",
]

ENTRY_POINT_GROUP = "bbopt.backends"


registry: ClassRegistry[type[Backend]] = ClassRegistry(
    "backend",
    ENTRY_POINT_GROUP,
    [
        "bbopt.backends.bohb",
        "bbopt.backends.dehb",
        "bbopt.backends.hyperopt",
        "bbopt.backends.native",
        "bbopt.backends.nevergrad",
        "bbopt.backends.optuna",
        "bbopt.backends.skopt",
        "bbopt.backends.smac",
    ],
    Backend,
)


def register_backend(cls: type[Backend], name: str | None = None, *, replace: bool = False) -> Any:
    """Register a Backend subclass under ``name`` (default: its ``name`` attribute).

    Usable as a class decorator.
    """
    return registry.register_class(cls, name, replace=replace)


def get_backend(name: str) -> type[Backend]:
    return registry.get(name)


def list_backends() -> list[str]:
    return registry.names()


def create_backend(
    backend: str | Backend | type[Backend],
    space: Any,
    seed: int | None = None,
    backend_options: Mapping[str, Any] | None = None,
    *,
    max_evals: int | None = None,
    objective: Objective | None = None,
) -> Backend:
    """A ready backend from a registered name, a Backend class or an instance.

    ``space`` is any space tree (or a compiled :class:`~bbopt.space.Space`);
    ``backend_options`` go to the backend's constructor (the same keyword as in
    :func:`bbopt.minimize`). ``max_evals``, the run's evaluation budget, becomes the
    option named by the class's ``budget_option`` (Nevergrad's ``budget``, SMAC's
    ``n_trials``) unless the options set it. With ``objective``, the one it will run on,
    a backend without a fidelity of its own takes the objective's (a multi-fidelity
    backend's budgets) and checks that it can run with it
    (:class:`~bbopt.errors.OptionValueError` if not). This is the way in for code that
    drives a backend itself with ``ask``/``tell`` (docs/backends.md).
    """
    made = _backend_instance(backend, as_space(space), seed, backend_options, max_evals)
    if objective is not None:
        if made.fidelity is None:
            made.fidelity = objective.fidelity
        made.check_fidelity()
    return made


def _backend_instance(
    backend: str | Backend | type[Backend],
    space: Space,
    seed: int | None,
    backend_options: Mapping[str, Any] | None,
    max_evals: int | None,
) -> Backend:
    if isinstance(backend, Backend):
        if backend_options:
            raise ValueError("backend options go to the constructor of a backend instance")
        return backend
    cls = get_backend(backend) if isinstance(backend, str) else backend
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"backend must be a name, a Backend class or instance, got {backend!r}")
    options = dict(backend_options or {})
    if cls.budget_option is not None and max_evals is not None:
        options.setdefault(cls.budget_option, max_evals)
    with options_refused(f"backend {cls.name or cls.__name__!r}", backend_options, BackendError):
        return cls(space, seed, **options)
