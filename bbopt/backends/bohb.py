"""``bbopt.bohb``: BOHB (Falkner, Klein and Hutter, 2018), Hyperband choosing the budgets
and a TPE model choosing the points.

A multi-fidelity backend: each suggestion carries a budget on the objective's fidelity
scale (``Objective.fidelity``: epochs, iterations, ...; or the options ``min_budget``
and ``max_budget``), and the objective reads it with ``bbopt.budget()``. The budgets
follow Hyperband: with ``s_max = floor(log_eta(max_budget / min_budget))``, bracket
``s`` (``s_max`` down to 0, then again) starts ``ceil((s_max + 1) / (s + 1) * eta**s)``
new points at budget ``max_budget * eta**-s``; once every point of a rung has its
result, the best ``1 / eta`` of them are suggested again at ``eta`` times the budget,
up to ``max_budget``. When a rung waits for results, new points come from the next
bracket, so parallel workers are never idle.

New points: with probability ``random_fraction`` from the space's own distributions,
else from hyperopt's TPE fitted on the results at the largest budget that has at
least ``min_points_in_model`` of them (default: parameters + 1), which is BOHB's rule.
Pruned trials count at the budget they reached (their last reported value), failed
ones rank last in their rung and stay out of the model.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bbopt.backends import register_backend
from bbopt.backends.base import Backend, Observation, Suggestion
from bbopt.errors import OptionValueError
from bbopt.space import Space
from bbopt.trial import TrialState

_SEED_BOUND = 2**31 - 1


@dataclass(frozen=True, eq=False)
class Job:
    """One evaluation BOHB asked for: a point, its budget, and its place in a bracket."""

    flat: dict[str, Any]
    budget: float
    bracket: Bracket
    rung: int


@dataclass(eq=False)
class Bracket:
    """One successive-halving iteration: ``sizes[i]`` points at ``budgets[i]``."""

    sizes: list[int]
    budgets: list[float]
    started: int = 0  # new points handed out (rung 0)
    results: list[list[tuple[float, dict[str, Any]]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.results = [[] for _ in self.sizes]

    @property
    def open(self) -> bool:
        """Whether it still takes new points."""
        return self.started < self.sizes[0]

    def finish(self, job: Job, loss: float) -> list[Job]:
        """Record ``job``'s loss; the promotions to the next rung once its rung is complete."""
        rung = self.results[job.rung]
        rung.append((loss, job.flat))
        following = job.rung + 1
        if len(rung) < self.sizes[job.rung] or following >= len(self.sizes):
            return []
        ranked = sorted(range(len(rung)), key=lambda i: (rung[i][0], i))  # ties: first told
        best = [rung[i][1] for i in ranked[: self.sizes[following]]]
        return [Job(flat, self.budgets[following], self, following) for flat in best]


def hyperband_brackets(min_budget: float, max_budget: float, eta: int) -> list[Bracket]:
    """One round of Hyperband's brackets, the most aggressive first."""
    s_max = math.floor(math.log(max_budget / min_budget, eta) + 1e-9)
    brackets = []
    for s in range(s_max, -1, -1):
        first = math.ceil((s_max + 1) / (s + 1) * eta**s)
        sizes = [max(1, math.floor(first * eta**-i)) for i in range(s + 1)]
        budgets = [max_budget * eta ** (i - s) for i in range(s + 1)]
        brackets.append(Bracket(sizes, budgets))
    return brackets


