"""Objectives and backends by name: decorators, lookups, the toy objective, real plugins."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bbopt
from bbopt import hp
from bbopt.backends import Backend, Observation, Suggestion, get_backend
from bbopt.errors import UnknownNameError
from bbopt.objectives.toy import F_STAR, X_STAR

pytestmark = pytest.mark.usefixtures("clean_registries")


# -- objectives ---------------------------------------------------------------------------------


def test_register_objective_decorator_makes_a_named_objective() -> None:
    @bbopt.register_objective("test.bowl", space={"x": hp.uniform("x", -3, 3)}, f_star=0.0)
    def bowl(params: dict[str, float]) -> float:
        """A bowl centred at 1."""
        return (params["x"] - 1) ** 2

    assert isinstance(bowl, bbopt.Objective)
    assert bbopt.get_objective("test.bowl") is bowl
    assert "test.bowl" in bbopt.list_objectives()
    assert (bowl.name, bowl.f_star, bowl.description) == ("test.bowl", 0.0, "A bowl centred at 1.")
    assert bowl.evaluate({"x": 3.0}) == 4.0
    assert bowl({"x": -1.0}) == 4.0  # the decorated function is still callable
    study = bbopt.minimize("test.bowl", max_evals=30, seed=0)
    assert study.best_params["x"] == pytest.approx(1, abs=0.5)


def test_register_an_objective_instance() -> None:
    class Line(bbopt.Objective):
        name = "test.line"
        space = hp.uniform("x", 0, 1)

        def evaluate(self, params: float) -> float:
            return params

    line = Line()
    assert bbopt.register_objective(line) is line
    assert bbopt.get_objective("test.line") is line


def test_duplicate_objective_name_needs_replace() -> None:
    space = hp.uniform("x", 0, 1)
    first = bbopt.register_objective("test.dup", space=space)(lambda x: x)
    with pytest.raises(ValueError, match="already registered"):
        bbopt.register_objective("test.dup", space=space)(lambda x: -x)
    second = bbopt.register_objective("test.dup", space=space, replace=True)(lambda x: -x)
    assert bbopt.get_objective("test.dup") is second is not first


def test_a_builtin_name_is_taken_even_before_the_first_lookup() -> None:
    # A fresh process: the built-in objectives are not loaded yet when the user registers.
    code = textwrap.dedent(
        """
        import bbopt
        try:
            bbopt.register_objective("toy.sin", space=bbopt.hp.uniform("x", 0, 1))(abs)
        except ValueError as exc:
            print("refused:", exc)
        print(bbopt.get_objective("toy.sin").f_star)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    refused, f_star = done.stdout.splitlines()
    assert refused.startswith("refused:") and "already registered" in refused
    assert float(f_star) == F_STAR  # the built-in objective, not the user's


def test_register_objective_validates_its_space_at_definition() -> None:
    with pytest.raises(ValueError, match="needs a space"):
        bbopt.register_objective("test.nospace")
    with pytest.raises(ValueError, match="duplicate label 'x'"):
        bbopt.register_objective("test.bad", space=[hp.uniform("x", 0, 1), hp.normal("x", 0, 1)])
    with pytest.raises(ValueError, match="non-empty string"):
        bbopt.register_objective("", space=hp.uniform("x", 0, 1))(lambda x: x)


class _Unrunnable(bbopt.Objective):
    def evaluate(self, params: Any) -> float:
        return 0.0


@pytest.mark.parametrize(
    ("attributes", "error", "message"),
    [
        ({}, ValueError, "'test.broken' has no space"),
        (
            {"space": {"a": hp.uniform("x", 0, 1), "b": hp.uniform("x", 0, 1)}},
            ValueError,
            "'test.broken': duplicate label 'x'",
        ),
        (
            {"space": hp.uniform("x", 0, 1), "fidelity": (1, 10)},
            TypeError,
            "fidelity must be a bbopt.Fidelity",
        ),
    ],
)
def test_an_objective_instance_is_checked_when_registered(
    attributes: dict[str, Any], error: type[Exception], message: str
) -> None:
    """It was registered as it was: without a space, a run optimized nothing and said
    it was done; with a tuple as fidelity every pruned trial failed."""
    broken = type("Broken", (_Unrunnable,), {"name": "test.broken", **attributes})()
    with pytest.raises(error, match=message):
        bbopt.register_objective(broken)
    assert "test.broken" not in bbopt.list_objectives()
    with pytest.raises(TypeError, match="fidelity must be"):
        bbopt.register_objective("test.tuple", space=hp.uniform("x", 0, 1), fidelity=(1, 10))


