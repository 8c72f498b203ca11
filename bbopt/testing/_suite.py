"""Running a list of checks on a target: all at once, or one pytest test per check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Check = Callable[[Any], None]


def run_checks(target: Any, checks: Sequence[Check]) -> None:
    """Run every check on ``target``; raise ``AssertionError`` naming the first that fails."""
    for check in checks:
        try:
            check(target)
        except Exception as exc:
            raise AssertionError(f"{target}: {check.__name__} failed: {exc!r}") from exc


def parametrize(targets: Sequence[Any], checks: Sequence[Check]) -> Any:
    """A ``pytest.mark.parametrize`` over (target, check) pairs: one test per check."""
    import pytest

    pairs = [(target, check) for target in targets for check in checks]
    ids = [f"{target}-{check.__name__.removeprefix('check_')}" for target, check in pairs]
    return pytest.mark.parametrize(("target", "check"), pairs, ids=ids)
