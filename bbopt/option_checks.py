"""Checks of option values given to backends and pruners (from Python or a command
line's JSON), each failing with an OptionValueError that names the option."""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from bbopt.errors import BBoptError, OptionValueError


def check_integer(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (numpy's integers too), or an OptionValueError
    naming the option."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise OptionValueError(f"option {name!r} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_number(name: str, value: Any, minimum: float | None = None) -> float:
    """``value`` as a finite float (>= ``minimum`` when given), or an OptionValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise OptionValueError(f"option {name!r} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise OptionValueError(f"option {name!r} must be >= {minimum:g}, got {value!r}")
    return float(value)


def check_positive(name: str, value: Any) -> float:
    """``value`` as a finite float > 0, or an OptionValueError naming the option (for
    libraries that take zero or less and misbehave)."""
    number = check_number(name, value)
    if not number > 0:
        raise OptionValueError(f"option {name!r} must be > 0, got {value!r}")
    return number


def check_kinds(options: Mapping[str, Any], takes: Callable[..., Any]) -> None:
    """An OptionValueError for an option whose default in ``takes`` (the library call the
    options go to) is a number or a bool, given something else: a library often finds
    ``n_startup_trials="abc"`` only at its first suggestion, in a comparison deep inside
    it. None passes (some take it); a number's type is not narrowed (10.0 for 10)."""
    parameters = inspect.signature(takes).parameters
    for key, value in options.items():
        default = parameters[key].default if key in parameters else None
        if value is None or default is None or default is inspect.Parameter.empty:
            continue
        if isinstance(default, bool):
            fits, kind = isinstance(value, bool), "true or false"
        elif isinstance(default, numbers.Real):
            fits = isinstance(value, numbers.Real) and not isinstance(value, bool)
            kind = "a number"
        else:
            continue
        if not fits:
            raise OptionValueError(
                f"option {key!r} must be {kind} (default {default!r}), got {value!r}"
            )


@contextmanager
def options_refused(
    name: str, options: Mapping[str, Any] | None, failure: type[BBoptError]
) -> Iterator[None]:
    """Around building backend or pruner ``name`` with the user's ``options``: a
    ValueError or TypeError it raises (its own check or its library's) becomes an
    OptionValueError, so that the command line reports it in one line as a bad option.
    Without options it is not about them: it and any other exception (a plugin's
    constructor that breaks) become ``failure`` naming it. bbopt's own errors pass."""
    try:
        yield
    except BBoptError:
        raise
    except (ValueError, TypeError) as exc:
        if not options:
            raise failure(f"{name} failed to start: {exc!r}") from exc
        given = ", ".join(f"{key}={value!r}" for key, value in options.items())
        raise OptionValueError(f"{name} refused its options ({given}): {exc}") from exc
    except Exception as exc:
        raise failure(f"{name} failed to start: {exc!r}") from exc
