"""The Optuna backends: faithful to Optuna's ask/tell, define-by-run spaces, options, errors."""

from __future__ import annotations

import math
import sys

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

import bbopt
from bbopt import hp
from bbopt.backends import Observation, create_backend
from bbopt.backends.coordinates import EPS
from bbopt.errors import MissingDependencyError
from bbopt.space import Space
from bbopt.testing import conditional_space
from bbopt.trial import TrialState as BBoptState

FLAT_SPACE = Space(
    {
        "x": hp.uniform("x", -5, 5),
        "lr": hp.loguniform("lr", -5, 0),
        "c": hp.choice("c", ["a", "b", "c"]),
    }
)


def _loss(flat: dict) -> float:
    return (flat["x"] - 1) ** 2 + math.log(flat["lr"]) ** 2 / 10 + flat["c"]


def _assert_same_trials(backend_name: str, options: dict, sampler: object, n: int) -> None:
    """The backend suggests, trial by trial, what plain Optuna with ``sampler`` does."""
    backend = create_backend(backend_name, FLAT_SPACE, 3, options)
    study = optuna.create_study(sampler=sampler)
    for _ in range(n):
        trial = study.ask()
        expected = {
            "x": trial.suggest_float("x", -5, 5),
            "lr": trial.suggest_float("lr", math.exp(-5), 1.0, log=True),
            "c": trial.suggest_categorical("c", [0, 1, 2]),
        }
        study.tell(trial, _loss(expected))
        (suggestion,) = backend.ask(1)
        assert suggestion.flat_params == pytest.approx(expected)
        backend.tell(
            Observation(suggestion.flat_params, suggestion=suggestion, loss=_loss(expected))
        )
    assert type(backend.study.sampler) is type(sampler)


def test_tpe_matches_plain_optuna_trial_by_trial() -> None:
    sampler = optuna.samplers.TPESampler(seed=3, multivariate=True, constant_liar=True)
    _assert_same_trials("optuna.tpe", {}, sampler, 25)


@pytest.mark.slow
def test_botorch_matches_plain_optuna_with_the_botorch_sampler() -> None:
    from optuna_integration import BoTorchSampler

    # 3 random start-up trials, then BoTorch's acquisition function
    sampler = BoTorchSampler(seed=3, n_startup_trials=3, consider_running_trials=True)
    _assert_same_trials("optuna.botorch", {"n_startup_trials": 3}, sampler, 5)


def test_options_reach_the_sampler_and_the_seed_is_the_sampler_seed() -> None:
    def run(name: str, options: dict) -> list[dict]:
        backend = create_backend(name, FLAT_SPACE, 5, options)
        points = []
        for _ in range(14):
            (s,) = backend.ask(1)
            backend.tell(Observation(s.flat_params, suggestion=s, loss=_loss(s.flat_params)))
            points.append(s.flat_params)
        return points

    random = run("optuna.random", {})
    # TPE draws its start-up trials with a random sampler of the same seed
    assert run("optuna.tpe", {"n_startup_trials": 50}) == random
    default = run("optuna.tpe", {})
    assert default[:10] == random[:10] and default[10:] != random[10:]


def test_conditional_space_is_walked_define_by_run() -> None:
    space = Space(conditional_space())
    backend = create_backend("optuna.tpe", space, 0)
    assert backend.study.sampler._group  # grouped TPE for a conditional space
    for _ in range(15):
        (s,) = backend.ask(1)
        backend.tell(Observation(s.flat_params, suggestion=s, loss=float(s.flat_params["model"])))
    for trial in backend.study.trials:
        assert list(trial.params) == space.active_labels(trial.params)
        assert trial.distributions["model"] == CategoricalDistribution([0, 1, 2])
        if "p" in trial.params:  # quniform(1, 4, 1): an integer grid index
            assert trial.distributions["p"] == IntDistribution(1, 4)
    assert not create_backend("optuna.tpe", FLAT_SPACE, 0).study.sampler._group


def test_failed_and_foreign_trials_enter_the_study() -> None:
    space = Space({"n": hp.normal("n", 0, 1), "lr": hp.loguniform("lr", -5, 0)})
    backend = create_backend("optuna.tpe", space, 0)
    (s,) = backend.ask(1)
    backend.tell(Observation(s.flat_params, None, state=BBoptState.FAILED, suggestion=s))
    backend.tell(Observation({"n": 1.0, "lr": 0.1}, 2.5))
    backend.tell(Observation({"n": -20.0, "lr": 0.2}, None, state=BBoptState.FAILED))
    states = [t.state for t in backend.study.trials]
    assert states == [TrialState.FAIL, TrialState.COMPLETE, TrialState.FAIL]
    warm = backend.study.trials[1]
    assert warm.value == 2.5
    # a normal is stored as its quantile, clipped far in the tails
    assert warm.params == {"n": pytest.approx(0.8413447), "lr": pytest.approx(0.1)}
    assert warm.distributions["n"] == FloatDistribution(EPS, 1 - EPS)
    assert backend.study.trials[2].params["n"] == EPS
    assert space.validate_flat(backend.ask(1)[0].flat_params)  # it goes on suggesting


def test_no_logging_per_study_or_trial(capfd: pytest.CaptureFixture[str]) -> None:
    study = bbopt.minimize("toy.sin", backend="optuna.tpe", max_evals=30, seed=0)
    captured = capfd.readouterr()
    assert "Trial" not in captured.err and "study created" not in captured.err
    assert study.best_loss < -0.5


@pytest.mark.parametrize(
    ("backend", "missing", "extra"),
    [
        ("optuna.tpe", "optuna", "optuna"),
        ("optuna.cmaes", "cmaes", "cmaes"),
        ("optuna.gp", "torch", "gp"),
        ("optuna.botorch", "botorch", "botorch"),
        ("optuna.botorch", "optuna_integration", "botorch"),
    ],
)
def test_missing_package_names_the_extra(
    backend: str, missing: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import missing` fail
    with pytest.raises(MissingDependencyError, match=rf"pip install 'bbopt\[{extra}\]'"):
        create_backend(backend, FLAT_SPACE, 0)


def test_a_backend_leaves_optunas_log_level_as_the_user_set_it() -> None:
    before = optuna.logging.get_verbosity()
    try:
        optuna.logging.set_verbosity(optuna.logging.DEBUG)
        backend = create_backend("optuna.tpe", FLAT_SPACE, 0)
        (suggestion,) = backend.ask(1)
        backend.tell(Observation(suggestion.flat_params, 1.0, suggestion=suggestion))
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(before)
