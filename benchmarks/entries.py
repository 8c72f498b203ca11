"""Grid entries: a backend name, or ``backend+pruner`` for a backend run under a pruner.

``hyperopt.tpe+hyperband`` is ``minimize(..., backend="hyperopt.tpe", pruner="hyperband")``
(the pruner's defaults, its resources from the objective's fidelity). The entry is
the name the benchmark shows and stores its runs under.
"""

from __future__ import annotations

from bbopt.backends import get_backend
from bbopt.pruners import get_pruner

SEPARATOR = "+"


def split_entry(entry: str) -> tuple[str, str | None]:
    """(backend, pruner or None) of a grid entry."""
    backend, _, pruner = entry.partition(SEPARATOR)
    return backend, pruner or None


def check_entry(entry: str) -> None:
    """Fail on an unknown backend or pruner name (with close matches)."""
    backend, pruner = split_entry(entry)
    get_backend(backend)
    if pruner is not None:
        get_pruner(pruner)
