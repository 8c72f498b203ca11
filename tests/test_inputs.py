"""Inputs bbopt must take or refuse cleanly, and runs that end early in a process."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bbopt
from bbopt import hp
from bbopt.space import MAX_DEPTH, Space
from bbopt.trial import TrialOrigin, TrialState

# -- search-space definitions ---------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: hp.uniform("x", np.int64(0), np.float32(2.5)),
        lambda: hp.quniform("x", np.float64(0), 10, np.int32(2)),
        lambda: hp.randint("x", np.int64(3), np.int64(9)),
        lambda: hp.normal("x", np.float32(0), np.float16(1)),
        lambda: hp.loguniformint("x", np.int64(1), 100),
        lambda: hp.pchoice("x", [(np.float64(0.25), "a"), (np.float32(0.75), "b")]),
    ],
)
def test_numpy_numbers_are_accepted_as_bounds(build: Any) -> None:
    space = Space(build())
    for seed in range(20):
        flat = space.sample_flat(np.random.default_rng(seed))
        assert space.validate_flat(flat) == flat
    dist = next(iter(space.params.values())).dist
    numbers = [getattr(dist, f) for f in ("low", "high", "mu", "sigma", "q") if hasattr(dist, f)]
    assert all(type(n) in (int, float) for n in numbers)  # stored as plain Python numbers


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: hp.loguniform("x", 0, 1000), "bounds of loguniform are logarithms"),
        (lambda: hp.qloguniform("x", -800, 1, 1), "exp"),
        (lambda: hp.randint("x", 0, 2**70), "fit in 64 bits"),
        (lambda: hp.uniformint("x", -(2**70), 0), "fit in 64 bits"),
        (lambda: hp.uniform("x", -1e308, 1e308), "too wide"),
        (lambda: hp.normal("x", 1e308, 1e307), "too large"),
        (lambda: hp.lognormal("x", 0, 100), "exp"),
        (lambda: hp.uniform("x", "0", 1), "must be a real number"),
        (lambda: hp.uniform("x", True, 2), "must be a real number"),
        (lambda: hp.loguniformint("x", 0, 10), "integers >= 1"),
        (lambda: hp.uniformint("x", 1.4, 3.6), "uniformint bounds must be integers"),
        (lambda: hp.randint("x", 0.5, 3), "randint bounds must be integers"),
        (lambda: hp.loguniformint("x", 1, 9.5), "loguniformint bounds must be integers"),
        (lambda: hp.logituniform("x", 0, 0.5), "lie in \\(0, 1\\)"),
    ],
)
def test_unusable_bounds_fail_at_definition(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_a_thousand_level_nested_choice_is_refused_at_once() -> None:
    node: Any = hp.uniform("leaf", 0, 1)
    with pytest.raises(ValueError, match=f"deeper than {MAX_DEPTH} levels"):
        for level in range(1000):
            node = hp.choice(f"c{level}", [node, level])


def test_a_deep_but_allowed_space_works() -> None:
    node: Any = hp.uniform("leaf", 0, 1)
    for level in range(MAX_DEPTH // 2 - 1):
        node = hp.choice(f"c{level}", [node, level])
    study = bbopt.minimize(lambda p: 0.0, node, backend="bbopt.random", max_evals=3, seed=0)
    assert len(study.finished_trials) == 3


# -- what objectives return ----------------------------------------------------------------


def test_extras_that_cannot_be_stored_fail_that_trial_and_the_run_goes_on(tmp_path: Path) -> None:
    def objective(x: float) -> dict[str, Any]:
        return {"loss": x, 7: "seven"} if x > 0 else {"loss": x, "fine": 1}

    study = bbopt.minimize(
        objective, hp.uniform("x", -1, 1), max_evals=12, seed=1, storage=tmp_path / "s.db"
    )
    stored = bbopt.load_study("objective", tmp_path / "s.db")
    assert len(stored.trials) == 12 and all(t.finished for t in stored.trials)
    failed = [t for t in study.trials if t.state is TrialState.FAILED]
    assert failed and all("extras keys must be strings" in (t.error or "") for t in failed)
    assert all(t.flat_params["x"] > 0 for t in failed)


MAIN_MODULE_ERROR = """
import bbopt
from bbopt import hp

