"""The critical difference diagram (Demšar 2006): mean ranks and the groups no test separates.

Backends sit on an axis of mean rank (1 = best) across objectives, the better half
labelled on the left and the rest on the right; a thick bar joins backends that no
pairwise test (Wilcoxon signed-rank, Holm-adjusted) tells apart at alpha.
"""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks.analysis import ALPHA, Comparison
from benchmarks.figures import pyplot
from benchmarks.wording import counted

_LEFT, _RIGHT = 0.3, 0.7  # where ranks 1 and k sit, as fractions of the width
_ROW = 1.0  # vertical distance between two labels
_BAR = 0.4  # vertical distance between two clique bars


def caption(comparison: Comparison) -> str:
    """What the diagram shows, with the Friedman p-value, in one sentence."""
    friedman = (
        "Friedman test not applicable (needs 3 backends and 2 objectives on which they all "
        "have results)"
        if math.isnan(comparison.friedman_p)
        else f"Friedman p = {comparison.friedman_p:.2g}"
    )
    if not comparison.reachable:
        bars = (
            f"with {counted(comparison.objectives, 'objective')} no pairwise test can reach "
            f"p < {ALPHA}, "
            "so one bar joins all"
        )
    else:
        bars = f"bars join backends no Wilcoxon-Holm test separates at {ALPHA}"
    over = counted(comparison.objectives, "objective")
    return f"mean rank over {over} (1 = best); {friedman}; {bars}"


def draw(comparison: Comparison, path: Path) -> Path:
    """Write the diagram of ``comparison`` to ``path`` (PNG)."""
    plt = pyplot()
    k = len(comparison.backends)
    cliques = comparison.cliques
    left = math.ceil(k / 2)
    labels_top = 0.8 + _BAR * len(cliques) + 0.4
    height = labels_top + _ROW * max(left, k - left)
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.32 * height))
    ax.set_xlim(0, 1)
    ax.set_ylim(height, -1.2)
    ax.axis("off")

    def x_of(rank: float) -> float:
        return _LEFT + (rank - 1) / max(k - 1, 1) * (_RIGHT - _LEFT)

    ax.plot([x_of(1), x_of(k)], [0, 0], color="black", linewidth=1)
    for tick in range(1, k + 1):
        ax.plot([x_of(tick)] * 2, [0, -0.25], color="black", linewidth=1)
        ax.text(x_of(tick), -0.35, str(tick), ha="center", va="bottom", fontsize=9)
    for position, (backend, rank) in enumerate(
        zip(comparison.backends, comparison.mean_ranks, strict=True)
    ):
        on_left = position < left
        row = position if on_left else k - 1 - position
        y = labels_top + _ROW * row
        end = _LEFT - 0.02 if on_left else _RIGHT + 0.02
        ax.plot([x_of(rank)] * 2 + [end], [0, y, y], color="0.2", linewidth=0.9)
        ax.text(
            end - 0.01 if on_left else end + 0.01,
            y,
            f"{backend} ({rank:.2f})" if on_left else f"({rank:.2f}) {backend}",
            ha="right" if on_left else "left",
            va="center",
            fontsize=9,
        )
    for level, (first, last) in enumerate(cliques):
        y = 0.6 + _BAR * level
        low, high = comparison.mean_ranks[first], comparison.mean_ranks[last]
        ax.plot([x_of(low) - 0.005, x_of(high) + 0.005], [y, y], color="black", linewidth=4)
    ax.set_title(caption(comparison), fontsize=9, wrap=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
