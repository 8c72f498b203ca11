"""Wall time of one evaluation of the sklearn objectives: ``python -m benchmarks.sklearn_cost``.

For every model (``--models``, default all) and every data set and metric, the
objective is prepared, then ``--points`` random points of its space (seeds 0, 1, ...)
are evaluated one after the other in this process. Printed: the median seconds per
evaluation for each model and data set (both metrics pooled), the model's median
over all its objectives, and the load average before and after (a busy machine
inflates every figure).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bbopt.objectives.sklearn import DATASETS, METRICS, MODELS, SklearnObjective
from bbopt.space import Space


def evaluation_seconds(objective: SklearnObjective, points: int) -> list[float]:
    """Seconds of each evaluation of ``points`` random points (after ``prepare``)."""
    objective.prepare()
    space = Space(objective.space)
    seconds = []
    for seed in range(points):
        params = space.sample(seed)
        started = time.perf_counter()
        objective.evaluate(params)
        seconds.append(time.perf_counter() - started)
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models")
    parser.add_argument("--points", type=int, default=3, help="random points per objective")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {sorted(MODELS)}")
    if args.points < 1:
        parser.error(f"--points must be >= 1, got {args.points}")

    load_before = os.getloadavg()[0]
    print(f"median seconds per evaluation, {args.points} random points per objective")
    print(f"{'model':10}" + "".join(f"{d:>10}" for d in DATASETS) + f"{'all':>10}")
    for model in models:
        row, pooled = [], []
        for dataset, (_, classify) in DATASETS.items():
            seconds = [
                s
                for metric in METRICS[classify]
                for s in evaluation_seconds(SklearnObjective(model, dataset, metric), args.points)
            ]
            row.append(statistics.median(seconds))
            pooled.extend(seconds)
        cells = "".join(f"{s:10.3f}" for s in row)
        print(f"{model:10}{cells}{statistics.median(pooled):10.3f}", flush=True)
    print(f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
