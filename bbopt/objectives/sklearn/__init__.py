"""Bayesmark's scikit-learn tuning problems as objectives: ``sklearn.<model>.<data>.<metric>``.

Every model of Bayesmark's grid (:data:`MODELS`) on every data set that ships with
scikit-learn (:data:`DATASETS`; Bayesmark's ``boston`` was removed from scikit-learn
in 1.2 and is left out) with each metric of its task (:data:`METRICS`), e.g.
``sklearn.dt.breast.nll``, ``sklearn.mlp-adam.digits.acc``,
``sklearn.lasso.diabetes.mae``: 9 models x (4 classification data sets x 2 metrics +
1 regression data set x 2 metrics) = 90 objectives, in the group ``sklearn`` and
``sklearn-<model>``.

The search spaces are Bayesmark's (:mod:`.spaces`); the loss is the mean over 5
cross-validation folds of the training part (80 %) of the log loss, minus the accuracy,
the mean squared or the mean absolute error; ``test_loss`` (extra) is the same loss
of the model refit on the training part and scored on the held-out 20 %
(:mod:`.evaluation`). Splits and models are seeded, so a configuration always gives
the same loss. The optimum is unknown (no ``f_star``).

Registering imports nothing beyond bbopt: scikit-learn loads on the first
:meth:`SklearnObjective.prepare` or evaluation.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from bbopt.errors import MissingDependencyError
from bbopt.objective import Objective, register_objective
from bbopt.objectives.sklearn.spaces import CLASSIFICATION_SPACES, REGRESSION_SPACES

__all__ = ["DATASETS", "METRICS", "MODELS", "SklearnObjective"]

MODELS = {
    "dt": "decision tree",
    "mlp-adam": "MLP (one hidden layer) trained with Adam",
    "mlp-sgd": "MLP (one hidden layer) trained with SGD",
    "rf": "random forest (10 trees)",
    "svm": "RBF support-vector machine",
    "ada": "AdaBoost",
    "knn": "k nearest neighbours",
    "lasso": "L1-penalized linear model",
    "linear": "L2-penalized linear model",
}
"""Bayesmark's models by bbopt's short name (Bayesmark: DT, MLP-adam, MLP-sgd, RF, SVM,
ada, kNN, lasso, linear)."""

DATASETS = {  # name -> (description, is a classification task)
    "breast": ("breast cancer", True),
    "digits": ("digits", True),
    "iris": ("iris", True),
    "wine": ("wine", True),
    "diabetes": ("diabetes", False),
}

METRICS = {  # task (classification?) -> metric -> what the loss is
    True: {"nll": "log loss", "acc": "minus the accuracy"},
    False: {"mse": "mean squared error", "mae": "mean absolute error"},
}


class SklearnObjective(Objective):
    """One Bayesmark problem: tune ``model`` on ``dataset``, scored by ``metric``.

    Result: ``loss`` = the 5-fold cross-validated loss on the training part, extras
    ``fold_losses`` (one per fold) and ``test_loss`` (refit on the training part,
    scored on the test part). A configuration scikit-learn rejects fails the trial.
    """

    cost_hint = "expensive"

    def __init__(self, model: str, dataset: str, metric: str) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown sklearn model {model!r}; choose one of {sorted(MODELS)}")
        if dataset not in DATASETS:
            raise ValueError(f"unknown data set {dataset!r}; choose one of {sorted(DATASETS)}")
        data_name, self.classify = DATASETS[dataset]
        if metric not in METRICS[self.classify]:
            raise ValueError(
                f"metric {metric!r} does not apply to {dataset!r}; "
                f"choose one of {sorted(METRICS[self.classify])}"
            )
        self.model, self.dataset, self.metric = model, dataset, metric
        self.name = f"sklearn.{model}.{dataset}.{metric}"
        self.groups = ("sklearn", f"sklearn-{model}")
        self.space = (CLASSIFICATION_SPACES if self.classify else REGRESSION_SPACES)[model]
        self.description = (
            f"{MODELS[model]} on scikit-learn's {data_name} data, Bayesmark's space; "
            f"loss = 5-fold CV {METRICS[self.classify][metric]}"
        )

    def prepare(self) -> None:
        """Import scikit-learn and load and split the data set (once per process)."""
        self._evaluation().split(self.dataset)

    def evaluate(self, params: Any) -> dict[str, Any]:
        return self._evaluation().cross_validated_loss(
            self.model, self.dataset, self.classify, self.metric, params
        )

    def _evaluation(self) -> ModuleType:
        """The evaluation module, imported (with scikit-learn) on first use."""
        try:
            from bbopt.objectives.sklearn import evaluation
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in ("sklearn", "threadpoolctl"):
                raise
            raise MissingDependencyError(
                "scikit-learn", "sklearn", f"objective {self.name!r}"
            ) from None
        return evaluation


def _register_all() -> None:
    for model in MODELS:
        for dataset, (_, classify) in DATASETS.items():
            for metric in METRICS[classify]:
                register_objective(SklearnObjective(model, dataset, metric))


_register_all()
