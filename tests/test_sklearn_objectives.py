"""The sklearn objectives: Bayesmark's grid and spaces, real cross-validated evaluations,
determinism, minimize (serial and parallel) and every backend on every space."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import bbopt
from bbopt.backends import create_backend, get_backend
from bbopt.objective import evaluate_point
from bbopt.objectives.sklearn import DATASETS, METRICS, MODELS, SklearnObjective
from bbopt.space import Space

SKLEARN = sorted(n for n in bbopt.list_objectives() if n.startswith("sklearn."))

# Bayesmark's api_config (bayesmark/sklearn_funcs.py): type, space, range per parameter.
TREE = {
    "max_depth": ("int", "linear", (1, 15)),
    "min_samples_split": ("real", "logit", (0.01, 0.99)),
    "min_samples_leaf": ("real", "logit", (0.01, 0.49)),
    "min_weight_fraction_leaf": ("real", "logit", (0.01, 0.49)),
    "max_features": ("real", "logit", (0.01, 0.99)),
    "min_impurity_decrease": ("real", "linear", (0.0, 0.5)),
}
MLP = {
    "hidden_layer_sizes": ("int", "linear", (50, 200)),
    "alpha": ("real", "log", (1e-5, 1e1)),
    "batch_size": ("int", "linear", (10, 250)),
    "learning_rate_init": ("real", "log", (1e-5, 1e-1)),
    "tol": ("real", "log", (1e-5, 1e-1)),
    "validation_fraction": ("real", "logit", (0.1, 0.9)),
}
LOGISTIC = {
    "C": ("real", "log", (1e-2, 1e2)),
    "intercept_scaling": ("real", "log", (1e-2, 1e2)),
}
PENALIZED = {
    "alpha": ("real", "log", (1e-2, 1e2)),
    "fit_intercept": ("bool", None, None),
    "normalize": ("bool", None, None),
    "max_iter": ("int", "log", (10, 5000)),
}
BAYESMARK_CLASSIFICATION = {
    "knn": {"n_neighbors": ("int", "linear", (1, 25)), "p": ("int", "linear", (1, 4))},
    "svm": {
        "C": ("real", "log", (1.0, 1e3)),
        "gamma": ("real", "log", (1e-4, 1e-3)),
        "tol": ("real", "log", (1e-5, 1e-1)),
    },
    "dt": TREE,
    "rf": TREE,
    "mlp-adam": {
        **MLP,
        "beta_1": ("real", "logit", (0.5, 0.99)),
        "beta_2": ("real", "logit", (0.9, 1.0 - 1e-6)),
        "epsilon": ("real", "log", (1e-9, 1e-6)),
    },
    "mlp-sgd": {
        **MLP,
        "power_t": ("real", "logit", (0.1, 0.9)),
        "momentum": ("real", "logit", (0.001, 0.999)),
    },
    "ada": {
        "n_estimators": ("int", "linear", (10, 100)),
        "learning_rate": ("real", "log", (1e-4, 1e1)),
    },
    "lasso": LOGISTIC,
    "linear": LOGISTIC,
}
BAYESMARK_REGRESSION = {
    **BAYESMARK_CLASSIFICATION,
    "lasso": {**PENALIZED, "tol": ("real", "log", (1e-5, 1e-1)), "positive": ("bool", None, None)},
    "linear": {**PENALIZED, "tol": ("real", "log", (1e-4, 1e-1))},
}
SCALES = {"linear": "linear", "log": "log", "logit": "logit"}

# Cheap points of each space (few iterations, few trees), for fast real evaluations.
CHEAP_TREE = {
    "max_depth": 3,
    "min_samples_split": 0.05,
    "min_samples_leaf": 0.02,
    "min_weight_fraction_leaf": 0.01,
    "max_features": 0.5,
    "min_impurity_decrease": 0.0,
}
CHEAP_MLP = {
    "hidden_layer_sizes": 50,
    "alpha": 1e-3,
    "batch_size": 200,
    "learning_rate_init": 1e-2,
    "tol": 1e-1,  # stops after n_iter_no_change epochs
    "validation_fraction": 0.2,
}
CHEAP = {
    "dt": CHEAP_TREE,
    "rf": CHEAP_TREE,
    "mlp-adam": {**CHEAP_MLP, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8},
    "mlp-sgd": {**CHEAP_MLP, "power_t": 0.5, "momentum": 0.9},
    "svm": {"C": 10.0, "gamma": 1e-4, "tol": 1e-3},
    "ada": {"n_estimators": 10, "learning_rate": 0.5},
    "knn": {"n_neighbors": 5, "p": 2},
}
CHEAP_LOGISTIC = {"C": 1.0, "intercept_scaling": 1.0}
CHEAP_PENALIZED = {"alpha": 0.1, "fit_intercept": True, "normalize": True, "max_iter": 1000}


def cheap_point(objective: SklearnObjective) -> dict[str, Any]:
    if objective.model in CHEAP:
        return CHEAP[objective.model]
    if objective.classify:
        return CHEAP_LOGISTIC
    if objective.model == "lasso":
        return {**CHEAP_PENALIZED, "tol": 1e-3, "positive": False}
    return {**CHEAP_PENALIZED, "tol": 1e-3}


def test_registering_imports_no_scikit_learn() -> None:
    code = (
        "import sys, bbopt\n"
        "names = [n for n in bbopt.list_objectives() if n.startswith('sklearn.')]\n"
        "assert len(names) == 90, len(names)\n"
        "assert 'sklearn' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_grid_is_bayesmarks_without_boston() -> None:
    expected = {
        f"sklearn.{model}.{dataset}.{metric}"
        for model in ("dt", "mlp-adam", "mlp-sgd", "rf", "svm", "ada", "knn", "lasso", "linear")
        for dataset, metrics in [
            ("breast", ("nll", "acc")),
            ("digits", ("nll", "acc")),
            ("iris", ("nll", "acc")),
            ("wine", ("nll", "acc")),
            ("diabetes", ("mse", "mae")),
        ]
        for metric in metrics
    }
    assert set(SKLEARN) == expected
    in_group = {n for n in bbopt.list_objectives() if "sklearn" in bbopt.get_objective(n).groups}
    assert in_group == expected
    for name in SKLEARN:
        objective = bbopt.get_objective(name)
        assert objective.f_star is None and objective.cost_hint == "expensive"
        assert f"sklearn-{objective.model}" in objective.groups
        assert "Bayesmark" in objective.description and "5-fold CV" in objective.description


def test_bad_names_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown data set 'boston'"):
        SklearnObjective("dt", "boston", "mse")
    with pytest.raises(ValueError, match=r"metric 'mse' does not apply to 'iris'.*'acc', 'nll'"):
        SklearnObjective("dt", "iris", "mse")
    with pytest.raises(ValueError, match="unknown sklearn model 'xgb'"):
        SklearnObjective("xgb", "iris", "acc")


@pytest.mark.parametrize("classify", [True, False], ids=["classification", "regression"])
def test_spaces_are_bayesmarks(classify: bool) -> None:
    table = BAYESMARK_CLASSIFICATION if classify else BAYESMARK_REGRESSION
    dataset = "iris" if classify else "diabetes"
    for model, config in table.items():
        metric = next(iter(METRICS[classify]))
        space = Space(SklearnObjective(model, dataset, metric).space)
        assert set(space.params) == set(config), model
        for label, (kind, scale, bounds) in config.items():
            dist = space.params[label].dist
            if kind == "bool":
                assert dist.kind == "choice" and list(dist.options) == [False, True]
                continue
            assert dist.scale == SCALES[scale], (model, label)
            assert dist.is_integer == (kind == "int"), (model, label)
            declared = (dist.low, dist.high)
            if kind == "real" and scale == "log":  # hp.loguniform's bounds are logarithms
                declared = (math.exp(dist.low), math.exp(dist.high))
            assert declared == pytest.approx(bounds), (model, label)
        for seed in range(30):  # every drawn value lies in Bayesmark's range
            point = space.sample(seed)
            for label, (kind, _, bounds) in config.items():
                if kind == "bool":
                    assert isinstance(point[label], bool)
                    continue
                low, high = bounds
                assert low <= point[label] <= high, (model, label, point[label])
                assert isinstance(point[label], int) == (kind == "int")


def _check_result(result: dict[str, Any]) -> None:
    assert result["status"] == "ok"
    assert math.isfinite(result["loss"]) and math.isfinite(result["test_loss"])
    assert len(result["fold_losses"]) == 5
    assert result["loss"] == pytest.approx(np.mean(result["fold_losses"]))


def _evaluate_everywhere(model: str) -> None:
    """One evaluation on every data set and metric; the first twice (same result)."""
    for dataset, (_, classify) in DATASETS.items():
        for metric in METRICS[classify]:
            objective = SklearnObjective(model, dataset, metric)
            point = cheap_point(objective)
            space = Space(objective.space)
            space.validate_flat(space.to_flat(point))  # the point belongs to the space
            result = objective.evaluate(point)
            _check_result(result)
            if metric == "acc":
                assert -1 <= result["loss"] < -0.2 and -1 <= result["test_loss"] <= 0
            else:
                assert result["loss"] > 0 and result["test_loss"] > 0
    first = SklearnObjective(model, "wine", "nll")
    assert first.evaluate(cheap_point(first)) == first.evaluate(cheap_point(first))


FAST_MODELS = ["dt", "knn", "linear"]
SLOW_MODELS = ["mlp-adam", "mlp-sgd", "rf", "svm", "ada", "lasso"]


@pytest.mark.parametrize("model", FAST_MODELS)
def test_one_evaluation_per_data_set_and_metric(model: str) -> None:
    _evaluate_everywhere(model)


@pytest.mark.slow
@pytest.mark.parametrize("model", SLOW_MODELS)
def test_one_evaluation_per_data_set_and_metric_slow_models(model: str) -> None:
    _evaluate_everywhere(model)


def test_every_model_is_tested() -> None:
    assert sorted(FAST_MODELS + SLOW_MODELS) == sorted(MODELS)


def test_random_points_of_randomized_models_repeat_exactly() -> None:
    for name in ("sklearn.rf.breast.nll", "sklearn.dt.diabetes.mae", "sklearn.mlp-sgd.iris.acc"):
        objective = bbopt.get_objective(name)
        point = Space(objective.space).sample(3)
        assert objective.evaluate(point) == objective.evaluate(point)


def test_a_point_scikit_learn_rejects_fails_the_trial_with_the_reason() -> None:
    objective = bbopt.get_objective("sklearn.dt.iris.acc")
    bad = {**CHEAP_TREE, "max_features": 2.5}  # outside the space: scikit-learn refuses it
    with pytest.raises(ValueError, match="max_features"):
        objective.evaluate(bad)
    _, result = evaluate_point(objective, Space(objective.space), bad)
    assert result.status == "fail" and "max_features" in (result.error or "")


def test_lasso_is_l1_and_linear_is_l2_in_both_tasks() -> None:
    from bbopt.objectives.sklearn.estimators import build_estimator
    from bbopt.objectives.sklearn.evaluation import split

    digits, diabetes = split("digits"), split("diabetes")
    sparse = build_estimator("lasso", True, "acc", {"C": 0.01, "intercept_scaling": 1.0})
    dense = build_estimator("linear", True, "acc", {"C": 0.01, "intercept_scaling": 1.0})
    zero_shares = []
    for model in (sparse, dense):
        model.fit(digits.x_train, digits.y_train)
        coefs = np.vstack([e.coef_ for e in model.estimators_])
        assert coefs.shape == (10, 64)  # one-versus-rest over the ten digits
        zero_shares.append(np.mean(coefs == 0))
    assert zero_shares[0] > 0.5 and zero_shares[1] < 0.1  # L2: only the blank pixels' are 0
    regression = {"alpha": 1.0, "fit_intercept": True, "normalize": False, "max_iter": 1000}
    lasso = build_estimator("lasso", False, "mse", {**regression, "tol": 1e-4, "positive": False})
    ridge = build_estimator("linear", False, "mse", {**regression, "tol": 1e-4})
    assert np.sum(lasso.fit(diabetes.x_train, diabetes.y_train).coef_ == 0) > 0
    assert np.all(ridge.fit(diabetes.x_train, diabetes.y_train).coef_ != 0)


@pytest.mark.parametrize("regressor", ["lasso", "linear"])
def test_normalize_does_what_the_removed_option_did(regressor: str) -> None:
    """scikit-learn's migration note for ``normalize=True``: a StandardScaler first and
    alpha x sqrt(n) (Lasso) or alpha x n (Ridge) give the same model; ours must agree."""
    from sklearn.linear_model import Lasso, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from bbopt.objectives.sklearn.estimators import build_estimator

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4)) * [1.0, 10.0, 0.1, 3.0] + [0.0, 5.0, -2.0, 1.0]
    y = x @ [1.0, -0.2, 4.0, 0.5] + rng.normal(size=80)
    params = {"alpha": 0.05, "fit_intercept": True, "normalize": True, "max_iter": 5000}
    params["tol"] = 1e-10
    if regressor == "lasso":
        params["positive"] = False
        reference = Lasso(alpha=0.05 * math.sqrt(80), tol=1e-10, max_iter=5000)
    else:
        reference = Ridge(alpha=0.05 * 80)
    ours = build_estimator(regressor, False, "mse", params).fit(x, y)
    theirs = make_pipeline(StandardScaler(), reference).fit(x, y)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x), rtol=1e-6)
    plain = build_estimator(regressor, False, "mse", {**params, "normalize": False}).fit(x, y)
    assert not np.allclose(plain.predict(x), ours.predict(x), rtol=1e-3)
    no_intercept = {**params, "fit_intercept": False}  # old normalize was ignored without one
    np.testing.assert_allclose(
        build_estimator(regressor, False, "mse", no_intercept).fit(x, y).predict(x),
        build_estimator(regressor, False, "mse", {**no_intercept, "normalize": False})
        .fit(x, y)
        .predict(x),
    )


def test_minimize_runs_and_keeps_the_test_loss() -> None:
    study = bbopt.minimize("sklearn.knn.iris.acc", backend="hyperopt.tpe", max_evals=3, seed=0)
    assert len(study.trials) == 3 and all(t.ok for t in study.trials)
    for trial in study.trials:
        assert -1 <= trial.loss <= 0 and -1 <= trial.extras["test_loss"] <= 0
        assert 1 <= trial.params["n_neighbors"] <= 25
    again = bbopt.minimize("sklearn.knn.iris.acc", backend="hyperopt.tpe", max_evals=3, seed=0)
    assert [t.loss for t in again.trials] == [t.loss for t in study.trials]


@pytest.mark.slow
def test_parallel_workers_give_the_serial_results() -> None:
    serial = bbopt.minimize("sklearn.rf.wine.nll", backend="bbopt.random", max_evals=4, seed=1)
    parallel = bbopt.minimize(
        "sklearn.rf.wine.nll", backend="bbopt.random", max_evals=4, seed=1, workers=2
    )

    def by_params(study: bbopt.Study) -> dict[str, tuple[Any, Any]]:
        return {repr(t.flat_params): (t.loss, t.extras) for t in study.trials}

    assert by_params(parallel) == by_params(serial)


def _installed_backends() -> list[str]:
    names = []
    for name in bbopt.list_backends():
        try:
            create_backend(name, Space(bbopt.hp.uniform("x", 0, 1)), seed=0)
        except ImportError:
            continue
        names.append(name)
    return names


def _distinct_spaces() -> dict[str, Space]:
    spaces: dict[str, Space] = {}
    for name in SKLEARN:
        space = Space(bbopt.get_objective(name).space)
        spaces.setdefault(space.fingerprint(), space)
    return spaces


def test_there_are_nine_distinct_spaces() -> None:
    # dt = rf and lasso = linear on classification; lasso and linear differ on regression
    assert len(_distinct_spaces()) == 9


# The sklearn objectives declare no fidelity; a multi-fidelity backend gets its budgets.
BUDGETS = {"min_budget": 1, "max_budget": 9}


@pytest.mark.parametrize("backend", _installed_backends())
def test_every_backend_suggests_valid_points_in_every_space(backend: str) -> None:
    options = BUDGETS if get_backend(backend).multi_fidelity else None
    for space in _distinct_spaces().values():
        suggestions = create_backend(backend, space, seed=0, backend_options=options).ask(2)
        assert len(suggestions) == 2
        for suggestion in suggestions:
            flat = space.validate_flat(suggestion.flat_params)
            assert set(flat) == set(space.params)
            params = space.to_params(flat)
            for label, info in space.params.items():
                if info.dist.is_integer:
                    assert isinstance(params[label], int), (backend, label, params[label])
