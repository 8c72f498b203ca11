"""The tutorial's Keras classifier on scikit-learn's wine data, as two objectives.

* ``keras.wine``: one hidden ReLU layer of ``layer_size`` units (5, 10, 15, 20 or 25),
  softmax output, Adam with ``learning_rate`` = exp(uniform(-10, 0)), categorical
  cross-entropy, 50 epochs, batch 32.
* ``keras.wine-conditional``: the tutorial's final, conditional space: the optimizer is
  Adam (with its learning rate) or SGD (with learning rate and momentum), an optional
  second hidden layer has its own size, and ``batch_size = 2 ** quniform(0, 8, 1)``.

The loss is minus the validation accuracy. Data: the 178 wines' 13 features scaled to
[0, 1] (MinMax over the whole set, as the tutorial does), one-hot labels, a stratified
train/test split (75/25) and a stratified train/validation split (75/25) of the training
part, both with ``random_state=DATA_SEED``: 99 training, 34 validation, 45 test samples.
Weights and batch shuffles are seeded too (``seed``, default 0), so an evaluation is a
deterministic function of its parameters. :func:`final_fit` retrains on train+validation
and returns the test accuracy (the tutorial's last step).

Importing this module is light: TensorFlow, Keras and scikit-learn load on first training.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bbopt import hp
from bbopt.objective import Fidelity, Objective, register_objective
from bbopt.objectives._keras_training import (
    Network,
    Outcome,
    TrainingDivergedError,
    train,
)
from bbopt.objectives._splits import Splits
from bbopt.reporting import budget, is_pruning, is_reporting, report
from bbopt.space import transform

DATA_SEED = 0  # random_state of both stratified splits
TRAIN_SEED = 0  # default seed of weight initialisation and per-epoch shuffles
EPOCHS = 50
BATCH_SIZE = 32
LAYER_SIZES = (5, 10, 15, 20, 25)

__all__ = [
    "CONDITIONAL_SPACE",
    "SPACE",
    "WineClassifier",
    "WineData",
    "final_fit",
    "network_from_params",
    "power_of_two",
    "wine_data",
]


def power_of_two(exponent: float) -> int:
    """``2 ** exponent`` as an int: the tutorial's batch-size transform."""
    return round(2.0**exponent)


SPACE = {
    "layer_size": hp.choice("layer_size", LAYER_SIZES),
    "learning_rate": hp.loguniform("learning_rate", -10, 0),
}

CONDITIONAL_SPACE = {
    "optimizer": hp.choice(
        "optimizer",
        [
            {"name": "adam", "learning_rate": hp.loguniform("learning_rate_adam", -10, 0)},
            {
                "name": "sgd",
                "learning_rate": hp.loguniform("learning_rate_sgd", -15, 1),
                "momentum": hp.uniform("momentum", 0, 1),
            },
        ],
    ),
    "second_layer": hp.choice(
        "second_layer",
        [
            {"include": False},
            {"include": True, "layer_size": hp.choice("layer_2_size", LAYER_SIZES)},
        ],
    ),
    "layer_1_size": hp.choice("layer_1_size", LAYER_SIZES),
    "batch_size": transform(power_of_two, hp.quniform("batch_size", 0, 8, 1)),
}


@dataclass(frozen=True)
class WineData(Splits):
    """The prepared splits: float32 features in [0, 1] and one-hot float32 labels."""


@functools.cache
def wine_data(seed: int = DATA_SEED) -> WineData:
    """Load, scale, one-hot encode and split the wine data (once per process and seed)."""
    from sklearn import datasets, model_selection, preprocessing

    wine = datasets.load_wine()
    x = preprocessing.MinMaxScaler().fit_transform(wine.data).astype(np.float32)
    labels = wine.target
    y = np.eye(int(labels.max()) + 1, dtype=np.float32)[labels]
    x_rest, x_test, y_rest, y_test, labels_rest, _ = model_selection.train_test_split(
        x, y, labels, stratify=labels, random_state=seed
    )
    x_train, x_val, y_train, y_val = model_selection.train_test_split(
        x_rest, y_rest, stratify=labels_rest, random_state=seed
    )
    return WineData(x_train, y_train, x_val, y_val, x_test, y_test)


