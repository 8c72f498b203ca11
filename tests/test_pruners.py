"""Pruners: the conformance suite on each, their rules on hand-made histories, reports
through minimize (serial, stored, resumed), what backends are told, parallel pruning."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

import bbopt
from bbopt import hp
from bbopt.backends import Observation, create_backend
from bbopt.errors import (
    NoSuccessfulTrialError,
    OptionValueError,
    UnknownNameError,
    UnknownOptionError,
)
from bbopt.objective import Fidelity, FunctionObjective
from bbopt.pruners import Pruner, create_pruner, list_pruners
from bbopt.pruners.hyperband import bracket_of, bracket_weights
from bbopt.reporting import Reporter, TrialPruned, is_pruning, reporting_to
from bbopt.testing import (
    PrunerUnderTest,
    check_pruner,
    parametrize_with_pruner_checks,
)
from bbopt.trial import Trial, TrialState

OPTIONS: dict[str, dict[str, Any]] = {"threshold": {"upper": 5.0}}


@parametrize_with_pruner_checks([PrunerUnderTest(n, OPTIONS.get(n, {})) for n in list_pruners()])
def test_conformance(target: PrunerUnderTest, check: Any) -> None:
    check(target)


def test_the_six_pruners_are_registered_and_listed_by_the_cli() -> None:
    assert set(list_pruners()) >= {
        "median",
        "percentile",
        "successive_halving",
        "hyperband",
        "threshold",
        "patient",
    }
    check_pruner("patient", options={"patience": 2, "wrapped": "median"})


# -- the suite catches broken pruners ----------------------------------------------------


class StopsEverything(Pruner):
    name = "stops-everything"

    def prune(self, trials: Any, trial: Trial) -> bool:
        return True


class NeverStops(Pruner):
    name = "never-stops"

    def prune(self, trials: Any, trial: Trial) -> bool:
        return False


class Forgetful(Pruner):
    """Decides from how often it was asked: state a resumed study does not have."""

    name = "forgetful"

    def __init__(self) -> None:
        self.calls = 0

    def prune(self, trials: Any, trial: Trial) -> bool:
        self.calls += 1
        return self.calls > 3


class Meddling(NeverStops):
    name = "meddling"

    def prune(self, trials: Any, trial: Trial) -> bool:
        for other in trials:
            other.intermediate.pop(0, None)
        return False


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (StopsEverything, "check_keeps_the_best"),
        (NeverStops, "check_stops_a_hopeless_trial"),
        (Forgetful, "check_decisions_follow_from_the_trials"),
        (Meddling, "check_any_history"),
    ],
)
def test_the_suite_catches_a_broken_pruner(broken: type[Pruner], check: str) -> None:
    with pytest.raises(AssertionError, match=check):
        check_pruner(broken)


# -- names and options ---------------------------------------------------------------------


def test_names_and_options_are_checked() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'median'"):
        create_pruner("medain")
    with pytest.raises(UnknownOptionError) as info:
        create_pruner("hyperband", {"reduction": 3})
    message = str(info.value)
    assert "pruner 'hyperband' does not accept option(s) 'reduction'" in message
    assert "reduction_factor" in message and "max_resource" in message
    with pytest.raises(OptionValueError, match="'reduction_factor' must be an integer >= 2"):
        create_pruner("successive_halving", {"reduction_factor": 1})
    with pytest.raises(OptionValueError, match="needs option 'lower', 'upper'"):
        create_pruner("threshold")
    for bad in ({"max_resource": -5}, {"max_resource": 1, "min_resource": 5}):
        with pytest.raises(OptionValueError, match="'max_resource' must be > min_resource"):
            create_pruner("hyperband", bad)
    with pytest.raises(OptionValueError, match="'wrapped' must be a pruner name, got 5"):
        create_pruner("patient", {"wrapped": 5})
    with pytest.raises(OptionValueError, match="'wrapped_options' must be a mapping"):
        create_pruner("patient", {"wrapped": "median", "wrapped_options": [1]})
    with pytest.raises(OptionValueError, match="'n_startup_trials' must be an integer >= 0"):
        create_pruner("patient", {"wrapped": "median", "wrapped_options": {"n_startup_trials": -1}})
    with pytest.raises(ValueError, match="pruner_options need a pruner"):
        bbopt.minimize(lambda p: p, hp.uniform("x", 0, 1), pruner_options={"a": 1})


# -- rules on hand-made histories -----------------------------------------------------------


def _done(tid: int, values: dict[int, float], state: TrialState = TrialState.DONE) -> Trial:
    return Trial(tid, {}, state=state, loss=list(values.values())[-1], intermediate=values)


def _running(tid: int, values: dict[int, float]) -> Trial:
    return Trial(tid, {}, state=TrialState.RUNNING, intermediate=dict(values))


def test_median_compares_the_best_so_far_with_finished_trials_at_the_same_step() -> None:
    history = [_done(i, {1: 9.0, 3: float(v)}) for i, v in enumerate([1, 2, 3, 4, 5])]
    history.append(_done(5, {3: 0.0}, TrialState.PRUNED))  # pruned trials are no reference
    pruner = create_pruner("median")
    for values, expected in [({1: 9.0, 3: 3.5}, True), ({1: 9.0, 3: 2.5}, False)]:
        trial = _running(6, values)
        assert pruner.prune([*history, trial], trial) is expected
    early = _running(6, {1: 10.0, 2: 50.0})  # nobody else reported step 2
    assert pruner.prune([*history, early], early) is False
    lenient = create_pruner("median", {"n_startup_trials": 6})  # only 5 finished
    trial = _running(6, {3: 100.0})
    assert lenient.prune([*history, trial], trial) is False
    late = create_pruner("percentile", {"percentile": 90.0, "n_warmup_steps": 5})
    assert late.prune([*history, trial], trial) is False


def test_one_median_pruner_decides_in_a_second_study_as_a_fresh_one() -> None:
    pruner = create_pruner("median", {"n_startup_trials": 1})
    done = _done(0, {1: 1.0, 2: 1.0, 3: 1.0})
    first = _running(1, {1: 0.5, 2: 0.5})
    assert not pruner.prune([done, first], first)
    # another study's trial 1, far behind, reports step 3 right after its step 2
    other = _running(1, {1: 100.0, 2: 100.0, 3: 100.0})
    assert pruner.prune([done, other], other)


def test_successive_halving_decides_at_once_with_the_trials_at_the_rung() -> None:
    pruner = create_pruner("successive_halving", {"min_resource": 1, "reduction_factor": 3})
    leader = _running(0, {1: 0.5})
    assert not pruner.prune([leader], leader)  # alone at the rung: goes on, nobody waited for
    second = _running(1, {1: 0.7})
    assert pruner.prune([leader, second], second)  # behind the only other one at rung 1
    four = [_done(i, {1: v, 2: v}) for i, v in enumerate([0.1, 0.2, 0.3, 0.4])]
    fifth = _running(4, {1: 0.25})
    assert pruner.prune([*four, fifth], fifth)  # 5 at the rung: only the best goes on
    sixth = _running(5, {1: 0.15})
    assert not pruner.prune([*four, _done(4, {1: 0.25}), sixth], sixth)  # 6: the best two
    between = _running(6, {1: 0.05, 2: 9.0})  # step 2 is no rung: nothing to decide
    assert not pruner.prune([*four, between], between)
    jump = _running(7, {1: 0.05, 5: 9.0})  # passes rung 3 at step 5, far behind
    others = [_done(10 + i, {3: 0.1 * i}) for i in range(3)]
    assert pruner.prune([*others, jump], jump)


def test_hyperband_brackets_follow_the_trial_ids_with_hyperbands_weights() -> None:
    weights = bracket_weights(4, 3)  # min 1, max 27, eta 3: brackets 0..3
    assert weights == [27, 12, 6, 4]
    brackets = [bracket_of(tid, weights) for tid in range(4900)]
    shares = [brackets.count(b) / len(brackets) for b in range(4)]
    for share, weight in zip(shares, weights, strict=True):
        assert share == pytest.approx(weight / sum(weights), abs=0.03)
    pruner = create_pruner("hyperband", fidelity=Fidelity("epochs", 1, 27))
    assert pruner.fidelity is not None and pruner.fidelity.max == 27
    gentle = next(tid for tid in range(100) if bracket_of(tid, weights) == 3)
    behind = _running(gentle, {9: 100.0})  # the last bracket's only rung is step 27, the end
    peers = [_done(t, {27: 0.1}) for t in range(100) if bracket_of(t, weights) == 3 and t != gentle]
    behind.intermediate[27] = 100.0
    assert not pruner.prune([*peers, behind], behind)  # as Hyperband: it runs its trials out
    first, *others = [t for t in range(100) if bracket_of(t, weights) == 0]
    eager = _running(first, {1: 100.0})  # the first bracket stops it at its first rung
    assert pruner.prune([*(_done(t, {1: 0.1, 27: 0.1}) for t in others), eager], eager)


# -- reports ---------------------------------------------------------------------------------


def test_report_outside_a_trial_does_nothing_and_checks_its_arguments() -> None:
    bbopt.report(1, 0.5)  # an objective called by hand
    assert not is_pruning()
    reporter = Reporter()
    with reporting_to(reporter):
        bbopt.report(0, 1.0)
        bbopt.report(2, float("nan"))
        with pytest.raises(ValueError, match="steps must increase: step 2 after step 2"):
            bbopt.report(2, 0.5)
        with pytest.raises(ValueError, match="must be an integer >= 0, got True"):
            bbopt.report(True, 0.5)
        with pytest.raises(ValueError, match=r"must be an integer >= 0, got 1\.5"):
            bbopt.report(1.5, 0.5)
        with pytest.raises(ValueError, match="loss must be a real number"):
            bbopt.report(3, "0.5")
    assert math.isnan(reporter.intermediate[2]) and reporter.last_value is None


def _curves(params: dict[str, float]) -> float:
    level = (params["x"] - 1) ** 2
    for step in range(1, 10):
        bbopt.report(step, level + 1 / step)
    return level


SPACE = {"x": hp.uniform("x", -5, 5)}


def test_reports_are_kept_without_a_pruner_and_a_pruned_trial_keeps_them() -> None:
    plain = bbopt.minimize(_curves, SPACE, backend="bbopt.random", max_evals=4, seed=1)
    assert all(t.state is TrialState.DONE for t in plain.trials)
    assert all(list(t.intermediate) == list(range(1, 10)) for t in plain.trials)
    pruned = bbopt.minimize(
        _curves, SPACE, backend="bbopt.random", max_evals=12, seed=1, pruner="successive_halving"
    )
    stopped = [t for t in pruned.trials if t.state is TrialState.PRUNED]
    assert stopped and all(t.status == "fail" for t in stopped)
    for trial in stopped:
        step, value = list(trial.intermediate.items())[-1]
        assert trial.loss == value and step in (1, 3, 9)
    assert pruned.best_trial.state is TrialState.DONE


def test_an_objective_that_cleans_up_and_returns_after_being_told_is_done() -> None:
    def stubborn(params: dict[str, float]) -> float:
        try:
            bbopt.report(1, 100.0)
        except TrialPruned:
            return 100.0
        return 0.0

    study = bbopt.minimize(
        stubborn, SPACE, max_evals=2, seed=0, pruner="threshold", pruner_options={"upper": 1}
    )
    assert [t.state for t in study.trials] == [TrialState.DONE] * 2
    assert [t.loss for t in study.trials] == [100.0, 100.0]


def test_a_study_whose_every_trial_was_pruned_says_so() -> None:
    def hopeless(params: dict[str, float]) -> float:
        bbopt.report(1, 100.0)
        return 100.0

    study = bbopt.minimize(
        hopeless, SPACE, max_evals=3, seed=0, pruner="threshold", pruner_options={"upper": 1}
    )
    with pytest.raises(NoSuccessfulTrialError, match=r"succeeded \(3 pruned\)$"):
        _ = study.best_trial


def test_a_pruned_trial_is_stored_as_pruned_with_its_reports_and_survives_resume(
    tmp_path: Path,
) -> None:
    storage = tmp_path / "studies.db"
    settings: dict[str, Any] = {
        "backend": "hyperopt.tpe",
        "seed": 4,
        "storage": storage,
        "study": "curves",
        "pruner": "median",
        "pruner_options": {"n_startup_trials": 2},
    }
    first = bbopt.minimize(_curves, SPACE, max_evals=10, **settings)
    pruned = {t.tid: t for t in first.trials if t.state is TrialState.PRUNED}
    assert pruned
    loaded = bbopt.load_study("curves", storage)
    for tid, trial in pruned.items():
        stored = loaded.trial(tid)
        assert stored is not None and stored.state is TrialState.PRUNED
        assert stored.intermediate == trial.intermediate and stored.loss == trial.loss
    resumed = bbopt.minimize(_curves, SPACE, max_evals=20, **settings)
    assert len(resumed.trials) == 20
    for tid, trial in pruned.items():
        again = resumed.trial(tid)
        assert again is not None and again.state is TrialState.PRUNED
        assert again.intermediate == trial.intermediate
    at_once = bbopt.minimize(_curves, SPACE, max_evals=20, **{**settings, "storage": None})
    assert [(t.state, t.intermediate) for t in resumed.trials] == [
        (t.state, t.intermediate) for t in at_once.trials
    ]


def test_backends_are_told_pruned_trials_with_their_last_value_and_step() -> None:
    space = bbopt.Space(SPACE)
    hyperopt = create_backend("hyperopt.tpe", space, 0)
    (suggestion,) = hyperopt.ask(1)
    pruned = Observation(
        suggestion.flat_params, 0.7, TrialState.PRUNED, suggestion=suggestion, budget=3.0
    )
    hyperopt.tell(pruned)
    assert suggestion.handle["result"] == {"status": "ok", "loss": 0.7}  # learned from
    optuna = create_backend("optuna.tpe", space, 0)
    (suggestion,) = optuna.ask(1)
    optuna.tell(dataclasses.replace(pruned, suggestion=suggestion))
    optuna.tell(Observation({"x": 0.5}, 0.9, TrialState.PRUNED, budget=5.0))
    told = optuna.study.trials
    assert [t.state.name for t in told] == ["PRUNED", "PRUNED"]
    assert [t.intermediate_values for t in told] == [{3: 0.7}, {5: 0.9}]


class FidelitySpy(NeverStops):
    name = "fidelity-spy"
    seen: ClassVar[list[Fidelity | None]] = []

    def prune(self, trials: Any, trial: Trial) -> bool:
        self.seen.append(self.fidelity)
        return False


def test_the_pruner_gets_the_objectives_fidelity() -> None:
    fidelity = Fidelity("steps", 1, 9)
    objective = FunctionObjective(_curves, SPACE, fidelity=fidelity)
    bbopt.minimize(objective, max_evals=2, seed=0, pruner=FidelitySpy)
    assert FidelitySpy.seen == [fidelity] * 16  # 8 steps each: not asked at the last one
    with pytest.raises(ValueError, match="needs 0 < min < max"):
        Fidelity("epochs", 5, 1)


def test_a_trial_that_reached_the_fidelitys_end_is_done_not_pruned() -> None:
    settings: dict[str, Any] = {"backend": "bbopt.random", "max_evals": 30, "seed": 1}
    unknown_end = bbopt.minimize(_curves, SPACE, pruner="successive_halving", **settings)
    assert any(  # without a fidelity ASHA's step 9 is a rung like the others
        t.state is TrialState.PRUNED and max(t.intermediate) == 9 for t in unknown_end.trials
    )
    for pruner in ("successive_halving", "hyperband"):
        settings["pruner"] = pruner
        objective = FunctionObjective(_curves, SPACE, fidelity=Fidelity("steps", 1, 9))
        known_end = bbopt.minimize(objective, **settings)
        at_end = [t for t in known_end.trials if max(t.intermediate) == 9]
        assert at_end and all(t.state is TrialState.DONE for t in at_end), pruner
        assert any(t.state is TrialState.PRUNED for t in known_end.trials), pruner


# -- parallel ----------------------------------------------------------------------------------

SLOW_STEP_SECONDS = 0.4


def _one_slow_leader(params: dict[str, float]) -> float:
    """The point x=1 is good and slow; every other point is bad and quick."""
    leader = params["x"] == 1.0
    if not leader:
        time.sleep(0.05)  # the leader's first report is in before
    for step in range(1, 5):
        bbopt.report(step, 0.0 if leader else 10.0)
        if leader:
            time.sleep(SLOW_STEP_SECONDS)
    return 0.0 if leader else 10.0


@pytest.mark.slow
@pytest.mark.parametrize("executor", [None, "dask"])
def test_asha_in_parallel_prunes_without_waiting_for_a_rung_to_fill(executor: str | None) -> None:
    study = bbopt.minimize(
        _one_slow_leader,
        {"x": hp.uniform("x", 1, 2)},
        points_to_evaluate=[{"x": 1.0}],
        backend="bbopt.random",
        max_evals=7,
        seed=0,
        workers=2,
        executor=executor,
        pruner="successive_halving",
        # up to 7 trials at rung 1: only the best one goes on
        pruner_options={"min_resource": 1, "reduction_factor": 4},
    )
    leader = study.trials[0]
    assert leader.state is TrialState.DONE and list(leader.intermediate) == [1, 2, 3, 4]
    others = study.trials[1:]
    assert all(t.state is TrialState.PRUNED and list(t.intermediate) == [1] for t in others)
    assert leader.finished_at is not None
    # Pruned at rung 1 one after the other, with the leader still running: nobody
    # waited for the rung to hold reduction_factor trials, nor for the leader.
    during = [t for t in others if t.finished_at is not None and t.finished_at < leader.finished_at]
    assert len(during) >= 3
    assert {t.worker for t in study.trials} != {leader.worker}


# -- exports, plots, command line ----------------------------------------------------------


@pytest.fixture(scope="module")
def curves_study() -> bbopt.Study:
    return bbopt.minimize(
        _curves, SPACE, backend="bbopt.random", max_evals=10, seed=2, pruner="successive_halving"
    )


def test_exports_hold_every_report(curves_study: bbopt.Study, tmp_path: Path) -> None:
    study = curves_study
    rows = study.rows()
    for row, trial in zip(rows, study.trials, strict=True):
        assert row["last_step"] == list(trial.intermediate)[-1]
        assert {int(k): v for k, v in json.loads(row["intermediate"]).items()} == (
            trial.intermediate
        )
    long = study.intermediate_rows()
    assert len(long) == sum(len(t.intermediate) for t in study.trials)
    frame = study.intermediate_dataframe()
    assert list(frame.columns) == ["tid", "state", "step", "value"] and len(frame) == len(long)
    pruned = frame[frame.state == "pruned"]
    assert len(pruned) and pruned.groupby("tid").step.max().isin([1, 3, 9]).all()
    with (study.to_csv(tmp_path / "curves.csv", intermediate=True)).open() as handle:
        read = list(csv.DictReader(handle))
    assert [(int(r["tid"]), int(r["step"]), float(r["value"])) for r in read] == [
        (r["tid"], r["step"], r["value"]) for r in long
    ]
    data = json.loads(study.to_json(tmp_path / "study.json").read_text())
    assert [t["intermediate"] for t in data["trials"]] == [
        {str(k): v for k, v in t.intermediate.items()} for t in study.trials
    ]


def test_plot_intermediate_draws_every_curve_and_marks_the_pruned(
    curves_study: bbopt.Study, tmp_path: Path
) -> None:
    path = tmp_path / "curves.png"
    figure = curves_study.plot_intermediate(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (axes,) = figure.axes
    pruned = [t for t in curves_study.trials if t.state is TrialState.PRUNED]
    lines = axes.get_lines()
    assert len(lines) == len(curves_study.trials) + len(pruned)  # a curve each, a cross each
    crosses = [line for line in lines if line.get_marker() == "x"]
    assert sorted((c.get_xdata()[0], c.get_ydata()[0]) for c in crosses) == sorted(
        list(t.intermediate.items())[-1] for t in pruned
    )
    empty = bbopt.minimize(lambda p: p["x"], SPACE, max_evals=2, seed=0).plot_intermediate()
    assert "no trial reported" in empty.axes[0].texts[0].get_text()


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bbopt.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line_lists_runs_with_and_checks_pruners(tmp_path: Path) -> None:
    listing = _cli("pruners")
    assert listing.returncode == 0
    assert {line.split()[0] for line in listing.stdout.splitlines()} == set(list_pruners())
    ran = _cli("run", "toy.sin", "--max-evals", "3", "--seed", "0", "--quiet", "--pruner",
               "threshold", "--pruner-option", "upper=1")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    for args, text in [
        (("--pruner", "medain"), "Did you mean 'median'"),
        (("--pruner", "median", "--pruner-option", "startup=2"), "n_startup_trials"),
        (("--pruner", "median", "--pruner-option", "interval_steps=0"), "must be an integer"),
        (("--pruner-option", "upper=1"), "--pruner-option needs --pruner"),
    ]:
        done = _cli("run", "toy.sin", "--max-evals", "1", "--quiet", *args)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert text in done.stderr.splitlines()[-1]
    storage = tmp_path / "studies.db"
    bbopt.minimize(_curves, SPACE, max_evals=4, seed=0, storage=storage, study="curves",
                   pruner="successive_halving")  # fmt: skip
    plotted = _cli("plot", "curves", "--storage", storage, "-o", tmp_path / "figures")
    assert plotted.returncode == 0, plotted.stderr
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "curves-history.png",
        "curves-intermediate.png",
        "curves-params.png",
    ]


def test_the_percentile_is_numpys_linear_percentile() -> None:
    import numpy as np

    from bbopt.pruners.percentile import percentile

    rng = np.random.default_rng(0)
    for size in (1, 2, 5, 30):
        values = list(rng.normal(size=size))
        for q in (0.0, 10.0, 25.0, 50.0, 99.0, 100.0):
            assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


# -- two processes on one shared SQLite study -----------------------------------------------

OTHER_DRIVER = """
import sys, time
from pathlib import Path
import bbopt
from bbopt import hp

