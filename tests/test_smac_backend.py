"""The SMAC3 backends: ConfigSpace conditions, faithful ask/tell, failures, output folder."""

from __future__ import annotations

import gc
import json
import logging
import math
import sys
import warnings
from pathlib import Path

import pytest
from ConfigSpace import CategoricalHyperparameter, Configuration, Constant, EqualsCondition
from smac import BlackBoxFacade, Scenario
from smac.runhistory import StatusType, TrialValue

import bbopt
from bbopt import hp
from bbopt.backends import Observation, create_backend
from bbopt.backends.smac import config_space
from bbopt.errors import MissingDependencyError, OptionValueError, UnknownOptionError
from bbopt.space import Space
from bbopt.testing import conditional_space, every_node_space
from bbopt.trial import TrialState

BOWL = Space({"x": hp.uniform("x", -5, 5), "lr": hp.loguniform("lr", -5, 0)})


def _bowl(flat: dict) -> float:
    return (flat["x"] - 1) ** 2 + (math.log(flat["lr"]) + 2) ** 2


def test_branches_become_conditions_on_their_choice() -> None:
    cs = config_space(Space(conditional_space()), seed=0)
    conditions = {
        (c.child.name, c.parent.name, c.value)
        for c in cs.conditions
        if isinstance(c, EqualsCondition)
    }
    assert conditions == {
        ("alpha", "model", 0),
        ("depth", "model", 1),
        ("split", "model", 1),
        ("k", "model", 2),
        ("w", "split", 1),
        ("norm", "split", 1),
        ("p", "norm", 1),
    }
    assert len(cs.conditions) == len(conditions)  # nothing else, nested ones chain
    norm = cs["norm"]
    assert isinstance(norm, CategoricalHyperparameter) and tuple(norm.weights) == (
        0.3,
        0.7,
    )  # pchoice
    assert cs["alpha"].log and cs["alpha"].lower == pytest.approx(math.exp(-5))
    # every distribution maps, one-value ranges as constants
    every = config_space(Space(every_node_space()), seed=0)
    assert isinstance(every["one_int"], Constant) and every["one_int"].value == 2


def test_matches_plain_smac_trial_by_trial(tmp_path: Path) -> None:
    ours = create_backend("smac.gp", BOWL, 5, {"n_trials": 12})
    seed = ours.facade_object.scenario.seed  # the SMAC seed the backend drew from its own
    scenario = Scenario(
        config_space(BOWL, seed),
        deterministic=True,
        n_trials=12,
        seed=seed,
        output_directory=tmp_path,
    )
    plain = BlackBoxFacade(scenario, target_function=None, overwrite=True, logging_level=False)
    for _ in range(6):  # 3 Sobol points (a quarter of n_trials), then the GP
        info = plain.ask()
        expected = dict(info.config)
        plain.tell(info, TrialValue(cost=_bowl(expected)), save=False)
        (suggestion,) = ours.ask(1)
        assert suggestion.flat_params == pytest.approx(expected)
        ours.tell(Observation(suggestion.flat_params, _bowl(expected), suggestion=suggestion))


def test_output_stays_in_a_temporary_folder_removed_with_the_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    backend = create_backend("smac.gp", BOWL, 0)
    output = Path(backend.facade_object.scenario.output_directory)
    assert output.exists() and tmp_path not in output.parents
    for _ in range(3):
        (s,) = backend.ask(1)
        backend.tell(Observation(s.flat_params, _bowl(s.flat_params), suggestion=s))
    # SMAC saved its (empty) history once when it started, not on each tell
    assert json.loads((output / "runhistory.json").read_text())["data"] == []
    assert list(tmp_path.iterdir()) == []  # nothing in the current folder
    del backend, s
    gc.collect()
    assert not output.exists()


def test_closing_removes_the_output_folder_and_minimize_closes(tmp_path: Path) -> None:
    backend = create_backend("smac.gp", BOWL, 0)
    output = Path(backend.facade_object.scenario.output_directory)
    backend.close()
    assert not output.exists()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        bbopt.minimize(_bowl, BOWL, backend="smac.gp", max_evals=3, seed=0)
        gc.collect()  # an unclosed backend's folder would be removed here, with a warning
    assert not [w for w in caught if "bbopt-smac-" in str(w.message)]