def network_from_params(params: dict[str, Any]) -> Network:
    """The network described by a configuration of either space (nested values)."""
    try:
        if "optimizer" not in params:
            return Network(
                hidden=(int(params["layer_size"]),),
                learning_rate=float(params["learning_rate"]),
                batch_size=BATCH_SIZE,
            )
        optimizer = params["optimizer"]
        hidden = [int(params["layer_1_size"])]
        if params["second_layer"]["include"]:
            hidden.append(int(params["second_layer"]["layer_size"]))
        return Network(
            hidden=tuple(hidden),
            optimizer=optimizer["name"],
            learning_rate=float(optimizer["learning_rate"]),
            momentum=float(optimizer.get("momentum", 0.0)),
            batch_size=int(params["batch_size"]),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(
            f"not a wine-classifier configuration ({exc!r} missing or malformed): {params!r}"
        ) from None


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


class WineClassifier(Objective):
    """Train the wine classifier for one configuration; loss = -validation accuracy.

    Extras per trial: ``val_accuracy``, ``val_loss``, ``train_loss`` (last epoch),
    ``epochs`` (epochs run) and ``train_time`` (seconds). A NaN or infinite training
    loss stops the training and makes the trial fail with the reason as its error.

    Its fidelity is the number of epochs: a multi-fidelity backend's budget
    (``bbopt.budget()``, rounded) trains that many. In a bbopt trial it reports minus the
    validation accuracy after each epoch (``bbopt.report(epoch, value)``). Under a
    pruner the epochs run in chunks of ``report_every`` and the reports of each chunk
    are made as it ends, so the pruner can stop the training there; otherwise all
    epochs run in one go and are reported at the end. The training is the same either
    way (same shuffles, optimizer state and weights), only scored on the way.
    """

    cost_hint = "expensive"
    groups = ("keras",)

    def __init__(
        self,
        *,
        conditional: bool = False,
        epochs: int = EPOCHS,
        seed: int = TRAIN_SEED,
        report_every: int = 1,
    ):
        if int(epochs) != epochs or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        if int(report_every) != report_every or report_every < 1:
            raise ValueError(f"report_every must be a positive integer, got {report_every!r}")
        self.conditional = conditional
        self.epochs = int(epochs)
        self.seed = int(seed)
        self.report_every = int(report_every)
        self.fidelity = Fidelity("epochs", 1, self.epochs) if self.epochs > 1 else None
        base = "keras.wine-conditional" if conditional else "keras.wine"
        self.name = base if self.epochs == EPOCHS else f"{base}[epochs={self.epochs}]"
        self.space = CONDITIONAL_SPACE if conditional else SPACE
        self.description = (
            "Keras classifier on the wine data, tutorial's conditional space "
            "(optimizer, optional 2nd layer, batch size); loss = -validation accuracy"
            if conditional
            else "Keras classifier on the wine data (hidden layer size, Adam learning rate); "
            "loss = -validation accuracy"
        )

    def prepare(self) -> None:
        """Import TensorFlow and Keras (with ``BBOPT_WORKER_THREADS``' limits), load the
        data, and build and trace every trainer this space uses with a one-epoch run each,
        so the first trial is as fast as the next. Results are unchanged: every
        evaluation starts from fresh seeded weights and optimizer state."""
        data = wine_data()
        largest = max(LAYER_SIZES)
        depths = (1, 2) if self.conditional else (1,)
        optimizers = ("adam", "sgd") if self.conditional else ("adam",)
        for depth in depths:
            for optimizer in optimizers:
                network = Network(hidden=(largest,) * depth, optimizer=optimizer)
                train(
                    network,
                    (data.x_train, data.y_train),
                    (data.x_val, data.y_val),
                    epochs=1,
                    seed=self.seed,
                )

    def evaluate(self, params: Any) -> dict[str, Any]:
        data = wine_data()
        chosen = budget()  # a multi-fidelity backend's number of epochs
        epochs = self.epochs if chosen is None else min(self.epochs, max(1, round(chosen)))
        outcome = train(
            network_from_params(params),
            (data.x_train, data.y_train),
            (data.x_val, data.y_val),
            epochs=epochs,
            seed=self.seed,
            progress=_report_accuracy if is_reporting() else None,
            chunk=self.report_every if is_pruning() else None,  # else in one go
        )
        extras = _extras(outcome)
        if outcome.diverged:
            return {
                "status": "fail",
                "error": f"training diverged: the loss became {outcome.train_loss} "
                f"in epoch {outcome.epochs} of {epochs}",
                **extras,
            }
        return {"loss": -outcome.accuracy, "status": "ok", **extras}


def _report_accuracy(epoch: int, loss: float, accuracy: float) -> None:
    """Report minus the validation accuracy (the trial's loss) after epoch ``epoch``."""
    report(epoch, -accuracy)


def _extras(outcome: Outcome) -> dict[str, Any]:
    return {
        "val_accuracy": _finite_or_none(outcome.accuracy),
        "val_loss": _finite_or_none(outcome.loss),
        "train_loss": _finite_or_none(outcome.train_loss),
        "epochs": outcome.epochs,
        "train_time": outcome.train_time,
    }


def final_fit(params: dict[str, Any], *, epochs: int = EPOCHS, seed: int = TRAIN_SEED) -> float:
    """Retrain with ``params`` (either space's nested values) on train+validation and
    return the test accuracy. Raises :class:`TrainingDivergedError` if the loss diverges."""
    data = wine_data()
    outcome = train(
        network_from_params(params),
        (np.vstack([data.x_train, data.x_val]), np.vstack([data.y_train, data.y_val])),
        (data.x_test, data.y_test),
        epochs=epochs,
        seed=seed,
    )
    if outcome.diverged:
        raise TrainingDivergedError(
            f"final fit diverged: the loss became {outcome.train_loss} in epoch {outcome.epochs}"
        )
    return outcome.accuracy


keras_wine = register_objective(WineClassifier())
keras_wine_conditional = register_objective(WineClassifier(conditional=True))
