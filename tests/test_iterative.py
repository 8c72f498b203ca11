"""sklearn-iter.sgd.digits: partial_fit epochs as the fidelity, reports, budgets, pruning."""

from __future__ import annotations

import numpy as np
import pytest

import bbopt
from bbopt.objectives.iterative import EPOCHS, IterativeSGD
from bbopt.reporting import Reporter, reporting_to
from bbopt.trial import TrialState

PARAMS = {
    "loss": "hinge",
    "alpha": 1e-4,
    "penalty": {"name": "l2"},
    "schedule": {"learning_rate": "optimal"},
}


def _run(objective: IterativeSGD, params: dict, budget: float | None = None) -> tuple:
    reporter = Reporter(budget=budget)
    with reporting_to(reporter):
        result = objective.evaluate(params)
    return result, reporter.intermediate


def test_registered_with_epochs_as_fidelity() -> None:
    objective = bbopt.get_objective("sklearn-iter.sgd.digits")
    assert objective.fidelity == bbopt.Fidelity("epochs", 1, EPOCHS)
    assert "multifidelity" in objective.groups
    space = bbopt.Space(objective.space)
    flat = space.sample_flat(np.random.default_rng(0))
    assert space.validate_flat(flat) == flat


def test_a_budget_stops_training_where_a_full_run_reported_the_same() -> None:
    objective = IterativeSGD(epochs=6)
    full, curve = _run(objective, PARAMS)
    assert list(curve) == [1, 2, 3, 4, 5, 6] and full["epochs"] == 6
    assert full["loss"] == curve[6] and 0 <= full["loss"] < 0.2  # it learns the digits
    assert 0.8 < full["test_accuracy"] <= 1
    cheap, short = _run(objective, PARAMS, budget=2.4)
    assert short == {1: curve[1], 2: curve[2]} and cheap["epochs"] == 2
    assert _run(objective, PARAMS)[1] == curve  # deterministic
    chunks = _run(IterativeSGD(epochs=6, report_every=4), PARAMS)[1]
    assert chunks == {4: curve[4], 6: curve[6]}


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="report_every must be an integer >= 1, got 0"):
        IterativeSGD(report_every=0)
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        IterativeSGD(epochs=2.5)  # type: ignore[arg-type]


def test_pruned_and_budgeted_runs_under_minimize() -> None:
    objective = IterativeSGD(epochs=9)
    pruned = bbopt.minimize(
        objective, backend="hyperopt.rand", max_evals=8, seed=1, pruner="successive_halving"
    )
    states = [t.state for t in pruned.trials]
    assert TrialState.PRUNED in states and TrialState.DONE in states
    for trial in pruned.trials:
        assert trial.loss == list(trial.intermediate.values())[-1]
    bohb = bbopt.minimize(objective, backend="bbopt.bohb", max_evals=12, seed=0)
    assert [t.budget for t in bohb.trials[:9]] == [1.0] * 9
    assert all(len(t.intermediate) == t.extras["epochs"] == t.budget for t in bohb.trials)
