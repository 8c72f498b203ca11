"""``python -m benchmarks.overhead``: what bbopt costs on top of raw ``hyperopt.fmin``.

An instant 5-D objective, 300 evaluations, hyperopt's tpe and rand. ``bbopt.minimize``
and ``hyperopt.fmin`` run interleaved in this process with the same seeds (so they
evaluate the same points, see tests/test_hyperopt_faithful.py) and the median wall
times are compared. "Own overhead" is a run's wall time minus the time spent inside
hyperopt's suggest function and inside the objective, per trial: bookkeeping that is
not the search itself. Targets: ratio <= 1.10 for tpe, bbopt's own overhead < 0.3 ms.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import bbopt

DIMENSIONS = 5
RATIO_TARGET = 1.10
OWN_OVERHEAD_TARGET_MS = 0.3


@dataclass
class Clock:
    """Wall and CPU time spent in the functions it wraps (or in a ``with`` block)."""

    wall: float = 0.0
    cpu: float = 0.0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return timed

    def __enter__(self) -> Clock:
        self._started = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._started[0]
        self.cpu += time.process_time() - self._started[1]


@dataclass
class Run:
    """One timed optimization run: in all, inside suggest, inside the objective."""

    total: Clock
    suggest: Clock
    objective: Clock
    evals: int
    best: float

    def own_ms(self, kind: str) -> float:
        """Milliseconds per trial outside suggest and the objective (``kind``: wall or cpu)."""
        parts = [getattr(clock, kind) for clock in (self.total, self.suggest, self.objective)]
        return 1e3 * (parts[0] - parts[1] - parts[2]) / self.evals


@dataclass
class Comparison:
    algo: str
    fmin: list[Run] = field(default_factory=list)
    bbopt: list[Run] = field(default_factory=list)

    @staticmethod
    def median(runs: list[Run], value: Callable[[Run], float]) -> float:
        return statistics.median(value(run) for run in runs)

    def ratio(self, kind: str) -> float:
        """Median over repeats of bbopt's time over fmin's in the same repeat."""
        pairs = zip(self.bbopt, self.fmin, strict=True)
        return statistics.median(
            getattr(ours.total, kind) / getattr(theirs.total, kind) for ours, theirs in pairs
        )


def sphere(params: dict[str, float]) -> float:
    """The instant objective: a sum of squares."""
    return sum(value * value for value in params.values())


def spaces() -> tuple[dict[str, Any], dict[str, Any]]:
    """The same 5-D box for hyperopt and for bbopt."""
    from hyperopt import hp as hyperopt_hp

    labels = [f"x{i}" for i in range(DIMENSIONS)]
    return (
        {label: hyperopt_hp.uniform(label, -5, 5) for label in labels},
        {label: bbopt.hp.uniform(label, -5, 5) for label in labels},
    )


@contextmanager
def timed_suggest(algo: str) -> Iterator[Clock]:
    """Time hyperopt's ``<algo>.suggest``, for fmin and for bbopt's backend alike."""
    import importlib

    module = importlib.import_module(f"hyperopt.{algo}")
    original = module.suggest
    clock = Clock()
    module.suggest = clock.wrap(original)
    try:
        yield clock
    finally:
        module.suggest = original


def run_fmin(algo: str, seed: int, evals: int) -> Run:
    import hyperopt

    space = spaces()[0]
    objective, total = Clock(), Clock()
    trials = hyperopt.Trials()
    with timed_suggest(algo) as suggest, total:
        hyperopt.fmin(
            objective.wrap(sphere),
            space,
            algo=getattr(hyperopt, algo).suggest,
            max_evals=evals,
            trials=trials,
            rstate=np.random.default_rng(seed),
            show_progressbar=False,
        )
    best = min(loss for loss in trials.losses() if loss is not None)
    return Run(total, suggest, objective, evals, best)


def run_bbopt(algo: str, seed: int, evals: int) -> Run:
    space = spaces()[1]
    objective, total = Clock(), Clock()
    with timed_suggest(algo) as suggest, total:
        study = bbopt.minimize(
            objective.wrap(sphere),
            space,
            backend=f"hyperopt.{algo}",
            max_evals=evals,
            seed=seed,
            progress=False,
        )
    return Run(total, suggest, objective, evals, study.best_loss)


def compare(algo: str, evals: int, repeats: int) -> Comparison:
    """Interleaved repeats (alternating which goes first) after one short warm-up each."""
    run_fmin(algo, 0, 25)
    run_bbopt(algo, 0, 25)
    result = Comparison(algo)
    for repeat in range(repeats):
        order = (run_fmin, run_bbopt) if repeat % 2 == 0 else (run_bbopt, run_fmin)
        runs = {fn: fn(algo, repeat, evals) for fn in order}
        theirs, ours = runs[run_fmin], runs[run_bbopt]
        if ours.best != theirs.best:
            raise RuntimeError(f"{algo}: bbopt and fmin searched differently (seed {repeat})")
        result.fmin.append(theirs)
        result.bbopt.append(ours)
    return result


def report(results: list[Comparison], evals: int, repeats: int) -> str:
    lines = [
        f"bbopt.minimize vs hyperopt.fmin: instant {DIMENSIONS}-D objective, {evals} "
        f"evaluations, median of {repeats} interleaved repeats",
        "",
        "       wall time [s]   bbopt/fmin    suggest [ms/trial]   own [ms/trial]",
        f"{'algo':<6}{'fmin':>7}{'bbopt':>8}{'wall':>7}{'cpu':>7}{'fmin':>10}{'bbopt':>8}"
        f"{'fmin':>10}{'bbopt':>8}{'(wall)':>8}",
    ]
    for r in results:
        lines.append(
            f"{r.algo:<6}"
            f"{r.median(r.fmin, lambda run: run.total.wall):>7.2f}"
            f"{r.median(r.bbopt, lambda run: run.total.wall):>8.2f}"
            f"{r.ratio('wall'):>7.3f}{r.ratio('cpu'):>7.3f}"
            f"{r.median(r.fmin, lambda run: 1e3 * run.suggest.cpu / run.evals):>10.3f}"
            f"{r.median(r.bbopt, lambda run: 1e3 * run.suggest.cpu / run.evals):>8.3f}"
            f"{r.median(r.fmin, lambda run: run.own_ms('cpu')):>10.3f}"
            f"{r.median(r.bbopt, lambda run: run.own_ms('cpu')):>8.3f}"
            f"{r.median(r.bbopt, lambda run: run.own_ms('wall')):>8.3f}"
        )
    lines += [
        "",
        "suggest: CPU time inside hyperopt's suggest. own: CPU time outside suggest and the",
        "objective (loop, records, hyperopt Trials upkeep); (wall) is the same in wall time,",
        "which on a busy machine also counts time other processes held the CPU.",
    ]
    for r in results:
        own = r.median(r.bbopt, lambda run: run.own_ms("cpu"))
        checks = [f"own overhead {own:.3f} ms (target < {OWN_OVERHEAD_TARGET_MS})"]
        met = own < OWN_OVERHEAD_TARGET_MS
        if r.algo == "tpe":
            checks.insert(0, f"wall ratio {r.ratio('wall'):.3f} (target <= {RATIO_TARGET})")
            met = met and r.ratio("wall") <= RATIO_TARGET
        lines.append(f"{r.algo}: {'; '.join(checks)}: {'met' if met else 'MISSED'}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__)
    parser.add_argument("--evals", type=int, default=300, help="evaluations per run")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats")
    parser.add_argument("--algos", nargs="+", default=["tpe", "rand"], choices=["tpe", "rand"])
    args = parser.parse_args(argv)
    results = [compare(algo, args.evals, args.repeats) for algo in args.algos]
    print(report(results, args.evals, args.repeats))


if __name__ == "__main__":
    main()
