"""Bayesmark's protocol: a fixed train/test split, 5-fold cross-validation on the training
part as the loss, and the refit model's loss on the test part as ``test_loss``.

Evaluations run with one BLAS/OpenMP thread: the data sets are small, so more threads
only add overhead (ten times slower on a busy machine, measured) and oversubscribe
the cores when runs go in parallel; one thread also keeps results the same whatever
the core count. Imports scikit-learn: load it only when an evaluation needs it.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import datasets
from sklearn.metrics import get_scorer
from sklearn.model_selection import cross_val_score, train_test_split
from threadpoolctl import ThreadpoolController

from bbopt.objectives.sklearn.estimators import build_estimator

TEST_SIZE = 0.2  # Bayesmark's held-out share
SPLIT_SEED = 0  # Bayesmark's default shuffle_seed
CV_FOLDS = 5  # stratified folds for classifiers, plain folds for regressors (no shuffle)

LOADERS = {
    "breast": datasets.load_breast_cancer,
    "digits": datasets.load_digits,
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "diabetes": datasets.load_diabetes,
}

SCORERS = {  # scikit-learn's scorers are "higher is better": the loss is minus the score
    "nll": "neg_log_loss",
    "acc": "accuracy",
    "mse": "neg_mean_squared_error",
    "mae": "neg_mean_absolute_error",
}


_THREADS = ThreadpoolController()  # after scikit-learn's imports: sees its BLAS and OpenMP


@dataclass(frozen=True)
class Split:
    """A data set's features and targets, shuffled and split into training and test parts."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@functools.cache
def split(dataset: str) -> Split:
    """The data set as scikit-learn ships it (unscaled, as in Bayesmark), 80/20 shuffled
    with ``random_state=SPLIT_SEED``; loaded once per process."""
    x, y = LOADERS[dataset](return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_SIZE, random_state=SPLIT_SEED, shuffle=True
    )
    return Split(x_train, y_train, x_test, y_test)


def cross_validated_loss(
    model: str, dataset: str, classify: bool, metric: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The objective's result: ``loss`` (mean loss over the folds), ``fold_losses`` and
    ``test_loss`` (the model refit on the whole training part, scored on the test part).

    User warnings (convergence, a batch larger than the data, ...) are silenced, as in
    Bayesmark, and so are numpy's overflow warnings of diverging networks: optimizers
    try extreme settings on purpose, and the loss records what came of them. A
    configuration the estimator rejects raises, which fails the trial with the reason.
    """
    data = split(dataset)
    scorer = get_scorer(SCORERS[metric])
    quiet_numpy = np.errstate(over="ignore", invalid="ignore", divide="ignore")
    with _THREADS.limit(limits=1), warnings.catch_warnings(), quiet_numpy:
        warnings.simplefilter("ignore", UserWarning)  # as Bayesmark; includes convergence
        scores = cross_val_score(
            build_estimator(model, classify, metric, params),
            data.x_train,
            data.y_train,
            scoring=scorer,
            cv=CV_FOLDS,
            error_score="raise",
        )
        final = build_estimator(model, classify, metric, params).fit(data.x_train, data.y_train)
        test_score = scorer(final, data.x_test, data.y_test)
    fold_losses = [-float(s) for s in scores]
    return {
        "loss": float(np.mean(fold_losses)),
        "status": "ok",
        "fold_losses": fold_losses,
        "test_loss": -float(test_score),
    }
