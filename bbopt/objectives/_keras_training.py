"""Fast, memory-stable Keras training for small dense classifiers (the wine objectives).

The tutorial builds a new ``Sequential`` model for every evaluation and trains it with
``model.fit`` on numpy arrays: about 2.8 s per evaluation, most of it Keras' per-batch
Python machinery and re-tracing, and the resident memory grows by ~4.5 MB each time.
Here the training semantics are the same (same layers and initializers, Keras' own Adam
or SGD, categorical cross-entropy averaged per batch, reshuffled every epoch, the last
batch partial) but:

* one :class:`Trainer` exists per depth and optimizer (and layer capacity, 32 units
  and up) and process. Its model and optimizer are re-initialised for each evaluation
  instead of rebuilt; a smaller network is embedded in it with its extra units held at
  zero; learning rate and momentum live in variables, the batch size and epoch count
  are tensors, so the traced training function is reused by every evaluation;
* the whole epoch loop (shuffle, batching, gradient step) runs inside one
  ``tf.function``: one call per evaluation, no per-batch Python;

TensorFlow and Keras are imported inside functions only. If the environment variable
``BBOPT_WORKER_THREADS`` is set (worker processes of a parallel search set it), TensorFlow's
intra- and inter-op thread pools are limited to that many threads right after import.
"""

from __future__ import annotations

import functools
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bbopt.errors import BBoptError

THREADS_ENV = "BBOPT_WORKER_THREADS"


class TrainingDivergedError(BBoptError, ArithmeticError):
    """The training loss became NaN or infinite."""


def worker_threads() -> int | None:
    """The thread limit asked for by ``BBOPT_WORKER_THREADS``, or None when unset."""
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {text!r}")
    return int(text)


def tensorflow() -> Any:
    """Import TensorFlow, limiting its thread pools when ``BBOPT_WORKER_THREADS`` is set."""
    threads = worker_threads()
    import tensorflow as tf

    if threads is not None:
        _limit_threads(tf, threads)
    return tf


@functools.cache
def _limit_threads(tf: Any, threads: int) -> None:
    """Once per process and value, before TensorFlow runs its first op."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as exc:  # TensorFlow already ran an op in this process
        warnings.warn(f"{THREADS_ENV}={threads} ignored: {exc}", RuntimeWarning, stacklevel=4)


def keras_module() -> Any:
    """Import Keras (after TensorFlow, so the thread limits apply) and check its backend."""
    tensorflow()
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "the Keras objectives need the TensorFlow backend of Keras; "
            f"KERAS_BACKEND is {keras.backend.backend()!r}"
        )
    return keras


@dataclass(frozen=True)
class Network:
    """What to train: hidden ReLU layer sizes, the optimizer and its settings."""

    hidden: tuple[int, ...]
    optimizer: str = "adam"  # "adam" or "sgd"
    learning_rate: float = 1e-3
    momentum: float = 0.0  # sgd only
    batch_size: int = 32

    def __post_init__(self) -> None:
        if not self.hidden or any(int(h) != h or h < 1 for h in self.hidden):
            raise ValueError(f"hidden layer sizes must be positive integers, got {self.hidden}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not 0 <= self.momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {self.momentum!r}")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")


@dataclass(frozen=True)
class Outcome:
    """One training run: the evaluation set's accuracy and loss, and how the training went."""

    accuracy: float
    loss: float
    train_loss: float  # mean loss of the last epoch run
    epochs: int  # epochs run (fewer than asked when the loss diverged)
    train_time: float  # seconds spent training (not evaluating)

    @property
    def diverged(self) -> bool:
        return not np.isfinite(self.train_loss)


def epoch_order(n: Any, seed: Any, epoch: Any) -> Any:
    """The order in which epoch ``epoch`` visits the ``n`` samples (a seeded permutation)."""
    tf = tensorflow()
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.experimental.stateless_shuffle(tf.range(n), seed=key)


