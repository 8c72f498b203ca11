"""``python -m benchmarks.suggest_cost``: seconds per suggestion at 10, 100 and 1000 trials.

Each backend runs one seeded ask/tell loop on a 5-D problem (a shifted sphere on
[-5, 5]^5; the objective itself costs nothing). A trial's cost is the time of its
``ask`` plus the ``tell`` of its result: some backends fit their model in ``tell``
(scikit-optimize), others in ``ask``, and a search pays both. The cost "at n trials"
is the median over the ``--window`` trials that follow the first n. A backend goes on
to 1000 trials only if its cost at 100 is under ``--max-cost-for-1000`` seconds,
and stops early when its loop has run ``--time-limit`` seconds; larger trial counts
are then not measured ("-").

"mean @100" is the mean over the same trials: a backend that refits its model every
k-th suggestion only (SMAC's random forest, every 8th) has a median far below its mean.
The last column checks the quick-benchmark flag: a backend marked
``quick_benchmark = True`` must suggest in under 50 ms at 100 trials, median and mean
(``MISMATCH`` otherwise, and for a backend under 50 ms that is not marked). ``x random`` is the
cost at 100 trials over ``bbopt.random``'s, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bbopt import hp
from bbopt.backends import Backend, Observation, create_backend, get_backend
from bbopt.space import Space
from benchmarks.grid import select_backends

DIMENSIONS = 5
QUICK_LIMIT = 0.050  # seconds per suggestion at 100 trials, for quick_benchmark backends
REFERENCE = "bbopt.random"


def problem_space() -> Space:
    return Space({f"x{i}": hp.uniform(f"x{i}", -5, 5) for i in range(DIMENSIONS)})


def sphere(flat: dict[str, float]) -> float:
    return sum((value - 1.0) ** 2 for value in flat.values())


@dataclass
class Costs:
    """One backend's per-trial seconds (ask + tell), and why it stopped early if it did."""

    backend: str
    seconds: list[float] = field(default_factory=list)
    stopped: str = ""

    def at(self, trials: int, window: int, average: Any = statistics.median) -> float | None:
        """Median (or ``average``) cost of the ``window`` trials after the first ``trials``,
        if all ran."""
        chunk = self.seconds[trials : trials + window]
        return average(chunk) if len(chunk) == window else None


def measure(
    name: str,
    counts: Sequence[int],
    window: int,
    max_cost_for_last: float,
    time_limit: float,
    seed: int,
) -> Costs:
    """Run ``name`` trial by trial up to the largest count (+ window) it is allowed."""
    costs = Costs(name)
    goal = max(counts) + window
    backend: Backend = create_backend(name, problem_space(), seed, max_evals=goal)
    started = time.perf_counter()
    last_gate = sorted(counts)[-2] if len(counts) > 1 else None
    while len(costs.seconds) < goal:
        if last_gate is not None and len(costs.seconds) == last_gate + window:
            gate = costs.at(last_gate, window)
            if gate is not None and gate > max_cost_for_last:
                costs.stopped = f"{gate:.3g} s at {last_gate} > {max_cost_for_last:g} s"
                break
        if time.perf_counter() - started > time_limit:
            costs.stopped = f"time limit after {len(costs.seconds)} trials"
            break
        tick = time.perf_counter()
        (suggestion,) = backend.ask(1)
        loss = sphere(suggestion.flat_params)
        backend.tell(Observation(suggestion.flat_params, loss, suggestion=suggestion))
        costs.seconds.append(time.perf_counter() - tick)
    backend.close()
    return costs


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def table(results: list[Costs], counts: Sequence[int], window: int) -> str:
    """A Markdown table: cost at each count, ratio to random search, quick-flag check."""
    reference = next((r.at(100, window) for r in results if r.backend == REFERENCE), None)
    header = ["backend", *(f"{n} trials" for n in counts), "mean @100", "x random @100"]
    header.append("quick flag")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in results:
        at = [result.at(n, window) for n in counts]
        at100 = result.at(100, window)
        ratio = f"{at100 / reference:.3g}" if at100 is not None and reference else "-"
        quick = get_backend(result.backend).quick_benchmark
        mean100 = result.at(100, window, statistics.mean)
        fast = None if at100 is None or mean100 is None else max(at100, mean100) < QUICK_LIMIT
        flag = ("yes" if quick else "no") + (" MISMATCH" if fast not in (None, quick) else "")
        row = [result.backend, *map(_fmt, at), _fmt(mean100), ratio, flag]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suggest_cost", description=__doc__)
    parser.add_argument("--backends", default="all", help="names, 'quick' or 'all' (default)")
    parser.add_argument("--trials", default="10,100,1000", help="default: %(default)s")
    parser.add_argument("--window", type=int, default=10, help="trials per median")
    parser.add_argument("--max-cost-for-1000", type=float, default=0.25, dest="max_cost")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds per backend")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    counts = sorted(int(n) for n in args.trials.split(","))
    names, notes = select_backends(args.backends)
    if REFERENCE not in names:
        names.append(REFERENCE)
    results = []
    for name in names:
        result = measure(name, counts, args.window, args.max_cost, args.time_limit, args.seed)
        results.append(result)
        stopped = f" (stopped: {result.stopped})" if result.stopped else ""
        print(f"{name}: {len(result.seconds)} trials{stopped}", flush=True)
    for note in notes:
        print(note)
    print(f"\nSeconds per suggestion (ask + tell), {DIMENSIONS}-D, median of {args.window} trials:")
    print(table(results, counts, args.window))


if __name__ == "__main__":
    main()