def test_unknown_objective_lists_close_matches() -> None:
    with pytest.raises(UnknownNameError, match=r"Did you mean 'toy\.sin'") as info:
        bbopt.get_objective("toy.sine")
    assert info.value.close_matches == ["toy.sin"]
    assert isinstance(info.value, LookupError)


def test_toy_sin_has_its_exact_optimum() -> None:
    toy = bbopt.get_objective("toy.sin")
    assert toy.f_star == F_STAR == -0.8396572774695 and toy.x_star == X_STAR == 1.0729458520
    assert toy.evaluate(0.0) == 0.0  # the limit of -sin(x^2)/x at 0
    assert toy.evaluate(1e-8) == pytest.approx(0.0, abs=1e-7)
    assert toy.evaluate(X_STAR) == pytest.approx(F_STAR, abs=1e-12)
    grid = np.linspace(-10, 10, 400_001)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(grid == 0, 0.0, -np.sin(grid**2) / grid + 0.01 * grid**2)
    assert values.min() >= F_STAR - 1e-12  # no point of [-10, 10] beats f*
    assert grid[values.argmin()] == pytest.approx(X_STAR, abs=1e-4)
    for x in (X_STAR - 1e-4, X_STAR + 1e-4):
        assert toy.evaluate(x) > F_STAR


# -- backends -----------------------------------------------------------------------------------


class CountingRandom(Backend):
    """Random search that remembers what it was told."""

    name = "test.counting"
    description = "random search for the tests"

    def __init__(self, space: Any, seed: int | None = None, **options: Any) -> None:
        super().__init__(space, seed, **options)
        self.told: list[Observation] = []

    def ask(self, n: int = 1) -> list[Suggestion]:
        return [Suggestion(self.space.sample_flat(self.rng)) for _ in range(n)]

    def tell(self, observation: Observation) -> None:
        self.told.append(observation)


def test_builtin_backends_are_listed() -> None:
    assert {"hyperopt.tpe", "hyperopt.rand", "hyperopt.anneal"} <= set(bbopt.list_backends())


def test_register_backend_and_run_it_by_name() -> None:
    assert bbopt.register_backend(CountingRandom) is CountingRandom
    assert "test.counting" in bbopt.list_backends()
    assert get_backend("test.counting") is CountingRandom
    space = {"x": hp.uniform("x", 0, 1), "c": hp.choice("c", ["a", {"y": hp.randint("y", 3)}])}
    study = bbopt.minimize(lambda p: p["x"], space, backend="test.counting", max_evals=12, seed=5)
    assert study.backend_name == "test.counting" and len(study.trials) == 12
    again = bbopt.minimize(lambda p: p["x"], space, backend="test.counting", max_evals=12, seed=5)
    assert [t.flat_params for t in again.trials] == [t.flat_params for t in study.trials]


def test_a_backend_is_told_every_result_failures_included() -> None:
    backend = CountingRandom(bbopt.Space(hp.uniform("x", -1, 1)), seed=0)
    study = bbopt.minimize(
        lambda x: math.nan if x < 0 else x, hp.uniform("x", -1, 1), backend=backend, max_evals=10
    )
    assert [o.flat_params for o in backend.told] == [t.flat_params for t in study.trials]
    assert [o.state for o in backend.told] == [t.state for t in study.trials]
    assert {o.state.value for o in backend.told} == {"done", "failed"}
    assert all(o.loss is None for o in backend.told if not o.ok)
    assert all(o.suggestion is not None for o in backend.told)  # each answers its suggestion


def test_register_backend_under_another_name_and_reject_non_backends() -> None:
    bbopt.register_backend(CountingRandom, "test.alias")
    assert get_backend("test.alias") is CountingRandom
    with pytest.raises(TypeError, match="Backend subclass"):
        bbopt.register_backend(object)  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match=r"Did you mean 'test\.alias'"):
        get_backend("test.alia")


# -- entry points: a real plugin package, installed to a temporary directory -------------------

