"""``python -m benchmarks.run``: backends x objectives x seeds, with statistics and figures.

With no arguments it runs the quick default: every installed backend marked
``quick_benchmark`` x the ``synthetic`` group and ``toy.sin`` x 10 seeds x 100
evaluations, into ``results/quick/``. Re-running a command skips finished runs and
completes unfinished ones. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import bbopt
from bbopt.backends import get_backend
from benchmarks import analysis, figures, report
from benchmarks.execute import Outcome, execute_safely, is_complete
from benchmarks.grid import (
    QUICK_OBJECTIVES,
    RunSpec,
    backend_unavailable,
    build_grid,
    select_backends,
    select_objectives,
)

DEFAULT_BASELINE = "hyperopt.rand"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Compare backends on objectives over seeds: regret, normalized scores, "
        "significance tests, convergence and ECDF figures.",
    )
    parser.add_argument(
        "--backends",
        default="quick",
        help="comma-separated backend names, 'quick' (every backend marked quick_benchmark, "
        "the default) or 'all'",
    )
    parser.add_argument(
        "--objectives",
        default=",".join(QUICK_OBJECTIVES),
        help="comma-separated objective names, groups (synthetic, toy, bbob, bbob-d5, keras) "
        "or glob patterns (bbob.f0*.d05.i01); default: %(default)s",
    )
    parser.add_argument(
        "--seeds", type=int, default=10, help="runs per (backend, objective); default: %(default)s"
    )
    parser.add_argument(
        "--master-seed", type=int, default=0, help="run k uses derive_seed(master, k)"
    )
    parser.add_argument(
        "--budget", type=int, default=100, help="evaluations per run; default: %(default)s"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="runs in parallel worker processes (default: number of CPUs)",
    )
    parser.add_argument("--name", default="quick", help="output folder: <results-dir>/<name>/")
    parser.add_argument("--results-dir", default="results", type=Path)
    parser.add_argument(
        "--baseline",
        default=DEFAULT_BASELINE,
        help="random-search backend that defines score 1 (added to the run if not chosen)",
    )
    parser.add_argument(
        "--target",
        type=float,
        default=1.0,
        help="'evals to target' target, as a multiple of the baseline's median final regret",
    )
    parser.add_argument("--no-figures", action="store_true", help="write tables only")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--list", action="store_true", help="list backends and groups, exit")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    if not args.target > 0:
        parser.error("--target must be > 0")
    return args


def list_choices() -> None:
    """Print the registered backends (quick ones marked) and the objective groups."""
    print("backends (* = in the quick default):")
    for name in bbopt.list_backends():
        mark = "*" if get_backend(name).quick_benchmark else " "
        missing = backend_unavailable(name)
        print(f"  {mark} {name}" + (f"  [unavailable: {missing}]" if missing else ""))
    groups: dict[str, int] = {}
    for name in bbopt.list_objectives():
        for group in bbopt.get_objective(name).groups:
            groups[group] = groups.get(group, 0) + 1
    print("objective groups:")
    for group, count in sorted(groups.items()):
        print(f"  {group} ({count})")


def run_grid(specs: Sequence[RunSpec], jobs: int, progress: bool) -> list[Outcome]:
    """Execute the unfinished specs (in ``jobs`` processes), with one bar over the grid."""
    from tqdm.auto import tqdm

    todo = [spec for spec in specs if not is_complete(spec)]
    outcomes: list[Outcome] = []
    bar = tqdm(
        total=len(specs),
        initial=len(specs) - len(todo),
        unit="run",
        desc="benchmark",
        disable=None if progress else True,
        dynamic_ncols=True,
    )

    def record(outcome: Outcome) -> None:
        outcomes.append(outcome)
        bar.set_postfix_str(f"{outcome.spec.backend} on {outcome.spec.objective}", refresh=False)
        bar.update(1)

    try:
        if jobs == 1 or len(todo) <= 1:
            for spec in todo:
                record(execute_safely(spec))
        else:
            with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(execute_safely, s) for s in todo]
                try:
                    for future in as_completed(futures):
                        record(future.result())
                except KeyboardInterrupt:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    finally:
        bar.close()
    return outcomes


def _with_baseline(backends: list[str], baseline: str, notes: list[str]) -> list[str]:
    if baseline in backends:
        return backends
    get_backend(baseline)
    reason = backend_unavailable(baseline)
    if reason is not None:
        raise SystemExit(f"the baseline backend {baseline} cannot run: {reason}")
    notes.append(f"added the baseline {baseline} (needed for normalized scores)")
    return [*backends, baseline]


def summarize(
    specs: Sequence[RunSpec],
    folder: Path,
    backends: Sequence[str],
    objectives: Sequence[str],
    args: argparse.Namespace,
    info: report.RunInfo,
) -> list[analysis.OverallRow]:
    """Analyze the run files of ``specs`` and write the tables (and figures)."""
    cells, notes = analysis.load_cells(specs)
    results = []
    for objective in objectives:
        by_backend = {b: cells[(objective, b)] for b in backends if (objective, b) in cells}
        if args.baseline not in by_backend:
            notes.append(f"{objective}: no complete {args.baseline} runs, left out")
            continue
        f_star = bbopt.get_objective(objective).f_star
        results.append(
            analysis.analyze_objective(objective, by_backend, f_star, args.baseline, args.target)
        )
    table = analysis.overall(results, backends)
    info = dataclasses.replace(info, notes=(*info.notes, *notes))
    written = report.write_summary(folder, results, table, info)
    if not args.no_figures and results:
        written += figures.write_figures(folder, results, backends)
    kinds = "summary.md, summary.csv" + ("" if args.no_figures else ", figures")
    print(f"wrote {len(written)} files to {folder}/ ({kinds})")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.list:
        list_choices()
        return 0
    backends, notes = select_backends(args.backends)
    backends = _with_baseline(backends, args.baseline, notes)
    objectives = select_objectives(args.objectives)
    folder = args.results_dir / args.name
    folder.mkdir(parents=True, exist_ok=True)
    specs = build_grid(folder, backends, objectives, args.seeds, args.master_seed, args.budget)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"{len(backends)} backends x {len(objectives)} objectives x {args.seeds} seeds "
        f"x {args.budget} evaluations = {len(specs)} runs, {args.jobs} jobs -> {folder}/",
        file=sys.stderr,
    )
    try:
        outcomes = run_grid(specs, args.jobs, not args.no_progress)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    failed = [o for o in outcomes if o.status == "failed"]
    for outcome in failed:
        spec = outcome.spec
        message = f"run failed: {spec.backend} on {spec.objective} #{spec.run_index}: "
        notes.append(message + outcome.message)
        print(f"error: {notes[-1]}", file=sys.stderr)
    info = report.RunInfo(
        name=args.name,
        command="python -m benchmarks.run " + " ".join(shlex.quote(a) for a in argv),
        budget=args.budget,
        seeds=args.seeds,
        master_seed=args.master_seed,
        baseline=args.baseline,
        target_level=args.target,
        runs=len(specs),
        elapsed_s=time.perf_counter() - started,
        notes=tuple(notes),
    )
    table = summarize(specs, folder, backends, objectives, args, info)
    for row in table:
        print(
            f"  {row.backend:<28} mean rank {report.fmt(row.mean_rank):>5}  "
            f"mean score {report.fmt(row.mean_score):>6}  "
            f"better than {args.baseline} on {row.wins_vs_baseline}/{row.objectives}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
