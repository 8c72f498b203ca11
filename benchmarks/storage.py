"""Storage overhead per trial: ``python -m benchmarks.storage``.

The same run (an instant objective, ``--trials`` trials, default 1000, with the
trivial ``bbopt.random`` backend so that the backend's cost does not hide the
storage's) is timed in memory, in an SQLite file (the default: WAL,
``synchronous=NORMAL``) and in a durable SQLite file (``synchronous=FULL``, one
fsync per commit), ``--repeats`` times in alternating order. The overhead per trial
is the median difference to the in-memory run. Also timed: ``load_study`` of the
stored study. Timings are only comparable within one run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import bbopt
from bbopt import hp
from bbopt.storage import SQLiteStorage

SPACE = {"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)}
TARGET_MS = 1.0


def instant(params: dict[str, float]) -> float:
    return (params["x"] - 1) ** 2 + params["y"] ** 2


def timed_run(trials: int, storage: Callable[[], SQLiteStorage | None]) -> float:
    """Seconds for one run of ``trials`` trials into a fresh storage (or in memory)."""
    target = storage()
    started = time.perf_counter()
    bbopt.minimize(
        instant,
        SPACE,
        backend="bbopt.random",
        max_evals=trials,
        seed=0,
        storage=target,
        study="bench",
        progress=False,
    )
    seconds = time.perf_counter() - started
    if target is not None:
        target.close()
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        count = iter(range(1_000_000))

        def new_file(durable: bool) -> Callable[[], SQLiteStorage]:
            return lambda: SQLiteStorage(Path(folder) / f"run{next(count)}.db", durable=durable)

        variants: dict[str, Callable[[], SQLiteStorage | None]] = {
            "in memory": lambda: None,
            "SQLite (WAL, synchronous=NORMAL)": new_file(False),
            "SQLite durable (synchronous=FULL)": new_file(True),
        }
        timed_run(20, variants["SQLite (WAL, synchronous=NORMAL)"])  # warm-up: imports
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        for repeat in range(args.repeats):
            order = list(variants) if repeat % 2 == 0 else list(reversed(variants))
            for name in order:
                seconds[name].append(timed_run(args.trials, variants[name]))

        stored = Path(folder) / "run1.db"
        started = time.perf_counter()
        loaded = bbopt.load_study("bench", stored)
        load_seconds = time.perf_counter() - started

    base = statistics.median(seconds["in memory"]) / args.trials * 1e3
    print(f"{args.trials} trials, instant objective, bbopt.random, median of {args.repeats}")
    print(f"{'storage':36} {'ms/trial':>9} {'overhead ms/trial':>18}")
    for name, runs in seconds.items():
        per_trial = statistics.median(runs) / args.trials * 1e3
        overhead = "" if name == "in memory" else f"{per_trial - base:.3f}"
        print(f"{name:36} {per_trial:9.3f} {overhead:>18}")
    default = statistics.median(seconds["SQLite (WAL, synchronous=NORMAL)"]) / args.trials * 1e3
    verdict = "met" if default - base < TARGET_MS else "MISSED"
    print(f"target < {TARGET_MS} ms per trial (default SQLite): {verdict}")
    print(f"load_study of {len(loaded.trials)} trials: {load_seconds * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
