"""``bbopt.bohb``: BOHB (Falkner, Klein and Hutter, 2018), Hyperband choosing the budgets
and a TPE-like kernel density model choosing the points.

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
else from BOHB's model (:mod:`bbopt.backends.kde`): kernel densities of the best
``top_n_percent`` and of the other results at one budget, the best of ``num_samples``
candidates drawn from the good density widened by ``bandwidth_factor``. The budget is
the largest one with at least ``model_min_results`` results (default ten per
parameter and ten more); while none has that many, the largest one with enough for
both densities (each at least ``min_points_in_model``, default parameters + 1, and
more than the number of parameters): HpBandSter's rule, which ``model_min_results=0``
keeps throughout. HpBandSter moves to a larger budget as soon as its handful of
results can be fitted, and drops the many results of the smaller ones. Each density
is a product of one 1-D density per parameter, as in Optuna's default TPE
(``multivariate=False``; a candidate mixes coordinates of different good points);
``multivariate=True`` gives HpBandSter's product kernels. HpBandSter's configuration
is ``random_fraction=1/3, multivariate=True, model_min_results=0`` (docs/pruning.md
says why the defaults differ). Every result at a budget counts there, whichever
bracket it came from; a pruned trial counts at the budget it reached, with
the last value it reported; failed trials rank last in their rung and are bad points
in the model (HpBandSter's choice).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bbopt.backends import register_backend
from bbopt.backends.base import Observation, Suggestion
from bbopt.backends.budgets import HyperbandBackend
from bbopt.backends.kde import GoodBadDensities, UnitCube
from bbopt.errors import OptionValueError
from bbopt.option_checks import check_integer
from bbopt.space import Space
from bbopt.trial import TrialState


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
class BOHB(HyperbandBackend):
    name = "bbopt.bohb"
    exact_resume = True  # a replayed history rebuilds the brackets (``_replayed_job``)
    description = (
        "BOHB: Hyperband's brackets pick budgets on the objective's fidelity, kernel "
        "densities of good and bad results pick points (options: min_budget, max_budget, "
        "eta, random_fraction, min_points_in_model, top_n_percent, num_samples, "
        "bandwidth_factor, min_bandwidth, multivariate, model_min_results)"
    )

    def __init__(
        self,
        space: Space,
        seed: int | None = None,
        *,
        random_fraction: float = 0.1,
        min_points_in_model: int | None = None,
        top_n_percent: float = 15,
        num_samples: int = 64,
        bandwidth_factor: float = 3,
        min_bandwidth: float = 1e-3,
        multivariate: bool = False,
        model_min_results: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(space, seed, **options)
        self.check_options(())
        if not 0 <= random_fraction <= 1:
            raise OptionValueError(
                f"option 'random_fraction' must be in [0, 1], got {random_fraction!r}"
            )
        self.random_fraction = float(random_fraction)
        if not 0 < top_n_percent < 100:
            raise OptionValueError(
                f"option 'top_n_percent' must be in (0, 100), got {top_n_percent!r}"
            )
        for option, value in (("num_samples", num_samples), ("bandwidth_factor", bandwidth_factor)):
            if isinstance(value, bool) or not value >= 1:
                raise OptionValueError(f"option {option!r} must be >= 1, got {value!r}")
        if not min_bandwidth > 0:
            raise OptionValueError(f"option 'min_bandwidth' must be > 0, got {min_bandwidth!r}")
        if not isinstance(multivariate, bool):
            raise OptionValueError(
                f"option 'multivariate' must be true or false, got {multivariate!r}"
            )
        self.min_points = max(min_points_in_model or 0, len(space.params) + 1)
        self.model_min_results = (
            10 * (len(space.params) + 1)
            if model_min_results is None
            else check_integer("model_min_results", model_min_results, 0)
        )
        self.top_n_percent = float(top_n_percent)
        self.num_samples = int(num_samples)
        self.bandwidth_factor = float(bandwidth_factor)
        self.min_bandwidth = float(min_bandwidth)
        self.multivariate = multivariate
        self._cube = UnitCube(space)
        self._ready: deque[Job] = deque()  # promotions waiting to be suggested
        self._brackets: deque[Bracket] = deque()  # open brackets, oldest first
        # budget -> (unit-cube vectors, losses) of every result at that budget
        self._results: dict[float, tuple[list[np.ndarray], list[float]]] = {}

    def ask(self, n: int = 1) -> list[Suggestion]:
        return [self._suggest(self._next_job()) for _ in range(n)]

    def _suggest(self, job: Job) -> Suggestion:
        return Suggestion(dict(job.flat), handle=job, budget=job.budget)

    def _next_job(self) -> Job:
        if self._ready:
            return self._ready.popleft()
        bracket = self._open_bracket()
        bracket.started += 1
        return Job(self._new_point(), bracket.budgets[0], bracket, 0)

    def _open_bracket(self) -> Bracket:
        """The bracket that hands out the next new point (the oldest one still open)."""
        while not self._brackets or not self._brackets[-1].open:
            self._brackets.extend(hyperband_brackets(*self.budgets(), self.eta))
            while not self._brackets[0].open and len(self._brackets) > 1:
                self._brackets.popleft()  # fully started: its promotions live in its jobs
        return next(b for b in self._brackets if b.open)

    def _replayed_job(self, observation: Observation) -> Job | None:
        """The job of a point an identically seeded BOHB asked for before (a resumed
        study's history, told in the order it was asked): the waiting promotion of that
        point, else a new point of the bracket whose turn it is, drawn again so that the
        random state goes on as in that run. None if the point fits neither (it then
        counts as a point from outside, at its budget)."""
        flat, reached = observation.flat_params, observation.budget
        if reached is None:
            return None

        def fits(budget: float) -> bool:  # a pruned trial stopped at or below its budget
            if observation.state is TrialState.PRUNED:
                return reached <= budget * (1 + 1e-9)
            return math.isclose(reached, budget)

        for job in self._ready:
            if job.flat == flat and fits(job.budget):
                self._ready.remove(job)
                return job
        bracket = self._open_bracket()
        if not fits(bracket.budgets[0]):
            return None
        bracket.started += 1
        self._new_point()
        return Job(dict(flat), bracket.budgets[0], bracket, 0)

    def _new_point(self) -> dict[str, Any]:
        """A random point, or the model's pick from the largest budget that has a model."""
        model = None if self.rng.random() < self.random_fraction else self._model()
        if model is None:
            return self.space.sample_flat(self.rng)
        vector = model.propose(self.rng, self.num_samples)
        return self._cube.decode(vector)

    def _model(self) -> GoodBadDensities | None:
        """BOHB's densities at the largest budget with ``model_min_results`` results, else
        at the largest budget that has enough for a model."""

        def preference(budget: float) -> tuple[bool, float]:
            return len(self._results[budget][1]) >= self.model_min_results, budget

        for budget in sorted(self._results, key=preference, reverse=True):
            vectors, losses = self._results[budget]
            model = GoodBadDensities.fit(
                np.array(vectors),
                np.array(losses),
                self._cube.categories,
                self.rng,
                top_fraction=self.top_n_percent / 100,
                min_points=self.min_points,
                min_bandwidth=self.min_bandwidth,
                widen=self.bandwidth_factor,
                multivariate=self.multivariate,
            )
            if model is not None:
                return model
        return None

    def tell(self, observation: Observation) -> None:
        # Failed trials (and pruned ones without a finite value) rank last: bad points.
        loss = (
            math.inf if observation.loss is None or not observation.has_loss else observation.loss
        )
        job = observation.suggestion.handle if observation.suggestion is not None else None
        if job is None and observation.replayed:
            job = self._replayed_job(observation)
        if isinstance(job, Job):
            budget = job.budget
            if observation.state is TrialState.PRUNED and observation.budget is not None:
                budget = observation.budget
            self._ready.extend(job.bracket.finish(job, loss))
        elif observation.budget is not None:  # a point from outside: a warm start, ...
            budget = observation.budget
        else:  # ... evaluated with the whole fidelity
            budget = self.budgets()[1]
        vectors, losses = self._results.setdefault(float(budget), ([], []))
        vectors.append(self._cube.encode(observation.flat_params))
        losses.append(loss)