def shared(params):
    bbopt.report(1, 5.0)
    time.sleep(1.2)  # the next report is written (reports are stored at most once a second)
    bbopt.report(2, 0.0)
    deadline = time.monotonic() + 60
    while not Path(sys.argv[2]).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return 0.0

bbopt.minimize(shared, {"x": hp.uniform("x", 0, 1)}, backend="bbopt.random", max_evals=2,
               seed=1, storage=sys.argv[1], study="shared", pruner="threshold",
               pruner_options={"upper": 1e9})
"""


def _wait_for_report(path: Path, step: int, value: float) -> None:
    """Until the shared study holds a running trial that reported ``value`` at ``step``."""
    storage = bbopt.storage.SQLiteStorage(path)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            trials = storage.get_trials("shared") if storage.get_study("shared") else []
            if any(t.intermediate.get(step) == value for t in trials):
                return
            time.sleep(0.05)
    finally:
        storage.close()
    raise AssertionError(f"the other driver never reported {value} at step {step}")


@pytest.mark.slow
def test_a_pruner_counts_the_running_reports_of_another_process(tmp_path: Path) -> None:
    """Another driver's trial, running, reports 5 then 0; ours 1 then 1. ASHA (rungs 1, 2,
    the best half goes on) lets ours pass rung 1 and stops it at rung 2, where the other
    trial, still running, reported better: its report was read from the shared study."""
    path, done = tmp_path / "shared.db", tmp_path / "done"
    other = subprocess.Popen([sys.executable, "-c", OTHER_DRIVER, str(path), str(done)])
    try:

        def shared(params: dict[str, float]) -> float:
            _wait_for_report(path, 1, 5.0)
            bbopt.report(1, 1.0)
            _wait_for_report(path, 2, 0.0)
            bbopt.report(2, 1.0)
            return 1.0

        study = bbopt.minimize(
            shared,
            {"x": hp.uniform("x", 0, 1)},
            backend="bbopt.random",
            max_evals=2,
            seed=0,
            storage=path,
            study="shared",
            pruner="successive_halving",
            pruner_options={"min_resource": 1, "reduction_factor": 2},
        )
    finally:
        done.touch()
        assert other.wait(timeout=60) == 0
    ours = next(t for t in study.trials if t.owner == study.owner)
    assert ours.state is TrialState.PRUNED and ours.intermediate == {1: 1.0, 2: 1.0}
