"""Debugging plots: real studies, real PNG files whose pixels depend on the trials."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bbopt
from bbopt import hp
from bbopt.space import Space
from bbopt.study import Study

SPACE = {
    "lr": hp.loguniform("lr", -8, 0),
    "width": hp.uniform("width", 0, 10),
    "model": hp.choice(
        "model", [{"kind": "linear", "alpha": hp.uniform("alpha", 0, 1)}, {"kind": "tree"}]
    ),
    "units": hp.choice("units", [8, 16, 32]),
}


def objective(params: dict[str, Any]) -> float:
    """Cheap and shaped like a tuning problem; a learning rate above 0.5 'diverges'."""
    if params["lr"] > 0.5:
        raise FloatingPointError("diverged")
    alpha = params["model"].get("alpha", 0.5)
    return math.log(params["lr"]) ** 2 + (params["width"] - 3) ** 2 + alpha + params["units"] / 8


def run(seed: int) -> Study:
    return bbopt.minimize(objective, SPACE, backend="hyperopt.rand", max_evals=40, seed=seed)


@pytest.fixture(scope="module")
def study() -> Study:
    study = run(0)
    assert any(not t.ok for t in study.trials), "the fixture needs failed trials"
    return study


def test_importing_plots_does_not_import_matplotlib() -> None:
    code = "import sys, bbopt.plots; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_history_shows_losses_best_so_far_and_failures(study: Study, tmp_path: Path) -> None:
    path = tmp_path / "deep" / "history.png"
    figure = study.plot_history(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    (axes,) = figure.axes
    ok = [t for t in study.trials if t.ok]
    failed = [t for t in study.trials if not t.ok]
    points, crosses = (c.get_offsets() for c in axes.collections)
    assert sorted(points[:, 1]) == sorted(t.loss for t in ok)
    assert list(crosses[:, 0]) == [t.tid for t in failed]
    assert np.all(crosses[:, 1] > max(t.loss for t in ok))  # drawn above every loss
    (best_line,) = axes.get_lines()
    assert list(best_line.get_ydata()) == study.best_so_far()
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == ["trial", "best", "failed"]


def test_params_panels_use_log_axes_categories_and_active_trials(study: Study) -> None:
    figure = study.plot_params()
    panels = {axes.get_title(): axes for axes in figure.axes}
    assert set(panels) == set(study.space.labels)
    assert panels["lr"].get_xscale() == "log"
    assert panels["width"].get_xscale() == "linear"
    units = [label.get_text() for label in panels["units"].get_xticklabels()]
    assert units == ["8", "16", "32"]
    models = [label.get_text() for label in panels["model"].get_xticklabels()]
    assert models == ["kind=linear", "kind=tree"]
    alpha_active = [t for t in study.trials if "alpha" in t.flat_params]
    assert 0 < len(alpha_active) < len(study.trials)
    shown = sum(len(c.get_offsets()) for c in panels["alpha"].collections)
    assert shown == len(alpha_active)
    ok_alpha = sorted(t.flat_params["alpha"] for t in alpha_active if t.ok)
    assert np.allclose(sorted(panels["alpha"].collections[0].get_offsets()[:, 0]), ok_alpha)


def _pixels(path: Path) -> np.ndarray:
    from matplotlib import image

    return image.imread(path)


@pytest.mark.slow
def test_png_content_depends_on_the_trials(study: Study, tmp_path: Path) -> None:
    other = run(1)
    for name in ("plot_history", "plot_params"):
        first, second = tmp_path / f"{name}0.png", tmp_path / f"{name}1.png"
        getattr(study, name)(first)
        getattr(other, name)(second)
        again = tmp_path / f"{name}0-again.png"
        getattr(study, name)(again)
        assert first.read_bytes() == again.read_bytes()  # same study, same picture
        a, b = _pixels(first), _pixels(second)
        assert a.shape == b.shape and np.abs(a - b).sum() > 100


def test_empty_and_never_active_cases_still_draw(tmp_path: Path) -> None:
    empty = Study("empty", Space(SPACE))
    assert empty.plot_history(tmp_path / "h.png").axes[0].texts[0].get_text() == (
        "no finished trials"
    )
    only_trees = bbopt.minimize(
        lambda p: p["width"],
        {"width": hp.uniform("width", 0, 1), "model": SPACE["model"]},
        backend="hyperopt.rand",
        max_evals=3,
        seed=0,
        points_to_evaluate=[{"width": 0.5, "model": 1}] * 3,
    )
    figure = only_trees.plot_params(tmp_path / "p.png")
    alpha = next(axes for axes in figure.axes if axes.get_title() == "alpha")
    assert [text.get_text() for text in alpha.texts] == ["never active"]
    assert (tmp_path / "p.png").stat().st_size > 0
