"""``hyperband``: several successive-halving brackets side by side (Li et al. 2018; Optuna's
HyperbandPruner, asynchronous like it).

With ``B = floor(log_eta(max_resource / min_resource)) + 1`` brackets, bracket ``b``
is ASHA with ``min_early_stopping_rate = b``: bracket 0 stops trials from the first
rung on, the last one lets them all run to ``max_resource``. A trial's bracket is a
fixed function of its id, drawn with the weights of Hyperband's brackets (more trials
in the aggressive ones, ``ceil(B / (B - b) * eta ** (B - 1 - b))``), and trials
compete only with the trials of their bracket. So the brackets follow from the stored
trials alone: a resumed study goes on filling the same brackets.

``max_resource="auto"`` is the objective's fidelity maximum when it declares one,
else the largest step a finished trial reported (nothing is pruned before one
finished).
"""

from __future__ import annotations

import bisect
import itertools
import math
import zlib
from collections.abc import Sequence
from typing import Any

from bbopt.errors import OptionValueError
from bbopt.option_checks import check_number
from bbopt.pruners import register_pruner
from bbopt.pruners.base import Pruner, done_trials, latest, previous_step
from bbopt.pruners.successive_halving import HalvingOptions, halving_prunes, rung_of
from bbopt.trial import Trial


def bracket_weights(n_brackets: int, eta: int) -> list[int]:
    """How many trials each bracket gets in one round of Hyperband."""
    return [
        math.ceil(n_brackets * eta ** (n_brackets - 1 - b) / (n_brackets - b))
        for b in range(n_brackets)
    ]


def bracket_of(tid: int, weights: list[int]) -> int:
    """The bracket of trial ``tid``: a stable pseudo-random draw with ``weights``."""
    bounds = list(itertools.accumulate(weights))
    draw = zlib.crc32(f"bbopt-hyperband-{tid}".encode()) % bounds[-1]
    return bisect.bisect_right(bounds, draw)


@register_pruner
class HyperbandPruner(Pruner):
    name = "hyperband"
    description = (
        "Hyperband: trials spread over successive-halving brackets of different "
        "aggressiveness (options: min_resource, max_resource, reduction_factor, "
        "bootstrap_count)"
    )

    def __init__(
        self,
        min_resource: Any = "auto",
        max_resource: Any = "auto",
        reduction_factor: int = 3,
        bootstrap_count: int = 0,
    ) -> None:
        self.halving = HalvingOptions(min_resource, reduction_factor, bootstrap_count)
        if max_resource != "auto":
            check_number("max_resource", max_resource)
            least = min_resource if min_resource != "auto" else 0
            if not max_resource > least:
                raise OptionValueError(
                    f"option 'max_resource' must be > min_resource ({least}) or 'auto', "
                    f"got {max_resource!r}"
                )
        self.max_resource = max_resource
        self._brackets: dict[int, int] = {}  # trial id -> bracket (a cache of bracket_of)
        self._weights: list[int] = []

    def resolved_max(self, trials: Sequence[Trial], trial: Trial) -> float | None:
        """The largest step a trial may reach, if known yet."""
        if self.max_resource != "auto":
            return float(self.max_resource)
        if self.fidelity is not None:
            return float(self.fidelity.max)
        steps = [max(t.intermediate) for t in done_trials(trials, trial) if t.intermediate]
        return float(max(steps)) if steps else None

    def n_brackets(self, min_resource: float, max_resource: float) -> int:
        eta = self.halving.reduction_factor
        if max_resource <= min_resource:
            return 1
        return math.floor(math.log(max_resource / min_resource, eta) + 1e-9) + 1

    def prune(self, trials: Sequence[Trial], trial: Trial) -> bool:
        low = self.halving.resolved_min(self.fidelity)
        high = self.resolved_max(trials, trial)
        if high is None or latest(trial)[0] >= high:
            return False  # the last step: the trial has trained all the way anyway
        eta = self.halving.reduction_factor
        weights = bracket_weights(self.n_brackets(low, high), eta)
        if weights != self._weights:
            self._weights, self._brackets = weights, {}
        bracket = self._bracket(trial.tid)
        if rung_of(latest(trial)[0], low, eta, bracket) <= rung_of(
            previous_step(trial), low, eta, bracket
        ):
            return False  # no new rung reached: skip gathering the bracket's trials
        peers = [t for t in trials if self._bracket(t.tid) == bracket]
        return halving_prunes(peers, trial, low, eta, bracket, self.halving.bootstrap_count)

    def _bracket(self, tid: int) -> int:
        bracket = self._brackets.get(tid)
        if bracket is None:
            bracket = self._brackets[tid] = bracket_of(tid, self._weights)
        return bracket
