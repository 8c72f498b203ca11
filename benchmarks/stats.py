"""Statistics of a benchmark, on plain arrays: regret curves, scores, tests, ECDF.

Conventions (runs x evaluations arrays, one row per seed):

- *simple regret* after t evaluations: best successful loss among the first t
  minus f*, floored at 0. Failed trials never improve the best; before the first
  success (and for f* rounding) the regret is that of the worst loss seen on the
  objective, so curves are finite.
- *score* on an objective: log10(a run's final regret / a random-search baseline
  run's final regret), clipped to [-SCORE_CLIP, SCORE_CLIP] decades, averaged over
  every (run, baseline run) pair. 0 = random search, -1 = ten times lower regret,
  -2 = a hundred times lower or the optimum. Across objectives scores are averaged
  (docs/benchmarks.md says why this score).
- *anytime score*: the same at every evaluation t, averaged over t = 1..budget:
  early progress counts.
- *tests*: one-sided Mann-Whitney U on final regrets over seeds, per objective;
  across objectives a Friedman test on ranks and pairwise Wilcoxon signed-rank
  tests on scores with Holm's correction (Demšar 2006).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20261130  # fixed: the same results give the same intervals
SCORE_CLIP = 2.0  # decades: one objective moves a mean over n objectives by at most 2 / n
# COCO's 51 bbob targets on f - f* (1e2 .. 1e-8), computed as cocopp does: equal floats
# matter, as cocopp looks runtimes up on this very grid.
COCO_TARGETS = 10 ** np.arange(2, -8.2, -0.2)
_EXACT_MANN_WHITNEY = 400  # largest n_x * n_y for the exact (conservative with ties) test


def best_so_far(losses: np.ndarray) -> np.ndarray:
    """Running minimum along each row; NaN (failed trial) never improves it (+inf start)."""
    filled = np.where(np.isnan(losses), np.inf, losses)
    return np.minimum.accumulate(filled, axis=-1)


def regret_curves(losses: np.ndarray, f_star: float, worst: float) -> np.ndarray:
    """Best-so-far simple regret per run and evaluation (see the module doc)."""
    best = best_so_far(losses)
    best = np.where(np.isfinite(best), best, worst)
    return np.maximum(best - f_star, 0.0)


def normalizer(baseline_final_regret: np.ndarray) -> float:
    """The baseline's median final regret: the unit of normalized regret targets."""
    return float(np.median(baseline_final_regret))


