"""``successive_halving``: asynchronous successive halving (ASHA, Li et al. 2020; Optuna's
SuccessiveHalvingPruner).

Rung ``r`` sits at step ``min_resource * reduction_factor ** (min_early_stopping_rate +
r)``. A trial's value at a rung is the first value it reported at that step or later.
When a trial reaches a rung it is compared with every trial that reached that rung
before it (running, finished or pruned): it goes on only if it is in the best
``1 / reduction_factor`` of them (the best one when they are fewer than
``reduction_factor``). The decision is taken at once, with the trials there are: no
trial waits for a rung to fill. With ``bootstrap_count``, a rung stops every trial
until it holds more than that many. The rungs are derived from the trials' stored
reports, so a resumed study continues them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from bbopt.errors import OptionValueError
from bbopt.option_checks import check_integer, check_number
from bbopt.pruners import register_pruner
from bbopt.pruners.base import (
    Pruner,
    first_at_or_after,
    latest,
    previous_step,
)
from bbopt.trial import Trial


def rung_of(step: float, min_resource: float, eta: int, rate: int) -> int:
    """The highest rung index at or below ``step`` (-1 below the first rung)."""
    if step < min_resource * eta**rate:
        return -1
    rung = math.floor(math.log(step / min_resource, eta) + 1e-9) - rate
    while min_resource * eta ** (rate + rung + 1) <= step:  # floating-point edges
        rung += 1
    return rung


def halving_prunes(
    trials: Sequence[Trial],
    trial: Trial,
    min_resource: float,
    eta: int,
    rate: int,
    bootstrap_count: int,
) -> bool:
    """ASHA's decision for ``trial``'s latest report, among ``trials`` (its rung peers,
    ``trial`` included)."""
    step, value = latest(trial)
    reached = rung_of(step, min_resource, eta, rate)
    passed = rung_of(previous_step(trial), min_resource, eta, rate)
    if reached <= passed:  # no new rung with this report: nothing to decide
        return False
    if math.isnan(value):
        return True
    for rung in range(passed + 1, reached + 1):
        rung_step = min_resource * eta ** (rate + rung)
        # ``trials`` hold ``trial`` itself: its own value competes too
        competing = [v for v in (first_at_or_after(t, rung_step) for t in trials) if v is not None]
        if len(competing) <= bootstrap_count:
            return True
        competing = sorted(v for v in competing if not math.isnan(v))
        promotable = max(len(competing) // eta - 1, 0)
        if value > competing[promotable]:
            return True
    return False


class HalvingOptions:
    """The options ASHA and Hyperband share, checked."""

    def __init__(self, min_resource: Any, reduction_factor: int, bootstrap_count: int) -> None:
        if min_resource != "auto":
            check_number("min_resource", min_resource)
            if min_resource <= 0:
                raise OptionValueError(
                    f"option 'min_resource' must be > 0 or 'auto', got {min_resource!r}"
                )
        self.min_resource = min_resource
        self.reduction_factor = check_integer("reduction_factor", reduction_factor, 2)
        self.bootstrap_count = check_integer("bootstrap_count", bootstrap_count, 0)

    def resolved_min(self, fidelity: Any) -> float:
        """``min_resource``, "auto" being the objective's fidelity minimum (else step 1)."""
        if self.min_resource != "auto":
            return float(self.min_resource)
        return float(fidelity.min) if fidelity is not None else 1.0


@register_pruner
class SuccessiveHalvingPruner(Pruner):
    name = "successive_halving"
    description = (
        "asynchronous successive halving (ASHA): at rungs min_resource * "
        "reduction_factor**k, only the best 1/reduction_factor go on (options: "
        "min_resource, reduction_factor, min_early_stopping_rate, bootstrap_count)"
    )

    def __init__(
        self,
        min_resource: Any = "auto",
        reduction_factor: int = 3,
        min_early_stopping_rate: int = 0,
        bootstrap_count: int = 0,
    ) -> None:
        self.halving = HalvingOptions(min_resource, reduction_factor, bootstrap_count)
        self.min_early_stopping_rate = check_integer(
            "min_early_stopping_rate", min_early_stopping_rate, 0
        )

    def prune(self, trials: Sequence[Trial], trial: Trial) -> bool:
        options = self.halving
        return halving_prunes(
            trials,
            trial,
            options.resolved_min(self.fidelity),
            options.reduction_factor,
            self.min_early_stopping_rate,
            options.bootstrap_count,
        )
