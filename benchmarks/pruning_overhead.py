"""What a report costs: ``python -m benchmarks.pruning_overhead``.

An objective makes ``--steps`` reports per trial (``bbopt.report(step, value)``) of
values no pruner stops on; the same loop calling a function that does nothing is
the reference. The overhead per reported step is the median difference of the two
runs' wall times over the number of reports, for a run without a pruner (reports
recorded only) and with each pruner idle: asked at every step, pruning nothing
(``threshold`` with a bound no value crosses, ``median``, ``percentile``,
``successive_halving``, ``hyperband``, ``patient``, after ``--history`` finished
trials), in memory and in an SQLite file. Target: < 0.1 ms per step.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bbopt
from bbopt import hp

SPACE = {"x": hp.uniform("x", 0, 1)}
TARGET_MS = 0.1
#: Idle settings: every pruner asked at every step, none of them stopping a trial.
PRUNERS: dict[str, dict[str, Any]] = {
    "threshold": {"upper": 1e9},
    "median": {"n_startup_trials": 0},
    "percentile": {"percentile": 100.0, "n_startup_trials": 0},
    "successive_halving": {"reduction_factor": 2, "bootstrap_count": 0},
    "hyperband": {"max_resource": 10_000},
    "patient": {"patience": 10_000},
}


def _ignore(step: int, value: float) -> None:
    """The reference: a call like ``report`` that does nothing."""


def objective(report: Callable[[int, float], None], steps: int) -> Callable[[Any], float]:
    def evaluate(params: dict[str, float]) -> float:
        # every trial improves on all before it: no pruner has a reason to stop it
        value = -time.perf_counter()
        for step in range(1, steps + 1):
            report(step, value - step)
        return value - steps

    return evaluate


def timed(
    report: Callable[[int, float], None],
    steps: int,
    trials: int,
    pruner: str | None,
    storage: Path | None,
) -> tuple[float, Any]:
    started = time.perf_counter()
    study = bbopt.minimize(
        objective(report, steps),
        SPACE,
        backend="bbopt.random",
        max_evals=trials,
        seed=0,
        pruner=pruner,
        pruner_options=PRUNERS.get(pruner or "", {}),
        storage=storage,
        study=f"overhead-{time.perf_counter_ns()}",
    )
    return time.perf_counter() - started, study


def per_step_ms(
    steps: int, trials: int, repeats: int, pruner: str | None, storage: Path | None
) -> float:
    """Median milliseconds per reported step above the reference loop."""
    differences = []
    for _ in range(repeats):
        reference, _ = timed(_ignore, steps, trials, pruner, storage)
        reporting, study = timed(bbopt.report, steps, trials, pruner, storage)
        assert all(t.state is bbopt.TrialState.DONE for t in study.trials), "a trial was pruned"
        assert sum(len(t.intermediate) for t in study.trials) == steps * trials
        differences.append((reporting - reference) / (steps * trials))
    return 1e3 * statistics.median(differences)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="reports per trial")
    parser.add_argument("--history", type=int, default=20, help="trials per run")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(
        f"reporting overhead per step: {args.history} trials x {args.steps} reports, "
        f"median of {args.repeats} runs (target < {TARGET_MS} ms)"
    )
    with tempfile.TemporaryDirectory() as folder:
        for where, storage in (("memory", None), ("sqlite", Path(folder) / "studies.db")):
            for pruner in (None, *PRUNERS):
                ms = per_step_ms(args.steps, args.history, args.repeats, pruner, storage)
                verdict = "ok" if ms < TARGET_MS else "over target"
                print(f"  {where:<7} {pruner or 'no pruner':<19} {ms * 1e3:7.1f} us  {verdict}")


if __name__ == "__main__":
    main()
