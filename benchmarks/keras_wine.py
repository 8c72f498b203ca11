"""Time and memory of the ``keras.wine`` objective against the tutorial's training code.

Run ``python -m benchmarks.keras_wine``. Both sides train the same model (one hidden
ReLU layer, softmax, Adam, categorical cross-entropy, 50 epochs, batch 32, reshuffled
every epoch) on the same parameter draws from the objective's space:

* phase 1: ``--evals`` evaluations of ``keras.wine`` alone, recording the resident
  memory (VmRSS) after each one: its growth over the evaluations is the memory figure;
* phase 2: ``--pairs`` pairs, each a tutorial-style evaluation (a new ``Sequential``,
  ``model.fit`` on numpy arrays, ``model.evaluate``, ``clear_session()``) followed by
  ``keras.wine`` on the same parameters. Alternating keeps both under the same machine
  load, so the ratio of the medians is meaningful on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np

from bbopt.objectives._keras_training import keras_module
from bbopt.objectives.wine import SPACE, WineClassifier, wine_data
from bbopt.space import Space


def rss_mb() -> float:
    """Resident memory of this process in MB (VmRSS from /proc/self/status)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def tutorial_evaluate(params: dict[str, Any]) -> float:
    """The tutorial's objective: build, fit on numpy arrays, evaluate, clear the session."""
    import keras

    data = wine_data()
    model = keras.Sequential(
        [
            keras.Input((data.x_train.shape[1],)),
            keras.layers.Dense(int(params["layer_size"]), activation="relu"),
            keras.layers.Dense(data.y_train.shape[1], activation="softmax"),
        ]
    )
    optimizer = keras.optimizers.Adam(learning_rate=params["learning_rate"])
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    model.fit(data.x_train, data.y_train, epochs=50, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(data.x_val, data.y_val, verbose=0)
    keras.backend.clear_session()
    return float(accuracy)


def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - start, value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evals", type=int, default=50, help="phase 1 evaluations")
    parser.add_argument("--pairs", type=int, default=8, help="phase 2 evaluation pairs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the parameter draws")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    space = Space(SPACE)
    rng = np.random.default_rng(args.seed)
    draws = [space.to_params(space.sample_flat(rng)) for _ in range(args.evals + args.pairs)]
    objective = WineClassifier()

    import_time, _ = _timed(keras_module)
    data_time, _ = _timed(wine_data)
    rss_start = rss_mb()

    ours_times, rss = [], []
    for params in draws[: args.evals]:
        elapsed, _ = _timed(objective.evaluate, params)
        ours_times.append(elapsed)
        rss.append(rss_mb())

    paired: list[tuple[float, float, float, float]] = []
    for params in draws[args.evals :]:
        tutorial_time, tutorial_acc = _timed(tutorial_evaluate, params)
        ours_time, result = _timed(objective.evaluate, params)
        paired.append((tutorial_time, ours_time, tutorial_acc, result.get("val_accuracy") or 0))

    half = len(rss) // 2
    slope = (rss[-1] - rss[half]) / max(1, len(rss) - 1 - half)
    tutorial_median = statistics.median(p[0] for p in paired)
    ours_median = statistics.median(p[1] for p in paired)
    print(f"keras.wine benchmark ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    print(f"import keras+tensorflow: {import_time:.2f} s, data preparation: {data_time:.2f} s")
    print(f"phase 1, {len(ours_times)} evaluations of keras.wine:")
    print(f"  first evaluation (builds and traces): {ours_times[0]:.2f} s")
    print(f"  median s/eval: {statistics.median(ours_times):.3f}  max: {max(ours_times):.2f}")
    print(f"  RSS MB: before {rss_start:.0f}, after eval 1 {rss[0]:.0f}, after last {rss[-1]:.0f}")
    print(f"  RSS growth over the evaluations: {rss[-1] - rss[0]:+.1f} MB after the first")
    print(f"  ({rss[-1] - rss_start:+.1f} MB incl. the first), second half {slope:+.2f} MB/eval")
    print(f"phase 2, {len(paired)} pairs on the same parameters:")
    print(f"  tutorial-style median s/eval: {tutorial_median:.3f}")
    print(f"  keras.wine     median s/eval: {ours_median:.3f}")
    print(f"  speed-up (tutorial / ours): {tutorial_median / ours_median:.1f}x")
    accuracies = [(f"{p[2]:.3f}", f"{p[3]:.3f}") for p in paired]
    print(f"  validation accuracy (tutorial, ours) per pair: {accuracies}")


if __name__ == "__main__":
    main()
