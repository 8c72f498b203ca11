"""The benchmark's tables and notes as text: ``summary.md``, ``summary.csv``, ``ranking.csv``.

Tables are built once as :class:`Table` (header and cells) and rendered as Markdown
here and as HTML by :mod:`benchmarks.page`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from benchmarks import stats
from benchmarks.analysis import ALPHA, Comparison, ObjectiveResult, OverallRow, Row, Twin
from benchmarks.cd_diagram import caption

FEW_SEEDS = 10  # below this, bootstrap intervals over seeds are clearly too narrow


@dataclass(frozen=True)
class RunInfo:
    """What the summary says about how it was made."""

    name: str
    command: str
    budget: int
    seeds: int
    master_seed: int
    baseline: str
    target_level: float
    runs: int
    elapsed_s: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """A table as text cells: rendered as Markdown or HTML."""

    header: list[str]
    rows: list[list[str]]


def fmt(value: float, digits: int = 3) -> str:
    """A compact number: 3 significant digits, '-' for NaN."""
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}g}"


def interval(value: float, low: float, high: float) -> str:
    """``value [low, high]``, two decimals (scores are in decades)."""
    if math.isnan(value):
        return "-"
    low, value, high = (round(x, 2) + 0.0 for x in (low, value, high))  # no "-0.00"
    return f"{value:+.2f} [{low:+.2f}, {high:+.2f}]"


def _p(value: float) -> str:
    if math.isnan(value):
        return "-"
    mark = " *" if value < ALPHA else ""
    return (f"{value:.1e}" if value < 1e-3 else f"{value:.3f}") + mark


def _evals(row: Row, budget: int) -> str:
    if math.isinf(row.evals_to_target):
        return f">{budget} ({row.target_hit_fraction:.0%})"
    return f"{row.evals_to_target:.0f} ({row.target_hit_fraction:.0%})"


SUGGEST_COST = "suggest ms at 10 / 100 / 1000 trials"


def suggest_cost(row: Row | OverallRow) -> str:
    """The median time to suggest trials 10, 100 and 1000, '-' beyond the budget."""
    at = (row.suggest_ms_at_10, row.suggest_ms_at_100, row.suggest_ms_at_1000)
    return " / ".join(fmt(ms, 2) for ms in at)


def _out_of(count: int, tested: int) -> str:
    return f"{count}/{tested}" if tested else "n/a"


def wins(row: OverallRow, baseline: str) -> str:
    """``wins/tested`` against the baseline; ``n/a`` when no objective had enough seeds."""
    return "-" if row.backend == baseline else _out_of(row.wins_vs_baseline, row.tested_vs_baseline)


def ranking_table(table: Sequence[OverallRow], baseline: str) -> Table:
    """The overall ranking: one row per backend, best mean rank first."""
    header = [
        "rank",
        "backend",
        "mean rank",
        "mean score [95% CI]",
        f"better than {baseline} (p<{ALPHA})",
        "not worse than best",
        "objectives",
        "suggest ms (median)",
        SUGGEST_COST,
        "wall s (total)",
    ]
    rows = [
        [
            str(position),
            row.backend,
            fmt(row.mean_rank),
            interval(row.mean_score, row.score_low, row.score_high),
            wins(row, baseline),
            _out_of(row.not_worse_than_best, row.tested_vs_best),
            str(row.objectives),
            fmt(row.suggest_ms),
            suggest_cost(row),
            fmt(row.wall_s_total),
        ]
        for position, row in enumerate(table, 1)
    ]
    return Table(header, rows)


def objective_table(result: ObjectiveResult, info: RunInfo) -> Table:
    """One objective: a row per backend, lowest median final regret first."""
    header = [
        "backend",
        "final regret median [p25, p75]",
        "score [95% CI]",
        "anytime score",
        "evals to target (hit)",
        "suggest ms",
        SUGGEST_COST,
        "wall s/run",
        f"p vs {info.baseline}",
        "p vs best",
    ]
    rows = [
        [
            row.backend,
            f"{fmt(row.regret_median)} [{fmt(row.regret_p25)}, {fmt(row.regret_p75)}]",
            interval(row.score, row.score_low, row.score_high),
            f"{row.anytime_score:+.2f}",
            _evals(row, info.budget),
            fmt(row.suggest_ms),
            suggest_cost(row),
            fmt(row.wall_s_median),
            _p(row.p_vs_baseline),
            _p(row.p_vs_best),
        ]
        for row in sorted(result.rows, key=lambda r: (r.regret_median, r.anytime_score))
    ]
    return Table(header, rows)


def objective_caption(result: ObjectiveResult, info: RunInfo) -> str:
    """What f* is, the baseline's level and the best backend of one objective."""
    source = "known" if result.f_star_known else "best found by any run"
    return (
        f"f* = {result.f_star:.10g} ({source}); {info.baseline}'s median final regret "
        f"{fmt(result.scale)}; target regret {fmt(result.scale * info.target_level)}; "
        f"best: {result.best_backend}"
    )


