"""Bayesmark's search spaces (``api_config`` in bayesmark/sklearn_funcs.py) in bbopt's terms.

Bayesmark's types map one to one: ``int``/``linear`` -> :func:`hp.uniformint`,
``int``/``log`` -> :func:`hp.loguniformint`, ``real``/``linear`` -> :func:`hp.uniform`,
``real``/``log`` -> :func:`hp.loguniform` (bounds given as values here, passed on as
logarithms), ``real``/``logit`` -> :func:`hp.logituniform`, ``bool`` -> a
``hp.choice`` of ``False``/``True``. Ranges are Bayesmark's. The labels are the
scikit-learn parameter names, so a configuration is the estimator's keyword arguments.

Pure data: importing this module imports nothing beyond bbopt.
"""

from __future__ import annotations

import math
from typing import Any

from bbopt import hp

__all__ = ["CLASSIFICATION_SPACES", "REGRESSION_SPACES"]


def _log(label: str, low: float, high: float) -> Any:
    """A real on a log scale between the values ``low`` and ``high``."""
    return hp.loguniform(label, math.log(low), math.log(high))


def _flag(label: str) -> Any:
    return hp.choice(label, [False, True])


KNN = {
    "n_neighbors": hp.uniformint("n_neighbors", 1, 25),
    "p": hp.uniformint("p", 1, 4),
}

SVM = {
    "C": _log("C", 1.0, 1e3),
    "gamma": _log("gamma", 1e-4, 1e-3),
    "tol": _log("tol", 1e-5, 1e-1),
}

TREE = {  # the decision tree's and the random forest's (Bayesmark lists the same six)
    "max_depth": hp.uniformint("max_depth", 1, 15),
    "min_samples_split": hp.logituniform("min_samples_split", 0.01, 0.99),
    "min_samples_leaf": hp.logituniform("min_samples_leaf", 0.01, 0.49),
    "min_weight_fraction_leaf": hp.logituniform("min_weight_fraction_leaf", 0.01, 0.49),
    "max_features": hp.logituniform("max_features", 0.01, 0.99),
    "min_impurity_decrease": hp.uniform("min_impurity_decrease", 0.0, 0.5),
}

_MLP = {
    "hidden_layer_sizes": hp.uniformint("hidden_layer_sizes", 50, 200),  # one hidden layer
    "alpha": _log("alpha", 1e-5, 1e1),
    "batch_size": hp.uniformint("batch_size", 10, 250),
    "learning_rate_init": _log("learning_rate_init", 1e-5, 1e-1),
    "tol": _log("tol", 1e-5, 1e-1),
    "validation_fraction": hp.logituniform("validation_fraction", 0.1, 0.9),
}

MLP_ADAM = {
    **_MLP,
    "beta_1": hp.logituniform("beta_1", 0.5, 0.99),
    "beta_2": hp.logituniform("beta_2", 0.9, 1.0 - 1e-6),
    "epsilon": _log("epsilon", 1e-9, 1e-6),
}

MLP_SGD = {
    **_MLP,
    "power_t": hp.logituniform("power_t", 0.1, 0.9),
    "momentum": hp.logituniform("momentum", 0.001, 0.999),
}

ADA = {
    "n_estimators": hp.uniformint("n_estimators", 10, 100),
    "learning_rate": _log("learning_rate", 1e-4, 1e1),
}

LOGISTIC = {  # lasso and linear classifiers: L1- or L2-penalized logistic regression
    "C": _log("C", 1e-2, 1e2),
    "intercept_scaling": _log("intercept_scaling", 1e-2, 1e2),
}

_PENALIZED_REGRESSION = {
    "alpha": _log("alpha", 1e-2, 1e2),
    "fit_intercept": _flag("fit_intercept"),
    "normalize": _flag("normalize"),  # gone from scikit-learn; see estimators.UnitNormColumns
    "max_iter": hp.loguniformint("max_iter", 10, 5000),
}

LASSO = {
    **_PENALIZED_REGRESSION,
    "tol": _log("tol", 1e-5, 1e-1),
    "positive": _flag("positive"),
}

RIDGE = {**_PENALIZED_REGRESSION, "tol": _log("tol", 1e-4, 1e-1)}

CLASSIFICATION_SPACES: dict[str, dict[str, Any]] = {
    "dt": TREE,
    "mlp-adam": MLP_ADAM,
    "mlp-sgd": MLP_SGD,
    "rf": TREE,
    "svm": SVM,
    "ada": ADA,
    "knn": KNN,
    "lasso": LOGISTIC,
    "linear": LOGISTIC,
}
"""The space of each model (bbopt's short name) on a classification data set."""

REGRESSION_SPACES: dict[str, dict[str, Any]] = {
    **CLASSIFICATION_SPACES,
    "lasso": LASSO,
    "linear": RIDGE,
}
"""The space of each model on a regression data set: lasso and linear differ."""
