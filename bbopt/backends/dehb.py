"""``dehb.dehb``: DEHB (Awad, Mallik and Hutter, 2021), differential evolution on
Hyperband's budgets, through the ``dehb`` package's ask/tell interface.

A multi-fidelity backend like ``bbopt.bohb``: each suggestion carries a budget on the
objective's fidelity (``min_budget``/``max_budget``, default the fidelity's min and
max; ``eta=3``), the objective reads it with ``bbopt.budget()``. DEHB keeps one
differential-evolution subpopulation per budget; in the first Hyperband round the best
points of a rung are promoted to the next budget, afterwards each rung's points are
mutants of the best points of the rung below (DE/rand/1/bin, ``mutation_factor=0.5``,
``crossover_prob=0.5``).

DEHB works on the unit cube without ConfigSpace: a vector has one coordinate per
label, mapped to its value by the parameter's inverse CDF
(:func:`bbopt.backends.coordinates.point_from_unit`), inactive labels left out.
Pruned trials are told with their last reported value as the fitness at the trial's
budget (a pessimistic estimate: curves fall), failed ones with the largest float, so
they rank below every result and are never promoted. DEHB cannot take in points it
did not suggest (its ``tell`` refuses them): a warm start or another process's trials
are ignored. The package writes a log file and, on each new incumbent, its state into
an output folder: here a temporary one, with its log file left out and its state only
saved at the end of its own ``run`` (never called), so nothing is written. Its INFO
logging (loguru) is disabled during the backend's calls.

Version: ``dehb==0.1.1``. DEHB 0.1.2 pins ``numpy<2`` and would downgrade numpy; 0.1.1
has the same interface. Importing ``dehb`` sets loguru's handlers to one on stdout
(the package does it at import).
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bbopt.backends import register_backend
from bbopt.backends.base import Observation, Suggestion
from bbopt.backends.budgets import HyperbandBackend
from bbopt.backends.coordinates import point_from_unit
from bbopt.errors import MissingDependencyError
from bbopt.space import Space
from bbopt.trial import to_builtin

#: The fitness a failed trial is told with: below every real result, yet finite (DEHB
#: takes an infinite fitness for "not evaluated yet").
FAILED_FITNESS = sys.float_info.max

_DEHB_OPTIONS = ("mutation_factor", "crossover_prob", "strategy", "boundary_fix_type", "max_age")


def _import_dehb() -> Any:
    try:
        return importlib.import_module("dehb")
    except ImportError:
        raise MissingDependencyError("dehb", "dehb", "the dehb.dehb backend") from None


@contextmanager
def _quiet() -> Iterator[None]:
    """DEHB's loguru messages off for one call, back on afterwards."""
    from loguru import logger

    logger.disable("dehb")
    try:
        yield
    finally:
        logger.enable("dehb")


@register_backend
class DEHBBackend(HyperbandBackend):
    name = "dehb.dehb"
    description = (
        "DEHB (dehb package): differential evolution on Hyperband's budgets, multi-fidelity "
        "(options: min_budget, max_budget, eta, mutation_factor, crossover_prob, strategy)"
    )

    def __init__(self, space: Space, seed: int | None = None, **options: Any) -> None:
        super().__init__(space, seed, **options)
        self.check_options(_DEHB_OPTIONS)
        self._package = _import_dehb()
        self.require_parameters()
        self._dehb_seed = int(self.rng.integers(2**31 - 1))
        self._output = tempfile.TemporaryDirectory(prefix="bbopt-dehb-")
        self._optimizer: Any = None  # built on first use: the budgets may come from minimize

    def _dehb(self) -> Any:
        if self._optimizer is None:
            low, high = self.budgets()

            class WithoutLogFile(self._package.DEHB):  # type: ignore[name-defined]
                def _setup_logger(self, kwargs: dict[str, Any]) -> None:
                    from loguru import logger

                    self.output_path = Path(kwargs["output_path"])
                    self.logger = logger

            with _quiet():
                self._optimizer = WithoutLogFile(
                    dimensions=len(self.space.params),
                    min_fidelity=low,
                    max_fidelity=high,
                    eta=self.eta,
                    seed=self._dehb_seed,
                    n_workers=1,
                    output_path=self._output.name,
                    save_freq=None,
                    **self.options,
                )
        return self._optimizer

    def ask(self, n: int = 1) -> list[Suggestion]:
        optimizer = self._dehb()
        with _quiet():
            jobs = [optimizer.ask() for _ in range(n)]
        return [
            Suggestion(
                {k: to_builtin(v) for k, v in point_from_unit(self.space, job["config"]).items()},
                handle=job,
                budget=float(job["fidelity"]),
            )
            for job in jobs
        ]

    def tell(self, observation: Observation) -> None:
        job = observation.suggestion.handle if observation.suggestion is not None else None
        if not isinstance(job, dict) or "config_id" not in job:
            return  # DEHB takes in only the points it suggested (module docstring)
        loss = observation.loss if observation.has_loss else None
        fitness = FAILED_FITNESS if loss is None else float(loss)
        with _quiet():
            self._dehb().tell(job, {"fitness": fitness, "cost": float(job["fidelity"])})
