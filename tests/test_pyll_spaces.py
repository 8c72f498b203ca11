"""Spaces built with hyperopt's own ``hp`` and ``scope`` work wherever bbopt takes a space.

They are translated into bbopt's nodes (bbopt/space/pyll.py), so every backend can
search them and the objective receives what hyperopt's fmin would give it.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from typing import Any

import hyperopt
import numpy as np
import pytest
from conftest import conditional_space
from hyperopt import hp
from hyperopt.early_stop import no_progress_loss as hyperopt_no_progress_loss
from hyperopt.pyll import Apply, scope, stochastic

import bbopt
from bbopt.backends import get_backend
from bbopt.errors import MissingDependencyError
from bbopt.execution import no_progress_loss
from bbopt.space import (
    Choice,
    LogNormal,
    LogUniform,
    Normal,
    PChoice,
    QLogNormal,
    QNormal,
    QUniform,
    RandInt,
    Space,
    Transform,
    Uniform,
    UniformInt,
    UntranslatableNodeError,
)


def twice(value: float) -> float:
    return 2 * value


scope.define_if_new(twice)


def hyperopt_space() -> dict[str, Any]:
    """The tutorial's conditional space (conftest's, with every node type) built with
    hyperopt's own hp, the power of two through a @scope.define function, plus
    scope.int, arithmetic on expressions and numpy options."""
    return {
        **conditional_space(hp, scope.twice),
        "count": scope.int(hp.quniform("count", 1, 5, 1)),
        "arith": (2 ** hp.quniform("e", 0, 3, 1) + 1) * 3 - hp.uniform("u", 0, 1) / 4,
        "sizes": hp.choice("sizes", np.arange(5, 26, 5)),
    }


def test_each_hyperopt_node_becomes_the_bbopt_node_of_the_same_meaning() -> None:
    tree = Space(hyperopt_space()).tree
    optimizer = tree["optimizer"]
    assert isinstance(optimizer, Choice) and optimizer.label == "opt"
    assert optimizer.options[0]["lr"] == LogUniform("adam_lr", -10, 0)
    assert optimizer.options[1]["momentum"] == Uniform("momentum", 0, 1)
    assert tree["sizes"].options == tuple(np.arange(5, 26, 5))
    assert tree["batch_size"] == Transform(twice, (QUniform("bs_exp", 0, 8, 1),))
    assert tree["count"] == UniformInt("count", 1, 5)  # scope.int of a unit-step quniform
    assert tree["units"] == UniformInt("units", 1, 7)  # hp.uniformint
    assert tree["layers"] == (RandInt("n_low", 3, 9), RandInt("n_upper", 0, 4))  # a tuple
    assert tree["pair"] == (QNormal("qn", 0, 2, 0.5), Normal("nrm", 0, 1))
    init = tree["init"]
    assert isinstance(init, PChoice) and init.weights == (0.2, 0.8)
    assert init.options == ("glorot", "he")
    assert tree["lognormals"] == {"ln": LogNormal("ln", 0, 1), "qln": QLogNormal("qln", 1, 1, 1)}
    arith = tree["arith"]  # (2 ** e + 1) * 3 - u / 4, operator by operator
    assert arith.fn is operator.sub and arith.args[0].fn is operator.mul
    assert arith.args[1].fn is operator.truediv and arith.args[1].args[0] == Uniform("u", 0, 1)


def sample_points(space: Any, n: int) -> list[dict[str, Any]]:
    """Flat points hyperopt's own random search draws from ``space``."""
    trials = hyperopt.Trials()
    hyperopt.fmin(
        lambda p: 0.0,
        space,
        algo=hyperopt.rand.suggest,
        max_evals=n,
        trials=trials,
        rstate=np.random.default_rng(0),
        show_progressbar=False,
    )
    return [{k: v[0] for k, v in t["misc"]["vals"].items() if v} for t in trials.trials]