PLUGIN_CODE = '''
"""A third-party package adding objectives and a backend to bbopt."""
import bbopt
from bbopt import hp
from bbopt.backends import Backend, Suggestion


class Bowl(bbopt.Objective):
    name = "demo.bowl"
    space = {"x": hp.uniform("x", -5, 5)}
    f_star = 0.0

    def evaluate(self, params):
        return params["x"] ** 2


BOWL = Bowl()  # an entry point may name an Objective instance ...


def make_objectives():  # ... or a zero-argument callable returning a list of them
    return [
        bbopt.FunctionObjective(lambda x: abs(x), hp.uniform("x", -1, 1), name="demo.abs"),
        bbopt.FunctionObjective(lambda x: -x, hp.uniform("x", 0, 1), name="demo.neg"),
    ]


def make_one():  # ... or returning a single one
    return bbopt.FunctionObjective(lambda x: x, hp.uniform("x", 0, 1), name="demo.single")


NOT_AN_OBJECTIVE = 42


class NotSin(bbopt.Objective):  # a name bbopt has: skipped, with a warning
    name = "toy.sin"
    space = {"x": hp.uniform("x", 0, 1)}

    def evaluate(self, params):
        return 123.0


NOT_SIN = NotSin()


class DemoRandom(Backend):
    name = "demo.random"
    description = "random search from a plugin"

    learns = False

    def ask(self, n=1):
        return [Suggestion(self.space.sample_flat(self.rng)) for _ in range(n)]

    def tell(self, observation):
        pass


class FakeTPE(DemoRandom):  # a built-in's name: skipped, with a warning
    name = "hyperopt.tpe"
'''

PLUGIN_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "bbopt-demo-plugin"
version = "0.1.0"

[project.entry-points."bbopt.objectives"]
bowl = "demo_plugin:BOWL"
several = "demo_plugin:make_objectives"
single = "demo_plugin:make_one"
broken = "demo_plugin:NOT_AN_OBJECTIVE"
not_sin = "demo_plugin:NOT_SIN"

[project.entry-points."bbopt.backends"]
random = "demo_plugin:DemoRandom"
fake_tpe = "demo_plugin:FakeTPE"

[tool.setuptools]
py-modules = ["demo_plugin"]
"""

CHECK_SCRIPT = """
import json, warnings
import bbopt

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    objectives = bbopt.list_objectives()
    backends = bbopt.list_backends()
study = bbopt.minimize("demo.bowl", backend="demo.random", max_evals=20, seed=0)
print(json.dumps({
    "objectives": objectives,
    "backends": backends,
    "warnings": [str(w.message) for w in caught],
    "f_star": bbopt.get_objective("demo.bowl").f_star,
    "best": study.best_loss,
    "trials": len(study.trials),
    "backend": study.backend_name,
    "tpe_module": bbopt.backends.get_backend("hyperopt.tpe").__module__,
    "sin_at_1": bbopt.get_objective("toy.sin").evaluate(1.0),
}))
"""


def test_plugin_entry_points_are_found(tmp_path: Path) -> None:
    source = tmp_path / "plugin"
    source.mkdir()
    (source / "pyproject.toml").write_text(PLUGIN_PYPROJECT)
    (source / "demo_plugin.py").write_text(textwrap.dedent(PLUGIN_CODE))
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    assert list(target.glob("bbopt_demo_plugin-*.dist-info/entry_points.txt"))
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", CHECK_SCRIPT],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"demo.bowl", "demo.abs", "demo.neg", "demo.single", "toy.sin"} <= set(
        report["objectives"]
    )
    assert {"demo.random", "hyperopt.tpe"} <= set(report["backends"])
    assert report["f_star"] == 0.0
    assert report["trials"] == 20 and report["backend"] == "demo.random"
    assert 0 <= report["best"] < 2.0
    broken = [w for w in report["warnings"] if "'broken'" in w]
    assert len(broken) == 1 and "not an Objective" in broken[0]
    # names bbopt has stay bbopt's
    assert report["tpe_module"] == "bbopt.backends.hyperopt"
    assert report["sin_at_1"] != 123.0
    skipped = sorted(w for w in report["warnings"] if "is skipped" in w)
    assert len(skipped) == 2
    assert "'fake_tpe' (demo_plugin:FakeTPE)" in skipped[0] and "'hyperopt.tpe'" in skipped[0]
    assert "'not_sin' (demo_plugin:NOT_SIN)" in skipped[1] and "'toy.sin'" in skipped[1]
    # without the plugin on the path, none of it is there
    bare = subprocess.run(
        [sys.executable, "-c", "import bbopt; print(bbopt.list_objectives())"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert "demo.bowl" not in bare.stdout and "toy.sin" in bare.stdout


def test_each_builtin_objective_module_imports_first_in_a_fresh_process() -> None:
    # a worker process that unpickles an objective imports its module before any other
    from bbopt.objective import registry

    for module in registry._builtin_modules:
        done = subprocess.run(
            [sys.executable, "-c", f"import {module}"], capture_output=True, text=True
        )
        assert done.returncode == 0, (module, done.stderr[-500:])


def test_a_synthetic_objective_runs_with_worker_processes() -> None:
    from bbopt import minimize

    study = minimize(
        "synthetic.branin", backend="bbopt.random", max_evals=4, seed=5, workers=2, progress=False
    )
    serial = minimize("synthetic.branin", backend="bbopt.random", max_evals=4, seed=5)
    assert study.losses == serial.losses
