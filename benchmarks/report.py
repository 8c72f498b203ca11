"""Write ``summary.md``, ``summary.csv`` and ``ranking.csv`` from analysis results."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from benchmarks.analysis import ALPHA, ObjectiveResult, OverallRow, Row


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


def fmt(value: float, digits: int = 3) -> str:
    """A compact number: 3 significant digits, '-' for NaN."""
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}g}"


def _p(value: float) -> str:
    if math.isnan(value):
        return "-"
    mark = " *" if value < ALPHA else ""
    return (f"{value:.1e}" if value < 1e-3 else f"{value:.3f}") + mark


def _evals(row: Row, budget: int) -> str:
    if math.isinf(row.evals_to_target):
        return f">{budget} ({row.target_hit_fraction:.0%})"
    return f"{row.evals_to_target:.0f} ({row.target_hit_fraction:.0%})"


def write_csv(path: Path, rows: Sequence[Row | OverallRow]) -> Path:
    """One line per row; columns are the dataclass fields."""
    with path.open("w", newline="") as handle:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(rows[0])])
            writer.writeheader()
            writer.writerows(asdict(row) for row in rows)
    return path


def _ranking_table(table: Sequence[OverallRow], baseline: str) -> list[str]:
    lines = [
        f"| rank | backend | mean rank | mean score | better than {baseline} (p<{ALPHA}) "
        "| not worse than best | objectives | suggest ms (median) | wall s (total) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for position, row in enumerate(table, 1):
        lines.append(
            f"| {position} | {row.backend} | {fmt(row.mean_rank)} | {fmt(row.mean_score)} "
            f"| {row.wins_vs_baseline} | {row.not_worse_than_best} | {row.objectives} "
            f"| {fmt(row.suggest_ms)} | {fmt(row.wall_s_total)} |"
        )
    return lines


def _objective_table(result: ObjectiveResult, info: RunInfo) -> list[str]:
    source = "known" if result.f_star_known else "best found by any run"
    lines = [
        f"### {result.objective}",
        "",
        f"f* = {result.f_star:.10g} ({source}); score 1 = {info.baseline}'s median final "
        f"regret {fmt(result.scale)}; target regret {fmt(result.scale * info.target_level)}; "
        f"best: **{result.best_backend}**",
        "",
        "| backend | final regret median [p25, p75] | score [95% CI] | AUC | evals to target "
        f"(hit) | suggest ms | wall s/run | p vs {info.baseline} | p vs best |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(result.rows, key=lambda r: (r.regret_median, r.auc)):
        lines.append(
            f"| {row.backend} | {fmt(row.regret_median)} [{fmt(row.regret_p25)}, "
            f"{fmt(row.regret_p75)}] | {fmt(row.score)} [{fmt(row.score_low)}, "
            f"{fmt(row.score_high)}] | {fmt(row.auc)} | {_evals(row, info.budget)} "
            f"| {fmt(row.suggest_ms)} | {fmt(row.wall_s_median)} | {_p(row.p_vs_baseline)} "
            f"| {_p(row.p_vs_best)} |"
        )
    return [*lines, ""]


def _how_to_read(info: RunInfo) -> list[str]:
    return [
        "How to read: *final regret* = best loss after the budget minus f* (lower is "
        f"better). *score* = final regret / {info.baseline}'s median final regret "
        "(Bayesmark's normalized score: 0 = optimum, 1 = random search); median over "
        "seeds with a 95% bootstrap interval. *AUC* = the score at every budget t "
        "(regret at t / the baseline's median regret at t), averaged over t = 1..budget: "
        "random search gets about 1, lower is better, early progress counts. "
        "*evals to target* = median first "
        f"evaluation whose regret is <= {info.target_level:g} x the baseline's median final "
        "regret, with the fraction of seeds that got there. *suggest ms* = median optimizer "
        "time per trial (ask + tell). *p* = one-sided Mann-Whitney U on final regrets "
        f"over seeds: vs {info.baseline}, H1 = this backend is better; vs best, H1 = this "
        f"backend is worse; * marks p < {ALPHA} (no correction for multiple tests). "
        "*mean rank* ranks backends by median final regret on each objective.",
        "",
    ]


def write_summary(
    folder: Path,
    results: Sequence[ObjectiveResult],
    table: Sequence[OverallRow],
    info: RunInfo,
) -> list[Path]:
    """Write summary.md, summary.csv (objective x backend) and ranking.csv."""
    lines = [
        f"# Benchmark `{info.name}`",
        "",
        f"`{info.command}`",
        "",
        f"{len(results)} objectives x {len(table)} backends x {info.seeds} seeds "
        f"(master seed {info.master_seed}) x {info.budget} evaluations; {info.runs} runs; "
        f"this invocation took {info.elapsed_s:.0f} s.",
        "",
        *[f"- note: {note}" for note in info.notes],
        *([""] if info.notes else []),
        *_how_to_read(info),
        "## Overall ranking",
        "",
        *_ranking_table(table, info.baseline),
        "",
        "## Per objective",
        "",
    ]
    for result in results:
        lines.extend(_objective_table(result, info))
    md = folder / "summary.md"
    md.write_text("\n".join(lines))
    rows = [row for result in results for row in result.rows]
    return [md, write_csv(folder / "summary.csv", rows), write_csv(folder / "ranking.csv", table)]
