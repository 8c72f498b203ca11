"""When a run stops asking for new trials: evaluations, time, loss, a user's rule."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bbopt.study import Study

EarlyStop = Callable[..., Any]
"""``early_stop(study) -> bool``, or hyperopt's protocol: ``early_stop(study, *args) ->
(stop, args)``, where the returned ``args`` are passed to the next call."""


@dataclass
class StopRules:
    """When to stop asking for new trials; :meth:`reached` names the rule that fired."""

    max_evals: int
    timeout: float | None = None
    loss_threshold: float | None = None
    early_stop: EarlyStop | None = None
    started: float = field(default_factory=time.monotonic)
    _early_args: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.max_evals, bool) or not isinstance(self.max_evals, int):
            raise ValueError(f"max_evals must be an integer >= 0, got {self.max_evals!r}")
        if self.max_evals < 0:
            raise ValueError(f"max_evals must be an integer >= 0, got {self.max_evals!r}")
        if self.timeout is not None and not _positive_number(self.timeout):
            raise ValueError(f"timeout must be a number of seconds > 0, got {self.timeout!r}")
        if self.early_stop is not None and not callable(self.early_stop):
            raise TypeError(f"early_stop must be callable, got {self.early_stop!r}")

    def reached(self, study: Study, best_loss: float) -> str | None:
        """The name of the first rule that says stop (``"max_evals"``, ``"timeout"``,
        ``"loss_threshold"``, ``"early_stop"``), or None to go on."""
        if len(study) >= self.max_evals and study.count_started() >= self.max_evals:
            return "max_evals"
        if self.timeout is not None and time.monotonic() - self.started >= self.timeout:
            return "timeout"
        if self.loss_threshold is not None and best_loss <= self.loss_threshold:
            return "loss_threshold"
        if self.early_stop is not None and self._early_stop_says_stop(study):
            return "early_stop"
        return None

    def _early_stop_says_stop(self, study: Study) -> bool:
        assert self.early_stop is not None
        answer = self.early_stop(study, *self._early_args)
        if isinstance(answer, tuple):  # hyperopt's (stop, args)
            if len(answer) != 2:
                raise TypeError(
                    "early_stop must return a bool or hyperopt's (stop, args) pair, "
                    f"got a tuple of {len(answer)}"
                )
            stop, args = answer
            self._early_args = tuple(args)
            return bool(stop)
        return bool(answer)


def _positive_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
