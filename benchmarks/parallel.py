"""Parallel speed-up: ``python -m benchmarks.parallel``.

1. ``--trials`` trials (default 40) of a ``--sleep`` second sleep (default 0.5) with
   hyperopt's TPE, on 1/2/4/8 workers, in bbopt's local process pool and on a Dask
   LocalCluster. Per run: the loop's wall time (first trial started to last trial
   finished), the ideal ``trials * sleep / workers``, efficiency = ideal / loop, and
   the start-up + shut-down of the pool or cluster (whole call minus loop), apart.
2. The Keras wine objective (``keras.wine``), ``--keras-evals`` evaluations (default
   20) on a pool of 1 and a pool of 2 workers. Per run: the start-up (from the call to
   the first trial's start: the pool starting, each worker importing TensorFlow and
   tracing the trainer in ``Objective.prepare``), the loop time and its speed-up over
   1 worker, and the end-to-end time (the whole call) and its speed-up.

Timings are only comparable within one run on a quiet machine.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import bbopt
from bbopt import hp
from bbopt.study import Study

SLEEP_SPACE = hp.uniform("x", -5, 5)


def sleeper(seconds: float) -> Any:
    """An objective that sleeps ``seconds`` and returns a cheap quadratic."""

    def objective(x: float) -> float:
        time.sleep(seconds)
        return (x - 1.0) ** 2

    return objective


def loop_seconds(study: Study) -> float:
    """From the first trial's start to the last trial's end (engine start-up excluded)."""
    starts = [t.started_at for t in study.trials if t.started_at is not None]
    ends = [t.finished_at for t in study.trials if t.finished_at is not None]
    return (max(ends) - min(starts)).total_seconds()


def timed_run(objective: Any, space: Any, **options: Any) -> tuple[Study, float, float, float]:
    """Run minimize; return the study, the whole call's seconds, the start-up (call to
    first trial start: engine start and prepare) and the loop's seconds."""
    called = time.time()
    started = time.perf_counter()
    study = bbopt.minimize(objective, space, progress=False, **options)
    total = time.perf_counter() - started
    first = min(t.started_at for t in study.trials if t.started_at is not None)
    return study, total, first.timestamp() - called, loop_seconds(study)


def sleep_table(trials: int, sleep: float, workers: list[int], engines: list[str]) -> None:
    print(f"{trials} trials of a {sleep} s sleep, hyperopt.tpe, seed 0")
    header = ("engine", "workers", "loop s", "ideal s", "effic.", "start+stop s")
    print("{:8} {:>7} {:>8} {:>8} {:>7} {:>12}".format(*header))
    for engine in engines:
        executor = "dask" if engine == "dask" else None
        for n in workers:
            study, total, _, loop = timed_run(
                sleeper(sleep),
                SLEEP_SPACE,
                backend="hyperopt.tpe",
                max_evals=trials,
                seed=0,
                workers=n,
                executor=executor,
            )
            if len(study.ok_trials) != trials:
                raise RuntimeError(f"{engine} x{n}: only {len(study.ok_trials)} trials succeeded")
            ideal = trials * sleep / n
            cells = f"{loop:>8.2f} {ideal:>8.2f} {ideal / loop:>7.1%} {total - loop:>12.2f}"
            print(f"{engine:8} {n:>7} {cells}", flush=True)


def keras_table(evals: int) -> None:
    if "keras.wine" not in bbopt.list_objectives():
        print("keras.wine is not registered: skipped")
        return
    print(f"\nkeras.wine, {evals} evaluations, hyperopt.tpe, seed 0, local pool")
    header = ("workers", "start-up s", "loop s", "speed-up", "end-to-end s", "speed-up")
    print("{:>7} {:>10} {:>8} {:>8} {:>12} {:>8}".format(*header))
    reference: tuple[float, float] | None = None
    for n in (1, 2):
        study, total, startup, loop = timed_run(
            "keras.wine", None, backend="hyperopt.tpe", max_evals=evals, seed=0, workers=n
        )
        reference = reference or (loop, total)
        speedups = reference[0] / loop, reference[1] / total
        cells = f"{loop:>8.2f} {speedups[0]:>7.2f}x {total:>12.2f} {speedups[1]:>7.2f}x"
        print(f"{n:>7} {startup:>10.2f} {cells}", flush=True)
        failed = [t for t in study.trials if not t.ok]
        if failed:
            print(f"  {len(failed)} failed trials; first error: {failed[0].error}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.parallel", description=__doc__)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--sleep", type=float, default=0.5)
    parser.add_argument("--workers", default="1,2,4,8", help="comma-separated worker counts")
    parser.add_argument("--engines", default="pool,dask", help="pool, dask or both")
    parser.add_argument("--keras-evals", type=int, default=20, help="0 skips the Keras run")
    parser.add_argument("--only", choices=("sleep", "keras"), help="run only this part")
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    engines = [e.strip() for e in args.engines.split(",")]
    unknown = set(engines) - {"pool", "dask"}
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}: use pool and/or dask")
    if args.only != "keras":
        sleep_table(args.trials, args.sleep, workers, engines)
    if args.keras_evals and args.only != "sleep":
        keras_table(args.keras_evals)


if __name__ == "__main__":
    main()