def comparison_text(comparison: Comparison) -> list[str]:
    """The across-objectives verdict: the diagram's caption and the separated pairs."""
    lines = [f"Critical difference diagram `cd.png`: {caption(comparison)}."]
    compared = comparison.backends if comparison.objectives else []  # none with every result
    separated = [
        f"{first} < {second} (p = {_p(comparison.pairwise_p[i, j])})"
        for i, first in enumerate(compared)
        for j, second in enumerate(compared)
        if i < j and comparison.pairwise_p[i, j] < ALPHA
    ]
    if comparison.reachable and compared:
        shown = "; ".join(separated) if separated else "none"
        lines.append(f"Pairs a Wilcoxon-Holm test separates (better < worse): {shown}.")
    return lines


def caveats(
    results: Sequence[ObjectiveResult], comparison: Comparison, twins: Sequence[Twin]
) -> list[str]:
    """What the tables cannot say (seed or objective counts too small) and twin backends."""
    notes = []
    untestable = [row for result in results for row in result.rows if not row.testable]
    if untestable:
        runs = sorted({row.runs for row in untestable})
        smallest = max(stats.smallest_p(row.runs, row.runs) for row in untestable)
        notes.append(
            f"per-objective tests: with {'/'.join(map(str, runs))} seeds a one-sided "
            f"Mann-Whitney test cannot reach p < {ALPHA} (smallest possible p = "
            f"{smallest:.3g}), so {len(untestable)} backend x objective tests are not run "
            f"(shown as -); use --seeds {stats.seeds_to_reach(ALPHA)} or more"
        )
    seeds = min((row.runs for result in results for row in result.rows), default=0)
    if 0 < seeds < FEW_SEEDS:
        notes.append(
            f"score intervals are bootstrap intervals over {seeds} seeds: with fewer than "
            f"{FEW_SEEDS} they are too narrow (a 95% interval covers the truth about 80% of "
            "the time with 3 seeds, 91% with 10); read them as rough"
        )
    if comparison.objectives and not comparison.reachable:
        notes.append(
            f"across objectives: with {comparison.objectives} objectives and "
            f"{len(comparison.backends)} backends no Holm-adjusted Wilcoxon test can reach "
            f"p < {ALPHA}; add objectives"
        )
    for twin in twins:
        later = f" ({twin.second} {twin.lag})" if twin.shift else ""
        where = (
            f"all {len(twin.objectives)} objectives"
            if len(twin.objectives) == len(results)
            else f"{len(twin.objectives)} of {len(results)} objectives "
            f"({', '.join(twin.objectives[:3])}{', ...' if len(twin.objectives) > 3 else ''})"
        )
        notes.append(
            f"{twin.first} and {twin.second} evaluated the same losses on {where}, "
            f"{twin.runs} runs{later}: one search under two names there, their lines overlap"
        )
    return notes


