"""Optuna's samplers behind the ask/tell interface: TPE, CMA-ES, GP, QMC and random.

Each backend holds one in-memory Optuna study and drives it with ``study.ask()``
and ``study.tell()``. The space is walked define-by-run: a choice is suggested
as a category over its option indices, then only the parameters of the active
branch. Distributions map to Optuna's through :mod:`bbopt.backends.coordinates`
(q-uniforms as an integer grid index, (log)normals as their quantile in
[eps, 1 - eps], choice weights not honoured). Points the backend did not suggest
(warm start, restored history) enter the study with ``optuna.trial.create_trial``
and ``study.add_trial``. Failed trials are told as ``TrialState.FAIL``.

Options go to the sampler's constructor (e.g. ``n_startup_trials``); the
sampler's seed is the backend's seed. Optuna's INFO logging (a line per trial)
is silenced during the backend's own calls only; Optuna's global log level is
left as the user set it.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from bbopt.backends import register_backend
from bbopt.backends.base import Backend, Observation, Suggestion
from bbopt.backends.coordinates import Coordinate, coordinates
from bbopt.backends.dependencies import require
from bbopt.backends.threads import single_threaded
from bbopt.option_checks import check_kinds
from bbopt.space import Space
from bbopt.trial import TrialState, to_builtin


def _suggest(trial: Any, label: str, coord: Coordinate) -> Any:
    if coord.kind == "categorical":
        return trial.suggest_categorical(label, list(range(int(coord.high) + 1)))
    if coord.kind == "int":
        return trial.suggest_int(label, int(coord.low), int(coord.high), log=coord.log)
    return trial.suggest_float(label, coord.low, coord.high, log=coord.log)


def _distribution(optuna: Any, coord: Coordinate) -> Any:
    """The Optuna distribution that ``_suggest`` draws from, for trials added from outside."""
    if coord.kind == "categorical":
        return optuna.distributions.CategoricalDistribution(list(range(int(coord.high) + 1)))
    if coord.kind == "int":
        return optuna.distributions.IntDistribution(int(coord.low), int(coord.high), log=coord.log)
    return optuna.distributions.FloatDistribution(coord.low, coord.high, log=coord.log)


class OptunaBackend(Backend):
    """Base of the Optuna backends; subclasses name the sampler and its defaults."""

    #: The sampler class, in ``sampler_module``.
    sampler_class: ClassVar[str] = ""
    sampler_module: ClassVar[str] = "optuna.samplers"
    #: (module, extra) pairs needed besides optuna itself, checked in this order.
    requires: ClassVar[tuple[tuple[str, str], ...]] = ()
    quick_benchmark: ClassVar[bool] = True
    #: Tell a pruned trial as complete with its last value, for a sampler that learns
    #: from complete trials only.
    pruned_as_complete: ClassVar[bool] = False

    def __init__(self, space: Space, seed: int | None = None, **options: Any) -> None:
        super().__init__(space, seed, **options)
        optuna = require("optuna", "optuna", self.name)
        for module, extra in self.requires:
            require(module, extra, self.name)
        sampler_cls = getattr(require(self.sampler_module, "optuna", self.name), self.sampler_class)
        self.check_options(p for p in inspect.signature(sampler_cls).parameters if p != "seed")
        check_kinds(options, sampler_cls)
        self._optuna = optuna
        self._coords = coordinates(space)
        self._distributions = {
            label: _distribution(optuna, coord) for label, coord in self._coords.items()
        }
        with self._quiet():
            sampler = sampler_cls(seed=seed, **{**self.sampler_defaults(), **options})
            self._study = optuna.create_study(
                storage=optuna.storages.InMemoryStorage(), sampler=sampler, direction="minimize"
            )

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Silence Optuna's per-trial INFO lines and experimental warnings for one call,
        leaving its global log level as the user set it."""
        logging = self._optuna.logging
        level = logging.get_verbosity()
        logging.set_verbosity(max(level, logging.WARNING))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", self._optuna.exceptions.ExperimentalWarning)
                yield
        finally:
            logging.set_verbosity(level)

    def sampler_defaults(self) -> dict[str, Any]:
        """Sampler arguments that differ from Optuna's defaults (options override them)."""
        return {"warn_independent_sampling": False}

    @property
    def study(self) -> Any:
        """The underlying ``optuna.Study``, e.g. for ``optuna.visualization``."""
        return self._study

    def ask(self, n: int = 1) -> list[Suggestion]:
        with self._quiet():
            return [self._ask_one() for _ in range(n)]

    def _ask_one(self) -> Suggestion:
        trial = self._study.ask()
        flat: dict[str, Any] = {}
        for label, coord in self._coords.items():
            if self.space.is_active(label, flat):
                flat[label] = to_builtin(coord.decode(_suggest(trial, label, coord)))
        return Suggestion(flat, handle=trial)

    def tell(self, observation: Observation) -> None:
        """Done trials are told with their loss, failed ones as FAIL; a pruned trial as
        PRUNED with its last reported value as the intermediate value at the step it was
        reported (its budget), which Optuna's TPE ranks below every complete trial, and
        by step and value among pruned ones, but still learns from; for CMA-ES and the
        GP sampler, which learn from complete trials only, as complete with that value."""
        with self._quiet():
            self._tell(observation)

    def _tell(self, observation: Observation) -> None:
        optuna_state = self._optuna.trial.TrialState
        pruned = observation.state is TrialState.PRUNED and observation.loss is not None
        if observation.ok or (pruned and self.pruned_as_complete):
            state, value = optuna_state.COMPLETE, observation.loss
        else:
            state, value = (optuna_state.PRUNED if pruned else optuna_state.FAIL), None
        step = 0 if observation.budget is None else int(observation.budget)
        reports = {step: observation.loss} if state == optuna_state.PRUNED else {}
        if observation.suggestion is not None:
            trial = observation.suggestion.handle
            for step, reported in reports.items():
                trial.report(reported, step)
            self._study.tell(trial, value, state=state)
            return
        flat = observation.flat_params
        labels = [label for label in self._coords if label in flat]
        self._study.add_trial(
            self._optuna.trial.create_trial(
                params={label: self._coords[label].encode(flat[label]) for label in labels},
                distributions={label: self._distributions[label] for label in labels},
                value=value,
                state=state,
                intermediate_values=reports,
            )
        )