@pytest.mark.parametrize("make", [hyperopt_space, lambda: conditional_space(hp, lambda n: 2**n)])
def test_space_eval_gives_what_hyperopt_gives_the_objective(make: Any) -> None:
    space = make()
    for point in sample_points(space, 40):
        ours, theirs = bbopt.space_eval(space, point), hyperopt.space_eval(space, point)
        assert ours == theirs
        assert containers(ours) == containers(theirs)  # tuples where hyperopt gives tuples


def containers(value: Any) -> Any:
    """The container types of a configuration, and which leaves are integers."""
    if isinstance(value, dict):
        return {k: containers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value), [containers(v) for v in value]
    return isinstance(value, (int, np.integer))


def test_scope_int_of_quniform_reaches_the_objective_as_an_int() -> None:
    seen: list[Any] = []

    def objective(params: dict[str, Any]) -> float:
        seen.append(params["n"])
        return float(params["n"])

    space = {"n": scope.int(hp.quniform("n", 1, 5, 1)), "k": scope.int(hp.quniform("k", 0, 9, 3))}
    study = bbopt.minimize(objective, space, backend="hyperopt.tpe", max_evals=15, seed=0)
    assert len(study.ok_trials) == 15
    assert all(type(v) is int and 1 <= v <= 5 for v in seen)
    assert not any(isinstance(p["k"], Apply) for p in (t.params for t in study.trials))
    assert {type(t.params["k"]) for t in study.trials} == {int}


def test_minimize_on_a_hyperopt_space_evaluates_fmin_points() -> None:
    space = hyperopt_space()
    trials = hyperopt.Trials()

    def loss(params: dict[str, Any]) -> float:
        return (math.log(params["optimizer"]["lr"]) + 5) ** 2 + params["arith"]

    hyperopt.fmin(
        loss,
        space,
        algo=hyperopt.tpe.suggest,
        max_evals=25,
        trials=trials,
        rstate=np.random.default_rng(6),
        show_progressbar=False,
    )
    study = bbopt.minimize(loss, space, backend="hyperopt.tpe", max_evals=25, seed=6)
    expected = [{k: v[0] for k, v in t["misc"]["vals"].items() if v} for t in trials.trials]
    assert [t.flat_params for t in study.trials] == expected
    assert [t.loss for t in study.trials] == trials.losses()


BACKENDS = bbopt.list_backends()


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_installed_backend_searches_a_hyperopt_space(backend: str) -> None:
    seen: list[Any] = []

    def objective(params: dict[str, Any]) -> float:
        seen.append(params)
        return params["optimizer"]["lr"] + params["count"] + params["batch_size"]

    # a multi-fidelity backend needs budgets; this objective declares no fidelity
    options = {"min_budget": 1, "max_budget": 9} if get_backend(backend).multi_fidelity else None
    try:
        study = bbopt.minimize(
            objective,
            hyperopt_space(),
            backend=backend,
            backend_options=options,
            max_evals=5,
            seed=1,
        )
    except MissingDependencyError as exc:
        pytest.skip(f"{backend} is not installed: {exc}")
    assert len(study.ok_trials) == 5, [t.error for t in study.trials]
    for params in seen:
        assert type(params["count"]) is int and params["batch_size"] in {2.0 * e for e in range(9)}
        assert params["optimizer"]["name"] in ("adam", "sgd") and type(params["units"]) is int
        assert not any(isinstance(v, Apply) for v in params.values())
    assert get_backend(backend).name == study.backend_name


def test_every_entry_point_that_takes_a_space_takes_a_hyperopt_one(clean_registries: None) -> None:
    space = hyperopt_space()
    config = bbopt.sample(space, seed=3)
    assert config == Space(space).sample(3)
    assert config["optimizer"]["name"] in ("adam", "sgd") and type(config["count"]) is int
    backend = bbopt.create_backend("hyperopt.rand", space, seed=0)
    (suggestion,) = backend.ask(1)
    assert set(suggestion.flat_params) <= set(backend.space.labels)

    @bbopt.register_objective("pyll-space", space=space)
    def registered(params: dict[str, Any]) -> float:
        return params["arith"]

    study = bbopt.minimize("pyll-space", backend="bbopt.random", max_evals=3, seed=0)
    assert len(study.ok_trials) == 3
    assert study.trials[0].params == bbopt.space_eval(space, study.trials[0].flat_params)


