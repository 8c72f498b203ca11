"""``python -m benchmarks.run`` (or ``bbopt bench``): backends x objectives x seeds.

With no arguments it runs the quick default: every installed backend marked
``quick_benchmark`` x the ``synthetic`` group and ``toy.sin`` x 10 seeds x 100
evaluations, into ``results/quick/``; other selections get their own folder (see
:mod:`benchmarks.folders`). Re-running a command skips finished runs and completes
unfinished ones. ``--import MODULE`` first imports a module of the user's, so the
objectives and backends it registers can be chosen. See docs/benchmarks.md.

Errors are one line on stderr: exit 2 for usage errors, 1 for failures.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import importlib.util
import os
import re
import shlex
import sys
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import NoReturn

import bbopt
from bbopt.backends import get_backend
from bbopt.errors import BBoptError, UnknownNameError
from benchmarks import analysis, cd_diagram, cocodata, cost_report, figures, page, report
from benchmarks.execute import Outcome, RunMismatchError, execute_safely, is_complete
from benchmarks.folders import Selection, results_name
from benchmarks.grid import (
    QUICK_OBJECTIVES,
    RunSpec,
    SelectionError,
    backend_unavailable,
    build_grid,
    joins_quick_default,
    select_backends,
    select_objectives,
)
from benchmarks.rundata import RunData, load_runs
from benchmarks.wording import counted

DEFAULT_BASELINE = "hyperopt.rand"
EXECUTORS = ("process", "dask")  # or a Dask scheduler address
PROG = "python -m benchmarks.run"
_SELECTING = ("backends", "objectives", "seeds", "budget", "master_seed", "baseline")


class UsageError(BBoptError):
    """A benchmark command that cannot run as written (exit code 2)."""


USAGE_ERRORS = (UsageError, UnknownNameError, SelectionError, RunMismatchError)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors; an unknown flag gets its close matches."""

    def error(self, message: str) -> NoReturn:
        unknown = re.match(r"unrecognized arguments: (.*)", message)
        if unknown:
            known = [s for action in self._actions for s in action.option_strings]
            for flag in unknown.group(1).split():
                close = difflib.get_close_matches(flag.split("=")[0], known, n=2, cutoff=0.6)
                if close:
                    message += f" (did you mean {' or '.join(close)}?)"
        self.exit(2, f"{self.prog}: error: {message}; see --help\n")


