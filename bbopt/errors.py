"""Exceptions raised by bbopt, so callers can tell user errors from failures."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BBoptError(Exception):
    """Base class of bbopt's own errors."""


class UnknownNameError(BBoptError, LookupError):
    """A backend, objective or study name that is not registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(known) if known else "none"
        super().__init__(f"unknown {kind} {name!r}.{hint} Known {kind}s: {listing}")
        self.name = name
        self.close_matches = close


class NoSuccessfulTrialError(BBoptError, ValueError):
    """Asked for the best trial of a study in which no trial succeeded."""


class MissingDependencyError(BBoptError, ImportError):
    """An optional package is needed; the message names the extra that installs it."""

    def __init__(self, package: str, extra: str, what: str) -> None:
        super().__init__(
            f"{what} needs the package {package!r}: install it with `pip install 'bbopt[{extra}]'`"
        )
