"""Nevergrad's optimizers behind the ask/tell interface: NGOpt, CMA-ES, DE, (1+1), a portfolio.

The space becomes Nevergrad's own parametrization, not a flat vector
(:class:`NevergradSpace`): a choice is an ``ng.p.Choice`` whose options are
``ng.p.Dict`` s of their branch's parameters, so a conditional parameter exists only
inside its branch; bounded floats are ``ng.p.Scalar`` (``ng.p.Log`` on a log
scale), integers the same with integer casting; a (log)normal is an unbounded
scalar z whose standard normal prior is exactly Nevergrad's own sampling
distribution (the value is the (log)normal's quantile at Phi(z)). Values map
through :mod:`bbopt.backends.coordinates` otherwise.

Nevergrad's candidates are the suggestions' handles and are told back as they
are; points from outside (warm start, other processes) are told as new children
of the parametrization (``parametrization.spawn_child()`` with the values set),
which Nevergrad calls "tell not asked". An optimizer that cannot use such points
(scipy-based ones such as COBYLA) only records them as best points.

Failed trials are told with the worst ok loss so far, or with 1e20 before the
first ok loss: Nevergrad has no failed state, and its sequential optimizers
(COBYLA, ...) wait for every asked point to be told before they propose another.
Pruned trials are told with their last reported value.

``budget`` is Nevergrad's evaluation budget, which NGOpt uses to choose its
algorithm and portfolios use to share evaluations: ``minimize`` sets it to the
run's ``max_evals`` (``Backend.budget_option``); created directly, 100 unless
given. ``num_workers`` (default 1) is how many points may be in flight; points
asked beyond it are drawn at random from the parametrization (with a warning),
since Nevergrad's sequential optimizers block on a second point.
The seed seeds the parametrization's random state, which every optimizer draws from.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np

from bbopt.backends import register_backend
from bbopt.backends.base import Backend, Observation, Suggestion
from bbopt.backends.coordinates import Coordinate, coordinates
from bbopt.backends.dependencies import require
from bbopt.option_checks import check_integer
from bbopt.space import Space
from bbopt.trial import to_builtin

DEFAULT_BUDGET = 100
#: What a failure before the first ok loss is told: far above real losses, below the
#: 5e20 that Nevergrad clips larger losses to (with a warning).
NO_LOSS_YET = 1.0e20
_NORMAL = NormalDist()

Branch = tuple[str, int]  # (choice label, option index)


class NevergradSpace:
    """A bbopt space as a Nevergrad parametrization, with flat points read from and
    written into its candidates."""

    def __init__(self, ng: Any, space: Space) -> None:
        self._coords = coordinates(space)
        self._children: dict[Branch | None, list[str]] = {}
        for label, info in space.params.items():
            parent = info.condition[-1] if info.condition else None
            self._children.setdefault(parent, []).append(label)
        self.parametrization = self._dict(ng, None)

    def _dict(self, ng: Any, branch: Branch | None) -> Any:
        labels = self._children.get(branch, [])
        return ng.p.Dict(**{label: self._param(ng, label) for label in labels})

    def _param(self, ng: Any, label: str) -> Any:
        coord = self._coords[label]
        if coord.kind == "categorical":
            options = int(coord.high) + 1
            return ng.p.Choice([self._dict(ng, (label, index)) for index in range(options)])
        if coord.low == coord.high:
            return coord.low  # a constant inside the Dict
        if coord.is_quantile:
            return ng.p.Scalar(init=0.0)
        scalar = (ng.p.Log if coord.log else ng.p.Scalar)(lower=coord.low, upper=coord.high)
        return scalar.set_integer_casting() if coord.kind == "int" else scalar

    def to_flat(self, candidate: Any) -> dict[str, Any]:
        """The flat point of a candidate: its active labels only."""
        flat: dict[str, Any] = {}
        self._read(candidate, None, flat)
        return flat

    def _read(self, node: Any, branch: Branch | None, flat: dict[str, Any]) -> None:
        for label in self._children.get(branch, []):
            coord, param = self._coords[label], node[label]
            if coord.kind == "categorical":
                index = flat[label] = int(param.index)
                self._read(param.choices[index], (label, index), flat)
            else:
                flat[label] = to_builtin(coord.decode(_from_ng(coord, param.value)))

    def candidate(self, flat: dict[str, Any]) -> Any:
        """A new candidate holding the flat point (for telling a point Nevergrad did not ask)."""
        child = self.parametrization.spawn_child()
        self._write(child, None, flat)
        return child

    def _write(self, node: Any, branch: Branch | None, flat: dict[str, Any]) -> None:
        for label in self._children.get(branch, []):
            if label not in flat:
                continue
            coord, param, value = self._coords[label], node[label], flat[label]
            if coord.kind == "categorical":
                if coord.high > 0:  # a one-option choice has nothing to set (nor can it be)
                    param.indices.value = np.array([int(value)])
                self._write(param.choices[int(value)], (label, int(value)), flat)
            elif coord.low != coord.high:
                param.value = _to_ng(coord, coord.encode(value))


def _from_ng(coord: Coordinate, value: Any) -> Any:
    return _NORMAL.cdf(float(value)) if coord.is_quantile else value


def _to_ng(coord: Coordinate, raw: Any) -> Any:
    return _NORMAL.inv_cdf(raw) if coord.is_quantile else raw


@contextmanager
def _failed_surrogates_fall_back() -> Iterator[None]:
    """Nevergrad 1.0.12's meta-models (NGOpt's choice for continuous spaces at a few
    hundred evaluations) convert their surrogate's 1-element prediction with ``float()``,
    a TypeError since numpy 2.4 (Nevergrad issue 1612): inside the block that error
    becomes ``MetaModelFailure``, Nevergrad's own signal that the surrogate did not help,
    on which the meta-model asks its inner optimizer (CMA-ES, ...) as it does whenever
    its surrogate fails. Nothing changes outside the block."""
    from nevergrad.optimization import metamodel, optimizerlib

    original = metamodel.learn_on_k_best

    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except TypeError as exc:
            if "0-dimensional arrays" not in str(exc):
                raise
            raise metamodel.MetaModelFailure(str(exc)) from exc

    metamodel.learn_on_k_best = optimizerlib.learn_on_k_best = guarded
    try:
        yield
    finally:
        metamodel.learn_on_k_best = optimizerlib.learn_on_k_best = original


def _quiet_cobyla() -> None:
    """Silence scipy's COBYLA saying, at each restart in Nevergrad's thread, that it
    raised Nevergrad's ``tol=0`` to 1e-6 or a budget below ``num_vars + 2`` evaluations to
    that. The thread runs on after a ``tell`` returns, outside any ``catch_warnings`` of
    the backend's calls, so this filter is process-wide: these two messages of scipy's
    COBYLA only."""
    warnings.filterwarnings(
        "ignore", "COBYLA: Invalid (RHOEND|MAXFUN)", UserWarning, r"scipy\._lib\.pyprima"
    )


class NevergradBackend(Backend):
    """Base of the Nevergrad backends; subclasses name the optimizer."""

    #: The optimizer's name in ``nevergrad.optimizers.registry``.
    optimizer_name: ClassVar[str] = ""
    budget_option = "budget"
    quick_benchmark = True  # 1.5 to 20 ms per suggestion at 100 trials (docs/backends.md)

    def __init__(self, space: Space, seed: int | None = None, **options: Any) -> None:
        super().__init__(space, seed, **options)
        self.check_options(("budget", "num_workers"))
        budget = check_integer("budget", options.get("budget", DEFAULT_BUDGET), 1)
        workers = check_integer("num_workers", options.get("num_workers", 1), 1)
        ng = require("nevergrad", "nevergrad", self.name)
        _quiet_cobyla()
        self.require_parameters()
        self._ng = ng
        self._space = NevergradSpace(ng, space)
        parametrization = self._space.parametrization
        parametrization.random_state = np.random.RandomState(int(self.rng.integers(2**32)))
        with self._quiet():
            self._optimizer = ng.optimizers.registry[self.optimizer_name](
                parametrization=parametrization, budget=budget, num_workers=workers
            )
        self._in_flight: set[str] = set()  # uids of candidates the optimizer asked
        self._worst: float | None = None
        self._warned = False

    @property
    def optimizer(self) -> Any:
        """The underlying Nevergrad optimizer (e.g. for ``optimizer.recommend()``)."""
        return self._optimizer

    @property
    def parametrization(self) -> Any:
        """The Nevergrad parametrization the space became."""
        return self._space.parametrization

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Silence warnings that plain Nevergrad repeats during a run, about nothing the
        user can change: that a converged inner optimizer now returns random points (the
        module docstring says so once), and pycma's "orphanated injected solution" when
        Nevergrad's CMA is asked one point at a time (see also :func:`_quiet_cobyla`)."""
        with warnings.catch_warnings(), _failed_surrogates_fall_back():
            warnings.simplefilter("ignore", self._ng.errors.FinishedUnderlyingOptimizerWarning)
            warnings.filterwarnings("ignore", "orphanated injected solution")
            yield

    def ask(self, n: int = 1) -> list[Suggestion]:
        with self._quiet():
            return [self._ask_one() for _ in range(n)]

    def _ask_one(self) -> Suggestion:
        if len(self._in_flight) < self._optimizer.num_workers:
            candidate = self._optimizer.ask()
            self._in_flight.add(candidate.uid)
        else:
            self._warn_in_flight()
            candidate = self._space.parametrization.sample()
        return Suggestion(self._space.to_flat(candidate), handle=candidate)

    def _warn_in_flight(self) -> None:
        if not self._warned:
            self._warned = True
            workers = self._optimizer.num_workers
            warnings.warn(
                f"{self.name}: more than num_workers={workers} points in flight; the extra ones "
                "are random: pass backend_options={'num_workers': <parallel workers>}",
                stacklevel=4,
            )

    def tell(self, observation: Observation) -> None:
        """Done and pruned trials are told with their loss, failures with a penalty (module
        docstring); points the optimizer did not ask join as "tell not asked"."""
        suggestion = observation.suggestion
        if suggestion is None:
            candidate = self._space.candidate(observation.flat_params)
        else:
            candidate = suggestion.handle
            self._in_flight.discard(candidate.uid)
        # An optimizer that learns from its own points only still archives the point.
        with self._quiet(), suppress(self._ng.errors.TellNotAskedNotSupportedError):
            self._optimizer.tell(candidate, self._loss(observation))

    def close(self) -> None:
        """Stop the threads in which Nevergrad runs scipy's optimizers (COBYLA, SQP, ...).

        Such a thread waits for the value of the point it asked last, and it is not a
        daemon: left waiting, it keeps the interpreter from exiting once ``minimize``
        returned (for as long as the optimizer is reachable). Every optimizer inside
        this one (NGOpt's choice, a portfolio's members) is searched for them."""
        from nevergrad.optimization.base import Optimizer
        from nevergrad.optimization.recaster import MessagingThread

        pending: list[Any] = [self._optimizer]
        seen: set[int] = set()
        while pending:
            optimizer = pending.pop()
            if id(optimizer) in seen:
                continue
            seen.add(id(optimizer))
            for value in vars(optimizer).values():
                members = value if isinstance(value, (list, tuple)) else [value]
                pending.extend(m for m in members if isinstance(m, Optimizer))
                if isinstance(value, MessagingThread):
                    value.stop()

    def _loss(self, observation: Observation) -> float:
        loss = observation.loss
        if loss is None or not observation.has_loss:
            return NO_LOSS_YET if self._worst is None else self._worst
        self._worst = loss if self._worst is None else max(self._worst, loss)
        return loss


