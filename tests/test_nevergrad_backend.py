"""The Nevergrad backends: native parametrization, faithful ask/tell, failures, options."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import nevergrad as ng
import numpy as np
import pytest

import bbopt
from bbopt import hp
from bbopt.backends import Observation, create_backend
from bbopt.backends.nevergrad import NO_LOSS_YET, NevergradSpace, _failed_surrogates_fall_back
from bbopt.errors import MissingDependencyError, OptionValueError, UnknownOptionError
from bbopt.space import Space
from bbopt.testing import conditional_space, every_node_space
from bbopt.trial import TrialState

BOWL = Space({"x": hp.uniform("x", -5, 5), "lr": hp.loguniform("lr", -5, 0)})


def _bowl(flat: dict) -> float:
    return (flat["x"] - 1) ** 2 + (math.log(flat["lr"]) + 2) ** 2


def _told_losses(backend: object) -> list[float]:
    """Every loss the backend tells its Nevergrad optimizer, recorded by Nevergrad itself."""
    losses: list[float] = []
    backend.optimizer.register_callback("tell", lambda opt, cand, loss: losses.append(loss))  # type: ignore[attr-defined]
    return losses


def test_choices_become_nevergrad_choices_of_their_branches() -> None:
    space = Space(conditional_space())
    parametrization = create_backend("nevergrad.ngopt", space, 0).parametrization
    assert isinstance(parametrization, ng.p.Dict)
    assert set(parametrization.keys()) == {"model", "scale"}  # branch parameters live inside
    model = parametrization["model"]
    assert isinstance(model, ng.p.Choice) and len(model.choices) == 3
    linear, tree, knn = model.choices
    assert set(linear.keys()) == {"alpha"} and isinstance(linear["alpha"], ng.p.Log)
    assert set(tree.keys()) == {"depth", "split"} and isinstance(tree["split"], ng.p.Choice)
    assert set(tree["split"].choices[1].keys()) == {"w", "norm"}
    assert isinstance(knn["k"].value, int)  # uniformint: an integer-cast scalar
    assert set(tree["split"].choices[0].keys()) == set()  # "gini": a branch without parameters


def test_points_survive_the_round_trip_through_a_candidate() -> None:
    space = Space(every_node_space())
    ng_space = NevergradSpace(ng, space)
    rng = np.random.default_rng(4)
    for _ in range(30):
        flat = space.sample_flat(rng)
        back = ng_space.to_flat(ng_space.candidate(flat))
        assert back.keys() == flat.keys()
        for label, value in flat.items():
            assert back[label] == pytest.approx(value, rel=1e-9, abs=1e-9), label


# pycma warns about Nevergrad's injected first point in plain Nevergrad too
@pytest.mark.filterwarnings("ignore:orphanated injected solution")
@pytest.mark.parametrize(
    ("backend", "optimizer"),
    [("nevergrad.ngopt", "NGOpt"), ("nevergrad.cma", "CMA"), ("nevergrad.carola2", "Carola2")],
)
def test_matches_plain_nevergrad_trial_by_trial(backend: str, optimizer: str) -> None:
    seed = 11
    ours = create_backend(backend, BOWL, seed, {"budget": 40})
    parametrization = ng.p.Dict(
        x=ng.p.Scalar(lower=-5, upper=5), lr=ng.p.Log(lower=math.exp(-5), upper=1.0)
    )
    parametrization.random_state = np.random.RandomState(
        int(np.random.default_rng(seed).integers(2**32))
    )
    plain = ng.optimizers.registry[optimizer](parametrization=parametrization, budget=40)
    for _ in range(40):
        with _failed_surrogates_fall_back():  # Carola2's meta-model, as in the backend
            candidate = plain.ask()
        plain.tell(candidate, _bowl(candidate.value))
        (suggestion,) = ours.ask(1)
        assert suggestion.flat_params == pytest.approx(candidate.value)
        ours.tell(
            Observation(
                suggestion.flat_params, _bowl(suggestion.flat_params), suggestion=suggestion
            )
        )
    assert ours.optimizer.recommend().value == pytest.approx(plain.recommend().value)


def test_meta_models_fall_back_to_their_inner_optimizer_on_numpy_2_4() -> None:
    space = Space({"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)})
    plain = ng.optimizers.NGOpt(
        parametrization=ng.p.Array(shape=(2,), lower=-5, upper=5), budget=200
    )
    assert plain.optim.name == "MetaModel"  # NGOpt's choice here
    with pytest.raises(TypeError, match="0-dimensional arrays"):  # Nevergrad's bug, unpatched
        for _ in range(60):
            candidate = plain.ask()
            plain.tell(candidate, float(np.sum((candidate.value - 1) ** 2)))
    backend = create_backend("nevergrad.ngopt", space, 0, {"budget": 200})
    for _ in range(60):
        (s,) = backend.ask(1)
        backend.tell(
            Observation(
                s.flat_params, (s.flat_params["x"] - 1) ** 2 + s.flat_params["y"] ** 2, suggestion=s
            )
        )
    assert backend.optimizer.recommend().loss < 0.1
    from nevergrad.optimization import metamodel, optimizerlib

    assert optimizerlib.learn_on_k_best is metamodel.learn_on_k_best  # restored after the calls
    assert metamodel.learn_on_k_best.__name__ == "learn_on_k_best"


def test_failures_get_the_worst_loss_and_pruned_trials_their_last_value() -> None:
    backend = create_backend("nevergrad.oneplusone", BOWL, 0)
    told = _told_losses(backend)
    outcomes = [
        (None, TrialState.FAILED),  # before any loss: far above every real loss
        (3.0, TrialState.DONE),
        (7.0, TrialState.PRUNED),  # its last reported value
        (None, TrialState.FAILED),  # the worst loss so far
        (1.0, TrialState.DONE),
    ]
    for loss, state in outcomes:
        (s,) = backend.ask(1)
        backend.tell(Observation(s.flat_params, loss, state=state, suggestion=s))
    assert told == [NO_LOSS_YET, 3.0, 7.0, 7.0, 1.0]


def test_points_from_outside_are_told_as_not_asked() -> None:
    backend = create_backend("nevergrad.de", BOWL, 0)
    told = _told_losses(backend)
    backend.tell(Observation({"x": 1.0, "lr": math.exp(-2)}, 0.0))
    backend.tell(Observation({"x": -3.0, "lr": 0.1}, 2.0))
    backend.tell(Observation({"x": 4.0, "lr": 0.5}, None, state=TrialState.FAILED))
    assert backend.optimizer.num_tell_not_asked == 3
    assert told == [0.0, 2.0, 2.0]  # the failure gets the worst ok loss so far
    best = backend.optimizer.recommend().value
    assert best == pytest.approx({"x": 1.0, "lr": math.exp(-2)})


def test_points_beyond_num_workers_are_random_with_a_warning() -> None:
    backend = create_backend("nevergrad.ngopt", BOWL, 0)
    with pytest.warns(UserWarning, match=r"num_workers=1 points in flight.*\{'num_workers'"):
        suggestions = backend.ask(3)
    assert len({tuple(s.flat_params.items()) for s in suggestions}) == 3
    assert backend.optimizer.num_ask == 1  # Nevergrad asked once; two were sampled
    for s in suggestions:
        backend.tell(Observation(s.flat_params, _bowl(s.flat_params), suggestion=s))
    parallel = create_backend("nevergrad.ngopt", BOWL, 0, {"num_workers": 3})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel.ask(3)
    assert parallel.optimizer.num_ask == 3


def test_budget_and_num_workers_reach_the_optimizer() -> None:
    backend = create_backend("nevergrad.portfolio", BOWL, 0, {"budget": 37, "num_workers": 2})
    assert (backend.optimizer.budget, backend.optimizer.num_workers) == (37, 2)
    assert create_backend("nevergrad.cma", BOWL, 0).optimizer.budget == 100
    with pytest.raises(OptionValueError, match="'budget' must be an integer >= 1, got 0"):
        create_backend("nevergrad.cma", BOWL, 0, {"budget": 0})
    with pytest.raises(UnknownOptionError, match=r"'budgets' .*did you mean budget"):
        create_backend("nevergrad.cma", BOWL, 0, {"budgets": 10})


def test_minimize_sizes_the_budget_to_max_evals_unless_given() -> None:
    study = bbopt.minimize("toy.sin", backend="nevergrad.ngopt", max_evals=7, seed=0)
    assert study.backend_options == {"budget": 7} and len(study.trials) == 7
    given = bbopt.minimize(
        "toy.sin", backend="nevergrad.ngopt", max_evals=5, seed=0, backend_options={"budget": 50}
    )
    assert given.backend_options == {"budget": 50}
    assert create_backend("smac.gp", BOWL, 0, max_evals=30).options == {"n_trials": 30}
    assert create_backend("optuna.tpe", BOWL, 0, max_evals=30).options == {}  # no such option


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nevergrad", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'bbopt\[nevergrad\]'"):
        create_backend("nevergrad.ngopt", BOWL, 0)


def _recast_threads_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if type(t).__name__ == "_MessagingThread"]


def test_close_stops_the_threads_nevergrad_runs_scipy_in() -> None:
    backend = create_backend("nevergrad.ngopt", BOWL, 3, {"budget": 30})
    for _ in range(5):
        (suggestion,) = backend.ask()
        backend.tell(
            Observation(
                suggestion.flat_params, _bowl(suggestion.flat_params), suggestion=suggestion
            )
        )
    threads = _recast_threads_alive()
    assert threads, "NGOpt at this budget runs COBYLA in a thread"
    backend.close()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(t.is_alive() for t in threads)


def test_a_script_ends_promptly_and_quietly_after_a_nevergrad_run() -> None:
    # Before close(), this run's COBYLA thread kept the interpreter waiting for ever at
    # exit, and each COBYLA restart warned that its budget was raised.
    script = (
        "import bbopt\n"
        "study = bbopt.minimize('sklearn.lasso.iris.acc', backend='nevergrad.ngopt',"
        " max_evals=30, seed=1, progress=False)\n"
        "print(len(study.trials))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["30"]
    assert "COBYLA" not in done.stderr


def test_a_benchmark_of_nevergrad_on_bbob_prints_no_cobyla_warnings(tmp_path: Path) -> None:
    # COBYLA warns from Nevergrad's thread while the benchmark goes on: 9 warnings
    # here before the filter was process-wide.
    pytest.importorskip("cocoex")
    grid = ["--backends", "nevergrad.ngopt", "--objectives", "bbob.f0*.d05.i01", "--seeds", "1"]
    grid += ["--budget", "250", "--jobs", "1", "--no-progress", "--results-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", *grid], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "COBYLA" not in done.stderr


@pytest.mark.parametrize(
    ("backend", "space"),
    [
        ("nevergrad.portfolio", hp.uniformint("p", 0, 3)),
        ("nevergrad.ngopt", hp.choice("p", ["a"])),
        ("nevergrad.ngopt", hp.pchoice("p", [(1.0, "a")])),
    ],
)
def test_small_discrete_spaces_run_their_chosen_optimizers(backend: str, space: Any) -> None:
    # the optimizers picked there import fcmaes (in the nevergrad extra)
    study = bbopt.minimize(lambda p: 0.0, space, backend=backend, max_evals=20, seed=0)
    assert study.count_by_state() == {"done": 20}
