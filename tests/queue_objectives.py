"""Objectives for the queue tests: registered on import in their worker processes
(``bbopt worker --import queue_objectives``, with this folder on PYTHONPATH), and in the
test process by the ``queue_objectives`` fixture, which removes them afterwards."""

from __future__ import annotations

import os
import time

from bbopt import hp
from bbopt.objective import FunctionObjective, register_objective

SPACE = {"x": hp.uniform("x", -5, 5)}


def _instant(params: dict[str, float]) -> float:
    """(x - 1)^2, at once."""
    return (params["x"] - 1) ** 2


def _sleepy(params: dict[str, float]) -> float:
    """(x - 1)^2 after QUEUE_TEST_SLEEP seconds (default 0.1)."""
    time.sleep(float(os.environ.get("QUEUE_TEST_SLEEP", "0.1")))
    return (params["x"] - 1) ** 2


OBJECTIVES = (
    FunctionObjective(_instant, SPACE, name="queue.instant"),
    FunctionObjective(_sleepy, SPACE, name="queue.sleepy"),
)


def register() -> None:
    for objective in OBJECTIVES:
        register_objective(objective, replace=True)


register()
