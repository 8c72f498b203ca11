"""Convergence and ECDF figures (matplotlib, Agg, imported only here)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import stats
from benchmarks.analysis import ObjectiveResult
from benchmarks.grid import safe_name

REGRET_FLOOR = 1e-12  # regret 0 (optimum hit) drawn at this height on the log axis


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colors(backends: Sequence[str]) -> dict[str, Any]:
    cmap = _pyplot().get_cmap("tab10" if len(backends) <= 10 else "tab20")
    return {b: cmap(i % cmap.N) for i, b in enumerate(backends)}


def convergence(result: ObjectiveResult, backends: Sequence[str], path: Path) -> Path:
    """Best-so-far regret (log) vs evaluation: median line and quartile band per backend."""
    plt = _pyplot()
    colors = _colors(backends)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for backend in backends:
        curves = result.curves.get(backend)
        if curves is None:
            continue
        steps = np.arange(1, curves.shape[1] + 1)
        low, mid, high = np.percentile(np.maximum(curves, REGRET_FLOOR), [25, 50, 75], axis=0)
        ax.plot(steps, mid, color=colors[backend], label=f"{backend} (n={len(curves)})")
        ax.fill_between(steps, low, high, color=colors[backend], alpha=0.15, linewidth=0)
    ax.set_yscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best-so-far regret (f - f*)")
    source = "" if result.f_star_known else ", best found"
    ax.set_title(f"{result.objective} (f* = {result.f_star:.6g}{source}): median and quartiles")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def ecdf(
    results: Sequence[ObjectiveResult],
    backends: Sequence[str],
    path: Path,
    targets: np.ndarray | None = None,
) -> Path:
    """Fraction of (objective, target) pairs solved vs evaluations, per backend.

    Targets are normalized regrets (1 = the baseline's median final regret),
    log-spaced from 10 to 1e-3; objectives whose normalizer is 0 are left out.
    """
    targets = stats.ecdf_targets() if targets is None else targets
    usable = [r for r in results if r.scale > 0]
    plt = _pyplot()
    colors = _colors(backends)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for backend in backends:
        curves = [r.curves[backend] / r.scale for r in usable if backend in r.curves]
        if not curves:
            continue
        fraction = stats.ecdf(curves, targets)
        steps = np.arange(1, len(fraction) + 1)
        ax.step(steps, fraction, where="post", color=colors[backend], label=backend)
    ax.set_ylim(0, 1)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("fraction of (objective, target) pairs solved")
    ax.set_title(
        f"{len(usable)} objectives x {len(targets)} targets "
        f"(normalized regret {targets[0]:g} .. {targets[-1]:g})"
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_figures(
    folder: Path, results: Sequence[ObjectiveResult], backends: Sequence[str]
) -> list[Path]:
    """convergence_<objective>.png for each objective (old ones removed) and ecdf.png."""
    for old in folder.glob("convergence_*.png"):
        old.unlink()
    paths = [
        convergence(r, backends, folder / f"convergence_{safe_name(r.objective)}.png")
        for r in results
    ]
    return [*paths, ecdf(results, backends, folder / "ecdf.png")]
