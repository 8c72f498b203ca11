"""Synthetic multi-fidelity functions with known optima and a cost model, ``mf.*``.

Kandasamy et al.'s construction (BOCA, 2017), used by the BOHB and DEHB papers' toy
benchmarks: a fidelity ``z`` in (0, 1] biases the function, ``z = 1`` is the function
itself. Here ``z = step / STEPS``: the objective's fidelity is ``Fidelity("steps", 1,
STEPS)``; a trial runs up to ``bbopt.budget()`` steps (all of them without a
multi-fidelity backend), reporting ``f(x, step / STEPS)`` at each step on its way,
so pruners work on it as on a training run, and returns the value at its last step.

* ``mf.hartmann3``, ``mf.hartmann6``: Hartmann's weights ``alpha`` lowered by
  ``0.1 * (1 - z)`` each;
* ``mf.branin``: Branin's ``b``, ``c`` and ``t`` moved by ``-0.01 (1 - z)``,
  ``-0.1 (1 - z)`` and ``+0.05 (1 - z)``.

Cost: ``0.05 + 0.95 * z**1.5`` per evaluation at fidelity ``z`` (extras ``cost`` and
``fidelity``; the objectives' ``cost_model``), as in Kandasamy et al.'s
multi-fidelity Branin: the cheapest fidelity costs about a twentieth of the full one.
``f_star`` is the full-fidelity optimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bbopt.objective import Fidelity, FunctionObjective, register_objective
from bbopt.objectives.synthetic import (
    _HARTMANN3_A,
    _HARTMANN3_P,
    _HARTMANN6_A,
    _HARTMANN6_P,
    _HARTMANN_ALPHA,
    BRANIN,
    HARTMANN3,
    HARTMANN6,
)
from bbopt.reporting import budget, report

STEPS = 27  # fidelity z = step / STEPS
FIDELITY = Fidelity("steps", 1, STEPS)
GROUPS = ("multifidelity",)


def cost(z: float) -> float:
    """The cost of one evaluation at fidelity ``z`` (1 at full fidelity)."""
    return 0.05 + 0.95 * z**1.5


def mf_hartmann(x: Sequence[float], z: float, a: np.ndarray, p: np.ndarray) -> float:
    """Hartmann with weights ``alpha - 0.1 (1 - z)``: the function itself at ``z = 1``."""
    point = np.asarray(x, dtype=float)
    alpha = _HARTMANN_ALPHA - 0.1 * (1 - z)
    return float(-alpha @ np.exp(-np.sum(a * (point - p) ** 2, axis=1)))


def mf_branin(x: Sequence[float], z: float) -> float:
    """Branin with ``b``, ``c``, ``t`` moved with ``1 - z``: Branin itself at ``z = 1``."""
    x1, x2 = float(x[0]), float(x[1])
    b = 5.1 / (4 * math.pi**2) - 0.01 * (1 - z)
    c = 5 / math.pi - 0.1 * (1 - z)
    t = 1 / (8 * math.pi) + 0.05 * (1 - z)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def _steps() -> int:
    """The steps this trial runs: the backend's budget, rounded, else all of them."""
    chosen = budget()
    return STEPS if chosen is None else min(STEPS, max(1, round(chosen)))


def _multi_fidelity(
    name: str, fn: Callable[[Sequence[float], float], float], full: FunctionObjective
) -> FunctionObjective:
    """Register ``fn`` as ``mf.<name>`` over the space and optimum of ``full``."""

    def evaluate(params: Any) -> dict[str, Any]:
        steps = _steps()
        for step in range(1, steps):
            report(step, fn(params, step / STEPS))
        z = steps / STEPS
        value = fn(params, z)
        report(steps, value)
        return {"loss": value, "cost": cost(z), "fidelity": z}

    dim = len(full.space)
    return register_objective(
        f"mf.{name}",
        space=full.space,
        f_star=full.f_star,
        x_star=full.x_star,
        description=f"{dim}-D multi-fidelity {name} (fidelity: {STEPS} steps; cost model)",
        groups=GROUPS,
        fidelity=FIDELITY,
        cost_model=cost,
    )(evaluate)


MF_HARTMANN3 = _multi_fidelity(
    "hartmann3", lambda x, z: mf_hartmann(x, z, _HARTMANN3_A, _HARTMANN3_P), HARTMANN3
)
MF_HARTMANN6 = _multi_fidelity(
    "hartmann6", lambda x, z: mf_hartmann(x, z, _HARTMANN6_A, _HARTMANN6_P), HARTMANN6
)
MF_BRANIN = _multi_fidelity("branin", mf_branin, BRANIN)
