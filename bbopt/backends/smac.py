"""SMAC3 behind the ask/tell interface: its Gaussian-process and random-forest facades.

The space becomes a ConfigSpace ``ConfigurationSpace`` (:func:`config_space`): a
choice is a ``Categorical`` over its option indices (``pchoice`` weights as its
weights), and each parameter of a branch has an ``EqualsCondition`` on its choice,
so that SMAC sees a conditional parameter only where it is active (a nested
branch needs its parent active too). Numbers are ``Float`` and ``Integer`` through
:mod:`bbopt.backends.coordinates` (log scale where bbopt's is; (log)normals as
their quantile), one-value ranges ``Constant``.

SMAC is driven by ``ask()``, whose ``TrialInfo`` is the suggestion's handle, and
``tell(info, TrialValue(...))``; a point from outside (warm start, other
processes) is told as a ``TrialInfo`` of its ``Configuration`` with the seed SMAC
uses. Failed trials are told as ``StatusType.CRASHED`` with the worst ok loss so
far (:mod:`bbopt.backends.penalty`; SMAC's own crash cost, infinity, would break
its models); pruned trials as ``StatusType.TIMEOUT`` (SMAC's state for a run
stopped before it finished) with their last reported value, which SMAC's models
train on like any cost.

``n_trials`` is SMAC's ``Scenario.n_trials``: its initial design takes a share of
it (at most a quarter). ``minimize`` sets it to the run's ``max_evals``
(``Backend.budget_option``); created directly, 100 unless given.
The scenario is deterministic (each configuration is evaluated once) and seeded
with the backend's seed. SMAC writes its scenario to an output directory: here a
temporary one, removed with the backend, never the current folder; the run
history is not written on each tell.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from bbopt.backends import register_backend
from bbopt.backends.base import Backend, Observation, Suggestion
from bbopt.backends.coordinates import Coordinate, coordinates
from bbopt.backends.dependencies import require
from bbopt.backends.penalty import FailurePenalty
from bbopt.backends.threads import single_threaded
from bbopt.option_checks import check_integer
from bbopt.space import PChoice, Space
from bbopt.trial import to_builtin

DEFAULT_N_TRIALS = 100


def _hyperparameter(cs: Any, label: str, coord: Coordinate) -> Any:
    if coord.kind == "categorical":
        items = list(range(int(coord.high) + 1))
        weights = coord.dist.weights if isinstance(coord.dist, PChoice) else None
        if weights is not None and min(weights) <= 0:  # ConfigSpace wants positive weights
            weights = None
        return cs.Categorical(label, items, weights=weights)
    if coord.low == coord.high:
        return cs.Constant(label, int(coord.low) if coord.kind == "int" else coord.low)
    if coord.kind == "int":
        return cs.Integer(label, (int(coord.low), int(coord.high)), log=coord.log)
    return cs.Float(label, (coord.low, coord.high), log=coord.log)


def config_space(space: Space, seed: int) -> Any:
    """The ConfigSpace ``ConfigurationSpace`` of a bbopt space (module docstring)."""
    import ConfigSpace as cs

    hyperparameters = {
        label: _hyperparameter(cs, label, coord) for label, coord in coordinates(space).items()
    }
    configuration_space = cs.ConfigurationSpace(seed=seed)
    configuration_space.add(list(hyperparameters.values()))
    for label, info in space.params.items():
        if info.condition:
            parent, index = info.condition[-1]
            configuration_space.add(
                cs.EqualsCondition(hyperparameters[label], hyperparameters[parent], index)
            )
    return configuration_space


#: The handle of a point drawn at random once SMAC has asked for every configuration of a
#: finite space (it raises ConfigurationSpaceExhaustedException then): not told to SMAC.
EXHAUSTED = object()


class SmacBackend(Backend):
    """Base of the SMAC backends; subclasses name the facade."""

    #: The facade class in ``smac``.
    facade: ClassVar[str] = ""
    #: (module, extra) pairs needed besides smac itself.
    requires: ClassVar[tuple[tuple[str, str], ...]] = ()
    budget_option = "n_trials"

    def __init__(self, space: Space, seed: int | None = None, **options: Any) -> None:
        super().__init__(space, seed, **options)
        self.check_options(("n_trials",))
        n_trials = check_integer("n_trials", options.get("n_trials", DEFAULT_N_TRIALS), 1)
        smac = require("smac", "smac", self.name)
        for module, extra in self.requires:
            require(module, extra, self.name)
        self.require_parameters()
        self._smac = smac
        self._coords = coordinates(space)
        smac_seed = int(self.rng.integers(2**31 - 1))
        self._output = tempfile.TemporaryDirectory(prefix="bbopt-smac-")
        scenario = smac.Scenario(
            config_space(space, smac_seed),
            deterministic=True,
            n_trials=n_trials,
            seed=smac_seed,
            output_directory=Path(self._output.name),
        )
        with self._quiet():
            self._facade = getattr(smac, self.facade)(
                scenario, target_function=None, overwrite=True, logging_level=False
            )
            # The intensifier sets itself up (chooses its evaluation seed) on the first ask;
            # done now, points told before that get the seed it then uses.
            self._facade.intensifier.__post_init__()
        self._penalty: FailurePenalty[tuple[Any, Any]] = FailurePenalty()  # (TrialInfo, status)

    def close(self) -> None:
        """Remove the directory SMAC writes its run history to (a temporary one: bbopt's
        storage holds the trials)."""
        self._output.cleanup()

    @property
    def facade_object(self) -> Any:
        """The underlying SMAC facade (its ``runhistory``, ``intensifier``, ...)."""
        return self._facade

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """For one call: one BLAS thread (:mod:`bbopt.backends.threads`); SMAC's loggers
        at ERROR (it logs at INFO and WARNING on many asks), left as the user set them
        afterwards; and no numpy warning from the mean of an empty list that SMAC's local
        search computes for a debug message."""
        logger = logging.getLogger("smac")
        level = logger.level
        logger.setLevel(max(level, logging.ERROR))
        try:
            with single_threaded(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
                warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
                yield
        finally:
            logger.setLevel(level)

    def ask(self, n: int = 1) -> list[Suggestion]:
        from smac.main.exceptions import ConfigurationSpaceExhaustedException

        suggestions = []
        with self._quiet():
            for _ in range(n):
                try:
                    info = self._facade.ask()
                # a small finite space, every configuration asked for: SMAC raises once,
                # then its generator is spent
                except (ConfigurationSpaceExhaustedException, StopIteration):
                    point = self.space.sample_flat(self.rng)
                    suggestions.append(Suggestion(point, handle=EXHAUSTED))
                    continue
                suggestions.append(Suggestion(self._decode(info.config), handle=info))
        return suggestions

    def _decode(self, config: Any) -> dict[str, Any]:
        values = dict(config)
        return {
            label: to_builtin(coord.decode(values[label]))
            for label, coord in self._coords.items()
            if label in values
        }

    def _trial_info(self, flat: dict[str, Any]) -> Any:
        """A TrialInfo for a point SMAC did not suggest, with the seed SMAC evaluates on."""
        from ConfigSpace import Configuration

        values = {label: self._coords[label].encode(value) for label, value in flat.items()}
        config = Configuration(self._facade.scenario.configspace, values=values)
        key = self._facade.intensifier.get_instance_seed_keys_of_interest()[0]
        return self._smac.runhistory.TrialInfo(config=config, instance=key.instance, seed=key.seed)

    def tell(self, observation: Observation) -> None:
        """Done trials are told with their loss, pruned ones as TIMEOUT with their last
        value, failed ones as CRASHED with a penalty (module docstring)."""
        suggestion = observation.suggestion
        if suggestion is not None and suggestion.handle is EXHAUSTED:
            return  # a repeat of a configuration SMAC was told already
        info = (
            self._trial_info(observation.flat_params) if suggestion is None else suggestion.handle
        )
        status = self._smac.runhistory.StatusType
        if observation.ok:
            point, loss = (info, status.SUCCESS), observation.loss
        elif observation.has_loss:  # pruned, with its last reported value
            point, loss = (info, status.TIMEOUT), observation.loss
        else:
            point, loss = (info, status.CRASHED), None
        with self._quiet():
            for (trial_info, trial_status), cost in self._penalty.resolve(point, loss):
                value = self._smac.runhistory.TrialValue(cost=cost, status=trial_status)
                self._facade.tell(trial_info, value, save=False)


@register_backend
class SmacGP(SmacBackend):
    name = "smac.gp"
    description = (
        "SMAC3's black-box facade: Gaussian-process Bayesian optimization with ConfigSpace "
        "conditions (slow suggests; options: n_trials)"
    )
    facade = "BlackBoxFacade"
    quick_benchmark = False


@register_backend
class SmacForest(SmacBackend):
    name = "smac.rf"
    description = (
        "SMAC3's hyperparameter-optimization facade: random-forest Bayesian optimization "
        "with ConfigSpace conditions (pyrfr; options: n_trials)"
    )
    facade = "HyperparameterOptimizationFacade"
    requires = (("pyrfr", "smac-rf"),)
    # Median 20 ms per suggestion at 100 trials on 5-D, but every 8th one retrains the
    # forest and maximizes the acquisition function (up to 4.6 s): mean 0.57 s.
    quick_benchmark = False
