"""bbopt.minimize: inputs, backends, stop rules, warm start, failures, trials and the Study."""

from __future__ import annotations

import itertools
import math
import time
from datetime import timezone
from typing import Any

import numpy as np
import pytest

import bbopt
from bbopt import hp
from bbopt.backends.hyperopt import HyperoptRandom, HyperoptTPE
from bbopt.errors import NoSuccessfulTrialError, UnknownNameError, UnknownOptionError
from bbopt.objectives.toy import F_STAR, X_STAR
from bbopt.space import Space
from bbopt.trial import TrialState

TOY_SPACE = hp.uniform("x", -10, 10)


def toy(x: float) -> float:
    return -np.sin(x**2) / x + 0.01 * x**2


def quadratic(params: dict[str, Any]) -> float:
    return (params["x"] - 1) ** 2 + (params["y"] + 2) ** 2


QUAD_SPACE = {"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)}


# -- what can be minimized ------------------------------------------------------------------


def test_tutorial_one_liner_finds_the_toy_optimum_like_fmin() -> None:
    from hyperopt import fmin, tpe
    from hyperopt import hp as hyperopt_hp

    study = bbopt.minimize(toy, TOY_SPACE, backend="hyperopt.tpe", max_evals=100, seed=0)
    assert len(study.trials) == 100
    # the global basin around x* = 1.0729 (seed 0 ends at x = 0.998, as fmin does)
    assert study.best_params["x"] == pytest.approx(X_STAR, abs=0.1)
    assert study.best_trial.params == study.best_params["x"]
    assert F_STAR <= study.best_loss < -0.83
    argmin = fmin(
        toy,
        hyperopt_hp.uniform("x", -10, 10),
        algo=tpe.suggest,
        max_evals=100,
        rstate=np.random.default_rng(0),
        show_progressbar=False,
    )
    assert study.best_params == argmin


def test_registered_name_runs_the_toy_objective() -> None:
    study = bbopt.minimize("toy.sin", backend="hyperopt.tpe", max_evals=100, seed=0)
    assert study.objective_name == "toy.sin" and study.f_star == F_STAR
    by_function = bbopt.minimize(toy, TOY_SPACE, backend="hyperopt.tpe", max_evals=100, seed=0)
    assert [t.flat_params for t in study.trials] == [t.flat_params for t in by_function.trials]
    assert [t.loss for t in study.trials] == pytest.approx([t.loss for t in by_function.trials])


class Shifted(bbopt.Objective):
    name = "test.shifted"
    space = QUAD_SPACE
    f_star = 0.0

    def evaluate(self, params: Any) -> float:
        return quadratic(params)


def test_objective_instance() -> None:
    study = bbopt.minimize(Shifted(), backend="hyperopt.tpe", max_evals=60, seed=1)
    assert study.objective_name == "test.shifted" and study.f_star == 0.0
    assert study.best_loss < 1.0
    assert study.best_loss == min(quadratic(t.params) for t in study.trials)


@pytest.mark.parametrize(
    ("args", "error", "pattern"),
    [
        ((toy,), ValueError, "needs a space"),
        ((Shifted(), QUAD_SPACE), ValueError, "only with a plain function"),
        (("toy.sin", TOY_SPACE), ValueError, "brings its own space"),
        ((42, TOY_SPACE), TypeError, "cannot optimize"),
        (("toy.sn",), UnknownNameError, "Did you mean 'toy.sin'"),
    ],
)
def test_bad_objective_arguments(args: tuple[Any, ...], error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        bbopt.minimize(*args, max_evals=1)


# -- backends ---------------------------------------------------------------------------------


def flat_sequence(study: bbopt.Study) -> list[dict[str, Any]]:
    return [t.flat_params for t in study.trials]


def test_backend_by_name_class_or_instance_is_the_same_search() -> None:
    def run(backend: Any) -> bbopt.Study:
        return bbopt.minimize(quadratic, QUAD_SPACE, backend=backend, max_evals=25, seed=3)

    by_name = run("hyperopt.tpe")
    assert by_name.backend_name == "hyperopt.tpe"
    assert flat_sequence(run(HyperoptTPE)) == flat_sequence(by_name)
    assert flat_sequence(run(HyperoptTPE(Space(QUAD_SPACE), seed=3))) == flat_sequence(by_name)
    assert flat_sequence(run("hyperopt.rand")) != flat_sequence(by_name)


def test_unknown_backend_lists_close_matches() -> None:
    with pytest.raises(UnknownNameError, match=r"Did you mean 'hyperopt\.tpe'") as info:
        bbopt.minimize(toy, TOY_SPACE, backend="hyperopt.tp", max_evals=1)
    assert "hyperopt.tpe" in info.value.close_matches
    assert "hyperopt.rand" in str(info.value)  # the known names are listed


@pytest.mark.parametrize(
    ("backend", "options", "pattern"),
    [
        ("hyperopt.tpe", {"n_startup": 5}, "did you mean n_startup_jobs"),
        ("hyperopt.anneal", {"shrink": 0.1}, "did you mean shrink_coef"),
        ("hyperopt.rand", {"gamma": 0.5}, "Accepted options: none"),
    ],
)
def test_unknown_backend_option_fails_before_any_trial(
    backend: str, options: dict[str, Any], pattern: str
) -> None:
    calls: list[Any] = []
    with pytest.raises(UnknownOptionError, match=pattern) as info:
        bbopt.minimize(calls.append, TOY_SPACE, backend=backend, backend_options=options)
    assert calls == []
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_options_with_a_backend_instance_are_rejected() -> None:
    backend = HyperoptRandom(Space(TOY_SPACE), seed=0)
    with pytest.raises(ValueError, match="constructor"):
        bbopt.minimize(toy, TOY_SPACE, backend=backend, backend_options={"gamma": 0.1})


# -- stop rules -------------------------------------------------------------------------------


def test_max_evals_counts_trials() -> None:
    assert len(bbopt.minimize(toy, TOY_SPACE, backend="hyperopt.rand", max_evals=7).trials) == 7
    assert bbopt.minimize(toy, TOY_SPACE, max_evals=0).trials == []
    with pytest.raises(ValueError, match="max_evals"):
        bbopt.minimize(toy, TOY_SPACE, max_evals=-1)


def test_timeout_stops_a_long_run() -> None:
    def slow(x: float) -> float:
        time.sleep(0.02)
        return x

    started = time.monotonic()
    study = bbopt.minimize(slow, TOY_SPACE, backend="hyperopt.rand", max_evals=10_000, timeout=0.3)
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2.0
    assert 3 <= len(study.trials) <= 16
    with pytest.raises(ValueError, match="timeout"):
        bbopt.minimize(slow, TOY_SPACE, timeout=0)


def test_loss_threshold_stops_at_the_first_good_enough_trial() -> None:
    study = bbopt.minimize(
        "toy.sin", backend="hyperopt.tpe", max_evals=500, seed=2, loss_threshold=-0.8
    )
    losses = [t.loss for t in study.trials]
    assert losses[-1] <= -0.8
    assert all(loss > -0.8 for loss in losses[:-1])
    assert len(losses) < 500


def test_early_stop_sees_the_study_after_each_trial() -> None:
    seen: list[int] = []

    def stop(study: bbopt.Study) -> bool:
        seen.append(len(study.trials))
        return len(study.trials) >= 7

    study = bbopt.minimize(toy, TOY_SPACE, max_evals=50, seed=0, early_stop=stop)
    assert len(study.trials) == 7
    assert seen == list(range(1, 8))  # asked after each trial, never before the first


# -- warm start ---------------------------------------------------------------------------------


COND_SPACE = {
    "opt": hp.choice("opt", [{"lr": hp.loguniform("lr", -5, 0)}, {"m": hp.uniform("m", 0, 1)}]),
    "n": hp.randint("n", 1, 4),
}


def test_points_to_evaluate_run_first() -> None:
    points = [{"opt": 1, "m": 0.5, "n": 3}, {"opt": 0, "lr": 0.01, "n": 1}]
    seen: list[Any] = []
    study = bbopt.minimize(
        lambda p: seen.append(p) or 0.0,
        COND_SPACE,
        max_evals=5,
        seed=0,
        points_to_evaluate=points,
    )
    assert seen[:2] == [{"opt": {"m": 0.5}, "n": 3}, {"opt": {"lr": 0.01}, "n": 1}]
    assert [t.flat_params for t in study.trials[:2]] == points
    assert [t.origin for t in study.trials] == ["warm_start"] * 2 + ["backend"] * 3


@pytest.mark.parametrize(
    ("point", "pattern"),
    [
        ({"opt": 1, "m": 0.5, "n": 3, "typo": 1}, "unknown parameter label"),
        ({"opt": 1, "m": 1.5, "n": 3}, "'m'.*outside"),
        ({"opt": 1, "m": 0.5, "n": 4}, "'n'.*outside"),
        ({"opt": 2, "n": 1}, "'opt'.*outside"),
        ({"opt": 0, "n": 1}, "active label 'lr'"),
    ],
)
def test_points_to_evaluate_are_validated_before_running(
    point: dict[str, Any], pattern: str
) -> None:
    calls: list[Any] = []
    with pytest.raises(ValueError, match=pattern):
        bbopt.minimize(calls.append, COND_SPACE, max_evals=5, points_to_evaluate=[point])
    assert calls == []


# -- failures -----------------------------------------------------------------------------------


def fragile(params: dict[str, Any]) -> Any:
    x = params["x"]
    if x < -2:
        return 1 / 0
    if x < 0:
        return math.nan
    if x < 2:
        return math.inf
    return x


def test_exceptions_nan_and_inf_become_failed_trials_and_the_run_goes_on() -> None:
    study = bbopt.minimize(
        fragile, {"x": hp.uniform("x", -6, 6)}, backend="hyperopt.rand", max_evals=60, seed=0
    )
    assert len(study.trials) == 60
    kinds = {"raise": 0, "nan": 0, "inf": 0, "ok": 0}
    for trial in study.trials:
        x = trial.params["x"]
        if x >= 2:
            assert trial.status == "ok" and trial.state == TrialState.DONE and trial.loss == x
            assert trial.error is None
            kinds["ok"] += 1
            continue
        assert trial.status == "fail" and trial.state == TrialState.FAILED
        assert trial.loss is None
        if x < -2:
            assert "ZeroDivisionError" in trial.error and "1 / 0" in trial.error
            kinds["raise"] += 1
        else:
            assert trial.error == ("loss is nan" if x < 0 else "loss is inf")
            kinds["nan" if x < 0 else "inf"] += 1
    assert min(kinds.values()) > 0
    assert study.best_loss == min(t.params["x"] for t in study.trials if t.params["x"] >= 2)
    failed_results = [r for r in study.results if r["status"] == "fail"]
    assert all("error" in r for r in failed_results)


@pytest.mark.parametrize(
    ("returned", "error"),
    [
        ("not a number", "loss must be a real number, got str"),
        ("1.5", "loss must be a real number, got str"),
        (True, "loss must be a real number, got bool"),
        ({"loss": "1.5"}, "loss must be a real number, got str"),
        ({"loss": 1.0, 3: "three"}, "extras keys must be strings, got 3 (int)"),
        ({"loss": 1.0, "model": object()}, "extras must be JSON-serialisable"),
        ({"status": "ok"}, "no loss"),
        ({"status": "maybe", "loss": 1.0}, "status must be"),
    ],
)
def test_bad_return_values_fail_the_trial_with_a_reason(returned: Any, error: str) -> None:
    study = bbopt.minimize(lambda x: returned, TOY_SPACE, max_evals=2)
    assert [t.status for t in study.trials] == ["fail", "fail"]
    assert error in study.trials[0].error


def test_a_study_whose_every_trial_failed_says_so() -> None:
    def broken(x: float) -> float:
        raise RuntimeError("GPU on fire")

    study = bbopt.minimize(broken, TOY_SPACE, max_evals=4)
    assert len(study.trials) == 4
    for attribute in ("best_trial", "best_params", "best_loss"):
        with pytest.raises(NoSuccessfulTrialError, match=r"\(4 failed\)") as info:
            getattr(study, attribute)
        assert "GPU on fire" in str(info.value)
    assert study.best_so_far() == [None] * 4


def test_keyboard_interrupt_keeps_finished_trials() -> None:
    def interrupted(x: float) -> float:
        if interrupted.calls == 3:  # type: ignore[attr-defined]
            raise KeyboardInterrupt
        interrupted.calls += 1  # type: ignore[attr-defined]
        return x

    interrupted.calls = 0  # type: ignore[attr-defined]
    with pytest.warns(RuntimeWarning, match="interrupted after 3 finished trials"):
        study = bbopt.minimize(interrupted, TOY_SPACE, max_evals=10)
    assert [t.state for t in study.trials] == [TrialState.DONE] * 3 + [TrialState.ABANDONED]


# -- reproducibility ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["hyperopt.tpe", "hyperopt.rand", "hyperopt.anneal"])
def test_same_seed_same_trials_different_seed_different(backend: str) -> None:
    def run(seed: int) -> list[tuple[Any, Any]]:
        study = bbopt.minimize(quadratic, QUAD_SPACE, backend=backend, max_evals=25, seed=seed)
        return [(t.flat_params, t.loss) for t in study.trials]

    first = run(11)
    assert run(11) == first
    assert run(12) != first


# -- trials and the study -------------------------------------------------------------------


def test_trial_records_everything() -> None:
    space = {
        "act": hp.choice("act", ["relu", "tanh"]),
        "units": hp.quniform("units", 5, 25, 5),
    }

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.01)
        return {
            "loss": params["units"],
            "status": "ok",
            "train_time": 0.5,
            "act_seen": params["act"],
        }

    study = bbopt.minimize(objective, space, backend="hyperopt.rand", max_evals=6, seed=9)
    assert [t.tid for t in study.trials] == list(range(6))
    for trial in study.trials:
        assert trial.params["act"] in ("relu", "tanh")  # values, not indices
        assert trial.flat_params["act"] in (0, 1)
        assert trial.params["act"] == ("relu", "tanh")[trial.flat_params["act"]]
        assert trial.params["units"] == trial.flat_params["units"] == trial.loss
        assert trial.status == "ok" and trial.error is None
        assert trial.extras == {"train_time": 0.5, "act_seen": trial.params["act"]}
        assert trial.started_at.tzinfo == timezone.utc
        assert trial.started_at <= trial.finished_at
        assert 0.01 <= trial.duration <= (trial.finished_at - trial.started_at).total_seconds()
        assert trial.backend == "hyperopt.rand" and trial.seed == 9 and trial.worker
    assert study.results == [
        {"loss": t.loss, "status": "ok", "train_time": 0.5, "act_seen": t.params["act"]}
        for t in study.trials
    ]


def test_best_trial_params_and_loss() -> None:
    space = {"c": hp.choice("c", ["small", "big"]), "x": hp.uniform("x", 0, 1)}
    study = bbopt.minimize(
        lambda p: p["x"] + (0 if p["c"] == "big" else 10), space, max_evals=30, seed=4
    )
    best = min((t for t in study.trials), key=lambda t: t.loss)
    assert study.best_trial is best
    assert study.best_loss == best.loss
    assert study.best_params == best.params and study.best_params["c"] == "big"
    curve = study.best_so_far()
    assert curve[-1] == best.loss and all(a >= b for a, b in itertools.pairwise(curve))


def test_progress_bar_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    bbopt.minimize(toy, TOY_SPACE, max_evals=3, progress=True)
    assert "3/3" in capsys.readouterr().err
    bbopt.minimize(toy, TOY_SPACE, max_evals=3, progress=False)
    assert capsys.readouterr().err == ""