def test_a_single_hyperopt_parameter_is_named_in_best_params() -> None:
    study = bbopt.minimize(lambda x: (x - 1) ** 2, hp.uniform("x", -10, 10), max_evals=10, seed=0)
    assert set(study.best_params) == {"x"}


def test_stochastic_sampling_of_the_same_space_stays_hyperopt_s() -> None:
    space = hyperopt_space()
    Space(space)  # translating leaves the user's graph untouched for hyperopt
    config = stochastic.sample(space, rng=np.random.default_rng(0))
    assert config["optimizer"]["name"] in ("adam", "sgd")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: {"x": scope.uniform(0, 1)}, "random node 'uniform' at space['x'] has no label"),
        (
            lambda: hp.uniform("x", 0, hp.uniform("y", 1, 2)),
            "the 'high' of hyperopt parameter 'x' at space is an expression",
        ),
        (
            lambda: {"s": scope.switch(hp.uniform("i", 0, 1), "a", "b")},
            "the switch at space['s'] does not choose on a labelled randint",
        ),
        (
            lambda: [hp.uniform("x", 0, 1), hp.normal("x", 0, 1)],
            "duplicate label 'x'",
        ),
    ],
)
def test_an_untranslatable_node_is_an_error_naming_it(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Space(build())
    assert issubclass(UntranslatableNodeError, ValueError)


# -- the early-stop trap: hyperopt's (stop, args) protocol ------------------------------


def test_a_hyperopt_style_early_stop_runs_trials_and_stops_on_its_answer() -> None:
    calls: list[tuple[int, int]] = []

    def stop_after_four(trials: Any, count: int = 0) -> tuple[bool, list[int]]:
        calls.append((len(trials.finished_trials), count))
        return count + 1 >= 4, [count + 1]

    study = bbopt.minimize(
        lambda x: x**2, hp.uniform("x", -1, 1), max_evals=50, seed=0, early_stop=stop_after_four
    )
    assert len(study.trials) == 4 and study.stop_reason == "early_stop"
    assert calls == [(1, 0), (2, 1), (3, 2), (4, 3)]  # after each trial, args passed back


def test_no_progress_loss_answers_as_hyperopt_s_on_the_same_trials() -> None:
    from bbopt.hyperopt import Trials as BboptTrials

    space = hp.uniform("x", -10, 10)
    study = bbopt.minimize(lambda x: math.sin(x) + 0.01 * x * x, space, max_evals=40, seed=2)
    ours, theirs = no_progress_loss(5, 1.0), hyperopt_no_progress_loss(5, 1.0)
    our_args: list[Any] = []
    their_args: list[Any] = []
    for n in range(1, len(study.trials) + 1):
        view = bbopt.Study(study.name, study.space)  # the first n trials only
        for trial in study.trials[:n]:
            view.add_trial(dataclasses.replace(trial))
        trials = BboptTrials().attach(view)
        our_answer = ours(trials, *our_args)
        their_answer = theirs(trials, *their_args)
        assert our_answer == their_answer
        assert ours(view, *our_args) == our_answer  # given the study itself: the same
        our_args, their_args = our_answer[1], their_answer[1]


def test_no_progress_loss_counts_failures_before_any_loss_as_no_progress() -> None:
    def broken(x: float) -> float:
        raise ZeroDivisionError("every trial fails")

    study = bbopt.minimize(
        broken, hp.uniform("x", 0, 1), max_evals=20, seed=0, early_stop=no_progress_loss(3)
    )
    assert len(study.trials) == 3 and study.stop_reason == "early_stop"
    losses = iter([None, None, 0.5, 0.6, 0.7, 0.8])  # two failures, then a first loss: afresh

    def later(x: float) -> float:
        loss = next(losses)
        if loss is None:
            raise ValueError("no loss yet")
        return loss

    study = bbopt.minimize(
        later, hp.uniform("x", 0, 1), max_evals=10, seed=0, early_stop=no_progress_loss(3)
    )
    assert len(study.trials) == 6 and study.stop_reason == "early_stop"