def how_to_read(info: RunInfo) -> str:
    """One paragraph on every column."""
    return (
        "How to read: *final regret* = best loss after the budget minus f* (lower is "
        "better). *score* = log10(a run's final regret / a "
        f"{info.baseline} run's final regret), clipped to +-{stats.SCORE_CLIP:g} and "
        "averaged over all pairs of runs: 0 = random search, -1 = ten times lower regret, "
        "-2 = a hundred times lower or the optimum, +1 = ten times worse; with a 95% "
        "bootstrap interval over seeds; *mean score* averages it over objectives. "
        "*anytime score* = the score at every evaluation t, averaged over t: "
        "early progress counts. *evals to target* = median first evaluation whose regret "
        f"is <= {info.target_level:g} x the baseline's median final regret, with the "
        "fraction of seeds that got there. *suggest ms* = median time the backend took to "
        "suggest a trial (its ask, plus the tells of the results that came back since the "
        "previous ask: some backends fit their model there); "
        "*suggest ms at 10 / 100 / 1000 trials* = the median "
        "time to suggest the 10th, 100th and 1000th trial of a run, over the runs (and the "
        "objectives, in the ranking), - where the budget is shorter: what a backend's "
        "quality costs as its history grows. *p* = one-sided Mann-Whitney U on final "
        "regrets over seeds: vs "
        f"{info.baseline}, H1 = this backend is better; vs best, H1 = this backend is "
        f"worse; * marks p < {ALPHA} (no correction for multiple tests); - = not run, "
        "because the seed count cannot reach that level. *mean rank* ranks backends by "
        "median final regret on each objective; the Friedman test and the diagram use "
        "those ranks."
    )


def markdown(table: Table) -> list[str]:
    """A Markdown table."""
    return [
        "| " + " | ".join(table.header) + " |",
        "|" + "---|" * len(table.header),
        *("| " + " | ".join(row) + " |" for row in table.rows),
    ]


def write_csv(path: Path, rows: Sequence[Row | OverallRow]) -> Path:
    """One line per row; columns are the dataclass fields."""
    with path.open("w", newline="") as handle:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(rows[0])])
            writer.writeheader()
            writer.writerows(asdict(row) for row in rows)
    return path


def heading(results: Sequence[ObjectiveResult], backends: int, info: RunInfo) -> str:
    """The sentence under the title: what ran and how long this invocation took."""
    return (
        f"{len(results)} objectives x {backends} backends x {info.seeds} seeds "
        f"(master seed {info.master_seed}) x {info.budget} evaluations; {info.runs} runs; "
        f"this invocation took {info.elapsed_s:.0f} s."
    )


def write_summary(
    folder: Path,
    results: Sequence[ObjectiveResult],
    table: Sequence[OverallRow],
    comparison: Comparison,
    info: RunInfo,
) -> list[Path]:
    """Write summary.md, summary.csv (objective x backend) and ranking.csv."""
    lines = [
        f"# Benchmark `{info.name}`",
        "",
        f"`{info.command}`",
        "",
        heading(results, len(table), info),
        "",
        *[f"- note: {note}" for note in info.notes],
        *([""] if info.notes else []),
        how_to_read(info),
        "",
        "## Overall ranking",
        "",
        *markdown(ranking_table(table, info.baseline)),
        "",
        *comparison_text(comparison),
        "",
        "## Per objective",
        "",
    ]
    for result in results:
        lines += [f"### {result.objective}", "", objective_caption(result, info), ""]
        lines += [*markdown(objective_table(result, info)), ""]
    md = folder / "summary.md"
    md.write_text("\n".join(lines))
    rows = [row for result in results for row in result.rows]
    return [md, write_csv(folder / "summary.csv", rows), write_csv(folder / "ranking.csv", table)]
