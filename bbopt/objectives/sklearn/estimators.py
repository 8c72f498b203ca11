"""The scikit-learn estimator of each model, with Bayesmark's fixed settings, for today's
scikit-learn (1.9).

Imports scikit-learn: load it only when an evaluation needs it. Every estimator that
draws random numbers gets ``random_state=SEED``, so an evaluation is a function of
its configuration (Bayesmark left them unseeded). Where Bayesmark's settings no longer
exist the replacement scikit-learn documents keeps their meaning:

* ``LogisticRegression(multi_class="ovr", solver="liblinear")`` (lasso, linear on
  classification): ``multi_class`` is removed and liblinear refuses more than two
  classes, so the logistic regression is wrapped in ``OneVsRestClassifier`` (the same
  one-versus-rest fit and normalized probabilities); ``penalty="l1"``/``"l2"`` is
  deprecated and becomes ``l1_ratio=1``/``0``.
* ``Lasso``/``Ridge(normalize=True)`` (lasso, linear on regression): ``normalize`` was
  removed in scikit-learn 1.2. :class:`UnitNormColumns` does what it did (centre each
  feature and divide it by its Euclidean norm, only when ``fit_intercept`` is true) in
  a pipeline before the regressor, so the penalty ``alpha`` means what it meant.
* ``SVC(probability=True)`` (SVM): deprecated in 1.9; for the log-loss metric the SVC is
  wrapped in ``CalibratedClassifierCV(ensemble=False)`` (Platt scaling from 5-fold
  decision values, the documented replacement); for accuracy the plain SVC predicts,
  as ``SVC.predict`` always did, from its decision function.
* ``AdaBoostClassifier``: the ``SAMME.R`` algorithm (Bayesmark's default then) is
  removed; ``SAMME`` is the only one left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

SEED = 0  # random_state of every randomized estimator

__all__ = ["SEED", "UnitNormColumns", "build_estimator"]


class UnitNormColumns(TransformerMixin, BaseEstimator):
    """Centre each column and scale it to unit Euclidean norm (what the removed
    ``normalize=True`` of scikit-learn's linear regressors did before fitting).
    Constant columns are only centred."""

    def fit(self, x: Any, y: Any = None) -> UnitNormColumns:
        x = np.asarray(x, dtype=float)
        self.mean_ = x.mean(axis=0)
        norms = np.linalg.norm(x - self.mean_, axis=0)
        self.scale_ = np.where(norms > 0, norms, 1.0)
        return self

    def transform(self, x: Any) -> np.ndarray:
        return (np.asarray(x, dtype=float) - self.mean_) / self.scale_


Builder = Callable[[bool, str, dict[str, Any]], Any]


def _knn(classify: bool, metric: str, params: dict[str, Any]) -> Any:
    return (KNeighborsClassifier if classify else KNeighborsRegressor)(**params)


def _svm(classify: bool, metric: str, params: dict[str, Any]) -> Any:
    if not classify:
        return SVR(kernel="rbf", **params)
    svc = SVC(kernel="rbf", random_state=SEED, **params)
    return CalibratedClassifierCV(svc, ensemble=False) if metric == "nll" else svc


def _tree(classify: bool, metric: str, params: dict[str, Any]) -> Any:
    model = DecisionTreeClassifier if classify else DecisionTreeRegressor
    return model(max_leaf_nodes=None, random_state=SEED, **params)


def _forest(classify: bool, metric: str, params: dict[str, Any]) -> Any:
    model = RandomForestClassifier if classify else RandomForestRegressor
    return model(n_estimators=10, max_leaf_nodes=None, random_state=SEED, **params)


def _mlp(solver: str) -> Builder:
    def build(classify: bool, metric: str, params: dict[str, Any]) -> Any:
        settings = dict(params, hidden_layer_sizes=(int(params["hidden_layer_sizes"]),))
        if solver == "sgd":
            settings.update(learning_rate="invscaling", nesterovs_momentum=True)
            if not classify:
                settings["activation"] = "tanh"  # Bayesmark: relu regression crashes often
        model = MLPClassifier if classify else MLPRegressor
        return model(solver=solver, early_stopping=True, random_state=SEED, **settings)

    return build


def _ada(classify: bool, metric: str, params: dict[str, Any]) -> Any:
    return (AdaBoostClassifier if classify else AdaBoostRegressor)(random_state=SEED, **params)


def _penalized(l1_ratio: float, regressor: type) -> Builder:
    def build(classify: bool, metric: str, params: dict[str, Any]) -> Any:
        if classify:
            logistic = LogisticRegression(
                l1_ratio=l1_ratio, solver="liblinear", random_state=SEED, **params
            )
            return OneVsRestClassifier(logistic)
        settings = dict(params)
        normalize = settings.pop("normalize")
        model = regressor(**settings)
        return (
            make_pipeline(UnitNormColumns(), model)
            if normalize and settings["fit_intercept"]
            else model
        )

    return build


BUILDERS: dict[str, Builder] = {
    "dt": _tree,
    "mlp-adam": _mlp("adam"),
    "mlp-sgd": _mlp("sgd"),
    "rf": _forest,
    "svm": _svm,
    "ada": _ada,
    "knn": _knn,
    "lasso": _penalized(1.0, Lasso),
    "linear": _penalized(0.0, Ridge),
}


def build_estimator(model: str, classify: bool, metric: str, params: dict[str, Any]) -> Any:
    """The unfitted estimator of ``model`` (a key of :data:`BUILDERS`) for a
    classification (``classify``) or regression task, scored by ``metric``, configured
    with ``params`` (a configuration of the model's space)."""
    return BUILDERS[model](classify, metric, dict(params))
