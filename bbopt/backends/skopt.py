"""scikit-optimize's ``Optimizer`` (ask/tell) behind the Backend interface: GP and random forest.

scikit-optimize has no conditional spaces, so the space is flattened: every label
owns one dimension (mapped through :mod:`bbopt.backends.coordinates`), whether or
not its branch is active. A suggested point carries only its active labels;
the surrogate still sees the whole vector, in which inactive coordinates are
noise it learns to ignore. A point told from outside (warm start) lacks its
inactive labels: they are filled with the median of their distribution.

Points asked and not yet told are handled by constant liar: further asks go to
a copy of the optimizer told those points with the best loss seen so far
(scikit-optimize's ``cl_min``), so parallel workers get distinct points.

Asks and tells run on one BLAS thread (:mod:`bbopt.backends.threads`).

Failed trials are told with a penalty, the worst ok loss seen so far; failures
before the first ok loss wait and get that first loss (:mod:`bbopt.backends.penalty`).
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, ClassVar

import numpy as np

from bbopt.backends import register_backend
from bbopt.backends.base import Backend, Observation, Suggestion
from bbopt.backends.coordinates import Coordinate, coordinates, unit_to_value
from bbopt.backends.dependencies import require
from bbopt.backends.penalty import FailurePenalty
from bbopt.backends.threads import single_threaded
from bbopt.option_checks import check_integer, check_kinds
from bbopt.space import Space
from bbopt.trial import to_builtin


def _dimension(coord: Coordinate, label: str) -> Any:
    from skopt.space import Categorical, Integer, Real

    if coord.kind == "categorical" or coord.low == coord.high:
        return Categorical(list(range(int(coord.low), int(coord.high) + 1)), name=label)
    if coord.kind == "int":
        prior = "log-uniform" if coord.log else "uniform"
        return Integer(int(coord.low), int(coord.high), prior=prior, name=label)
    prior = "log-uniform" if coord.log else "uniform"
    return Real(coord.low, coord.high, prior=prior, name=label)


class SkoptBackend(Backend):
    """Base of the scikit-optimize backends; subclasses name the surrogate model."""

    base_estimator: ClassVar[str] = ""

    def __init__(self, space: Space, seed: int | None = None, **options: Any) -> None:
        super().__init__(space, seed, **options)
        Optimizer = require("skopt", "skopt", self.name, package="scikit-optimize").Optimizer
        fixed = ("dimensions", "base_estimator", "random_state")
        self.check_options(p for p in inspect.signature(Optimizer).parameters if p not in fixed)
        check_kinds(options, Optimizer)
        if "n_initial_points" in options:  # 0: nothing to fit a model on, at the first ask
            check_integer("n_initial_points", options["n_initial_points"], 1)
        self.require_parameters()
        self._coords = coordinates(space)
        dimensions = [_dimension(coord, label) for label, coord in self._coords.items()]
        self._opt = Optimizer(
            dimensions, base_estimator=self.base_estimator, random_state=seed, **options
        )
        self._pending: dict[Suggestion, list[Any]] = {}  # in flight: their vectors
        self._penalty: FailurePenalty[list[Any]] = FailurePenalty()

    @property
    def optimizer(self) -> Any:
        """The underlying ``skopt.Optimizer`` (its ``Xi``/``yi`` hold every vector told)."""
        return self._opt

    def ask(self, n: int = 1) -> list[Suggestion]:
        with single_threaded(), warnings.catch_warnings():
            # A repeated point is replaced by a random one; the warning only says so.
            warnings.filterwarnings("ignore", message="The objective has been evaluated")
            points = self._ask_points(n)
        suggestions = [Suggestion(self._decode(x), handle=x) for x in points]
        self._pending.update((s, s.handle) for s in suggestions)
        return suggestions

    def _ask_points(self, n: int) -> list[list[Any]]:
        if n == 1 and not self._pending:
            return [self._opt.ask()]
        opt = self._opt.copy(random_state=self._opt.rng.randint(np.iinfo(np.int32).max))
        lie = min(opt.yi) if opt.yi else 0.0
        if self._pending:
            opt.tell(list(self._pending.values()), [lie] * len(self._pending))
        points = []
        for i in range(n):
            points.append(opt.ask())
            if i + 1 < n:
                opt.tell(points[-1], lie)
        return points

    def _decode(self, x: list[Any]) -> dict[str, Any]:
        flat: dict[str, Any] = {}
        for (label, coord), raw in zip(self._coords.items(), x, strict=True):
            if self.space.is_active(label, flat):
                flat[label] = to_builtin(coord.decode(raw))
        return flat

    def _encode(self, flat: dict[str, Any]) -> list[Any]:
        return [
            coord.encode(flat[label] if label in flat else unit_to_value(coord.dist, 0.5))
            for label, coord in self._coords.items()
        ]

    def tell(self, observation: Observation) -> None:
        suggestion = observation.suggestion
        if suggestion is None:
            x = self._encode(observation.flat_params)
        else:
            x = self._pending.pop(suggestion)
        # a pruned trial's last reported value counts as its loss
        told = self._penalty.resolve(x, observation.loss if observation.has_loss else None)
        if told:
            with single_threaded():  # the model is fitted here
                self._opt.tell([point for point, _ in told], [loss for _, loss in told])


@register_backend
class SkoptGP(SkoptBackend):
    name = "skopt.gp"
    description = (
        "scikit-optimize Gaussian-process Bayesian optimization (slow suggests; options: "
        "n_initial_points, acq_func, acq_optimizer_kwargs, ...)"
    )
    base_estimator = "GP"
    quick_benchmark = False


@register_backend
class SkoptForest(SkoptBackend):
    name = "skopt.forest"
    description = (
        "scikit-optimize random-forest Bayesian optimization (slow suggests; weak on smooth "
        "low-dimensional functions; options: n_initial_points, acq_func, ...)"
    )
    base_estimator = "RF"
    quick_benchmark = False