@register_backend
class OptunaTPE(OptunaBackend):
    name = "optuna.tpe"
    description = (
        "Optuna's multivariate TPE (grouped on conditional spaces, constant liar for "
        "parallel asks; options: n_startup_trials, n_ei_candidates, ...)"
    )
    sampler_class = "TPESampler"

    def sampler_defaults(self) -> dict[str, Any]:
        conditional = any(info.condition for info in self.space.params.values())
        return {"multivariate": True, "group": conditional, "constant_liar": True}


@register_backend
class OptunaCmaEs(OptunaBackend):
    name = "optuna.cmaes"
    description = (
        "Optuna's CMA-ES (numeric parameters; categories and conditional "
        "parameters sampled at random; options: sigma0, popsize, ...)"
    )
    sampler_class = "CmaEsSampler"
    requires = (("cmaes", "cmaes"),)
    pruned_as_complete = True  # its generations are made of complete trials


class TorchOptunaBackend(OptunaBackend):
    """An Optuna backend whose sampler fits a PyTorch model: its calls run on one thread
    (:mod:`bbopt.backends.threads`)."""

    def ask(self, n: int = 1) -> list[Suggestion]:
        with single_threaded():
            return super().ask(n)

    def tell(self, observation: Observation) -> None:
        with single_threaded():
            super().tell(observation)


@register_backend
class OptunaGP(TorchOptunaBackend):
    name = "optuna.gp"
    description = "Optuna's Gaussian-process Bayesian optimization (PyTorch; slow suggests)"
    sampler_class = "GPSampler"
    requires = (("torch", "gp"),)
    quick_benchmark = False
    pruned_as_complete = True  # Optuna's GP models complete trials only


@register_backend
class OptunaQMC(OptunaBackend):
    name = "optuna.qmc"
    description = "Optuna's scrambled Sobol' quasi-Monte Carlo sampler (options: qmc_type)"
    sampler_class = "QMCSampler"
    learns = False

    def sampler_defaults(self) -> dict[str, Any]:
        return {**super().sampler_defaults(), "scramble": True, "warn_asynchronous_seeding": False}


@register_backend
class OptunaRandom(OptunaBackend):
    name = "optuna.random"
    description = "Optuna's random sampler"
    sampler_class = "RandomSampler"
    learns = False

    def sampler_defaults(self) -> dict[str, Any]:
        return {}


@register_backend
class OptunaBoTorch(TorchOptunaBackend):
    name = "optuna.botorch"
    description = (
        "BoTorch Gaussian-process Bayesian optimization through optuna-integration "
        "(PyTorch; slow suggests; options: n_startup_trials, candidates_func, ...)"
    )
    sampler_class = "BoTorchSampler"
    sampler_module = "optuna_integration"
    requires = (("torch", "botorch"), ("botorch", "botorch"), ("optuna_integration", "botorch"))
    quick_benchmark = False
    pruned_as_complete = True  # BoTorch models complete trials only

    def sampler_defaults(self) -> dict[str, Any]:
        # Points in flight are pending points of the acquisition function, so that
        # parallel workers (and ask(n)) get different points.
        return {"consider_running_trials": True}