def natural(text: str) -> int:
    """An argparse ``type``: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse ``type``: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _executor(text: str) -> str:
    if text in EXECUTORS or "://" in text:
        return text
    raise argparse.ArgumentTypeError(
        f"unknown executor {text!r}: use 'process' (worker processes here), 'dask' (a Dask "
        "cluster on this machine) or a Dask scheduler address such as tcp://host:8786"
    )


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        allow_abbrev=False,
        description="Compare backends on objectives over seeds: regret, robust scores, "
        "significance tests, a critical difference diagram, convergence and ECDF figures, "
        "COCO data for bbob objectives, and one index.html.",
    )
    add = parser.add_argument
    add(
        "--backends",
        default="quick",
        help="comma-separated backend names (backend+pruner runs it under a pruner, e.g. "
        "hyperopt.tpe+hyperband), 'quick' (every backend marked quick_benchmark, the "
        "default) or 'all'",
    )
    add(
        "--objectives",
        default=",".join(QUICK_OBJECTIVES),
        help="comma-separated objective names, groups (synthetic, toy, bbob, bbob-d5, keras, "
        "sklearn) or glob patterns (bbob.f0*.d05.i01); default: %(default)s",
    )
    add(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import a module (a name on the Python path or a .py file) first, so the "
        "objectives and backends it registers can be chosen; repeatable",
    )
    add("--seeds", type=natural, default=10, help="runs per (backend, objective); %(default)s")
    add(
        "--master-seed",
        type=int,
        default=0,
        help="run k on objective o uses derive_seed(master, k, o)",
    )
    add("--budget", type=natural, default=100, help="evaluations per run; %(default)s")
    add(
        "--jobs",
        type=natural,
        default=os.cpu_count() or 1,
        help="runs in parallel worker processes, here or in the Dask cluster that "
        "--executor dask starts (default: number of CPUs)",
    )
    add(
        "--executor",
        type=_executor,
        default="process",
        help="where runs execute: 'process' (worker processes here, the default), 'dask' (a "
        "Dask cluster on 127.0.0.1) or a running Dask scheduler's address (tcp://host:8786, "
        "tls://host:8786): the driver stores each run as it comes back",
    )
    add(
        "--name",
        default=None,
        help="output folder <results-dir>/<name>/ (default: 'quick' for the quick default, "
        "else a name and hash of the selection)",
    )
    add("--results-dir", default="results", type=Path)
    add(
        "--baseline",
        default=DEFAULT_BASELINE,
        help="random-search backend that defines score 0 (added to the run if not chosen)",
    )
    add(
        "--target",
        type=positive_float,
        default=1.0,
        help="'evals to target' target, as a multiple of the baseline's median final regret",
    )
    add(
        "--cost-budget",
        type=positive_float,
        default=None,
        help="stop each run once its trials spent this many cost units (the objective's "
        "cost model, else fidelity steps, else evaluations; --budget stays the cap on "
        "evaluations) and compare the runs at it: cost.md, cost_<objective>.png",
    )
    add("--no-figures", action="store_true", help="write tables only")
    add("--no-progress", action="store_true", help="no progress bar")
    add("--list", action="store_true", help="list backends and groups, exit")
    return parser


def import_user_modules(names: Sequence[str]) -> None:
    """Import each ``--import`` module (a dotted name, or the path of a ``.py`` file).

    The current directory is searched first, as ``python -m`` does. Worker processes
    call this too, so what the modules register exists there as well.
    """
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            _import(name)
        except ModuleNotFoundError as exc:
            if exc.name != name and not name.startswith(f"{exc.name}."):
                raise _import_failure(name, exc) from None  # the module imports a missing one
            raise UsageError(f"--import {name}: no module named {name!r}") from None
        except FileNotFoundError:
            raise UsageError(f"--import {name}: no such file") from None
        except Exception as exc:
            raise _import_failure(name, exc) from None


def _import(name: str) -> None:
    if not name.endswith(".py"):
        importlib.import_module(name)
        return
    path = Path(name).resolve()
    if not path.is_file():
        raise FileNotFoundError(name)
    module_name = path.stem
    if module_name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)


def _import_failure(name: str, exc: BaseException) -> BBoptError:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return BBoptError(f"--import {name} failed: {type(exc).__name__}: {exc}{where}")


def list_choices() -> None:
    """Print the registered backends (quick ones marked) and the objective groups."""
    print("backends (* = in the quick default):")
    for name in bbopt.list_backends():
        mark = "*" if joins_quick_default(get_backend(name)) else " "
        missing = backend_unavailable(name)
        print(f"  {mark} {name}" + (f"  [unavailable: {missing}]" if missing else ""))
    groups: dict[str, int] = {}
    for name in bbopt.list_objectives():
        for group in bbopt.get_objective(name).groups:
            groups[group] = groups.get(group, 0) + 1
    print("objective groups:")
    for group, count in sorted(groups.items()):
        print(f"  {group} ({count})")


def run_grid(
    specs: Sequence[RunSpec],
    jobs: int,
    progress: bool,
    imports: Sequence[str] = (),
    executor: str = "process",
) -> list[Outcome]:
    """Execute the unfinished specs (in ``jobs`` processes, or on the Dask cluster
    ``executor`` names: see :mod:`benchmarks.cluster`), with one bar over the grid."""
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
        if executor != "process":
            from benchmarks.cluster import run_on_cluster

            run_on_cluster(todo, executor, jobs, imports, record)
        elif jobs == 1 or len(todo) <= 1:
            for spec in todo:
                record(execute_safely(spec))
        else:
            with ProcessPoolExecutor(
                jobs,
                mp_context=get_context("spawn"),
                initializer=import_user_modules,
                initargs=(tuple(imports),),
            ) as pool:
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


def _with_baseline(
    backends: list[str], baseline: str, notes: list[str], by_cost: bool
) -> list[str]:
    if baseline in backends:
        return backends
    get_backend(baseline)
    reason = backend_unavailable(baseline)
    if reason is not None:
        raise BBoptError(f"the baseline backend {baseline} cannot run: {reason}")
    use = "the reference arm at equal cost" if by_cost else "needed for scores"
    notes.append(f"added the baseline {baseline} ({use})")
    return [*backends, baseline]


def publish(
    folder: Path,
    runs: Sequence[RunData],
    backends: Sequence[str],
    objectives: Sequence[str],
    info: report.RunInfo,
    with_figures: bool = True,
    cost: Sequence[str] = (),
) -> tuple[list[analysis.OverallRow], analysis.Comparison]:
    """Analyze ``runs`` and write every output: tables, figures, COCO data, index.html
    (with ``cost``, the page's section on regret at equal spent budget)."""
    results, notes = analysis.analyze_runs(
        runs, backends, objectives, info.baseline, info.target_level
    )
    table = analysis.overall(results, backends)
    comparison = analysis.compare(results, backends)
    notes += _unranked(results, backends, comparison)
    twins = analysis.twins(analysis.cells_from_runs(runs), backends)
    notes += report.caveats(results, comparison, twins)
    info = dataclasses.replace(info, notes=(*info.notes, *notes))
    written = report.write_summary(folder, results, table, comparison, info)
    if with_figures and results:
        written += figures.write_figures(folder, results, backends, twins)
        written.append(cd_diagram.draw(comparison, folder / "cd.png"))
    coco_folder = folder / page.COCO_DATA
    written += cocodata.write_data(coco_folder, runs, f"bbopt {bbopt.__version__}: {info.command}")
    written.append(page.write_index(folder, results, table, comparison, info, cost))
    print(f"wrote {len(written)} files to {folder}/ (open index.html)")
    return table, comparison


def _unranked(
    results: Sequence[analysis.ObjectiveResult],
    backends: Sequence[str],
    comparison: analysis.Comparison,
) -> list[str]:
    """Notes on what the ranks and tests leave out."""
    ranked = set(comparison.backends)
    notes = [
        f"{b}: no run finished on any objective, left out of the ranks and tests"
        for b in backends
        if b not in ranked
    ]
    if results and comparison.objectives < len(results):
        notes.append(
            f"ranks and tests use the {comparison.objectives} of {len(results)} objectives "
            "on which every ranked backend has results"
        )
    return notes


def _print_verdict(
    table: Sequence[analysis.OverallRow], comparison: analysis.Comparison, baseline: str
) -> None:
    for row in table:
        print(
            f"  {row.backend:<28} mean rank {report.fmt(row.mean_rank):>5}  score "
            f"{report.interval(row.mean_score, row.score_low, row.score_high):>22}  "
            f"better than {baseline}: {report.wins(row, baseline)}"
        )
    print(f"  {cd_diagram.caption(comparison)}")


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the command line; returns the exit code (errors are one line on stderr)."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv), prog)
    except SystemExit as exc:  # argparse: --help (0) or a bad argument (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    except USAGE_ERRORS as exc:
        return _fail(prog, exc, 2)
    except (BBoptError, OSError, ImportError) as exc:
        return _fail(prog, exc, 1)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130


def _fail(prog: str, message: object, code: int) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def _main(argv: list[str], prog: str) -> int:
    started = time.perf_counter()
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    import_user_modules(args.imports)
    if args.list:
        list_choices()
        return 0
    backends, notes = select_backends(args.backends)
    backends = _with_baseline(backends, args.baseline, notes, args.cost_budget is not None)
    objectives = select_objectives(args.objectives)
    selection = Selection(
        tuple(backends),
        tuple(objectives),
        args.seeds,
        args.budget,
        args.master_seed,
        args.baseline,
    )
    quick = all(getattr(args, key) == parser.get_default(key) for key in _SELECTING)
    name = results_name(args.name, args.backends, args.objectives, selection, quick)
    if args.cost_budget is not None and not args.name:  # its runs stop elsewhere: own folder
        name = f"{name}-cost{args.cost_budget:g}"
    folder = args.results_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    specs = build_grid(
        folder, backends, objectives, args.seeds, args.master_seed, args.budget, args.cost_budget
    )
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    where = {
        "process": counted(args.jobs, "job"),
        "dask": f"a Dask cluster of {counted(args.jobs, 'worker')}",
    }
    grid = [counted(len(backends), "backend"), counted(len(objectives), "objective")]
    grid += [counted(args.seeds, "seed"), counted(args.budget, "evaluation")]
    print(
        f"{' x '.join(grid)} = {counted(len(specs), 'run')}, "
        f"{where.get(args.executor, args.executor)} -> {folder}/",
        file=sys.stderr,
    )
    outcomes = run_grid(specs, args.jobs, not args.no_progress, args.imports, args.executor)
    failed = [o for o in outcomes if o.status == "failed"]
    for outcome in failed:
        spec = outcome.spec
        message = f"run failed: {spec.backend} on {spec.objective} #{spec.run_index}: "
        notes.append(message + outcome.message)
        print(f"error: {notes[-1]}", file=sys.stderr)
    runs, load_notes = load_runs(specs)
    info = report.RunInfo(
        name=name,
        command=" ".join([prog, *(shlex.quote(a) for a in argv)]),
        budget=args.budget,
        seeds=args.seeds,
        master_seed=args.master_seed,
        baseline=args.baseline,
        target_level=args.target,
        runs=len(specs),
        elapsed_s=time.perf_counter() - started,
        notes=(*notes, *load_notes),
    )
    with_cost = [o for o in objectives if bbopt.get_objective(o).fidelity is not None]
    cost: list[str] = []
    if args.cost_budget is not None or with_cost:
        rows, tests = cost_report.summarize_cost(
            specs,
            folder,
            backends,
            objectives if args.cost_budget is not None else with_cost,
            args.cost_budget,
            figures=not args.no_figures,
        )
        cost = page.cost_section(folder, rows, tests)
    if args.cost_budget is not None:  # runs end by cost, not at --budget evaluations
        page.write_cost_index(folder, info, cost)
        print(f"wrote {folder}/index.html")
        return 1 if failed else 0
    table, comparison = publish(folder, runs, backends, objectives, info, not args.no_figures, cost)
    _print_verdict(table, comparison, args.baseline)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
