"""Checks of option values given to backends and pruners (from Python or a command
line's JSON), each failing with an OptionValueError that names the option."""

from __future__ import annotations

import math
from typing import Any

from bbopt.errors import OptionValueError


def check_integer(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, or an OptionValueError naming the option."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptionValueError(f"option {name!r} must be an integer >= {minimum}, got {value!r}")
    return value


def check_number(name: str, value: Any, minimum: float | None = None) -> float:
    """``value`` as a finite float (>= ``minimum`` when given), or an OptionValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise OptionValueError(f"option {name!r} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise OptionValueError(f"option {name!r} must be >= {minimum:g}, got {value!r}")
    return float(value)
