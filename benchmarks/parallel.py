"""Parallel speed-up: ``python -m benchmarks.parallel``.

1. ``--trials`` trials (default 40) of a ``--sleep`` second sleep (default 0.5) with
   hyperopt's TPE, on 1/2/4/8 workers, in bbopt's local process pool and on a Dask
   LocalCluster. Per run: the loop's wall time (first trial started to last trial
   finished), the ideal ``trials * sleep / workers``, efficiency = ideal / loop, and
   the start-up + shut-down of the pool or cluster (whole call minus loop), apart.
2. The Keras wine objective (``keras.wine``), ``--keras-evals`` evaluations (default
   20) on 1 and 2 workers: loop times and the speed-up. The first trial in each worker
   imports TensorFlow; that is inside the loop time, as a user would see it. The
   steady rate (seconds per trial once every worker finished its first trial) and its
   speed-up show the parallel throughput apart from that one-off cost.

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


def steady_seconds_per_trial(study: Study) -> float:
    """Seconds per finished trial after every worker finished its first one."""
    first_end: dict[str | None, Any] = {}
    for trial in sorted(study.trials, key=lambda t: t.finished_at):
        first_end.setdefault(trial.worker, trial.finished_at)
    warm = max(first_end.values())
    later = [t for t in study.trials if t.finished_at > warm]
    end = max(t.finished_at for t in study.trials)
    return (end - warm).total_seconds() / max(1, len(later))


def timed_run(objective: Any, space: Any, **options: Any) -> tuple[Study, float, float]:
    """Run minimize; return the study, the loop's seconds and the rest (start-up, shut-down)."""
    started = time.perf_counter()
    study = bbopt.minimize(objective, space, progress=False, **options)
    total = time.perf_counter() - started
    loop = loop_seconds(study)
    return study, loop, total - loop


def sleep_table(trials: int, sleep: float, workers: list[int], engines: list[str]) -> None:
    print(f"{trials} trials of a {sleep} s sleep, hyperopt.tpe, seed 0")
    header = ("engine", "workers", "loop s", "ideal s", "effic.", "start+stop s")
    print("{:8} {:>7} {:>8} {:>8} {:>7} {:>12}".format(*header))
    for engine in engines:
        executor = "dask" if engine == "dask" else None
        for n in workers:
            study, loop, startup = timed_run(
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
            cells = f"{loop:>8.2f} {ideal:>8.2f} {ideal / loop:>7.1%} {startup:>12.2f}"
            print(f"{engine:8} {n:>7} {cells}", flush=True)


def keras_table(evals: int) -> None:
    if "keras.wine" not in bbopt.list_objectives():
        print("keras.wine is not registered: skipped")
        return
    print(f"\nkeras.wine, {evals} evaluations, hyperopt.tpe, seed 0")
    header = ("workers", "loop s", "speed-up", "steady s/trial", "speed-up", "start+stop s")
    print("{:>7} {:>8} {:>8} {:>14} {:>8} {:>12}".format(*header))
    reference: tuple[float, float] | None = None
    for n in (1, 2):
        study, loop, startup = timed_run(
            "keras.wine", None, backend="hyperopt.tpe", max_evals=evals, seed=0, workers=n
        )
        steady = steady_seconds_per_trial(study)
        reference = reference or (loop, steady)
        cells = f"{reference[0] / loop:>7.2f}x {steady:>14.3f} {reference[1] / steady:>7.2f}x"
        print(f"{n:>7} {loop:>8.2f} {cells} {startup:>12.2f}", flush=True)
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
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    engines = [e.strip() for e in args.engines.split(",")]
    unknown = set(engines) - {"pool", "dask"}
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}: use pool and/or dask")
    sleep_table(args.trials, args.sleep, workers, engines)
    if args.keras_evals:
        keras_table(args.keras_evals)


if __name__ == "__main__":
    main()
