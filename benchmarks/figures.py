"""Convergence and ECDF figures (matplotlib, Agg, imported only here).

Every line has its own (color, line style, marker) so 15 or more backends stay
apart, legends sit outside the axes, a backend that repeats another one's losses
(:class:`benchmarks.analysis.Twin`) says so in its label, and a regret of 0 (f*
reached) is drawn on a stated floor line with a marker, never as a dive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import cocodata, stats
from benchmarks.analysis import ObjectiveResult, Twin, twins_on
from benchmarks.grid import safe_name

LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_MARK_SPACING = 0.12  # markers evenly spaced along each line (fraction of the axes)


def _markevery(line: np.ndarray) -> float | None:
    """Marker spacing for ``line``; None when nothing of it is drawn (a median at regret
    0 from the first evaluation), where matplotlib's spacing fails with an IndexError."""
    return _MARK_SPACING if np.isfinite(line).any() else None


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def line_styles(backends: Sequence[str], twins: Sequence[Twin] = ()) -> dict[str, dict[str, Any]]:
    """Plot keywords per backend: distinct (color, line style) pairs for up to 40 lines.

    The later backend of a twin pair is dashed, so where the two lines overlap they
    show as one line of alternating colors.
    """
    cmap = pyplot().get_cmap("tab10")
    styles = {
        backend: {
            "color": cmap(i % 10),
            "linestyle": LINE_STYLES[(i // 10) % len(LINE_STYLES)],
            "marker": MARKERS[i % len(MARKERS)],
        }
        for i, backend in enumerate(backends)
    }
    for twin in twins:
        if twin.first in styles and twin.second in styles:
            styles[twin.second] = {**styles[twin.second], "linestyle": (0, (4, 4))}
    return styles


def labels(backends: Sequence[str], twins: Sequence[Twin] = ()) -> dict[str, str]:
    """Legend labels; a twin's label names the backend it repeats."""
    names = {b: b for b in backends}
    for twin in twins:
        if twin.second in names:
            later = f", {twin.lag}" if twin.shift else ""
            names[twin.second] = f"{twin.second} (= {twin.first}{later})"
    return names


def _legend(ax: Any, **kwargs: Any) -> Any:
    """A legend beside the axes, so no line is hidden behind it."""
    return ax.legend(
        fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kwargs
    )


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return path


def regret_floor(curves: Sequence[np.ndarray]) -> float:
    """Where a regret of 0 is drawn: one decade below the smallest positive regret."""
    positive = [c[c > 0].min() for c in curves if np.any(c > 0)]
    if not positive:
        return 1.0
    return 10.0 ** (math.floor(math.log10(min(positive))) - 1)


def draw_convergence(
    ax: Any, result: ObjectiveResult, backends: Sequence[str], twins: Sequence[Twin] = ()
) -> float:
    """Median best-so-far regret (log) with a quartile band per backend; returns the floor.

    Where the median regret is 0 the line stops; a marker on the floor line (drawn
    only when some run reached f*) shows the evaluation at which the median got there.
    """
    styles, names = line_styles(backends, twins), labels(backends, twins)
    present = [b for b in backends if b in result.curves]
    floor = regret_floor([result.curves[b] for b in present])
    for backend in present:
        curves = result.curves[backend]
        steps = np.arange(1, curves.shape[1] + 1)
        low, mid, high = np.percentile(curves, [25, 50, 75], axis=0)
        style = styles[backend]
        line = np.where(mid > 0, mid, np.nan)
        ax.plot(
            steps,
            line,
            markevery=_markevery(line),
            markersize=4,
            label=f"{names[backend]} (n={len(curves)})",
            **style,
        )
        ax.fill_between(
            steps,
            np.maximum(low, floor),
            np.maximum(high, floor),
            color=style["color"],
            alpha=min(0.15, 0.9 / len(present)),  # many bands would hide the lines
            linewidth=0,
        )
        if np.any(mid <= 0):
            first = int(np.argmax(mid <= 0))
            ax.plot(steps[first], floor, marker="v", markersize=9, color=style["color"])
    ax.set_yscale("log")
    if any(np.any(result.curves[b] <= 0) for b in present):
        ax.axhline(
            floor,
            color="0.35",
            linestyle=":",
            linewidth=1,
            label=f"regret 0 (f* reached), drawn at {floor:.0e}; \u25bc: the median gets there",
        )
        ax.set_ylim(bottom=floor / 2)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best-so-far regret (f - f*)")
    return floor


def convergence(
    result: ObjectiveResult, backends: Sequence[str], path: Path, twins: Sequence[Twin] = ()
) -> Path:
    """convergence_<objective>.png: :func:`draw_convergence` with a title and legend."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    draw_convergence(ax, result, backends, twins)
    source = "" if result.f_star_known else ", best found"
    ax.set_title(f"{result.objective} (f* = {result.f_star:.6g}{source}): median and quartiles")
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax)
    return _save(fig, path)


def _ecdf_axes(
    backends: Sequence[str],
    curves_of: dict[str, list[np.ndarray]],
    targets: np.ndarray,
    steps_scale: float,
    twins: Sequence[Twin],
) -> tuple[Any, Any]:
    """ECDF lines, the legend ordered (as cocopp's) by the fraction solved at the end."""
    plt = pyplot()
    styles, names = line_styles(backends, twins), labels(backends, twins)
    fractions = {b: stats.ecdf(curves_of[b], targets) for b in backends if curves_of.get(b)}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for backend in sorted(fractions, key=lambda b: -fractions[b][-1]):
        fraction = fractions[backend]
        steps = np.arange(1, len(fraction) + 1) / steps_scale
        ax.step(
            steps,
            fraction,
            where="post",
            markevery=_MARK_SPACING,
            markersize=4,
            label=f"{names[backend]}: {fraction[-1]:.3f}",
            **styles[backend],
        )
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax, title="fraction solved at the end")
    return fig, ax


def ecdf(
    results: Sequence[ObjectiveResult],
    backends: Sequence[str],
    path: Path,
    twins: Sequence[Twin] = (),
    targets: np.ndarray | None = None,
) -> Path:
    """ecdf.png: fraction of (objective, target) pairs solved vs evaluations, per backend.

    Targets are normalized regrets (1 = the baseline's median final regret),
    log-spaced from 10 to 1e-3; objectives whose normalizer is 0 are left out.
    """
    targets = stats.ecdf_targets() if targets is None else targets
    usable = [r for r in results if r.scale > 0]
    curves = {b: [r.curves[b] / r.scale for r in usable if b in r.curves] for b in backends}
    fig, ax = _ecdf_axes(backends, curves, targets, 1.0, twins)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("fraction of (objective, target) pairs solved")
    ax.set_title(
        f"{len(usable)} objectives x {len(targets)} targets "
        f"(normalized regret {targets[0]:g} .. {targets[-1]:g})"
    )
    return _save(fig, path)


def bbob_curves(
    results: Sequence[ObjectiveResult], backends: Sequence[str], dimension: int
) -> dict[str, list[np.ndarray]]:
    """Per backend, one runs x evaluations regret array per bbob function of ``dimension``.

    The runs of all instances of a function are pooled, so functions weigh equally
    in an ECDF, as in cocopp's (function, target) pairs.
    """
    functions: dict[int, list[ObjectiveResult]] = {}
    for result in results:
        parsed = cocodata.parse_bbob(result.objective)
        if parsed is not None and parsed[1] == dimension:
            functions.setdefault(parsed[0], []).append(result)
    return {
        backend: [
            np.concatenate([r.curves[backend] for r in members])
            for _, members in sorted(functions.items())
            if all(backend in r.curves for r in members)
        ]
        for backend in backends
    }


def ecdf_bbob(
    results: Sequence[ObjectiveResult],
    backends: Sequence[str],
    dimension: int,
    path: Path,
    twins: Sequence[Twin] = (),
) -> Path:
    """ecdf_bbob_dDD.png: COCO's runtime ECDF of one dimension, as cocopp draws it.

    COCO's 51 targets on f - f* (1e2 .. 1e-8) and evaluations / dimension on a log
    axis, over the bbob functions of that dimension in ``results``, so this figure
    compares with cocopp's ``pprldmany_<DD>D_noiselessall`` up to the budget.
    """
    curves = bbob_curves(results, backends, dimension)
    fig, ax = _ecdf_axes(backends, curves, stats.COCO_TARGETS, float(dimension), twins)
    ax.set_xscale("log")
    ax.set_xlabel("evaluations / dimension (log)")
    ax.set_ylabel("fraction of (function, target) pairs")
    problems = sum(cocodata.dimension_of(r.objective) == dimension for r in results)
    functions = max((len(c) for c in curves.values()), default=0)
    ax.set_title(
        f"bbob {dimension}-D: {functions} functions ({problems} problems), 51 targets 1e2 .. 1e-8"
    )
    return _save(fig, path)


def write_figures(
    folder: Path,
    results: Sequence[ObjectiveResult],
    backends: Sequence[str],
    twins: Sequence[Twin] = (),
) -> list[Path]:
    """convergence_<objective>.png per objective (old ones removed), ecdf.png, and
    ecdf_bbob_dDD.png per bbob dimension."""
    for old in [*folder.glob("convergence_*.png"), *folder.glob("ecdf_bbob_d*.png")]:
        old.unlink()
    paths = [
        convergence(
            r,
            backends,
            folder / f"convergence_{safe_name(r.objective)}.png",
            twins_on(twins, [r.objective]),
        )
        for r in results
    ]
    everywhere = twins_on(twins, [r.objective for r in results])
    paths.append(ecdf(results, backends, folder / "ecdf.png", everywhere))
    dimensions = sorted({d for r in results if (d := cocodata.dimension_of(r.objective))})
    for dimension in dimensions:
        chosen = [r.objective for r in results if cocodata.dimension_of(r.objective) == dimension]
        path = folder / f"ecdf_bbob_d{dimension:02d}.png"
        paths.append(ecdf_bbob(results, backends, dimension, path, twins_on(twins, chosen)))
    return paths