def _train_epochs(model: Any, optimizer: Any, loss_fn: Any, *args: Any) -> Any:
    """The training loop, traced once per Trainer: ``epochs`` passes over reshuffled batches,
    numbered from ``first_epoch`` (so a training run in chunks shuffles as one in one go),
    each followed by a scoring of the evaluation data.

    Stops early when an epoch's mean loss is not finite. Returns the per-epoch training
    losses, evaluation losses and evaluation accuracies.
    """
    tf = tensorflow()
    x, y, x_eval, y_eval, epochs, batch_size, seed, first_epoch = args
    n = tf.shape(x)[0]
    batches = (n + batch_size - 1) // batch_size
    losses = tf.TensorArray(tf.float32, size=epochs)
    eval_losses = tf.TensorArray(tf.float32, size=epochs)
    eval_accuracies = tf.TensorArray(tf.float32, size=epochs)
    epoch = tf.constant(0)
    epoch_loss = tf.constant(0.0)
    while epoch < epochs and tf.math.is_finite(epoch_loss):
        order = epoch_order(n, seed, first_epoch + epoch)
        total = tf.constant(0.0)
        for batch in tf.range(batches):
            index = order[batch * batch_size : (batch + 1) * batch_size]
            x_batch, y_batch = tf.gather(x, index), tf.gather(y, index)
            with tf.GradientTape() as tape:
                loss = loss_fn(y_batch, model(x_batch, training=True))
            weights = model.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))
            total += loss * tf.cast(tf.shape(index)[0], tf.float32)
        epoch_loss = total / tf.cast(n, tf.float32)
        losses = losses.write(epoch, epoch_loss)
        eval_loss, eval_accuracy = _evaluate(model, loss_fn, x_eval, y_eval)
        eval_losses = eval_losses.write(epoch, eval_loss)
        eval_accuracies = eval_accuracies.write(epoch, eval_accuracy)
        epoch += 1
    # the epochs run
    return losses.stack()[:epoch], eval_losses.stack()[:epoch], eval_accuracies.stack()[:epoch]


def _evaluate(model: Any, loss_fn: Any, x: Any, y: Any) -> Any:
    """Loss and categorical accuracy of ``model`` on one batch holding all of ``x``."""
    tf = tensorflow()
    predicted = model(x, training=False)
    hits = tf.equal(tf.argmax(predicted, axis=1), tf.argmax(y, axis=1))
    return loss_fn(y, predicted), tf.reduce_mean(tf.cast(hits, tf.float32))


@functools.cache
def _momentum_sgd_class() -> type:
    keras = keras_module()
    ops = keras.ops
    sgd: Any = keras.optimizers.SGD

    class MomentumSGD(sgd):
        """Keras SGD (momentum, not Nesterov) with the momentum held in a variable.

        Keras' SGD bakes ``momentum`` into the traced update as a constant; a variable lets
        one traced training loop serve every momentum value. The update is Keras' own:
        ``m = momentum * m - lr * g; w += m``.
        """

        def __init__(self) -> None:
            super().__init__(learning_rate=0.01, momentum=0.5)  # != 0: slots are created

        def build(self, variables: Any) -> None:
            if self.built:
                return
            super().build(variables)
            self.momentum_value = self.add_variable((), name="momentum_value")

        def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
            learning_rate = ops.cast(learning_rate, variable.dtype)
            gradient = ops.cast(gradient, variable.dtype)
            momentum = ops.cast(self.momentum_value, variable.dtype)
            m = self.momentums[self._get_variable_index(variable)]
            self.assign(
                m, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate))
            )
            self.assign_add(variable, m)

    return MomentumSGD


def _reseeded(initializer: Any, seed: int) -> Any:
    """A copy of a Keras initializer with a fixed seed (same distribution, reproducible)."""
    config = initializer.get_config()
    if "seed" not in config:  # deterministic initializers such as Zeros
        return initializer
    return type(initializer).from_config({**config, "seed": seed})


