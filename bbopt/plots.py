"""Debugging figures of a study: loss per trial, loss against each parameter, learning curves.

matplotlib is imported inside the functions. Figures are built with the object API on
the Agg canvas (no pyplot, no display, nothing kept in a global figure list), returned to
the caller and saved as PNG when a path is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bbopt.errors import MissingDependencyError
from bbopt.space import Choice, Distribution, Transform

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bbopt.study import Study
    from bbopt.trial import Trial

__all__ = ["plot_history", "plot_intermediate", "plot_params"]

FAILED_STYLE: dict[str, Any] = {"marker": "x", "color": "tab:red", "label": "failed"}
OK_STYLE: dict[str, Any] = {"s": 20, "alpha": 0.75, "color": "tab:blue", "label": "trial"}
CURVE_COLORS = {"done": "tab:blue", "pruned": "tab:red", "other": "tab:gray"}
CURVE_LABELS = {"done": "finished", "pruned": "pruned", "other": "failed or unfinished"}
PRUNED_MARK: dict[str, Any] = {"marker": "x", "color": "tab:red", "markersize": 6}


def _new_figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError("matplotlib", "plot", "bbopt.plots") from None
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=100)
    return figure


def _failed_height(ok_losses: Sequence[float]) -> float:
    """Where failed trials (which have no loss) are drawn: just above the worst loss."""
    if not ok_losses:
        return 0.0
    low, high = min(ok_losses), max(ok_losses)
    return high + 0.05 * ((high - low) or abs(high) or 1.0)


def plot_history(study: Study, path: str | Path | None = None) -> Figure:
    """Loss of every finished trial in order, the best-so-far line, failed trials as red
    crosses above the worst loss. Saved as PNG when ``path`` is given."""
    figure = _new_figure(7, 4)
    axes = figure.add_subplot()
    trials = study.finished_trials
    ok, losses, failed = _split(trials)
    if ok:
        axes.scatter([t.tid for t in ok], losses, **OK_STYLE)
        curve = [math.nan if b is None else b for b in study.best_so_far()]
        axes.step([t.tid for t in trials], curve, where="post", color="tab:orange", label="best")
    if failed:
        height = _failed_height(losses)
        axes.scatter([t.tid for t in failed], [height] * len(failed), **FAILED_STYLE)
    if not trials:
        axes.text(0.5, 0.5, "no finished trials", ha="center", va="center")
    else:
        axes.legend(loc="best")
    axes.set_xlabel("trial")
    axes.set_ylabel("loss")
    axes.set_title(_title(study))
    return _save(figure, path)


def plot_intermediate(study: Study, path: str | Path | None = None) -> Figure:
    """Learning curves: each trial's reported values against their steps. Finished trials
    are blue lines, pruned ones red with a cross where they were stopped, failed and
    unfinished ones grey. Saved as PNG when ``path`` is given."""
    figure = _new_figure(7, 4)
    axes = figure.add_subplot()
    curves = [t for t in study.trials if t.intermediate]
    labelled: set[str] = set()
    for trial in curves:
        steps, values = list(trial.intermediate), list(trial.intermediate.values())
        kind = trial.state.value if trial.state.value in CURVE_COLORS else "other"
        label = None if kind in labelled else CURVE_LABELS[kind]
        labelled.add(kind)
        axes.plot(steps, values, color=CURVE_COLORS[kind], alpha=0.6, linewidth=1, label=label)
        if kind == "pruned":
            axes.plot(steps[-1], values[-1], **PRUNED_MARK)
    if curves:
        axes.legend(loc="best")
    else:
        axes.text(0.5, 0.5, "no trial reported intermediate values", ha="center", va="center")
    axes.set_xlabel("step")
    axes.set_ylabel("reported value")
    axes.set_title(_title(study))
    return _save(figure, path)


def plot_params(study: Study, path: str | Path | None = None) -> Figure:
    """One panel per parameter: loss against its value over the trials where it was
    active. Log-scaled distributions get a log axis; a choice gets one category per
    option (constant options are named by their value). Saved as PNG when ``path`` is
    given. A study read without its objective draws from the stored description of
    its space (data only)."""
    space = study.described_space()
    labels = space.labels
    columns = min(3, max(1, len(labels)))
    rows = max(1, math.ceil(len(labels) / columns))
    figure = _new_figure(4.2 * columns, 3.2 * rows)
    figure.suptitle(_title(study))
    trials = study.finished_trials
    ok_losses = _split(trials)[1]
    for index, label in enumerate(labels):
        axes = figure.add_subplot(rows, columns, index + 1)
        active = [t for t in trials if label in t.flat_params]
        _param_panel(axes, space.params[label].dist, active, _failed_height(ok_losses))
    return _save(figure, path)


def _param_panel(axes: Axes, dist: Distribution, trials: list[Trial], failed_y: float) -> None:
    label = dist.label
    axes.set_title(label)
    axes.set_ylabel("loss")
    if isinstance(dist, Choice):
        names = [_option_name(option, i) for i, option in enumerate(dist.options)]
        axes.set_xticks(range(len(names)), names, rotation=20 if len("".join(names)) > 30 else 0)
        axes.set_xlim(-0.5, len(names) - 0.5)
    elif dist.scale != "linear":
        axes.set_xscale(dist.scale)  # matplotlib's "log" and "logit" axes
    if not trials:
        axes.text(0.5, 0.5, "never active", ha="center", va="center", transform=axes.transAxes)
        return
    ok, losses, failed = _split(trials)
    jitter = isinstance(dist, Choice)
    if ok:
        axes.scatter(_xs(ok, label, jitter), losses, **OK_STYLE)
    if failed:
        axes.scatter(_xs(failed, label, jitter), [failed_y] * len(failed), **FAILED_STYLE)


def _split(trials: list[Trial]) -> tuple[list[Trial], list[float], list[Trial]]:
    """(successful trials, their losses, failed trials)."""
    ok = [t for t in trials if t.ok and t.loss is not None]
    return ok, [float(t.loss) for t in ok if t.loss is not None], [t for t in trials if not t.ok]


def _xs(trials: list[Trial], label: str, jitter: bool) -> np.ndarray:
    """Parameter values; choice indices get a small fixed jitter so ties stay visible."""
    values = np.array([float(t.flat_params[label]) for t in trials])
    if jitter:
        values += np.random.default_rng(0).uniform(-0.15, 0.15, len(values))
    return values


def _is_constant(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, np.generic)) or value is None


def _option_name(option: Any, index: int) -> str:
    """A choice option's tick label: its value if constant, else its constant dict items."""
    if _is_constant(option):
        return str(option.item() if isinstance(option, np.generic) else option)
    if isinstance(option, dict):
        shown = [f"{k}={v}" for k, v in option.items() if _is_constant(v)]
        if shown:
            return ", ".join(shown)
    if isinstance(option, (Distribution, Transform)):
        return f"#{index} (sampled)"
    return f"#{index}"


def _title(study: Study) -> str:
    parts = [study.name]
    if study.backend_name:
        parts.append(study.backend_name)
    return " / ".join(parts)
