"""The cost-aware part of ``python -m benchmarks.run``: regret at equal spent budget.

For each objective, every entry's runs (same seeds) are compared at one spent budget
``C``: the run's cost budget (``--cost-budget``), else the smallest total any run of
the objective spent, so that every run is read at a budget it reached. Written:
``cost.md`` and ``cost.csv`` (median and quartiles of the best full-fidelity regret at
``C``, median wall seconds and trials to spend it; one-sided paired Wilcoxon
signed-rank tests over the common seeds, each entry against every entry with a
higher median) and, unless figures are off, ``cost_<objective>.png``: median regret
(quartile band) against spent cost units and against wall time. Cost units and the
regret that counts are :mod:`benchmarks.cost`'s.
"""

from __future__ import annotations

import csv
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import bbopt
from benchmarks.cost import Curve, curve
from benchmarks.execute import reached_end, stored_trials
from benchmarks.grid import RunSpec, safe_name
from benchmarks.report import Table, markdown

Curves = dict[tuple[str, str], dict[int, Curve]]  # (objective, entry) -> run index -> curve


def load_curves(specs: Sequence[RunSpec]) -> Curves:
    """The curves of the stored whole runs (failed and unfinished ones are left out, as
    the per-evaluation summary leaves them out and notes them)."""
    curves: Curves = {}
    for spec in specs:
        trials = stored_trials(spec)
        if trials and reached_end(spec, trials):
            objective = bbopt.get_objective(spec.objective)
            curves.setdefault((spec.objective, spec.backend), {})[spec.run_index] = curve(
                objective, trials
            )
    return curves


@dataclass(frozen=True)
class CostRow:
    """One entry on one objective at the spent budget ``level``."""

    objective: str
    entry: str
    runs: int
    level: float
    regret_median: float
    regret_p25: float
    regret_p75: float
    wall_median: float  # seconds to spend the level
    trials_median: float  # finished trials within the level
    short_runs: int = 0  # runs that ended (the --budget cap) before spending the level


@dataclass(frozen=True)
class Comparison:
    """One-sided paired test that ``better`` has lower regret than ``worse`` at the level."""

    objective: str
    better: str
    worse: str
    pairs: int
    p_value: float


def _level(runs: Sequence[Curve], max_cost: float | None) -> float:
    return max_cost if max_cost is not None else min(float(c.cost[-1]) for c in runs)


#: Stands for an infinite regret (a run with no full-fidelity result within the level) in
#: percentiles and rank tests: the worst value, ranked as such, where inf would give NaN
#: (inf - inf) in an interpolation or be dropped from a test.
_WORST = 1e300


def _ranked(values: Sequence[float]) -> np.ndarray:
    """``values`` with +inf as :data:`_WORST`."""
    array = np.asarray(values, float)
    return np.where(np.isposinf(array), _WORST, array)


def _percentiles(values: Sequence[float], qs: Sequence[float]) -> list[float]:
    """Percentiles, inf where they reach into the infinite values."""
    found = np.percentile(_ranked(values), qs)
    return [math.inf if q > _WORST * 1e-100 else float(q) for q in found]  # reached into inf


def _row(objective: str, entry: str, runs: dict[int, Curve], level: float) -> CostRow:
    regrets = [c.regret_at(level) for c in runs.values()]
    within = [np.flatnonzero(c.cost <= level + 1e-9) for c in runs.values()]
    walls = [
        float(c.wall[w[-1]]) if len(w) else 0.0 for c, w in zip(runs.values(), within, strict=True)
    ]
    p25, median, p75 = _percentiles(regrets, [25, 50, 75]) if regrets else [math.nan] * 3
    short = sum(float(c.cost[-1]) < level - 1e-9 for c in runs.values())
    return CostRow(
        objective, entry, len(runs), level, median, p25, p75,
        float(np.median(walls)), float(np.median([len(w) for w in within])), short,
    )  # fmt: skip


def paired_p_value(better: Sequence[float], worse: Sequence[float]) -> float:
    """One-sided Wilcoxon signed-rank p-value that ``better`` < ``worse`` (paired). An
    infinite regret (no full-fidelity result yet) counts as the worst, not as missing."""
    from scipy import stats

    a, b = _ranked(better), _ranked(worse)
    known = ~(np.isnan(a) | np.isnan(b))
    a, b = a[known], b[known]
    if len(a) == 0 or np.all(a == b):
        return 1.0
    return float(stats.wilcoxon(a, b, alternative="less", zero_method="zsplit").pvalue)


def subset_power(
    better: Sequence[float], worse: Sequence[float], size: int, draws: int = 1000, seed: int = 0
) -> float:
    """The share of ``draws`` random subsets of ``size`` pairs (drawn without replacement)
    on which :func:`paired_p_value` is below 0.05: how often a figure on ``size`` seeds
    would separate two arms that these paired runs separate, or not."""
    a, b = np.asarray(better, float), np.asarray(worse, float)
    if not 0 < size <= len(a):
        raise ValueError(f"subset size must be in 1..{len(a)}, got {size}")
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(draws):
        rows = rng.choice(len(a), size=size, replace=False)
        hits += paired_p_value(list(a[rows]), list(b[rows])) < 0.05
    return hits / draws


