"""The Pruner interface: whether a running trial should stop, from the reports of all trials.

A pruner is asked after each report of a running trial. It sees every trial of the
study (their ``intermediate`` values: step -> reported value, lower is better, in the
order reported) and answers True to stop the trial. It keeps no state of its own
that the trials do not hold: a fresh pruner given the same trials decides the same,
so a resumed study continues its rungs and brackets where they were. Writing one:

.. code-block:: python

    from bbopt.pruners import Pruner, latest

    class AboveOne(Pruner):
        name = "above-one"
        description = "stops a trial whose latest value is above 1"

        def prune(self, trials, trial):
            return latest(trial)[1] > 1

Register it with ``bbopt.register_pruner(AboveOne)`` or the ``bbopt.pruners``
entry-point group, and check it with ``bbopt.testing.check_pruner(AboveOne)``.
Options are the constructor's keyword arguments.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from bbopt.objective import Fidelity
from bbopt.trial import Trial, TrialState


class Pruner(ABC):
    """Base class of all pruners; options are the constructor's keyword arguments."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    #: The objective's fidelity, if it declares one (set by ``create_pruner``): pruners
    #: take their default resources (min and max step) from it.
    fidelity: Fidelity | None = None

    @abstractmethod
    def prune(self, trials: Sequence[Trial], trial: Trial) -> bool:
        """Whether ``trial`` (running, just reported its latest value) should stop.

        ``trials`` are all the study's trials, ``trial`` among them.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def latest(trial: Trial) -> tuple[int, float]:
    """(step, value) of the trial's last report (its reports are kept in step order)."""
    step = next(reversed(trial.intermediate))
    return step, trial.intermediate[step]


def previous_step(trial: Trial) -> int:
    """The step of the report before the last one, or -1 if there is just one."""
    steps = reversed(trial.intermediate)
    next(steps)
    return next(steps, -1)


def first_at_or_after(trial: Trial, step: float) -> float | None:
    """The value the trial reported first at ``step`` or later (None if it never got there)."""
    for reported, value in trial.intermediate.items():
        if reported >= step:
            return value
    return None


def done_trials(trials: Sequence[Trial], but: Trial) -> list[Trial]:
    """The finished, not pruned trials other than ``but``: the reference a trial is held to."""
    return [t for t in trials if t.state is TrialState.DONE and t.tid != but.tid]


def best_value(trial: Trial) -> float:
    """The trial's lowest reported value so far (NaN if every value is NaN)."""
    finite = [v for v in trial.intermediate.values() if not math.isnan(v)]
    return min(finite) if finite else math.nan


def in_schedule(step: int, warmup_steps: int, interval_steps: int) -> bool:
    """Whether a report at ``step`` is one a pruner decides on: past the warm-up, and every
    ``interval_steps`` steps from there."""
    return step >= warmup_steps and (step - warmup_steps) % interval_steps == 0