def capacity(units: int) -> int:
    """Units a trainer's layer holds for a layer of ``units``: 32, 64, 128, ..."""
    size = 32
    while size < units:
        size *= 2
    return size


class Trainer:
    """A built model, its optimizer and traced training/evaluation functions, reused by
    every network of the same depth and optimizer whose layers fit its capacities.

    A smaller network is embedded with the extra units' weights and biases at zero:
    such a unit outputs relu(0) = 0 and gets zero gradients (relu'(0) = 0 in
    TensorFlow), so Adam and SGD leave it at exactly zero and the computation is that
    of the smaller network. This keeps the number of traced graphs per process tiny;
    TensorFlow never frees a traced graph, so one trace per layer size would grow the
    memory without bound.
    """

    def __init__(self, capacities: tuple[int, ...], optimizer: str, features: int, classes: int):
        tf = tensorflow()
        keras = keras_module()
        self.features, self.classes = features, classes
        layers = [keras.Input((features,))]
        layers += [keras.layers.Dense(size, activation="relu") for size in capacities]
        layers.append(keras.layers.Dense(classes, activation="softmax"))
        self.model = keras.Sequential(layers)
        if optimizer == "adam":
            self.optimizer = keras.optimizers.Adam(learning_rate=1e-3)
        else:
            self.optimizer = _momentum_sgd_class()()
        self.optimizer.build(self.model.trainable_variables)
        loss_fn = keras.losses.CategoricalCrossentropy()
        data = (
            tf.TensorSpec([None, features], tf.float32),
            tf.TensorSpec([None, classes], tf.float32),
        )
        scalar = tf.TensorSpec([], tf.int32)
        # functools.partial gives each trainer its own key in TensorFlow's frequent
        # retracing detector, which otherwise counts every trainer's single trace together.
        self._fit = tf.function(
            functools.partial(_train_epochs, self.model, self.optimizer, loss_fn),
            input_signature=[*data, *data, scalar, scalar, tf.TensorSpec([], tf.int64), scalar],
        )
        self._evaluate = tf.function(
            functools.partial(_evaluate, self.model, loss_fn), input_signature=list(data)
        )

    def _shapes(self, network: Network) -> list[tuple[int, int]]:
        """(inputs, units) of each of ``network``'s dense layers."""
        units = [*network.hidden, self.classes]
        return list(zip([self.features, *network.hidden], units, strict=True))

    def reset(self, network: Network, seed: int) -> None:
        """Fresh weights for ``network`` (the layers' own initializers at its layer
        shapes, seeded; zero beyond them) and fresh optimizer state."""
        shapes = self._shapes(network)
        for index, (layer, (inputs, units)) in enumerate(
            zip(self.model.layers, shapes, strict=True)
        ):
            for variable, initializer, shape in (
                (layer.kernel, layer.kernel_initializer, (inputs, units)),
                (layer.bias, layer.bias_initializer, (units,)),
            ):
                init = _reseeded(initializer, seed * 1000 + index)
                value = np.zeros(variable.shape, np.float32)
                value[tuple(slice(0, n) for n in shape)] = init(shape, "float32")
                variable.assign(value)
        for variable in self.optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))
        self.optimizer.learning_rate.assign(network.learning_rate)
        if network.optimizer == "sgd":
            self.optimizer.momentum_value.assign(network.momentum)

    def weights(self, network: Network) -> list[np.ndarray]:
        """``network``'s own weights (kernel, bias per layer), as ``model.get_weights()``."""
        out = []
        for layer, (inputs, units) in zip(self.model.layers, self._shapes(network), strict=True):
            out += [np.asarray(layer.kernel)[:inputs, :units], np.asarray(layer.bias)[:units]]
        return out

    def fit(
        self, x: Any, y: Any, epochs: int, batch_size: int, seed: int, first_epoch: int = 0
    ) -> np.ndarray:
        """Train in place; returns the mean loss of each epoch run."""
        return self.fit_scored(x, y, (x[:1], y[:1]), epochs, batch_size, seed, first_epoch)[0]

    def fit_scored(
        self,
        x: Any,
        y: Any,
        eval_data: tuple[Any, Any],
        epochs: int,
        batch_size: int,
        seed: int,
        first_epoch: int = 0,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Train in place for ``epochs`` more epochs, the first numbered ``first_epoch``
        (weights and optimizer state carry over from the previous call), scoring
        ``eval_data`` after each; returns the per-epoch training losses, evaluation
        losses and evaluation accuracies of the epochs run."""
        arrays = self._fit(
            x,
            y,
            *eval_data,
            np.int32(epochs),
            np.int32(batch_size),
            np.int64(seed),
            np.int32(first_epoch),
        )
        losses, eval_losses, accuracies = (np.asarray(a, dtype=float) for a in arrays)
        return losses, eval_losses, accuracies

    def evaluate(self, x: Any, y: Any) -> tuple[float, float]:
        """(loss, accuracy) on ``x``, ``y``."""
        loss, accuracy = self._evaluate(x, y)
        return float(loss), float(accuracy)


_trainers: dict[tuple[Any, ...], Trainer] = {}


def trainer_for(network: Network, features: int, classes: int) -> Trainer:
    """This process's Trainer for ``network`` (built and traced on first use)."""
    capacities = tuple(capacity(units) for units in network.hidden)
    key = (capacities, network.optimizer, features, classes)
    if key not in _trainers:
        _trainers[key] = Trainer(capacities, network.optimizer, features, classes)
    return _trainers[key]


Progress = Callable[[int, float, float], None]
"""``progress(epoch, eval_loss, eval_accuracy)``, called for each epoch after its chunk."""


def train(
    network: Network,
    train_data: tuple[Any, Any],
    eval_data: tuple[Any, Any],
    *,
    epochs: int,
    seed: int,
    progress: Progress | None = None,
    chunk: int | None = None,
) -> Outcome:
    """Train ``network`` from fresh weights on ``train_data`` and score it on ``eval_data``.

    The training runs in chunks of ``chunk`` epochs (default: all at once); after each
    chunk, ``progress`` (which may raise to stop the training) gets the evaluation
    scores of each of its epochs. The weights are those of one run of all epochs (same
    shuffles, same optimizer state) whatever the chunks. Deterministic for a given seed
    (weights and the per-epoch shuffles derive from it). Keras' global session state is
    cleared afterwards (the tutorial's hygiene); Python's garbage collection is
    skipped, it costs ~0.3 s and there is nothing to collect here.
    """
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if chunk is not None and (int(chunk) != chunk or chunk < 1):
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    step = int(epochs if chunk is None else chunk)
    keras = keras_module()
    x, y = train_data
    trainer = trainer_for(network, int(x.shape[1]), int(y.shape[1]))
    try:
        trainer.reset(network, seed)
        losses: list[float] = []
        scores: list[tuple[float, float]] = []
        train_time = 0.0
        while len(losses) < epochs:
            start = time.perf_counter()
            asked = min(step, int(epochs) - len(losses))
            ran = trainer.fit_scored(x, y, eval_data, asked, network.batch_size, seed, len(losses))
            train_time += time.perf_counter() - start
            first = len(losses) + 1
            losses.extend(ran[0].tolist())
            if len(ran[0]) < asked or not np.isfinite(losses[-1]):
                break  # diverged: its scores mean nothing
            for epoch, (eval_loss, accuracy) in enumerate(zip(ran[1], ran[2], strict=True), first):
                scores.append((float(eval_loss), float(accuracy)))
                if progress is not None:
                    progress(epoch, *scores[-1])
        loss, accuracy = scores[-1] if len(scores) == len(losses) else trainer.evaluate(*eval_data)
    finally:
        keras.backend.clear_session(free_memory=False)
    return Outcome(accuracy, loss, float(losses[-1]), len(losses), train_time)
