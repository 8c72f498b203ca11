"""Statistics of a benchmark, on plain arrays: regret curves, scores, tests, ECDF.

Conventions (runs x evaluations arrays, one row per seed):

- *simple regret* after t evaluations: best successful loss among the first t
  minus f*, floored at 0. Failed trials never improve the best; before the first
  success (and for f* rounding) the regret is that of the worst loss seen on the
  objective, so curves are finite.
- *normalized score* (Bayesmark): final regret / median final regret of the
  random-search baseline; 0 = optimum, 1 = what random search typically reaches.
- *AUC*: mean over evaluations t = 1..budget of regret_t divided by the
  baseline's median regret_t: the score at every budget, averaged. Random search
  gets about 1; lower is better, and early progress counts.
- *tests*: one-sided Mann-Whitney U on final regrets over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20261130  # fixed: the same results give the same intervals


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
    """The baseline's median final regret: the regret that scores 1."""
    return float(np.median(baseline_final_regret))


def normalize(regret: np.ndarray, scale: float) -> np.ndarray:
    """Regret divided by ``scale``; NaN when the scale is 0 (baseline already optimal)."""
    if scale <= 0:
        return np.full_like(regret, np.nan, dtype=float)
    return regret / scale


def median_score_ci(
    final_regret: np.ndarray,
    baseline_final_regret: np.ndarray,
    level: float = 0.95,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float, float]:
    """Median normalized score and its percentile-bootstrap confidence interval.

    Each bootstrap replicate resamples the backend's runs and the baseline's runs
    (independently, with replacement), so the interval includes the uncertainty of
    the normalizer too.
    """
    scale = normalizer(baseline_final_regret)
    point = float(np.median(normalize(final_regret, scale)))
    rng = np.random.default_rng(seed)
    runs = rng.choice(final_regret, size=(samples, final_regret.size))
    base = rng.choice(baseline_final_regret, size=(samples, baseline_final_regret.size))
    scales = np.median(base, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        replicates = np.median(runs, axis=1) / scales
    replicates = replicates[np.isfinite(replicates)]
    if replicates.size == 0 or not np.isfinite(point):
        return point, float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return point, float(low), float(high)


def auc(curves: np.ndarray, baseline_curves: np.ndarray) -> np.ndarray:
    """Per run, the mean over evaluations t of regret_t / the baseline's median regret_t.

    That is the normalized score the run would get if stopped at t, averaged over
    all t: random search scores about 1, lower is better and early progress counts.
    Evaluations where the baseline's median regret is 0 are left out.
    """
    scale = np.median(baseline_curves, axis=0)
    usable = scale > 0
    if not usable.any():
        return np.full(curves.shape[0], np.nan)
    return np.mean(curves[:, usable] / scale[usable], axis=-1)


def evaluations_to_reach(curves: np.ndarray, target: float) -> np.ndarray:
    """Per run, the first evaluation (1-based) whose regret is <= ``target``; inf if none."""
    reached = curves <= target
    first = np.argmax(reached, axis=-1).astype(float) + 1
    return np.where(reached.any(axis=-1), first, np.inf)


def p_less(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """One-sided Mann-Whitney U p-value for "x tends to be smaller than y"."""
    from scipy.stats import mannwhitneyu

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size == 0 or y.size == 0:
        return float("nan")
    return float(mannwhitneyu(x, y, alternative="less").pvalue)


def rank_rows(scores: np.ndarray) -> np.ndarray:
    """Rank (1 = lowest) of each column within each row; ties share the mean rank.

    ``scores`` is objectives x backends, lower is better.
    """
    from scipy.stats import rankdata

    return np.asarray(rankdata(scores, axis=1), dtype=float)


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


def ecdf(normalized_curves: Sequence[np.ndarray], targets: np.ndarray) -> np.ndarray:
    """COCO-style anytime ECDF: fraction of (objective, target, run) solved per evaluation.

    ``normalized_curves`` holds one runs x evaluations array per objective (equal
    budgets); a target is solved at evaluation t once the normalized regret is <= it.
    """
    solved = [
        (curves[:, None, :] <= targets[None, :, None]).mean(axis=(0, 1))
        for curves in normalized_curves
    ]
    return np.mean(solved, axis=0)


def ecdf_targets(high: float = 10.0, low: float = 1e-3, count: int = 41) -> np.ndarray:
    """Normalized-regret targets, log-spaced from ``high`` down to ``low``."""
    return np.logspace(np.log10(high), np.log10(low), count)