def clipped_log_ratio(regret: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """log10(regret / reference) clipped to [-SCORE_CLIP, SCORE_CLIP], elementwise.

    Regret 0 against a positive reference is -SCORE_CLIP (the optimum), a positive
    regret against 0 is +SCORE_CLIP, and 0 against 0 is 0 (both at the optimum).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = np.log10(regret) - np.log10(reference)
    return np.clip(np.where(np.isnan(difference), 0.0, difference), -SCORE_CLIP, SCORE_CLIP)


def pair_scores(final_regret: np.ndarray, baseline_final_regret: np.ndarray) -> np.ndarray:
    """The n x m matrix of clipped log ratios of every (run, baseline run) pair."""
    return clipped_log_ratio(final_regret[:, None], baseline_final_regret[None, :])


@dataclass(frozen=True)
class Estimate:
    """A point estimate, its percentile-bootstrap interval and the bootstrap replicates."""

    value: float
    low: float
    high: float
    replicates: np.ndarray

    @classmethod
    def from_replicates(cls, value: float, replicates: np.ndarray, level: float) -> Estimate:
        tail = (1 - level) / 2 * 100
        low, high = np.percentile(replicates, [tail, 100 - tail])
        return cls(value, float(low), float(high), replicates)


def score(final_regret: np.ndarray, baseline_final_regret: np.ndarray) -> float:
    """A backend's score on one objective: the mean clipped log ratio over all pairs of
    one of its runs and one baseline run (the baseline scores exactly 0)."""
    return float(pair_scores(final_regret, baseline_final_regret).mean())


def score_ci(
    final_regret: np.ndarray,
    baseline_final_regret: np.ndarray,
    level: float = 0.95,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Estimate:
    """:func:`score` with a percentile-bootstrap interval over seeds.

    Each replicate resamples the backend's runs and the baseline's runs independently
    (with replacement), so the interval includes the uncertainty of the baseline too.
    A replicate is the mean of the pair matrix over resampled rows and columns, i.e.
    counts @ pairs @ counts; its bootstrap distribution is centred on the estimate.
    """
    pairs = pair_scores(final_regret, baseline_final_regret)
    n, m = pairs.shape
    rng = np.random.default_rng(seed)
    rows = rng.multinomial(n, np.full(n, 1.0 / n), size=samples)
    columns = rng.multinomial(m, np.full(m, 1.0 / m), size=samples)
    replicates = np.einsum("si,ij,sj->s", rows, pairs, columns) / (n * m)
    return Estimate.from_replicates(float(pairs.mean()), replicates, level)


def mean_estimate(estimates: Sequence[Estimate], level: float = 0.95) -> Estimate:
    """The mean of per-objective estimates, with the interval of the mean of replicates.

    The objectives were resampled independently, so replicate k of the mean is the
    mean of the objectives' replicates k.
    """
    if not estimates:
        return Estimate(math.nan, math.nan, math.nan, np.array([]))
    value = float(np.mean([e.value for e in estimates]))
    replicates = np.mean([e.replicates for e in estimates], axis=0)
    return Estimate.from_replicates(value, replicates, level)


def anytime_score(curves: np.ndarray, baseline_curves: np.ndarray) -> float:
    """The score at every evaluation t (runs' regret at t against the baseline's at t),
    averaged over t = 1..budget (the baseline scores 0)."""
    pairs = clipped_log_ratio(curves[:, None, :], baseline_curves[None, :, :])
    return float(pairs.mean())


def evaluations_to_reach(curves: np.ndarray, target: float) -> np.ndarray:
    """Per run, the first evaluation (1-based) whose regret is <= ``target``; inf if none."""
    reached = curves <= target
    first = np.argmax(reached, axis=-1).astype(float) + 1
    return np.where(reached.any(axis=-1), first, np.inf)


def smallest_p(n_x: int, n_y: int) -> float:
    """The smallest p-value a one-sided Mann-Whitney test of n_x vs n_y runs can give."""
    return 1.0 / math.comb(n_x + n_y, n_x)


def seeds_to_reach(alpha: float) -> int:
    """The fewest seeds per backend with which a one-sided Mann-Whitney test can give p < alpha."""
    n = 1
    while smallest_p(n, n) >= alpha:
        n += 1
    return n


def p_less(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """One-sided Mann-Whitney U p-value for "x tends to be smaller than y".

    Small samples use the exact null distribution (with ties it is conservative: it
    never claims more than the data allow), larger ones the normal approximation.
    """
    from scipy.stats import mannwhitneyu

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size == 0 or y.size == 0:
        return float("nan")
    if np.all(np.concatenate([x, y]) == x[0]):
        return 1.0  # all tied: no evidence either way
    method = "exact" if x.size * y.size <= _EXACT_MANN_WHITNEY else "asymptotic"
    return float(mannwhitneyu(x, y, alternative="less", method=method).pvalue)


def rank_rows(scores: np.ndarray) -> np.ndarray:
    """Rank (1 = lowest) of each column within each row; ties share the mean rank.

    ``scores`` is objectives x backends, lower is better.
    """
    from scipy.stats import rankdata

    return np.asarray(rankdata(scores, axis=1), dtype=float)


def friedman(values: np.ndarray) -> float:
    """Friedman test p-value that the backends (columns) differ across objectives (rows).

    NaN with fewer than 3 backends or 2 objectives; 1 when every objective is a tie.
    """
    from scipy.stats import friedmanchisquare

    n, k = values.shape
    if k < 3 or n < 2:
        return math.nan
    if all(np.all(row == row[0]) for row in values):
        return 1.0
    return float(friedmanchisquare(*values.T).pvalue)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment: adjusted p-values, compared with alpha as they are."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for position, index in enumerate(order):
        running = max(running, min(1.0, (p.size - position) * p[index]))
        adjusted[index] = running
    return adjusted


def wilcoxon_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired values; ties split (zsplit)."""
    from scipy.stats import wilcoxon

    difference = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    if not np.any(difference):
        return 1.0
    return float(wilcoxon(difference, zero_method="zsplit").pvalue)


def pairwise_wilcoxon_holm(values: np.ndarray) -> np.ndarray:
    """Holm-adjusted Wilcoxon p-values of every pair of columns (NaN on the diagonal)."""
    k = values.shape[1]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    adjusted = holm([wilcoxon_p(values[:, i], values[:, j]) for i, j in pairs])
    matrix = np.full((k, k), np.nan)
    for (i, j), p in zip(pairs, adjusted, strict=True):
        matrix[i, j] = matrix[j, i] = p
    return matrix


def smallest_wilcoxon_holm_p(objectives: int, backends: int) -> float:
    """The smallest Holm-adjusted two-sided Wilcoxon p-value on this many objectives."""
    pairs = backends * (backends - 1) // 2
    return min(1.0, pairs * 2.0 / 2.0**objectives)


def cliques(order: Sequence[int], different: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive positions in ``order`` whose members differ pairwise by no test.

    ``order`` lists column indices by mean rank; ``different[i, j]`` says the test
    separates columns i and j. Returns (first, last) positions, longest runs only.
    """
    runs: list[tuple[int, int]] = []
    for start in range(len(order)):
        end = start
        while end + 1 < len(order) and not any(
            different[order[member], order[end + 1]] for member in range(start, end + 1)
        ):
            end += 1
        if end > start and not any(s <= start and end <= e for s, e in runs):
            runs.append((start, end))
    return runs


def _without_nan(values: np.ndarray | Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    return array[~np.isnan(array)]


def nan_median(values: np.ndarray | Sequence[float]) -> float:
    """Median ignoring NaN; NaN (without a warning) when nothing is left."""
    array = _without_nan(values)
    return float(np.median(array)) if array.size else float("nan")


def nan_mean(values: np.ndarray | Sequence[float]) -> float:
    """Mean ignoring NaN; NaN (without a warning) when nothing is left."""
    array = _without_nan(values)
    return float(np.mean(array)) if array.size else float("nan")


def ecdf(curves: Sequence[np.ndarray], targets: np.ndarray) -> np.ndarray:
    """COCO-style anytime ECDF: fraction of (objective, target, run) solved per evaluation.

    ``curves`` holds one runs x evaluations array per objective (equal budgets; regrets,
    normalized or not, on the scale of ``targets``); a target is solved at evaluation
    t once the curve is <= it. Objectives weigh equally.
    """
    solved = [(c[:, None, :] <= targets[None, :, None]).mean(axis=(0, 1)) for c in curves]
    return np.mean(solved, axis=0)


def ecdf_targets(high: float = 10.0, low: float = 1e-3, count: int = 41) -> np.ndarray:
    """Normalized-regret targets, log-spaced from ``high`` down to ``low``."""
    return np.logspace(np.log10(high), np.log10(low), count)
