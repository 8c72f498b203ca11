"""From per-run data to per-objective, overall and across-objective results (no writing)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks import stats
from benchmarks.rundata import RunData

ALPHA = 0.05
MAX_SHIFT = 2  # backends whose losses agree up to this many trials of shift are twins


@dataclass
class Cell:
    """The complete runs of one backend on one objective (rows = seeds, by run index)."""

    losses: np.ndarray  # runs x budget, NaN for failed trials
    suggest: np.ndarray  # runs x budget, seconds of optimizer time (NaN = not measured)
    wall: np.ndarray  # runs, seconds
    run_indices: tuple[int, ...] = ()


def cells_from_runs(runs: Sequence[RunData]) -> dict[tuple[str, str], Cell]:
    """Cells keyed by (objective, backend); runs of one cell must have equal budgets."""
    grouped: dict[tuple[str, str], list[RunData]] = {}
    for run in runs:
        grouped.setdefault((run.objective, run.backend), []).append(run)
    cells = {}
    for key, members in grouped.items():
        members = sorted(members, key=lambda r: r.run_index)
        cells[key] = Cell(
            losses=np.array([r.losses for r in members], dtype=float),
            suggest=np.array([r.suggest_seconds for r in members], dtype=float),
            wall=np.array([r.wall_seconds for r in members], dtype=float),
            run_indices=tuple(r.run_index for r in members),
        )
    return cells


def known_optima(runs: Sequence[RunData]) -> dict[str, float | None]:
    """Each objective's f* as the runs recorded it (None: unknown)."""
    return {run.objective: run.f_star for run in runs}


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
    anytime_score: float
    target_regret: float
    evals_to_target: float
    target_hit_fraction: float
    suggest_ms: float
    # median over runs of the time to suggest trial 10 (100, 1000), NaN beyond the budget:
    # a model-based backend's time per suggestion grows with the trials it has seen
    suggest_ms_at_10: float
    suggest_ms_at_100: float
    suggest_ms_at_1000: float
    wall_s_median: float
    wall_s_total: float
    testable: bool = True  # enough seeds for the tests below to reach p < ALPHA
    p_vs_baseline: float = math.nan
    p_vs_best: float = math.nan
    rank: float = math.nan


@dataclass
class ObjectiveResult:
    """Everything computed for one objective."""

    objective: str
    f_star: float
    f_star_known: bool
    scale: float  # the baseline's median final regret (normalized regret 1)
    best_backend: str
    rows: list[Row]
    curves: dict[str, np.ndarray] = field(repr=False)  # backend -> runs x budget regret
    scores: dict[str, stats.Estimate] = field(repr=False, default_factory=dict)
    suggest: dict[str, np.ndarray] = field(repr=False, default_factory=dict)  # as Cell.suggest


@dataclass
class OverallRow:
    """One backend across all objectives."""

    backend: str
    mean_rank: float
    mean_score: float
    score_low: float
    score_high: float
    wins_vs_baseline: int
    tested_vs_baseline: int  # objectives tested against the baseline (enough seeds)
    not_worse_than_best: int
    tested_vs_best: int  # objectives where it is the best or was tested against it (seeds)
    objectives: int
    suggest_ms: float
    suggest_ms_at_10: float  # median over runs and objectives (NaN: no budget reached 10)
    suggest_ms_at_100: float
    suggest_ms_at_1000: float
    wall_s_total: float


def suggest_ms_at(suggest: Sequence[np.ndarray], trial: int) -> float:
    """Median milliseconds to suggest the ``trial``-th trial (1-based), over the rows
    (runs) of the ``runs x budget`` seconds arrays that reach it; NaN when none does."""
    column = [np.asarray(s)[:, trial - 1] for s in suggest if np.shape(s)[-1] >= trial]
    return stats.nan_median(np.concatenate(column)) * 1000 if column else math.nan


