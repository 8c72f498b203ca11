"""The COCO ``bbob`` suite as registered objectives, when ``cocoex`` is installed.

Every (function, dimension, instance) in :data:`FUNCTIONS` x :data:`DIMENSIONS` x
:data:`INSTANCES` becomes ``bbob.f<FF>.d<DD>.i<II>`` (e.g. ``bbob.f01.d05.i01``) over
``[-5, 5]^d`` with params ``[x0, ...]``, in the groups ``bbob`` and ``bbob-d<d>``.
Registration imports nothing: the COCO problem is created on first evaluation, and
the optimal value ``f_star`` on first access. COCO does not expose the optimum
directly; its logger writes it (``Fopt``) into the header of the ``.dat`` file of an
observed problem, so ``f_star`` is read from there after one logged evaluation in a
temporary folder. Without ``cocoex`` no ``bbob`` objective is registered.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import tempfile
from pathlib import Path
from typing import Any

from bbopt import hp
from bbopt.errors import MissingDependencyError
from bbopt.objective import Objective, register_objective
from bbopt.space import Space

FUNCTIONS = range(1, 25)
DIMENSIONS = (2, 3, 5, 10, 20, 40)
INSTANCES = range(1, 6)
LOWER, UPPER = -5.0, 5.0

_FOPT = re.compile(r"Fopt \(([^)]+)\)")


def available() -> bool:
    """Whether the ``cocoex`` package can be imported (checked without importing it)."""
    return importlib.util.find_spec("cocoex") is not None


def _cocoex() -> Any:
    try:
        import cocoex
    except ImportError:
        raise MissingDependencyError("coco-experiment", "coco", "the bbob objectives") from None
    cocoex.log_level("warning")
    return cocoex


def _suite_options(function: int, dimension: int, instance: int) -> str:
    return f"function_indices:{function} dimensions:{dimension} instance_indices:{instance}"


@functools.cache
def _suite_and_problem(function: int, dimension: int, instance: int) -> tuple[Any, Any]:
    """The cached, unobserved COCO problem (with its suite, which owns it)."""
    cocoex = _cocoex()
    suite = cocoex.Suite("bbob", "", _suite_options(function, dimension, instance))
    return suite, suite.get_problem(0)


@functools.cache
def optimal_value(function: int, dimension: int, instance: int) -> float:
    """COCO's ``Fopt`` of one problem, read from its logger's ``.dat`` header."""
    cocoex = _cocoex()
    with tempfile.TemporaryDirectory(prefix="bbopt-coco-") as folder:
        observer = cocoex.Observer("bbob", f"outer_folder: {folder} result_folder: fopt")
        suite = cocoex.Suite("bbob", "", _suite_options(function, dimension, instance))
        problem = suite.get_problem(0)
        problem.observe_with(observer)
        problem(problem.initial_solution)
        problem.free()
        headers = [p.read_text() for p in Path(folder).rglob("*.dat")]
    for text in headers:
        match = _FOPT.search(text)
        if match:
            return float(match.group(1))
    raise RuntimeError(f"COCO wrote no Fopt for bbob f{function} d{dimension} i{instance}")


class BBOBObjective(Objective):
    """One bbob problem. Its space and optimum are built only when first needed."""

    cost_hint = "cheap"

    def __init__(self, function: int, dimension: int, instance: int) -> None:
        self.function = function
        self.dimension = dimension
        self.instance = instance
        self.name = f"bbob.f{function:02d}.d{dimension:02d}.i{instance:02d}"
        self.groups = ("bbob", f"bbob-d{dimension}")
        self.description = f"COCO bbob function {function}, {dimension}-D, instance {instance}"

    @functools.cached_property
    def space(self) -> Space:
        return Space([hp.uniform(f"x{i}", LOWER, UPPER) for i in range(self.dimension)])

    @functools.cached_property
    def f_star(self) -> float:  # type: ignore[override]
        return optimal_value(self.function, self.dimension, self.instance)

    def evaluate(self, params: Any) -> float:
        _, problem = _suite_and_problem(self.function, self.dimension, self.instance)
        return float(problem([float(v) for v in params]))


def _register_all() -> None:
    for dimension in DIMENSIONS:
        for function in FUNCTIONS:
            for instance in INSTANCES:
                register_objective(BBOBObjective(function, dimension, instance))


if available():
    _register_all()