class QuotaExceeded(BaseException):  # defined in __main__, not even an Exception
    pass

def objective(x):
    if x > 0:
        raise QuotaExceeded(f"quota exceeded at {x:.2f}")
    return x

if __name__ == "__main__":
    study = bbopt.minimize(objective, hp.uniform("x", -1, 1), max_evals=6, seed=0, workers=2)
    for trial in study.trials:
        if trial.state.value == "failed":
            print(trial.error.splitlines()[-1])
"""


@pytest.mark.slow
def test_an_exception_class_of_main_keeps_its_name_under_workers(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(MAIN_MODULE_ERROR))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines and all(line.startswith("QuotaExceeded: quota exceeded at") for line in lines)


# -- a run that ends early, in the same process ----------------------------------------------


class StopsOnce:
    """An objective whose ``at``-th call raises ``error`` (once)."""

    def __init__(self, at: int, error: BaseException) -> None:
        self.at, self.error, self.calls = at, error, 0

    def __call__(self, x: float) -> float:
        self.calls += 1
        if self.calls == self.at:
            raise self.error
        return (x - 1) ** 2


class Cancelled(BaseException):
    """Like asyncio's CancelledError: not an Exception, so it ends the run."""


@pytest.mark.parametrize("error", [SystemExit(3), Cancelled("cancelled")])
def test_a_trial_cut_short_in_this_process_is_abandoned_then_rerun(
    tmp_path: Path, error: BaseException
) -> None:
    db = tmp_path / "s.db"
    objective = StopsOnce(3, error)
    settings: dict[str, Any] = {"backend": "hyperopt.tpe", "seed": 4, "storage": db}
    space = hp.uniform("x", -5, 5)
    with pytest.raises(type(error)):
        bbopt.minimize(objective, space, max_evals=6, study="s", **settings)
    cut = bbopt.load_study("s", db).trials
    assert [t.state for t in cut] == [TrialState.DONE] * 2 + [TrialState.ABANDONED]
    resumed = bbopt.minimize(objective, space, max_evals=6, study="s", **settings)
    assert len(resumed.finished_trials) == 6
    rerun = [t for t in resumed.trials if t.retry_of == 2]
    assert len(rerun) == 1 and rerun[0].origin is TrialOrigin.RETRY
    assert rerun[0].flat_params == cut[2].flat_params and rerun[0].ok
    reference = bbopt.minimize(StopsOnce(-1, error), space, max_evals=6, **settings, study="ref")
    assert [t.flat_params for t in resumed.finished_trials] == [
        t.flat_params for t in reference.finished_trials
    ]  # hyperopt.tpe resumes exactly


def test_an_error_in_a_callback_leaves_no_trial_running(tmp_path: Path) -> None:
    def fragile(study: bbopt.Study, trial: bbopt.Trial) -> None:
        if trial.tid == 1:
            raise RuntimeError("callback failed")

    db = tmp_path / "s.db"
    with pytest.raises(RuntimeError, match="callback failed"):
        bbopt.minimize(
            lambda x: x * x, hp.uniform("x", -1, 1), max_evals=5, storage=db, callbacks=[fragile]
        )
    states = {t.state for t in bbopt.load_study("<lambda>", db).trials}
    assert states == {TrialState.DONE}  # trial 1 finished before its callback ran


def test_callbacks_see_every_finished_trial_in_order() -> None:
    seen: list[tuple[int, float | None, int]] = []

    def record(study: bbopt.Study, trial: bbopt.Trial) -> None:
        seen.append((trial.tid, trial.loss, len(study.finished_trials)))

    study = bbopt.minimize(
        lambda x: math.cos(x), hp.uniform("x", 0, 6), max_evals=7, seed=2, callbacks=[record]
    )
    assert seen == [(t.tid, t.loss, t.tid + 1) for t in study.trials]


