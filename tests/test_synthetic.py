"""Synthetic and COCO objectives: known optima really are optimal, domains are the usual ones."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize as scipy_minimize

import bbopt
from bbopt.objective import evaluate_point
from bbopt.objectives import synthetic
from bbopt.space import Choice, LogUniform, QUniform, RandInt, Space, Uniform

ROOT = Path(__file__).resolve().parents[1]
BOX = {  # name: (low, high) of each coordinate
    "synthetic.branin": [(-5, 10), (0, 15)],
    "synthetic.hartmann3": [(0, 1)] * 3,
    "synthetic.hartmann6": [(0, 1)] * 6,
    "synthetic.rosenbrock2": [(-5, 10)] * 2,
    "synthetic.rosenbrock5": [(-5, 10)] * 5,
    "synthetic.ackley5": [(-32.768, 32.768)] * 5,
    "synthetic.rastrigin5": [(-5.12, 5.12)] * 5,
    "synthetic.levy5": [(-10, 10)] * 5,
    "synthetic.styblinski_tang5": [(-5, 5)] * 5,
    "synthetic.six_hump_camel": [(-3, 3), (-2, 2)],
}


def test_the_synthetic_group_holds_every_function_and_the_conditional_one() -> None:
    names = set(bbopt.list_objectives())
    expected = {*BOX, "synthetic.conditional"}
    assert expected <= names
    in_group = {n for n in names if "synthetic" in bbopt.get_objective(n).groups}
    assert in_group == expected


@pytest.mark.parametrize("name", sorted(BOX))
def test_box_objective_has_its_usual_domain(name: str) -> None:
    space = Space(bbopt.get_objective(name).space)
    dists = [space.distribution(label) for label in space.labels]
    assert all(isinstance(d, Uniform) for d in dists)
    assert [(d.low, d.high) for d in dists] == BOX[name]
    assert space.labels == [f"x{i}" for i in range(len(BOX[name]))]


@pytest.mark.parametrize("name", sorted(BOX))
def test_value_at_x_star_is_f_star_and_nothing_beats_it(name: str) -> None:
    objective = bbopt.get_objective(name)
    assert objective.f_star is not None
    f_star = objective.f_star
    assert objective.evaluate(objective.x_star) == pytest.approx(f_star, abs=1e-9)
    # Random points of the domain and a local optimizer polishing the best of them
    # (and x* itself) never go below f*.
    space = Space(objective.space)
    rng = np.random.default_rng(0)
    points = [list(space.sample(rng)) for _ in range(3000)]
    values = [objective.evaluate(p) for p in points]
    assert min(values) > f_star - 1e-9
    bounds = BOX[name]
    for start in (points[int(np.argmin(values))], objective.x_star):
        polished = scipy_minimize(objective.evaluate, start, method="L-BFGS-B", bounds=bounds)
        assert polished.fun > f_star - 1e-9


def test_hand_computed_values() -> None:
    assert synthetic.ackley([1.0] * 5) == pytest.approx(20 * (1 - math.exp(-0.2)))
    assert synthetic.rastrigin([1.0] * 5) == pytest.approx(5.0)
    assert synthetic.rosenbrock([0.0] * 5) == pytest.approx(4.0)
    assert synthetic.styblinski_tang([0.0] * 5) == 0.0
    assert synthetic.levy([1.0] * 5) == pytest.approx(0.0, abs=1e-15)
    # All three Branin minima and both six-hump camel minima share the optimal value.
    for point in ([-math.pi, 12.275], [math.pi, 2.275], [9.42478, 2.475]):
        assert synthetic.branin(point) == pytest.approx(5 / (4 * math.pi), abs=1e-5)
    assert synthetic.six_hump_camel([-0.0898420068, 0.71265641]) == pytest.approx(
        synthetic.SIX_HUMP_CAMEL.f_star, abs=1e-12
    )
    # x_i* of Styblinski-Tang is the smallest root of the derivative 4t^3 - 32t + 5.
    assert min(np.roots([4, 0, -32, 5]).real) == pytest.approx(synthetic.STYBLINSKI_TANG_X)


def test_conditional_objective_is_mixed_and_tree_structured() -> None:
    objective = bbopt.get_objective("synthetic.conditional")
    space = Space(objective.space)
    kinds = {type(space.distribution(label)) for label in space.labels}
    assert {Choice, Uniform, LogUniform, RandInt, QUniform} <= kinds
    conditional = [label for label, info in space.params.items() if info.condition]
    assert set(conditional) == {
        "sgd_lr",
        "sgd_momentum",
        "adam_lr",
        "rmsprop_lr",
        "rmsprop_rho",
        "dropout_rate",
    }


def test_conditional_optimum_is_reachable_and_minimal() -> None:
    objective = bbopt.get_objective("synthetic.conditional")
    space = Space(objective.space)
    flat = {"optimizer": 1, "adam_lr": 1e-3, "layers": 3, "units": 64.0, "dropout": 1}
    flat["dropout_rate"] = 0.2
    params, result = evaluate_point(objective, space, space.validate_flat(flat))
    assert params == objective.x_star
    assert result.loss == pytest.approx(objective.f_star, abs=1e-12) == 0.0
    rng = np.random.default_rng(1)
    losses = [objective.evaluate(space.sample(rng)) for _ in range(2000)]
    assert min(losses) > 0.0
    # Each optimizer branch has its own floor: the best sgd and rmsprop configurations
    # stay above adam's optimum.
    best_sgd = {**objective.x_star, "optimizer": {"name": "sgd", "lr": 10**-1.5, "momentum": 0.9}}
    best_rms = {**objective.x_star, "optimizer": {"name": "rmsprop", "lr": 10**-2.5, "rho": 0.9}}
    assert objective.evaluate(best_sgd) == pytest.approx(0.1)
    assert objective.evaluate(best_rms) == pytest.approx(0.05)


# -- COCO ---------------------------------------------------------------------------


def test_listing_objectives_stays_light_and_does_not_import_cocoex() -> None:
    code = "import sys, bbopt; print(len(bbopt.list_objectives()), 'cocoex' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, imported = out.stdout.split()
    assert imported == "False"
    assert int(count) >= 11


def test_without_cocoex_there_are_no_bbob_objectives_and_nothing_breaks() -> None:
    code = (
        "import sys; sys.modules['cocoex'] = None; import bbopt; "
        "names = bbopt.list_objectives(); "
        "assert 'synthetic.branin' in names; "
        "assert not [n for n in names if n.startswith('bbob')]; "
        "from benchmarks.grid import select_objectives\n"
        "try:\n    select_objectives('bbob')\n"
        "except ImportError as exc:\n    print('missing:', exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert "bbopt[coco]" in out.stdout


def test_bbob_objectives_are_registered_with_groups() -> None:
    pytest.importorskip("cocoex")
    names = [n for n in bbopt.list_objectives() if n.startswith("bbob.")]
    assert len(names) == 24 * 6 * 5
    objective = bbopt.get_objective("bbob.f03.d05.i02")
    assert objective.groups == ("bbob", "bbob-d5")
    space = Space(objective.space)
    assert len(space.labels) == 5
    assert all((d.low, d.high) == (-5, 5) for d in map(space.distribution, space.labels))


@pytest.mark.parametrize("function", [1, 3, 8, 15, 20, 24])
def test_bbob_f_star_is_the_value_at_cocos_optimum(
    function: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cocoex = pytest.importorskip("cocoex")
    objective = bbopt.get_objective(f"bbob.f{function:02d}.d05.i03")
    # COCO's private helper writes x_opt to a file in the working directory.
    monkeypatch.chdir(tmp_path)
    suite = cocoex.Suite("bbob", "", f"function_indices:{function} dimensions:5 instance_indices:3")
    suite.get_problem(0)._best_parameter("print")
    x_opt = np.loadtxt("._bbob_problem_best_parameter.txt")
    assert objective.evaluate(list(x_opt)) == pytest.approx(objective.f_star, abs=1e-8)
    rng = np.random.default_rng(function)
    values = [objective.evaluate(list(rng.uniform(-5, 5, 5))) for _ in range(200)]
    assert min(values) > objective.f_star


def test_bbob_objective_runs_under_minimize() -> None:
    pytest.importorskip("cocoex")
    study = bbopt.minimize("bbob.f01.d02.i01", backend="hyperopt.rand", max_evals=30, seed=0)
    objective = bbopt.get_objective("bbob.f01.d02.i01")
    assert objective.f_star is not None
    assert len(study.trials) == 30
    assert study.best_loss > objective.f_star
