"""From stored runs to per-objective and overall results (numbers only; no writing)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bbopt.trial import Trial
from benchmarks import stats
from benchmarks.execute import stored_trials
from benchmarks.grid import RunSpec

ALPHA = 0.05


@dataclass
class Cell:
    """The complete runs of one backend on one objective (rows = seeds)."""

    losses: np.ndarray  # runs x budget, NaN for failed trials
    suggest: np.ndarray  # runs x budget, seconds of optimizer time (NaN = not measured)
    wall: np.ndarray  # runs, seconds


def load_cells(specs: Sequence[RunSpec]) -> tuple[dict[tuple[str, str], Cell], list[str]]:
    """Cells keyed by (objective, backend) from the stored runs, and notes on missing runs.

    A run counts once its study holds at least the budget's finished trials; longer
    runs (an earlier, larger budget) are cut to the budget.
    """
    grouped: dict[tuple[str, str], list[list[Trial]]] = {}
    missing = 0
    for spec in specs:
        trials = stored_trials(spec)
        if trials is None or len(trials) < spec.budget:
            missing += 1
            continue
        grouped.setdefault((spec.objective, spec.backend), []).append(trials[: spec.budget])
    budget = specs[0].budget if specs else 0
    cells = {key: _cell(runs, budget) for key, runs in grouped.items()}
    notes = [f"{missing} of {len(specs)} runs are missing or unfinished"] if missing else []
    return cells, notes


def _seconds(value: float | None) -> float:
    return np.nan if value is None else value


def _cell(runs: list[list[Trial]], budget: int) -> Cell:
    """A run's wall time is the sum over its trials of suggest time plus the time from the
    trial's start to its end (so a resumed run counts the same as an uninterrupted one)."""
    losses = np.full((len(runs), budget), np.nan)
    suggest = np.full((len(runs), budget), np.nan)
    wall = np.zeros(len(runs))
    for i, trials in enumerate(runs):
        for j, trial in enumerate(trials):
            if trial.ok and trial.loss is not None:
                losses[i, j] = trial.loss
            suggest[i, j] = _seconds(trial.suggest_duration)
            if trial.started_at is not None and trial.finished_at is not None:
                wall[i] += (trial.finished_at - trial.started_at).total_seconds()
            wall[i] += trial.suggest_duration or 0.0
    return Cell(losses, suggest, wall)


@dataclass
class Row:
    """Summary of one backend on one objective."""

    objective: str
    backend: str
    runs: int
    regret_median: float
    regret_p25: float
    regret_p75: float
    score: float
    score_low: float
    score_high: float
    auc: float
    target_regret: float
    evals_to_target: float
    target_hit_fraction: float
    suggest_ms: float
    wall_s_median: float
    wall_s_total: float
    p_vs_baseline: float = math.nan
    p_vs_best: float = math.nan
    rank: float = math.nan


@dataclass
class ObjectiveResult:
    """Everything computed for one objective."""

    objective: str
    f_star: float
    f_star_known: bool
    scale: float  # the baseline's median final regret (normalized score 1)
    best_backend: str
    rows: list[Row]
    curves: dict[str, np.ndarray] = field(repr=False)  # backend -> runs x budget regret


@dataclass
class OverallRow:
    """One backend across all objectives."""

    backend: str
    mean_rank: float
    mean_score: float
    wins_vs_baseline: int
    not_worse_than_best: int
    objectives: int
    suggest_ms: float
    wall_s_total: float


def analyze_objective(
    objective: str,
    cells: dict[str, Cell],
    f_star: float | None,
    baseline: str,
    target_level: float,
) -> ObjectiveResult:
    """Rows for every backend in ``cells`` (which must include ``baseline``) on one objective.

    Without a known ``f_star`` the best loss of any run stands in for it.
    """
    all_losses = np.concatenate([c.losses.ravel() for c in cells.values()])
    if np.isnan(all_losses).all():
        raise ValueError(f"no successful trial on {objective!r}: nothing to compare")
    star = float(np.nanmin(all_losses)) if f_star is None else float(f_star)
    worst = float(np.nanmax(all_losses))
    curves = {b: stats.regret_curves(c.losses, star, worst) for b, c in cells.items()}
    finals = {b: curve[:, -1] for b, curve in curves.items()}
    scale = stats.normalizer(finals[baseline])
    target = target_level * scale
    rows = []
    for backend, cell in cells.items():
        final = finals[backend]
        score, low, high = stats.median_score_ci(final, finals[baseline])
        to_target = stats.evaluations_to_reach(curves[backend], target)
        rows.append(
            Row(
                objective=objective,
                backend=backend,
                runs=len(final),
                regret_median=float(np.median(final)),
                regret_p25=float(np.percentile(final, 25)),
                regret_p75=float(np.percentile(final, 75)),
                score=score,
                score_low=low,
                score_high=high,
                auc=float(np.median(stats.auc(curves[backend], curves[baseline]))),
                target_regret=target,
                evals_to_target=float(np.median(to_target)),
                target_hit_fraction=float(np.isfinite(to_target).mean()),
                suggest_ms=stats.nan_median(cell.suggest) * 1000,
                wall_s_median=float(np.median(cell.wall)),
                wall_s_total=float(np.sum(cell.wall)),
            )
        )
    best = min(rows, key=lambda r: (r.regret_median, r.auc, r.backend)).backend
    for row in rows:
        if row.backend != baseline:
            row.p_vs_baseline = stats.p_less(finals[row.backend], finals[baseline])
        if row.backend != best:
            row.p_vs_best = stats.p_less(finals[best], finals[row.backend])
    return ObjectiveResult(objective, star, f_star is not None, scale, best, rows, curves)


def overall(results: Sequence[ObjectiveResult], backends: Sequence[str]) -> list[OverallRow]:
    """Backends ranked by mean rank (of median final regret) across objectives.

    Only objectives where every backend has results take part in the ranks; also
    sets each per-objective row's ``rank``.
    """
    complete = [r for r in results if all(_has(r, b) for b in backends)]
    ranks = np.full((0, len(backends)), np.nan)
    if complete:
        regrets = np.array([[_row(r, b).regret_median for b in backends] for r in complete])
        ranks = stats.rank_rows(regrets)
        for result, row_ranks in zip(complete, ranks, strict=True):
            for backend, rank in zip(backends, row_ranks, strict=True):
                _row(result, backend).rank = float(rank)
    table = []
    for i, backend in enumerate(backends):
        rows = [_row(r, backend) for r in results if _has(r, backend)]
        table.append(
            OverallRow(
                backend=backend,
                mean_rank=float(ranks[:, i].mean()) if complete else math.nan,
                mean_score=stats.nan_mean([row.score for row in rows]),
                wins_vs_baseline=sum(row.p_vs_baseline < ALPHA for row in rows),
                not_worse_than_best=sum(not row.p_vs_best < ALPHA for row in rows),
                objectives=len(rows),
                suggest_ms=stats.nan_median([row.suggest_ms for row in rows]),
                wall_s_total=float(sum(row.wall_s_total for row in rows)),
            )
        )
    return sorted(table, key=lambda r: (math.isnan(r.mean_rank), r.mean_rank, r.mean_score))


def _has(result: ObjectiveResult, backend: str) -> bool:
    return any(row.backend == backend for row in result.rows)


def _row(result: ObjectiveResult, backend: str) -> Row:
    return next(row for row in result.rows if row.backend == backend)
