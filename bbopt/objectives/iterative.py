"""A scikit-learn model trained by ``partial_fit``, its epochs as the fidelity.

``sklearn-iter.sgd.digits``: scikit-learn's ``SGDClassifier`` on its bundled digits data
(1797 8x8 images, 10 classes), one ``partial_fit`` pass over the training part per
epoch, up to ``EPOCHS`` epochs (``Fidelity("epochs", 1, EPOCHS)``): a multi-fidelity
backend's budget (``bbopt.budget()``) sets how many (``IterativeSGD(epochs=...,
report_every=...)`` changes both). After every ``report_every``
epochs (and after the last one) the objective reports the validation error (1 -
accuracy), so pruners stop hopeless trials as they go; the loss is the validation
error after the last epoch, the extras say the epochs trained and the test accuracy.

The space: the ``loss`` (hinge, log-loss, modified Huber), the regularisation
``alpha`` (log-uniform in [1e-7, 1e-1]), the ``penalty`` (l2, l1 or elastic net with
its ``l1_ratio``) and the learning-rate schedule (``optimal``, or ``constant`` /
``invscaling`` with their ``eta0``, log-uniform in [1e-4, 1]).

Data: features standardised on the training part, a stratified 60/20/20 split into
training, validation and test with ``random_state=DATA_SEED``. Each epoch visits the
training samples in an order fixed by the epoch's number and the model's
``random_state`` is fixed, so an evaluation is a deterministic function of its
parameters and its budget, and a trial stopped at epoch ``k`` has reported exactly
what a full one reports up to ``k``. One trial of all epochs takes tens of
milliseconds.

Importing this module is light: scikit-learn loads on the first evaluation.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np

from bbopt import hp
from bbopt.objective import Fidelity, Objective, register_objective
from bbopt.objectives._splits import Splits
from bbopt.reporting import budget, report

DATA_SEED = 0
EPOCHS = 27  # Hyperband with eta = 3 has budgets 1, 3, 9 and 27
FIDELITY = Fidelity("epochs", 1, EPOCHS)

SGD_SPACE = {
    "loss": hp.choice("loss", ["hinge", "log_loss", "modified_huber"]),
    "alpha": hp.loguniform("alpha", math.log(1e-7), math.log(1e-1)),
    "penalty": hp.choice(
        "penalty",
        [
            {"name": "l2"},
            {"name": "l1"},
            {"name": "elasticnet", "l1_ratio": hp.uniform("l1_ratio", 0, 1)},
        ],
    ),
    "schedule": hp.choice(
        "schedule",
        [
            {"learning_rate": "optimal"},
            {"learning_rate": "constant", "eta0": hp.loguniform("eta0_constant", -9.2, 0)},
            {"learning_rate": "invscaling", "eta0": hp.loguniform("eta0_invscaling", -9.2, 0)},
        ],
    ),
}


@functools.cache
def digits_splits(seed: int = DATA_SEED) -> Splits:
    """Load, split (60/20/20, stratified) and standardise the digits (once per process)."""
    from sklearn import datasets, model_selection, preprocessing

    digits = datasets.load_digits()
    x_train, x_rest, y_train, y_rest = model_selection.train_test_split(
        digits.data, digits.target, test_size=0.4, stratify=digits.target, random_state=seed
    )
    x_val, x_test, y_val, y_test = model_selection.train_test_split(
        x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed
    )
    scaler = preprocessing.StandardScaler().fit(x_train)
    return Splits(
        scaler.transform(x_train), y_train, scaler.transform(x_val), y_val,
        scaler.transform(x_test), y_test,
    )  # fmt: skip


def sgd_from_params(params: dict[str, Any]) -> Any:
    """The (unfitted) ``SGDClassifier`` a configuration describes."""
    from sklearn.linear_model import SGDClassifier

    penalty, schedule = params["penalty"], params["schedule"]
    return SGDClassifier(
        loss=params["loss"],
        alpha=float(params["alpha"]),
        penalty=penalty["name"],
        l1_ratio=float(penalty.get("l1_ratio", 0.15)),
        learning_rate=schedule["learning_rate"],
        eta0=float(schedule.get("eta0", 0.01)),  # unused by the "optimal" schedule
        random_state=0,
    )


class IterativeSGD(Objective):
    """``SGDClassifier.partial_fit`` on the digits, one epoch per step (module docstring)."""

    name = "sklearn-iter.sgd.digits"
    space = SGD_SPACE
    description = "scikit-learn SGDClassifier on the digits, epochs by partial_fit as fidelity"
    f_star = 0.0
    groups = ("iterative", "multifidelity")
    fidelity: Fidelity | None = FIDELITY
    thread_safe = True  # no state outside the model each call builds

    def __init__(self, epochs: int = EPOCHS, report_every: int = 1) -> None:
        for option, value in (("epochs", epochs), ("report_every", report_every)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{option} must be an integer >= 1, got {value!r}")
        self.epochs, self.report_every = epochs, report_every
        if epochs != EPOCHS:
            self.fidelity = Fidelity("epochs", 1, epochs) if epochs > 1 else None

    def prepare(self) -> None:
        digits_splits()

    def evaluate(self, params: Any) -> dict[str, Any]:
        data = digits_splits()
        chosen = budget()
        epochs = self.epochs if chosen is None else min(self.epochs, max(1, round(chosen)))
        model = sgd_from_params(params)
        classes = np.unique(data.y_train)
        error = 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflow warnings of diverging learning rates
            for epoch in range(1, epochs + 1):
                order = np.random.default_rng(epoch).permutation(len(data.y_train))
                model.partial_fit(data.x_train[order], data.y_train[order], classes=classes)
                if epoch % self.report_every == 0 or epoch == epochs:
                    error = 1.0 - float(model.score(data.x_val, data.y_val))
                    report(epoch, error)
            test_accuracy = float(model.score(data.x_test, data.y_test))
        return {"loss": error, "epochs": epochs, "test_accuracy": test_accuracy}


SGD_DIGITS = register_objective(IterativeSGD())
