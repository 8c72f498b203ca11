"""When a run stops asking for new trials: evaluations, time, loss, a user's rule."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bbopt.study import Study
from bbopt.trial import Trial

EarlyStop = Callable[..., Any]
"""``early_stop(study) -> bool``, or hyperopt's protocol: ``early_stop(study, *args) ->
(stop, args)``, where the returned ``args`` are passed to the next call. It is asked
once after each trial this run finishes (never before the first one), as hyperopt's
``fmin`` asks its ``early_stop_fn``."""


@dataclass
class StopRules:
    """When to stop asking for new trials; :meth:`reached` names the rule that fired."""

    max_evals: int
    timeout: float | None = None
    loss_threshold: float | None = None
    early_stop: EarlyStop | None = None
    started: float = field(default_factory=time.monotonic)
    _early_args: tuple[Any, ...] = ()
    _finished_seen: int | None = None  # finished trials when early_stop was last asked

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
        """Ask ``early_stop`` when trials finished since it was last asked (or since the
        run began): hyperopt's rules read the latest trial and count the calls."""
        assert self.early_stop is not None
        finished = len(study.finished_trials)
        seen, self._finished_seen = self._finished_seen, finished
        if seen is None or finished == seen:  # the run just began, or nothing new finished
            return False
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


def no_progress_loss(iteration_stop_count: int = 20, percent_increase: float = 0.0) -> EarlyStop:
    """Stop after ``iteration_stop_count`` finished trials in a row that did not beat the
    best loss by more than ``percent_increase`` percent: ``hyperopt.early_stop
    .no_progress_loss``, with the same answers call by call on successful trials.

    The rule is given the study (``minimize(early_stop=...)``) or
    ``bbopt.hyperopt.Trials`` (``fmin(early_stop_fn=...)``) and reads the trial that
    finished last. A failed trial counts as no progress (hyperopt's rule fails on a
    result without a loss, and starts afresh on a ``None`` loss).
    """

    def stop_fn(
        trials: Any, best_loss: float | None = None, iteration_no_progress: int = 0
    ) -> tuple[bool, list[Any]]:
        latest = _latest_finished(getattr(trials, "study", trials))
        new_loss = latest.loss if latest.ok else None
        if best_loss is None:
            if new_loss is None:  # no loss yet: a failure is no progress either
                count = iteration_no_progress + 1
                return count >= iteration_stop_count, [None, count]
            # the first loss: hyperopt's count (1) when it is the first trial, else afresh
            return False, [new_loss, 1 if iteration_no_progress == 0 else 0]
        threshold = best_loss - abs(best_loss * (percent_increase / 100.0))
        if new_loss is not None and new_loss < threshold:
            best_loss, iteration_no_progress = new_loss, 0
        else:
            iteration_no_progress += 1
        return iteration_no_progress >= iteration_stop_count, [best_loss, iteration_no_progress]

    return stop_fn


def _latest_finished(study: Study) -> Trial:
    if not isinstance(study, Study):
        raise TypeError(
            f"no_progress_loss is given a study or bbopt.hyperopt.Trials, not {study!r}"
        )
    finished = study.finished_trials
    if not finished:
        raise ValueError(f"study {study.name!r} has no finished trial to judge progress by")
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    return max(finished, key=lambda t: (t.finished_at or epoch, t.tid))


def _positive_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
