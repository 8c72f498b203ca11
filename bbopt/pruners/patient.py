"""``patient``: stop a trial that stopped improving (Optuna's PatientPruner).

A trial "stalls" when the best value of its last ``patience + 1`` reports is not lower,
by more than ``min_delta``, than its best value before them (a flat curve stalls, as
with Keras' EarlyStopping). Alone, the pruner stops a
stalled trial; with ``wrapped`` (another pruner's name, with ``wrapped_options``), it
stops a stalled trial only if the wrapped pruner agrees: patience before the
wrapped pruner's verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bbopt.errors import OptionValueError
from bbopt.option_checks import check_integer, check_number
from bbopt.pruners import create_pruner, register_pruner
from bbopt.pruners.base import Pruner
from bbopt.trial import Trial


def _nanmin(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return min(finite) if finite else math.nan


@register_pruner
class PatientPruner(Pruner):
    name = "patient"
    description = (
        "stops a trial whose best value did not improve by min_delta over its last "
        "patience reports; with wrapped, only if that pruner agrees (options: patience, "
        "min_delta, wrapped, wrapped_options)"
    )

    def __init__(
        self,
        patience: int = 3,
        min_delta: float = 0.0,
        wrapped: str | None = None,
        wrapped_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.patience = check_integer("patience", patience, 0)
        self.min_delta = check_number("min_delta", min_delta, 0.0)
        if wrapped is None and wrapped_options:
            raise OptionValueError(
                "option 'wrapped_options' needs option 'wrapped' (a pruner name)"
            )
        if wrapped is not None and not isinstance(wrapped, str):
            raise OptionValueError(f"option 'wrapped' must be a pruner name, got {wrapped!r}")
        if wrapped_options is not None and not isinstance(wrapped_options, Mapping):
            raise OptionValueError(
                f"option 'wrapped_options' must be a mapping of options, got {wrapped_options!r}"
            )
        self.wrapped = None if wrapped is None else create_pruner(wrapped, wrapped_options)

    def prune(self, trials: Sequence[Trial], trial: Trial) -> bool:
        values = list(trial.intermediate.values())  # in step order
        if len(values) <= self.patience + 1:
            return False
        before = _nanmin(values[: -self.patience - 1])
        recent = _nanmin(values[-self.patience - 1 :])
        if math.isnan(before):  # nothing to improve on yet
            improved = not math.isnan(recent)
        else:
            improved = recent < before - self.min_delta
        if improved:
            return False
        if self.wrapped is None:
            return True
        self.wrapped.fidelity = self.fidelity
        return self.wrapped.prune(trials, trial)