def analyze_objective(
    objective: str,
    cells: dict[str, Cell],
    f_star: float | None,
    baseline: str,
    target_level: float,
) -> ObjectiveResult:
    """Rows for every backend in ``cells`` (which must include ``baseline``) on one objective.

    Without a known ``f_star`` the best loss of any run stands in for it. Tests whose
    seed counts cannot reach p < ALPHA are not run (their p stays NaN).
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
    rows, scores = [], {}
    for backend, cell in cells.items():
        final = finals[backend]
        scores[backend] = stats.score_ci(final, finals[baseline])
        to_target = stats.evaluations_to_reach(curves[backend], target)
        rows.append(
            Row(
                objective=objective,
                backend=backend,
                runs=len(final),
                regret_median=float(np.median(final)),
                regret_p25=float(np.percentile(final, 25)),
                regret_p75=float(np.percentile(final, 75)),
                score=scores[backend].value,
                score_low=scores[backend].low,
                score_high=scores[backend].high,
                anytime_score=stats.anytime_score(curves[backend], curves[baseline]),
                target_regret=target,
                evals_to_target=float(np.median(to_target)),
                target_hit_fraction=float(np.isfinite(to_target).mean()),
                suggest_ms=stats.nan_median(cell.suggest) * 1000,
                suggest_ms_at_10=suggest_ms_at([cell.suggest], 10),
                suggest_ms_at_100=suggest_ms_at([cell.suggest], 100),
                suggest_ms_at_1000=suggest_ms_at([cell.suggest], 1000),
                wall_s_median=float(np.median(cell.wall)),
                wall_s_total=float(np.sum(cell.wall)),
            )
        )
    best = min(rows, key=lambda r: (r.regret_median, r.anytime_score, r.backend)).backend
    for row in rows:
        row.testable = stats.smallest_p(row.runs, len(finals[baseline])) < ALPHA
        if row.backend != baseline and row.testable:
            row.p_vs_baseline = stats.p_less(finals[row.backend], finals[baseline])
        if row.backend != best and stats.smallest_p(row.runs, len(finals[best])) < ALPHA:
            row.p_vs_best = stats.p_less(finals[best], finals[row.backend])
    suggest = {backend: cell.suggest for backend, cell in cells.items()}
    return ObjectiveResult(
        objective, star, f_star is not None, scale, best, rows, curves, scores, suggest
    )


def analyze_runs(
    runs: Sequence[RunData],
    backends: Sequence[str],
    objectives: Sequence[str],
    baseline: str,
    target_level: float,
) -> tuple[list[ObjectiveResult], list[str]]:
    """:func:`analyze_objective` for each objective with baseline runs; notes on the rest."""
    cells = cells_from_runs(runs)
    optima = known_optima(runs)
    results, notes = [], []
    for objective in objectives:
        by_backend = {b: cells[(objective, b)] for b in backends if (objective, b) in cells}
        if baseline not in by_backend:
            notes.append(f"{objective}: no complete {baseline} runs, left out")
            continue
        if all(np.isnan(c.losses).all() for c in by_backend.values()):
            notes.append(f"{objective}: no successful trial in any run, left out")
            continue
        results.append(
            analyze_objective(objective, by_backend, optima[objective], baseline, target_level)
        )
    return results, notes


def ranked_backends(results: Sequence[ObjectiveResult], backends: Sequence[str]) -> list[str]:
    """The backends ranks and tests compare: those with results on some objective (one
    that finished no run anywhere would leave no objective complete, so no ranks)."""
    return [b for b in backends if any(_has(r, b) for r in results)]


def complete_results(
    results: Sequence[ObjectiveResult], backends: Sequence[str]
) -> list[ObjectiveResult]:
    """The objectives on which every ranked backend has results (the ones ranks compare)."""
    ranked = ranked_backends(results, backends)
    return [r for r in results if all(_has(r, b) for b in ranked)]


def overall(results: Sequence[ObjectiveResult], backends: Sequence[str]) -> list[OverallRow]:
    """Backends ranked by mean rank (of median final regret) across objectives.

    Only objectives where every backend has results take part in the ranks; also
    sets each per-objective row's ``rank``.
    """
    ranked = ranked_backends(results, backends)
    complete = complete_results(results, backends)
    ranks = np.full((0, len(ranked)), np.nan)
    if complete:
        regrets = np.array([[_row(r, b).regret_median for b in ranked] for r in complete])
        ranks = stats.rank_rows(regrets)
        for result, row_ranks in zip(complete, ranks, strict=True):
            for backend, rank in zip(ranked, row_ranks, strict=True):
                _row(result, backend).rank = float(rank)
    mean_rank = {b: float(ranks[:, i].mean()) for i, b in enumerate(ranked)} if complete else {}
    table = []
    for backend in backends:
        mine = [r for r in results if _has(r, backend)]
        rows = [_row(r, backend) for r in mine]
        vs_best = [
            row for r, row in zip(mine, rows, strict=True)
            if (r.best_backend == backend and row.testable) or not math.isnan(row.p_vs_best)
        ]  # fmt: skip
        score = stats.mean_estimate([r.scores[backend] for r in mine])
        suggest = [r.suggest[backend] for r in mine]
        table.append(
            OverallRow(
                backend=backend,
                mean_rank=mean_rank.get(backend, math.nan),
                mean_score=score.value,
                score_low=score.low,
                score_high=score.high,
                wins_vs_baseline=sum(row.p_vs_baseline < ALPHA for row in rows),
                tested_vs_baseline=sum(not math.isnan(row.p_vs_baseline) for row in rows),
                not_worse_than_best=sum(not row.p_vs_best < ALPHA for row in vs_best),
                tested_vs_best=len(vs_best),
                objectives=len(rows),
                suggest_ms=stats.nan_median([row.suggest_ms for row in rows]),
                suggest_ms_at_10=suggest_ms_at(suggest, 10),
                suggest_ms_at_100=suggest_ms_at(suggest, 100),
                suggest_ms_at_1000=suggest_ms_at(suggest, 1000),
                wall_s_total=float(sum(row.wall_s_total for row in rows)),
            )
        )
    return sorted(table, key=_rank_order)


def _rank_order(row: OverallRow) -> tuple[bool, float, bool, float]:
    """Mean rank, then mean score; a backend without one after those with it."""
    rank, score = row.mean_rank, row.mean_score
    return (math.isnan(rank), 0.0 if math.isnan(rank) else rank,
            math.isnan(score), 0.0 if math.isnan(score) else score)  # fmt: skip


@dataclass
class Comparison:
    """Backends compared across objectives: Friedman test, post-hoc tests, cliques."""

    backends: list[str]  # by mean rank, best first
    mean_ranks: list[float]
    objectives: int
    friedman_p: float
    pairwise_p: np.ndarray  # Holm-adjusted Wilcoxon p-values, in the order of ``backends``
    cliques: list[tuple[int, int]]  # positions in ``backends`` not told apart by any test
    reachable: bool  # enough objectives for a pairwise test to reach p < ALPHA

    def different(self, first: str, second: str) -> bool:
        """Whether the post-hoc test separates two backends at ALPHA."""
        i, j = self.backends.index(first), self.backends.index(second)
        return bool(self.pairwise_p[i, j] < ALPHA)


def compare(results: Sequence[ObjectiveResult], backends: Sequence[str]) -> Comparison:
    """Friedman test on the ranks of median final regret over the complete objectives,
    then pairwise Wilcoxon signed-rank tests on the objectives' scores, Holm-adjusted;
    among the :func:`ranked_backends`."""
    backends = ranked_backends(results, backends)
    complete = complete_results(results, backends)
    regrets = np.array([[_row(r, b).regret_median for b in backends] for r in complete])
    scores = np.array([[_row(r, b).score for b in backends] for r in complete])
    ranks = stats.rank_rows(regrets) if complete else np.full((0, len(backends)), np.nan)
    mean_ranks = ranks.mean(axis=0) if complete else np.full(len(backends), np.nan)
    order = [int(i) for i in np.argsort(mean_ranks, kind="stable")]
    pairwise = stats.pairwise_wilcoxon_holm(scores[:, order]) if complete else np.ones((0, 0))
    different = np.nan_to_num(pairwise, nan=1.0) < ALPHA
    return Comparison(
        backends=[backends[i] for i in order],
        mean_ranks=[float(mean_ranks[i]) for i in order],
        objectives=len(complete),
        friedman_p=stats.friedman(ranks) if complete else math.nan,
        pairwise_p=pairwise,
        cliques=stats.cliques(range(len(order)), different) if complete else [],
        reachable=stats.smallest_wilcoxon_holm_p(len(complete), len(backends)) < ALPHA,
    )


@dataclass(frozen=True)
class Twin:
    """Two backends that evaluated the same losses: ``second`` ``shift`` trials later,
    on every shared run of each objective in ``objectives``."""

    first: str
    second: str
    shift: int
    objectives: tuple[str, ...]
    runs: int

    @property
    def lag(self) -> str:
        """``1 trial later``, ``2 trials later``, or empty for no shift."""
        return f"{self.shift} trial{'s' if self.shift > 1 else ''} later" if self.shift else ""


def twins(cells: dict[tuple[str, str], Cell], backends: Sequence[str]) -> list[Twin]:
    """Pairs of backends whose runs of equal run index hold the same losses, up to a shift.

    ``bbopt.sobol`` and ``optuna.qmc`` are one on box spaces: the same Sobol' points,
    one trial apart. Checked per objective: a pair is a twin there when all their
    shared runs agree.
    """
    found: dict[tuple[str, str, int], tuple[list[str], int]] = {}
    objectives = sorted({objective for objective, _ in cells})
    for i, first in enumerate(backends):
        for second in backends[i + 1 :]:
            for objective in objectives:
                pair = (cells.get((objective, first)), cells.get((objective, second)))
                if pair[0] is None or pair[1] is None:
                    continue
                match = _shift_of(pair[0], pair[1])
                if match is None:
                    continue
                shift, swapped, runs = match
                key = (second, first, shift) if swapped else (first, second, shift)
                names, count = found.get(key, ([], 0))
                found[key] = ([*names, objective], count + runs)
    return [Twin(a, b, s, tuple(names), runs) for (a, b, s), (names, runs) in found.items()]


def twins_on(found: Sequence[Twin], objectives: Sequence[str]) -> list[Twin]:
    """The twins that hold on every one of ``objectives``."""
    return [t for t in found if objectives and set(objectives) <= set(t.objectives)]


def _shift_of(a: Cell, b: Cell) -> tuple[int, bool, int] | None:
    """(shift, whether a is the later one, shared runs) when a and b agree; else None."""
    shared = sorted(set(a.run_indices) & set(b.run_indices))
    if not shared:
        return None
    rows_a = a.losses[[a.run_indices.index(k) for k in shared]]
    rows_b = b.losses[[b.run_indices.index(k) for k in shared]]
    for shift in range(MAX_SHIFT + 1):
        if _shifted_equal(rows_a, rows_b, shift):
            return shift, False, len(shared)
        if shift and _shifted_equal(rows_b, rows_a, shift):
            return shift, True, len(shared)
    return None


def _shifted_equal(a: np.ndarray, b: np.ndarray, shift: int) -> bool:
    """Whether b[t + shift] == a[t] for every t both hold (NaN equals NaN)."""
    n = a.shape[-1] - shift
    if n < max(2, shift + 1):
        return False
    return bool(np.array_equal(a[..., :n], b[..., shift:], equal_nan=True))


def _has(result: ObjectiveResult, backend: str) -> bool:
    return any(row.backend == backend for row in result.rows)


def _row(result: ObjectiveResult, backend: str) -> Row:
    return next(row for row in result.rows if row.backend == backend)
