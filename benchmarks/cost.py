"""What a trial costs, and regret against spent budget: the cost-aware comparison.

A trial's cost is in the objective's cost units: ``Objective.cost_model(z)`` for an
objective that has one (the ``mf.*`` functions: 1 per full-fidelity evaluation), at
``z = steps / fidelity.max``; else the fidelity's steps themselves (epochs); else 1
(one evaluation of an objective without a fidelity). Its steps are the last step it
reported (a pruned trial stopped there), else its budget, else the whole fidelity.

The regret that counts is the best loss of a trial that ran the whole fidelity (a
done trial without a smaller budget), minus ``f_star`` (the loss itself when the
objective has no known optimum): a loss at a lower fidelity is biased, or not the
end of a training. Curves follow the trials in id order (serial runs: the order they
ran in); wall time per trial is its suggest time plus its run time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bbopt.objective import Objective
from bbopt.study import Study
from bbopt.trial import Trial, TrialState


def trial_steps(objective: Objective, trial: Trial) -> float | None:
    """The fidelity a trial spent (None for an objective without a fidelity)."""
    fidelity = objective.fidelity
    if fidelity is None:
        return None
    if trial.intermediate:
        return float(max(trial.intermediate))
    return float(trial.budget) if trial.budget is not None else float(fidelity.max)


def trial_cost(objective: Objective, trial: Trial) -> float:
    """The cost units a finished trial spent (module docstring)."""
    steps = trial_steps(objective, trial)
    return 1.0 if steps is None else steps_cost(objective, steps)


def steps_cost(objective: Objective, steps: float) -> float:
    """The cost units of a trial that ran ``steps`` of ``objective``'s fidelity."""
    if objective.cost_model is not None:
        assert objective.fidelity is not None
        return float(objective.cost_model(min(steps / objective.fidelity.max, 1.0)))
    return steps


@dataclass
class CappedRegret:
    """The best full-fidelity regret of a run's trials, one after another, each counted
    only while the cost spent so far stays within ``max_cost``: the rule of
    :meth:`Curve.regret_at`, for loops that drive a search without storing trials."""

    objective: Objective
    max_cost: float
    spent: float = 0.0
    best: float = math.inf

    def __post_init__(self) -> None:
        if self.objective.f_star is None:  # a regret needs the optimum
            raise ValueError(f"objective {self.objective.name!r} has no known optimum f_star")
        self._f_star = self.objective.f_star

    def add(self, steps: float, loss: float | None) -> bool:
        """Count a trial that ran ``steps`` and ended with ``loss`` (None: failed or
        pruned); False once it no longer fits in the budget, which ends the run."""
        fidelity = self.objective.fidelity
        self.spent += steps_cost(self.objective, steps)
        if self.spent > self.max_cost + 1e-9:
            return False
        if loss is not None and (fidelity is None or steps >= fidelity.max):
            self.best = min(self.best, loss - self._f_star)
        return True


def full_fidelity_loss(objective: Objective, trial: Trial) -> float | None:
    """The loss of a done trial that ran the whole fidelity, else None."""
    if trial.state is not TrialState.DONE or trial.loss is None or not math.isfinite(trial.loss):
        return None
    fidelity = objective.fidelity
    if fidelity is not None and trial.budget is not None and trial.budget < fidelity.max:
        return None
    return trial.loss


@dataclass(frozen=True)
class Curve:
    """One run: after each finished trial, the spent cost, wall seconds and best regret
    so far (inf before the first full-fidelity result)."""

    cost: np.ndarray
    wall: np.ndarray
    regret: np.ndarray

    def regret_at(self, budget: float, axis: str = "cost") -> float:
        """The best regret among the trials finished within ``budget`` of ``axis``."""
        spent = self.cost if axis == "cost" else self.wall
        within = np.flatnonzero(spent <= budget + 1e-9)
        return float(self.regret[within[-1]]) if len(within) else math.inf


def curve(objective: Objective, trials: Sequence[Trial]) -> Curve:
    """The run's curve from its finished trials (module docstring)."""
    finished = sorted((t for t in trials if t.finished), key=lambda t: t.tid)
    offset = objective.f_star if objective.f_star is not None else 0.0
    costs, walls, regrets, best = [], [], [], math.inf
    for trial in finished:
        costs.append(trial_cost(objective, trial))
        walls.append((trial.suggest_duration or 0.0) + (trial.duration or 0.0))
        loss = full_fidelity_loss(objective, trial)
        if loss is not None:
            best = min(best, loss - offset)
        regrets.append(best)
    return Curve(np.cumsum(costs), np.cumsum(walls), np.array(regrets))


class CostCap:
    """``early_stop`` rule: stop once the study's finished trials spent ``max_cost``
    (``minimize(..., early_stop=CostCap(objective, 100.0))``)."""

    def __init__(self, objective: Objective, max_cost: float) -> None:
        if not max_cost > 0:
            raise ValueError(f"a cost budget must be > 0, got {max_cost!r}")
        self.objective, self.max_cost = objective, float(max_cost)

    def spent(self, trials: Sequence[Trial]) -> float:
        return sum(trial_cost(self.objective, t) for t in trials if t.finished)

    def __call__(self, study: Study) -> bool:
        return self.spent(study.trials) >= self.max_cost
