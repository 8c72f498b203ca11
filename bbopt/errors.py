"""Exceptions raised by bbopt, so callers can tell user errors from failures."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

_FAMILY_LISTED = 20  # a family of more names is one "prefix.* (N names)" entry


class BBoptError(Exception):
    """Base class of bbopt's own errors."""


class UnknownNameError(BBoptError, LookupError):
    """A backend, objective or study name that is not registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = _close_matches(name, known)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
        listing = _by_family(known) if known else "none"
        super().__init__(f"unknown {kind} {name!r}.{hint} Known {plural}: {listing}")
        self.name = name
        self.close_matches = close


class UnknownOptionError(BBoptError, TypeError, ValueError):
    """An option a backend (or pruner) does not accept (a TypeError like any unexpected
    keyword, and a ValueError as a bad ``backend_options`` value)."""

    def __init__(
        self, backend: str, unknown: Iterable[str], accepted: Iterable[str], kind: str = "backend"
    ) -> None:
        accepted = sorted(accepted)
        parts = []
        for name in sorted(unknown):
            close = _close_matches(name, accepted)
            parts.append(f"{name!r} (did you mean {' or '.join(close)}?)" if close else repr(name))
        listing = ", ".join(accepted) if accepted else "none"
        super().__init__(
            f"{kind} {backend!r} does not accept option(s) {', '.join(parts)}. "
            f"Accepted options: {listing}"
        )
        self.accepted = accepted


class OptionValueError(BBoptError, ValueError):
    """An option given a value its backend or pruner does not accept."""


def _close_matches(name: str, known: list[str]) -> list[str]:
    return difflib.get_close_matches(name, known, n=3, cutoff=0.5)


class EmptySpaceError(BBoptError, ValueError):
    """A backend given a space without parameters, which it cannot search."""


class SeedError(BBoptError, ValueError):
    """A seed that not every backend's library takes (not an integer in [0, 2**32 - 1])."""


class NoSuccessfulTrialError(BBoptError, ValueError):
    """Asked for the best trial of a study in which no trial succeeded."""


class BackendError(BBoptError, RuntimeError):
    """A backend failed in ask or tell, or broke its contract (a point outside the space,
    not one Suggestion per point asked); the message names it. The library's exception,
    if any, is the cause."""


class PrunerError(BBoptError, RuntimeError):
    """A pruner failed, or answered something else than True or False; the message names
    it. The run ends, serial or parallel, rather than fail the trial it was deciding on."""


class MissingDependencyError(BBoptError, ImportError):
    """An optional package is needed; the message names the extra that installs it."""

    def __init__(self, package: str, extra: str, what: str) -> None:
        super().__init__(
            f"{what} needs the package {package!r}: install it with `pip install 'bbopt[{extra}]'`"
        )


def _by_family(names: list[str]) -> str:
    """Every name, except that a family of more than 20 (the 720 ``bbob.*`` problems) is
    one entry with its count: ``bbob.* (720 names), keras.wine, toy.sin``."""
    families: dict[str, list[str]] = {}
    for name in names:
        families.setdefault(name.split(".", 1)[0], []).append(name)
    parts: list[str] = []
    for prefix, members in families.items():
        if len(members) > _FAMILY_LISTED:
            parts.append(f"{prefix}.* ({len(members)} names)")
        else:
            parts.extend(members)
    return ", ".join(parts)
