"""``python -m benchmarks.bbob_targets``: fraction of COCO bbob (function, target) pairs solved.

Reads the runs that ``python -m benchmarks.run`` stored for bbob objectives (same
``--name``, ``--budget``, ``--seeds`` and ``--master-seed``) and, for each backend,
counts COCO's 51 targets 10^2, 10^1.8, ..., 10^-8 on the precision f - f_opt of each
instance: a (function, target) pair counts as solved by the share of the backend's
runs on that function's instances whose best precision within the budget reaches the
target. The figure is the mean over functions and targets: cocopp's empirical
distribution of runtimes read at the final budget. ``--reference`` (e.g. best-2009's
.525 at 2-D, .308 at 5-D, 50 x D evaluations) adds a "x reference" column.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import bbopt
from benchmarks.analysis import load_cells
from benchmarks.grid import build_grid, select_objectives

TARGETS = 10.0 ** np.linspace(2, -8, 51)


def solved_fraction(best_precisions: dict[str, list[float]]) -> float:
    """Mean over functions of the share of (run, target) pairs reached."""
    shares = [
        float(np.mean(np.asarray(runs)[:, None] <= TARGETS[None, :]))
        for runs in best_precisions.values()
    ]
    return float(np.mean(shares))


def _function(objective: str) -> str:
    """``bbob.f03.d05.i02`` -> ``bbob.f03.d05`` (instances pool into their function)."""
    return objective.rsplit(".", 1)[0]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bbob_targets", description=__doc__)
    parser.add_argument("--backends", required=True, help="comma-separated backend names")
    parser.add_argument("--objectives", required=True, help="as for benchmarks.run")
    parser.add_argument("--budget", type=int, required=True)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--master-seed", type=int, default=0)
    parser.add_argument("--name", required=True)
    parser.add_argument("--results-dir", type=Path, default=Path("results"))
    parser.add_argument("--reference", type=float, help="a fraction to compare with")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    objectives = select_objectives(args.objectives)
    folder = args.results_dir / args.name
    specs = build_grid(folder, backends, objectives, args.seeds, args.master_seed, args.budget)
    cells, notes = load_cells(specs)
    header = "| backend | fraction solved | runs |" + (" x reference |" if args.reference else "")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for backend in backends:
        best: dict[str, list[float]] = {}
        for objective in objectives:
            cell = cells.get((objective, backend))
            if cell is None:
                continue
            f_star = bbopt.get_objective(objective).f_star
            for losses in cell.losses:
                best.setdefault(_function(objective), []).append(float(np.nanmin(losses)) - f_star)
        if not best:
            print(f"| {backend} | - | 0 |" + (" - |" if args.reference else ""))
            continue
        fraction = solved_fraction(best)
        runs = sum(len(r) for r in best.values())
        ratio = f" {fraction / args.reference:.2f} |" if args.reference else ""
        print(f"| {backend} | {fraction:.3f} | {runs} |{ratio}")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