@register_backend
class NevergradNGOpt(NevergradBackend):
    name = "nevergrad.ngopt"
    description = (
        "Nevergrad's NGOpt: picks an algorithm (COBYLA, CMA-ES, DE, (1+1), meta-models, ...) "
        "from the space, budget and num_workers (options: budget, num_workers)"
    )
    optimizer_name = "NGOpt"


@register_backend
class NevergradCMA(NevergradBackend):
    name = "nevergrad.cma"
    description = "Nevergrad's CMA-ES (pycma; options: budget, num_workers)"
    optimizer_name = "CMA"


@register_backend
class NevergradDE(NevergradBackend):
    name = "nevergrad.de"
    description = (
        "Nevergrad's differential evolution with two-point crossover, TwoPointsDE "
        "(robust with many workers and discrete parameters; options: budget, num_workers)"
    )
    optimizer_name = "TwoPointsDE"


@register_backend
class NevergradOnePlusOne(NevergradBackend):
    name = "nevergrad.oneplusone"
    description = (
        "Nevergrad's (1+1) evolution strategy with the one-fifth rule (cheap, good on "
        "discrete and mixed spaces at small budgets; options: budget, num_workers)"
    )
    optimizer_name = "OnePlusOne"


@register_backend
class NevergradPortfolio(NevergradBackend):
    name = "nevergrad.portfolio"
    description = (
        "Nevergrad's passive portfolio: CMA-ES, TwoPointsDE and scrambled Hammersley share "
        "the budget (options: budget, num_workers)"
    )
    optimizer_name = "Portfolio"


@register_backend
class NevergradCarola2(NevergradBackend):
    name = "nevergrad.carola2"
    description = (
        "Nevergrad's Carola2 for small budgets on continuous spaces: COBYLA, then a "
        "quadratic meta-model with CMA-ES, then SQP, a third of the budget each "
        "(options: budget, num_workers)"
    )
    optimizer_name = "Carola2"