def test_failures_pruned_and_foreign_trials_reach_the_run_history() -> None:
    backend = create_backend("smac.gp", BOWL, 0)
    history = backend.facade_object.runhistory
    (first,) = backend.ask(1)
    backend.tell(Observation(first.flat_params, None, state=TrialState.FAILED, suggestion=first))
    assert len([v for v in history.values() if v.status is StatusType.CRASHED]) == 0  # waits
    backend.tell(Observation({"x": 1.0, "lr": math.exp(-2)}, 4.0))  # from outside
    (pruned,) = backend.ask(1)
    backend.tell(Observation(pruned.flat_params, 9.0, state=TrialState.PRUNED, suggestion=pruned))
    (failed,) = backend.ask(1)
    backend.tell(Observation(failed.flat_params, None, state=TrialState.FAILED, suggestion=failed))
    told = [
        (dict(history.get_config(key.config_id)), (value.status, value.cost))
        for key, value in history.items()
    ]

    def outcome(flat: dict) -> tuple[StatusType, float]:
        (found,) = [result for config, result in told if config == pytest.approx(flat)]
        return found

    assert outcome({"x": 1.0, "lr": math.exp(-2)}) == (StatusType.SUCCESS, 4.0)
    assert outcome(first.flat_params) == (StatusType.CRASHED, 4.0)  # the first ok loss
    assert outcome(pruned.flat_params) == (StatusType.TIMEOUT, 9.0)
    assert outcome(failed.flat_params) == (StatusType.CRASHED, 9.0)  # the worst loss so far
    seeds = {key.seed for key in history}
    assert len(seeds) == 1  # the point from outside has the seed SMAC evaluates on


def test_smac_leaves_logging_alone(capfd: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    backend = create_backend("smac.gp", BOWL, 0, {"n_trials": 8})
    for _ in range(4):
        (s,) = backend.ask(1)
        backend.tell(Observation(s.flat_params, _bowl(s.flat_params), suggestion=s))
    assert (root.handlers, root.level) == (handlers, level)
    assert logging.getLogger("smac").level == logging.NOTSET
    captured = capfd.readouterr()
    assert captured.out == "" and "INFO" not in captured.err


def test_options_are_checked() -> None:
    backend = create_backend("smac.rf", BOWL, 0, {"n_trials": 40})
    assert backend.facade_object.scenario.n_trials == 40
    with pytest.raises(OptionValueError, match=r"'n_trials' must be an integer >= 1, got 2\.5"):
        create_backend("smac.gp", BOWL, 0, {"n_trials": 2.5})
    with pytest.raises(UnknownOptionError, match="did you mean n_trials"):
        create_backend("smac.gp", BOWL, 0, {"n_trial": 10})


def test_configurations_of_outside_points_are_valid() -> None:
    space = Space(conditional_space())
    backend = create_backend("smac.gp", space, 0)
    flat = {"model": 1, "depth": 4, "split": 1, "w": 0.5, "norm": 1, "p": 3.0, "scale": 0.0}
    backend.tell(Observation(flat, 1.0))
    (config,) = backend.facade_object.runhistory.get_configs()
    assert isinstance(config, Configuration)
    assert dict(config) == {
        "model": 1,
        "depth": 4,
        "split": 1,
        "w": 0.5,
        "norm": 1,
        "p": 3,
        "scale": 0.0,
    }


@pytest.mark.parametrize(
    ("backend", "missing", "extra"), [("smac.gp", "smac", "smac"), ("smac.rf", "pyrfr", "smac-rf")]
)
def test_missing_package_names_the_extra(
    backend: str, missing: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(MissingDependencyError, match=rf"pip install 'bbopt\[{extra}\]'"):
        create_backend(backend, BOWL, 0)


@pytest.mark.parametrize("backend", ["smac.gp", "smac.rf"])
def test_a_finite_space_smac_has_exhausted_goes_on_with_random_repeats(backend: str) -> None:
    space = {"p": hp.choice("p", ["a", "b", "c"])}  # 3 configurations, 12 evaluations
    study = bbopt.minimize(lambda p: ord(p["p"]), space, backend=backend, max_evals=12, seed=0)
    assert len(study.finished_trials) == 12
    assert {t.flat_params["p"] for t in study.trials} == {0, 1, 2}
    again = bbopt.minimize(lambda p: ord(p["p"]), space, backend=backend, max_evals=12, seed=0)
    assert [t.flat_params for t in again.trials] == [t.flat_params for t in study.trials]
