"""Multi-fidelity: the mf.* functions, budgets from a backend to the objective, BOHB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import bbopt
from bbopt.backends.bohb import hyperband_brackets
from bbopt.errors import OptionValueError
from bbopt.objectives import multifidelity as mf
from bbopt.objectives import synthetic
from bbopt.objectives.wine import WineClassifier
from bbopt.reporting import Reporter, reporting_to
from bbopt.trial import TrialState

PAIRS = [
    (mf.MF_HARTMANN3, synthetic.hartmann3),
    (mf.MF_HARTMANN6, synthetic.hartmann6),
    (mf.MF_BRANIN, synthetic.branin),
]


@pytest.mark.parametrize(("objective", "full"), PAIRS, ids=lambda o: getattr(o, "name", ""))
def test_full_fidelity_is_the_function_itself_and_lower_ones_are_biased(
    objective: bbopt.FunctionObjective, full: object
) -> None:
    assert objective.fidelity == bbopt.Fidelity("steps", 1, mf.STEPS)
    assert objective.evaluate(objective.x_star)["loss"] == pytest.approx(objective.f_star)
    space = bbopt.Space(objective.space)
    rng = np.random.default_rng(0)
    for _ in range(20):
        params = space.to_params(space.sample_flat(rng))
        result = objective.evaluate(params)
        assert result["loss"] == pytest.approx(full(params))  # type: ignore[operator]
        assert (result["cost"], result["fidelity"]) == (1.0, 1.0)
        reporter = Reporter(budget=3.2)
        with reporting_to(reporter):
            cheap = objective.evaluate(params)
        assert list(reporter.intermediate) == [1, 2, 3]
        assert cheap["fidelity"] == 3 / mf.STEPS and cheap["cost"] == pytest.approx(mf.cost(1 / 9))
        assert cheap["loss"] == reporter.intermediate[3] != result["loss"]
    assert mf.cost(1 / mf.STEPS) < 0.06 and mf.cost(1.0) == 1.0


def test_hyperband_brackets_have_the_papers_sizes_and_budgets() -> None:
    brackets = hyperband_brackets(1, 27, 3)
    assert [b.sizes for b in brackets] == [[27, 9, 3, 1], [12, 4, 1], [6, 2], [4]]
    assert [b.budgets for b in brackets] == [[1, 3, 9, 27], [3, 9, 27], [9, 27], [27]]


def test_bohb_gives_budgets_promotes_the_best_and_the_objective_spends_them(
    tmp_path: Path,
) -> None:
    storage = tmp_path / "studies.db"
    study = bbopt.minimize(
        "mf.hartmann3", backend="bbopt.bohb", max_evals=40, seed=0, storage=storage
    )
    trials = study.trials
    assert [t.budget for t in trials[:27]] == [1.0] * 27  # bracket 0, rung 0
    assert [t.budget for t in trials[27:36]] == [3.0] * 9  # its best third, promoted
    best_ninth = sorted(trials[:27], key=lambda t: (t.loss, t.tid))[:9]
    assert [t.flat_params for t in trials[27:36]] == [t.flat_params for t in best_ninth]
    for trial in trials:
        assert trial.budget is not None and len(trial.intermediate) == round(trial.budget)
        assert trial.extras["fidelity"] == round(trial.budget) / mf.STEPS
    stored = bbopt.load_study("mf.hartmann3", storage)
    assert [t.budget for t in stored.trials] == [t.budget for t in trials]
    assert study.rows()[30]["budget"] == 3.0


def test_bohb_without_budgets_says_what_it_needs() -> None:
    with pytest.raises(OptionValueError, match="needs budgets: an objective that declares"):
        bbopt.minimize("toy.sin", backend="bbopt.bohb", max_evals=2, seed=0)
    with pytest.raises(OptionValueError, match="'eta' must be an integer >= 2"):
        bbopt.create_backend("bbopt.bohb", bbopt.Space(mf.MF_BRANIN.space), 0, {"eta": 1})
    for backend in ("bbopt.bohb", "dehb.dehb"):  # budgets the objective would not run
        for budgets in ({"min_budget": 9, "max_budget": 81}, {"min_budget": 0.1, "max_budget": 1}):
            with pytest.raises(OptionValueError, match="must lie in the objective's fidelity"):
                bbopt.minimize("mf.branin", backend=backend, backend_options=budgets, max_evals=2)
    inside = {"min_budget": 3, "max_budget": 27}
    study = bbopt.minimize("mf.branin", backend="bbopt.bohb", backend_options=inside, max_evals=3)
    assert [t.budget for t in study.trials] == [3.0] * 3


@pytest.mark.slow
def test_budgets_reach_worker_processes_and_keras_trains_that_many_epochs() -> None:
    parallel = bbopt.minimize("mf.branin", backend="bbopt.bohb", max_evals=12, seed=1, workers=2)
    assert all(len(t.intermediate) == round(t.budget or 0) for t in parallel.trials)
    study = bbopt.minimize(
        WineClassifier(epochs=9),
        backend="bbopt.bohb",
        backend_options={"eta": 3},
        max_evals=4,
        seed=0,
    )
    assert [t.budget for t in study.trials] == [1.0] * 4
    for trial in study.trials:
        assert trial.state is TrialState.DONE and trial.extras["epochs"] == 1
        assert list(trial.intermediate) == [1]


def test_dehb_gives_hyperbands_budgets_and_learns_only_its_own_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # DEHB writes nothing, in the current folder or elsewhere
    study = bbopt.minimize("mf.hartmann3", backend="dehb.dehb", max_evals=40, seed=0)
    budgets = [t.budget for t in study.trials]
    assert budgets[:27] == [1.0] * 27 and budgets[27:36] == [3.0] * 9  # first bracket
    best_ninth = sorted(study.trials[:27], key=lambda t: (t.loss, t.tid))[:9]
    assert {tuple(t.flat_params.values()) for t in study.trials[27:36]} == {
        tuple(t.flat_params.values()) for t in best_ninth
    }  # DEHB's first round promotes the best, like Hyperband
    for trial in study.trials:
        assert trial.budget is not None and len(trial.intermediate) == round(trial.budget)
    again = bbopt.minimize("mf.hartmann3", backend="dehb.dehb", max_evals=40, seed=0)
    assert [t.flat_params for t in again.trials] == [t.flat_params for t in study.trials]
    assert list(tmp_path.iterdir()) == []
    backend = bbopt.create_backend("dehb.dehb", bbopt.Space(mf.MF_BRANIN.space), 0)
    backend.fidelity = mf.FIDELITY
    backend.tell(bbopt.backends.Observation({"x0": 0.0, "x1": 1.0}, 3.0))  # ignored
    assert backend.ask(1)[0].budget == 1.0


def test_dehb_checks_its_options() -> None:
    space = bbopt.Space(mf.MF_BRANIN.space)
    with pytest.raises(bbopt.errors.UnknownOptionError, match="mutation_factor"):
        bbopt.create_backend("dehb.dehb", space, 0, {"mutation": 0.3})
    with pytest.raises(OptionValueError, match=r"dehb\.dehb needs budgets"):
        bbopt.create_backend("dehb.dehb", space, 0).ask(1)


def test_bohb_resumed_in_chunks_runs_the_trials_of_one_uninterrupted_run(tmp_path: Path) -> None:
    storage = tmp_path / "chunks.db"
    for max_evals in (15, 30, 45, 60):  # each chunk shorter than the first bracket's 27 points
        bbopt.minimize(
            "mf.branin",
            backend="bbopt.bohb",
            seed=0,
            max_evals=max_evals,
            storage=storage,
            study="r",
        )
    chunks = bbopt.load_study("r", storage).trials
    at_once = bbopt.minimize("mf.branin", backend="bbopt.bohb", seed=0, max_evals=60).trials
    assert [(t.flat_params, t.budget, t.loss) for t in chunks] == [
        (t.flat_params, t.budget, t.loss) for t in at_once
    ]
    assert max(t.budget or 0 for t in chunks) == mf.STEPS  # promoted all the way
