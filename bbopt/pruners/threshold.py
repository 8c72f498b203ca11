"""``threshold``: stop a trial whose value leaves a fixed range (Optuna's ThresholdPruner).

A trial stops at a decided step (past ``n_warmup_steps``, every ``interval_steps``)
when its latest value is above ``upper``, below ``lower`` or NaN. Useful against
diverging runs, and as a pruner that costs nothing to ask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bbopt.errors import OptionValueError
from bbopt.option_checks import check_integer, check_number
from bbopt.pruners import register_pruner
from bbopt.pruners.base import Pruner, in_schedule, latest
from bbopt.trial import Trial


@register_pruner
class ThresholdPruner(Pruner):
    name = "threshold"
    description = (
        "stops a trial whose latest value is above upper, below lower or NaN (options: "
        "lower, upper, n_warmup_steps, interval_steps)"
    )

    def __init__(
        self,
        lower: float | None = None,
        upper: float | None = None,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
    ) -> None:
        if lower is None and upper is None:
            raise OptionValueError("the threshold pruner needs option 'lower', 'upper' or both")
        self.lower = -math.inf if lower is None else check_number("lower", lower)
        self.upper = math.inf if upper is None else check_number("upper", upper)
        if self.lower > self.upper:
            raise OptionValueError(
                f"option 'lower' ({lower!r}) must not be above 'upper' ({upper!r})"
            )
        self.n_warmup_steps = check_integer("n_warmup_steps", n_warmup_steps, 0)
        self.interval_steps = check_integer("interval_steps", interval_steps, 1)

    def prune(self, trials: Sequence[Trial], trial: Trial) -> bool:
        step, value = latest(trial)
        if not in_schedule(step, self.n_warmup_steps, self.interval_steps):
            return False
        return math.isnan(value) or not self.lower <= value <= self.upper
