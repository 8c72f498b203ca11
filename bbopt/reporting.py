"""Intermediate reports: an objective that trains says how it is doing, and stops when told.

Inside an objective, ``bbopt.report(step, value)`` records the value reached at
``step`` (an epoch, an iteration: any increasing integer) on the loss's scale (lower
is better). When the run has a pruner and it decides that the trial will not catch
up, ``report`` raises :class:`TrialPruned`; the objective lets it propagate (or
cleans up and raises it again) and the trial ends in state ``pruned``, its loss the
last value it reported. Outside a bbopt trial (an objective called by hand),
``report`` does nothing, so an objective that reports runs anywhere.

The trial running in this thread (or asyncio task) is found through a context
variable holding its :class:`Reporter`; :func:`reporting_to` sets it for the length
of one evaluation.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bbopt.errors import BBoptError
from bbopt.trial import as_loss

__all__ = [
    "Reporter",
    "TrialPruned",
    "budget",
    "is_pruning",
    "is_reporting",
    "report",
    "reporting_to",
]

Decide = Callable[[int, float], bool]
"""``decide(step, value) -> prune``: asks the run's pruner about a new report."""


class TrialPruned(BBoptError):
    """Raised by :func:`report` when the trial is to stop; let it propagate."""

    def __init__(self, step: int, value: float) -> None:
        super().__init__(f"trial pruned at step {step} (reported value {value:g})")
        self.step = step
        self.value = value


class Reporter:
    """The reports of one trial, and the pruner's decision on each of them.

    ``decide`` is None when the run has no pruner: values are only recorded. ``budget``
    is the fidelity a multi-fidelity backend chose for the trial (None: all of it).
    """

    def __init__(self, decide: Decide | None = None, budget: float | None = None) -> None:
        self.decide = decide
        self.budget = budget
        self.intermediate: dict[int, float] = {}
        self._last_step = -1

    def report(self, step: Any, value: Any) -> None:
        """Record ``value`` at ``step``; raise :class:`TrialPruned` if the pruner says stop."""
        integral = isinstance(step, int) or hasattr(step, "__index__")  # numpy ints too
        if isinstance(step, bool) or not integral or step.__index__() < 0:
            raise ValueError(f"a report's step must be an integer >= 0, got {step!r}")
        step = step.__index__()
        if step <= self._last_step:
            raise ValueError(
                f"report steps must increase: step {step} after step {self._last_step}"
            )
        value = as_loss(value)
        self._last_step = step
        self.intermediate[step] = value
        if self.decide is not None and self.decide(step, value):
            raise TrialPruned(step, value)

    @property
    def last_value(self) -> float | None:
        """The value of the last report, if it is finite (a pruned trial's loss)."""
        if not self.intermediate:
            return None
        value = self.intermediate[self._last_step]
        return value if math.isfinite(value) else None


_current: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar(
    "bbopt_reporter", default=None
)


@contextmanager
def reporting_to(reporter: Reporter) -> Iterator[Reporter]:
    """Make ``reporter`` receive the reports made in this context (one evaluation)."""
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        _current.reset(token)


def report(step: int, value: float) -> None:
    """Report ``value`` (lower is better, like the loss) reached at ``step``.

    Raises :class:`TrialPruned` when the run's pruner stops the trial; does nothing
    outside a bbopt trial. Steps must increase from one report to the next.
    """
    reporter = _current.get()
    if reporter is not None:
        reporter.report(step, value)


def is_pruning() -> bool:
    """Whether a pruner may stop the trial running here (its reports are decided on)."""
    reporter = _current.get()
    return reporter is not None and reporter.decide is not None


def budget() -> float | None:
    """The budget a multi-fidelity backend chose for the trial running here, on the
    objective's fidelity scale (epochs, ...); None outside a trial or for all of it."""
    reporter = _current.get()
    return None if reporter is None else reporter.budget


def is_reporting() -> bool:
    """Whether reports made here are recorded (inside a bbopt trial)."""
    return _current.get() is not None