def test_a_run_without_a_seed_draws_one_and_records_it() -> None:
    space = hp.uniform("x", -3, 3)
    first = bbopt.minimize(lambda x: x * x, space, backend="optuna.tpe", max_evals=12)
    assert isinstance(first.seed, int)
    assert all(t.seed == first.seed for t in first.trials)
    again = bbopt.minimize(
        lambda x: x * x, space, backend="optuna.tpe", max_evals=12, seed=first.seed
    )
    assert [t.flat_params for t in again.trials] == [t.flat_params for t in first.trials]
    other = bbopt.minimize(lambda x: x * x, space, backend="optuna.tpe", max_evals=12)
    assert other.seed != first.seed


def test_a_library_refusing_an_option_value_is_an_option_error_naming_the_backend() -> None:
    from bbopt.backends import create_backend
    from bbopt.errors import EmptySpaceError, OptionValueError

    space = {"x": hp.uniform("x", 0, 1)}
    with pytest.raises(
        OptionValueError, match=r"backend 'optuna\.qmc' refused its options \(qmc_type='foo'\)"
    ):
        create_backend("optuna.qmc", space, 0, {"qmc_type": "foo"})
    with pytest.raises(EmptySpaceError, match="needs a space"):  # no options: not about them
        create_backend("nevergrad.cma", {}, 0)


@pytest.mark.parametrize(
    ("backend", "options", "message"),
    [
        ("optuna.tpe", {"n_startup_trials": "abc"}, "'n_startup_trials' must be a number"),
        ("optuna.tpe", {"group": 1}, "'group' must be true or false"),
        ("hyperopt.tpe", {"n_startup_jobs": "5"}, "'n_startup_jobs' must be a number"),
        ("skopt.gp", {"n_initial_points": 0}, "'n_initial_points' must be an integer >= 1"),
        ("skopt.gp", {"n_initial_points": "3"}, "'n_initial_points' must be a number"),
    ],
)
def test_an_option_of_the_wrong_kind_is_refused_before_the_first_trial(
    backend: str, options: dict[str, Any], message: str
) -> None:
    """The libraries took these and failed only at a suggestion, deep inside them."""
    from bbopt.errors import OptionValueError

    with pytest.raises(OptionValueError, match=message):
        bbopt.minimize("toy.sin", backend=backend, backend_options=options, max_evals=12)
    fine = {"n_startup_trials": 5.0, "constant_liar": False}  # 5.0 works in Optuna
    assert (
        len(
            bbopt.minimize(
                "toy.sin", backend="optuna.tpe", backend_options=fine, max_evals=8
            ).trials
        )
        == 8
    )


@pytest.mark.parametrize(
    ("backend", "options", "message"),
    [
        ("hyperopt.tpe", {"gamma": -3}, "'gamma' must be > 0, got -3"),
        ("hyperopt.tpe", {"n_startup_jobs": 2.5}, "'n_startup_jobs' must be an integer >= 0"),
        ("hyperopt.tpe", {"n_EI_candidates": 0}, "'n_EI_candidates' must be an integer >= 1"),
        ("hyperopt.tpe", {"prior_weight": 0}, "'prior_weight' must be > 0, got 0"),
        ("hyperopt.anneal", {"shrink_coef": -0.1}, "'shrink_coef' must be > 0"),
    ],
)
def test_hyperopt_options_out_of_range_are_refused(
    backend: str, options: dict[str, Any], message: str
) -> None:
    """hyperopt takes these and goes on without a word (a negative gamma: no good points)."""
    from bbopt.errors import OptionValueError

    with pytest.raises(OptionValueError, match=message):
        bbopt.minimize("toy.sin", backend=backend, backend_options=options, max_evals=3)
    fine = {"gamma": 2, "n_startup_jobs": 0, "n_EI_candidates": 1, "prior_weight": 0.5}
    assert len(bbopt.minimize("toy.sin", backend_options=fine, max_evals=4, seed=0).trials) == 4


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True])
def test_a_seed_outside_what_every_backend_takes_is_refused_before_the_run(seed: Any) -> None:
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32 - 1\]"):
        bbopt.minimize("toy.sin", backend="optuna.tpe", max_evals=2, seed=seed)
    assert bbopt.minimize("toy.sin", backend="optuna.tpe", max_evals=2, seed=2**32 - 1).trials