@register_backend
class BOHB(Backend):
    name = "bbopt.bohb"
    description = (
        "BOHB: Hyperband's brackets pick budgets on the objective's fidelity, hyperopt's "
        "TPE picks points (options: min_budget, max_budget, eta, random_fraction, "
        "min_points_in_model)"
    )
    multi_fidelity: ClassVar[bool] = True
    quick_benchmark: ClassVar[bool] = False  # its budgets need an objective with a fidelity

    def __init__(
        self,
        space: Space,
        seed: int | None = None,
        *,
        min_budget: float | None = None,
        max_budget: float | None = None,
        eta: int = 3,
        random_fraction: float = 1 / 3,
        min_points_in_model: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(space, seed, **options)
        self.check_options(())
        if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
            raise OptionValueError(f"option 'eta' must be an integer >= 2, got {eta!r}")
        if not 0 <= random_fraction <= 1:
            raise OptionValueError(
                f"option 'random_fraction' must be in [0, 1], got {random_fraction!r}"
            )
        self.min_budget, self.max_budget = min_budget, max_budget
        self.eta = eta
        self.random_fraction = float(random_fraction)
        self.min_points = min_points_in_model or len(space.params) + 1
        self._ready: deque[Job] = deque()  # promotions waiting to be suggested
        self._brackets: deque[Bracket] = deque()  # open brackets, oldest first
        self._seen: dict[float, list[tuple[dict[str, Any], float]]] = {}  # budget -> results

    def budgets(self) -> tuple[float, float]:
        """(min, max) budget: the options, else the objective's fidelity (set by minimize)."""
        fidelity = self.fidelity
        low = self.min_budget if self.min_budget is not None else getattr(fidelity, "min", None)
        high = self.max_budget if self.max_budget is not None else getattr(fidelity, "max", None)
        if low is None or high is None:
            raise OptionValueError(
                "bbopt.bohb needs budgets: an objective that declares a fidelity, or the "
                "options min_budget and max_budget"
            )
        if not 0 < low < high:
            raise OptionValueError(
                f"bbopt.bohb needs 0 < min_budget < max_budget, got {low}, {high}"
            )
        return float(low), float(high)

    def ask(self, n: int = 1) -> list[Suggestion]:
        return [self._suggest(self._next_job()) for _ in range(n)]

    def _suggest(self, job: Job) -> Suggestion:
        return Suggestion(dict(job.flat), handle=job, budget=job.budget)

    def _next_job(self) -> Job:
        if self._ready:
            return self._ready.popleft()
        while not self._brackets or not self._brackets[-1].open:
            self._brackets.extend(hyperband_brackets(*self.budgets(), self.eta))
            while not self._brackets[0].open and len(self._brackets) > 1:
                self._brackets.popleft()  # fully started: its promotions live in its jobs
        bracket = next(b for b in self._brackets if b.open)
        bracket.started += 1
        return Job(self._new_point(), bracket.budgets[0], bracket, 0)

    def _new_point(self) -> dict[str, Any]:
        """A random point, or TPE's pick from the results at the largest budget with enough."""
        if self.rng.random() < self.random_fraction:
            return self.space.sample_flat(self.rng)
        rich = [b for b, results in self._seen.items() if len(results) >= self.min_points]
        if not rich:
            return self.space.sample_flat(self.rng)
        from bbopt.backends.hyperopt import HyperoptTPE

        model = HyperoptTPE(
            self.space, int(self.rng.integers(_SEED_BOUND)), n_startup_jobs=self.min_points
        )
        for flat, loss in self._seen[max(rich)]:
            model.tell(Observation(flat, loss))
        (suggestion,) = model.ask(1)
        return suggestion.flat_params

    def tell(self, observation: Observation) -> None:
        loss = observation.loss if observation.has_loss else None
        job = observation.suggestion.handle if observation.suggestion is not None else None
        if isinstance(job, Job):
            budget = job.budget
            if observation.state is TrialState.PRUNED and observation.budget is not None:
                budget = observation.budget
            self._ready.extend(job.bracket.finish(job, math.inf if loss is None else loss))
        elif observation.budget is not None:  # a point from outside: a warm start, ...
            budget = observation.budget
        else:  # ... evaluated with the whole fidelity
            budget = self.budgets()[1]
        if loss is not None:
            self._seen.setdefault(float(budget), []).append((dict(observation.flat_params), loss))
