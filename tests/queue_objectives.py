"""Objectives the queue tests register, here and in their worker processes
(``bbopt worker --import queue_objectives``, with this folder on PYTHONPATH)."""

from __future__ import annotations

import os
import time

from bbopt import hp
from bbopt.objective import register_objective

SPACE = {"x": hp.uniform("x", -5, 5)}


@register_objective("queue.instant", space=SPACE, replace=True)
def instant(params: dict[str, float]) -> float:
    """(x - 1)^2, at once."""
    return (params["x"] - 1) ** 2


@register_objective("queue.sleepy", space=SPACE, replace=True)
def sleepy(params: dict[str, float]) -> float:
    """(x - 1)^2 after QUEUE_TEST_SLEEP seconds (default 0.1)."""
    time.sleep(float(os.environ.get("QUEUE_TEST_SLEEP", "0.1")))
    return (params["x"] - 1) ** 2