def compare(
    curves: Curves, objectives: Sequence[str], entries: Sequence[str], max_cost: float | None
) -> tuple[list[CostRow], list[Comparison]]:
    """Rows and pairwise tests of every objective (module docstring)."""
    rows: list[CostRow] = []
    tests: list[Comparison] = []
    for objective in objectives:
        present = {e: curves[(objective, e)] for e in entries if (objective, e) in curves}
        if not present:
            continue
        level = _level([c for runs in present.values() for c in runs.values()], max_cost)
        mine = [_row(objective, e, runs, level) for e, runs in present.items()]
        rows.extend(mine)
        for a in mine:
            for b in mine:
                if a.regret_median >= b.regret_median:
                    continue
                seeds = sorted(set(present[a.entry]) & set(present[b.entry]))
                regret = {
                    e: [present[e][k].regret_at(level) for k in seeds] for e in (a.entry, b.entry)
                }
                p = paired_p_value(regret[a.entry], regret[b.entry])
                tests.append(Comparison(objective, a.entry, b.entry, len(seeds), p))
    return rows, tests


def _fmt(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.4g}"


INTRO = (
    "Best full-fidelity regret once each run spent the level (cost units: the objective's "
    "cost model, else fidelity steps, else evaluations); see benchmarks/cost.py."
)
TESTS_INTRO = "One-sided paired Wilcoxon signed-rank tests over common seeds:"


def regret_table(rows: Sequence[CostRow]) -> Table:
    """Each entry's regret at its objective's level, with wall time and trials."""
    header = ["objective", "entry", "runs", "level", "median regret", "p25", "p75"]
    return Table(
        [*header, "wall s", "trials"],
        [
            [r.objective, r.entry, str(r.runs), _fmt(r.level), _fmt(r.regret_median),
             _fmt(r.regret_p25), _fmt(r.regret_p75), _fmt(r.wall_median), _fmt(r.trials_median)]
            for r in rows
        ],
    )  # fmt: skip


def short_run_notes(rows: Sequence[CostRow]) -> list[str]:
    """A line per entry whose runs the --budget cap ended before the level."""
    return [
        f"Not at equal cost: {r.short_runs} of {r.runs} runs of {r.entry} on "
        f"{r.objective} ended before spending {_fmt(r.level)} (the --budget cap on "
        "evaluations): raise --budget to compare them at the level."
        for r in rows
        if r.short_runs
    ]


def tests_table(tests: Sequence[Comparison]) -> Table:
    """The paired tests, one row per (lower, higher) pair of an objective."""
    return Table(
        ["objective", "lower regret", "than", "pairs", "p"],
        [[t.objective, t.better, t.worse, str(t.pairs), f"{t.p_value:.3g}"] for t in tests],
    )


def write_tables(folder: Path, rows: Sequence[CostRow], tests: Sequence[Comparison]) -> list[Path]:
    """``cost.md`` and ``cost.csv``."""
    csv_path, md_path = folder / "cost.csv", folder / "cost.md"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f for f in CostRow.__dataclass_fields__])
        for row in rows:
            writer.writerow(list(vars(row).values()))
    lines = ["# Regret at equal spent budget", "", INTRO, "", *markdown(regret_table(rows))]
    short = short_run_notes(rows)
    lines += ["", *(f"- {note}" for note in short)] if short else []
    lines += ["", TESTS_INTRO, "", *markdown(tests_table(tests))]
    md_path.write_text("\n".join(lines) + "\n")
    return [md_path, csv_path]


def _band(runs: Sequence[Curve], axis: str, grid: np.ndarray) -> np.ndarray:
    """Regret of each run at each grid point of ``axis``: runs x grid."""
    return np.array([[c.regret_at(x, axis) for x in grid] for c in runs])


def write_figure(
    folder: Path, objective: str, by_entry: dict[str, dict[int, Curve]], level: float
) -> Path:
    """``cost_<objective>.png``: median regret (quartiles shaded) against spent cost
    units and against wall seconds, each entry a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    wall_end = max(float(c.wall[-1]) for runs in by_entry.values() for c in runs.values())
    grids = {
        "cost": np.linspace(level / 200, level, 200),
        "wall": np.linspace(wall_end / 200, wall_end, 200),
    }
    for entry, runs in by_entry.items():
        for ax, axis in zip(axes, ("cost", "wall"), strict=True):
            values = _band(list(runs.values()), axis, grids[axis])
            values = np.where(np.isfinite(values), np.maximum(values, 1e-6), np.nan)  # log axis
            with warnings.catch_warnings():  # no run has a full-fidelity result yet
                warnings.simplefilter("ignore", RuntimeWarning)
                p25, med, p75 = np.nanpercentile(values, [25, 50, 75], axis=0)
            (line,) = ax.plot(grids[axis], med, label=entry)
            ax.fill_between(grids[axis], p25, p75, color=line.get_color(), alpha=0.15)
    for ax, label in zip(axes, ("spent budget (cost units)", "wall time (s)"), strict=True):
        ax.set_xlabel(label)
        ax.set_ylabel("best full-fidelity regret")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{objective}: median regret against spent budget")
    fig.tight_layout()
    path = folder / f"cost_{safe_name(objective)}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def summarize_cost(
    specs: Sequence[RunSpec],
    folder: Path,
    entries: Sequence[str],
    objectives: Sequence[str],
    max_cost: float | None,
    figures: bool = True,
) -> tuple[list[CostRow], list[Comparison]]:
    """Load, compare and write the cost tables (and figures) of a grid."""
    curves = load_curves(specs)
    rows, tests = compare(curves, objectives, entries, max_cost)
    written = write_tables(folder, rows, tests)
    for note in short_run_notes(rows):
        print(f"warning: {note}", file=sys.stderr)
    if figures:
        for objective in objectives:
            by_entry = {e: curves[(objective, e)] for e in entries if (objective, e) in curves}
            level = next((r.level for r in rows if r.objective == objective), None)
            if by_entry and level is not None:
                written.append(write_figure(folder, objective, by_entry, level))
    names = ", ".join(path.name for path in written)
    print(f"wrote {len(written)} cost files to {folder}/ ({names})")
    return rows, tests
