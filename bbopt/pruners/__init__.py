"""Pruners by name: ``median``, ``percentile``, ``successive_halving``, ``hyperband``,
``threshold``, ``patient``, and entry-point plugins (group ``bbopt.pruners``).

``bbopt.minimize(..., pruner="hyperband", pruner_options={...})`` asks the pruner after
each report of a running trial whether to stop it (see :mod:`bbopt.reporting` for the
objective's side and :mod:`bbopt.pruners.base` for writing one).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from bbopt.errors import PrunerError, UnknownOptionError
from bbopt.objective import Fidelity
from bbopt.option_checks import options_refused
from bbopt.pruners.base import Pruner, latest
from bbopt.registry import ClassRegistry

__all__ = [
    "Pruner",
    "create_pruner",
    "get_pruner",
    "latest",
    "list_pruners",
    "pruner_options",
    "register_pruner",
]

ENTRY_POINT_GROUP = "bbopt.pruners"


registry: ClassRegistry[type[Pruner]] = ClassRegistry(
    "pruner",
    ENTRY_POINT_GROUP,
    [
        "bbopt.pruners.percentile",
        "bbopt.pruners.successive_halving",
        "bbopt.pruners.hyperband",
        "bbopt.pruners.threshold",
        "bbopt.pruners.patient",
    ],
    Pruner,
)


def register_pruner(cls: type[Pruner], name: str | None = None, *, replace: bool = False) -> Any:
    """Register a Pruner subclass under ``name`` (default: its ``name``); a class decorator."""
    return registry.register_class(cls, name, replace=replace)


def get_pruner(name: str) -> type[Pruner]:
    return registry.get(name)


def list_pruners() -> list[str]:
    return registry.names()


def pruner_options(cls: type[Pruner]) -> list[str]:
    """The options a pruner class accepts: its constructor's keyword arguments."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in parameters if p.name != "self" and p.kind in kinds]


def create_pruner(
    pruner: str | Pruner | type[Pruner],
    options: Mapping[str, Any] | None = None,
    fidelity: Fidelity | None = None,
) -> Pruner:
    """A ready pruner from a registered name, a Pruner class or an instance.

    ``options`` go to the constructor; one it does not take is an
    :class:`~bbopt.errors.UnknownOptionError` listing those it does. ``fidelity`` (the
    objective's) gives the pruner its default resources.
    """
    if isinstance(pruner, Pruner):
        if options:
            raise ValueError("pruner options go to the constructor of a pruner instance")
        made = pruner
    else:
        cls = get_pruner(pruner) if isinstance(pruner, str) else pruner
        if not (isinstance(cls, type) and issubclass(cls, Pruner)):
            raise TypeError(f"pruner must be a name, a Pruner class or instance, got {pruner!r}")
        options = dict(options or {})
        accepted = pruner_options(cls)
        unknown = set(options) - set(accepted)
        if unknown:
            raise UnknownOptionError(cls.name or cls.__name__, unknown, accepted, kind="pruner")
        with options_refused(f"pruner {cls.name or cls.__name__!r}", options, PrunerError):
            made = cls(**options)
    if made.fidelity is None:
        made.fidelity = fidelity
    return made
