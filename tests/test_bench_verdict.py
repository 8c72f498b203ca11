"""The benchmark's verdict (issue 12): robust scores, honest tests, figures, folders, page.

Runs are built as plain per-run data (``RunData``), the analysis' only input, so each
case is exactly the situation it names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import bbopt
from benchmarks import analysis, cd_diagram, figures, page, report, stats
from benchmarks.folders import QUICK_NAME, Selection, results_name
from benchmarks.run import main
from benchmarks.rundata import RunData


def runs_of(backend: str, objective: str, finals: Sequence[float], start: float = 10.0):
    """One RunData per final loss: two trials, ``start`` then the final loss (f* = 0)."""
    return [
        RunData(backend, objective, k, k, 0.0, (start, final), (1e-3, 1e-3), 0.01)
        for k, final in enumerate(finals)
    ]


def verdict(runs: list[RunData], backends: list[str], baseline: str = "rand"):
    objectives = sorted({r.objective for r in runs})
    results, _ = analysis.analyze_runs(runs, backends, objectives, baseline, 1.0)
    return results, analysis.overall(results, backends), analysis.compare(results, backends)


# -- 1. robust scores -------------------------------------------------------------------


def test_the_leader_of_all_problems_but_one_does_not_rank_below_random() -> None:
    """The issue's f21 case: 120 problems, one where the leader is 100x worse."""
    base = [1.0, 1.2, 0.8]
    runs = []
    for i in range(120):
        ratio = 100.1 if i == 0 else 0.3  # problem 0 is the Gallagher f21 of the issue
        runs += runs_of("rand", f"p{i:03d}", base)
        runs += runs_of("leader", f"p{i:03d}", [b * ratio for b in base])
        runs += runs_of("slow", f"p{i:03d}", [b * 0.9 for b in base])
    # the old mean of normalized scores put the leader behind random search (1.0)
    assert np.mean([100.1] + [0.3] * 119) > 1.0
    _, table, comparison = verdict(runs, ["rand", "leader", "slow"])
    order = [row.backend for row in table]
    assert order == ["leader", "slow", "rand"]
    by_name = {row.backend: row for row in table}
    assert by_name["leader"].mean_score < by_name["slow"].mean_score < 0.0
    assert by_name["rand"].mean_score == pytest.approx(0.0, abs=1e-12)
    assert by_name["leader"].score_high < 0.0  # its interval over seeds excludes random
    assert comparison.backends[0] == "leader" and comparison.friedman_p < 1e-6
    assert comparison.different("leader", "rand")


def test_scores_are_clipped_so_one_problem_moves_the_mean_by_at_most_the_clip() -> None:
    base = [1.0, 1.0, 1.0]
    runs = runs_of("rand", "a", base) + runs_of(
        "x", "a", [1e30] * 3, start=1e31
    )  # 30 decades worse
    runs += runs_of("rand", "b", base) + runs_of("x", "b", [0.0] * 3)  # at the optimum
    results, table, _ = verdict(runs, ["rand", "x"])
    scores = {r.objective: r.scores["x"].value for r in results}
    assert scores == {"a": stats.SCORE_CLIP, "b": -stats.SCORE_CLIP}
    assert next(row for row in table if row.backend == "x").mean_score == 0.0


def test_scores_ignore_the_scale_of_an_objective() -> None:
    finals = [0.3, 0.5, 0.4, 0.2]
    small = runs_of("rand", "o", [1.0] * 4) + runs_of("x", "o", finals)
    large = [RunData(r.backend, r.objective, r.run_index, r.seed, 0.0,
                     tuple(v * 1e6 for v in r.losses), r.suggest_seconds, r.wall_seconds)
             for r in small]  # fmt: skip
    score_small = verdict(small, ["rand", "x"])[0][0].scores["x"]
    score_large = verdict(large, ["rand", "x"])[0][0].scores["x"]
    assert score_small.value == pytest.approx(score_large.value)
    assert score_small.low == pytest.approx(score_large.low)


# -- 2. statistics that say what they can ---------------------------------------------


def test_per_objective_tests_say_when_the_seeds_cannot_reach_alpha() -> None:
    three = runs_of("rand", "o", [5.0, 6.0, 7.0]) + runs_of("x", "o", [0.1, 0.2, 0.3])
    results, table, comparison = verdict(three, ["rand", "x"])
    row = next(r for r in results[0].rows if r.backend == "x")
    assert not row.testable and math.isnan(row.p_vs_baseline)
    assert stats.smallest_p(3, 3) == 0.05 and stats.seeds_to_reach(0.05) == 4
    notes = report.caveats(results, comparison, [])
    assert any("cannot reach p < 0.05" in n and "--seeds 4" in n for n in notes)
    assert report.wins(next(r for r in table if r.backend == "x"), "rand") == "n/a"
    cells = {row[1]: row for row in report.ranking_table(table, "rand").rows}
    assert cells["x"][5] == "n/a" and cells["rand"][5] == "n/a"  # not worse than best
    four = runs_of("rand", "o", [5.0, 6.0, 7.0, 8.0]) + runs_of("x", "o", [0.1, 0.2, 0.3, 0.4])
    results, table, comparison = verdict(four, ["rand", "x"])
    row = next(r for r in results[0].rows if r.backend == "x")
    assert row.testable and row.p_vs_baseline < 0.05
    assert not any("Mann-Whitney" in n for n in report.caveats(results, comparison, []))
    assert report.wins(next(r for r in table if r.backend == "x"), "rand") == "1/1"
    cells = {row[1]: row for row in report.ranking_table(table, "rand").rows}
    assert cells["x"][5] == "1/1" and cells["rand"][5] == "0/1"


def test_small_samples_with_ties_never_claim_more_than_the_exact_test() -> None:
    # the normal approximation gives 0.03 here; three seeds cannot go below 0.05
    assert stats.p_less([0.0, 0.0, 0.0], [1.0, 2.0, 2.0]) >= stats.smallest_p(3, 3)


def test_holm_adjustment() -> None:
    assert stats.holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.2, 0.9]).tolist() == pytest.approx([0.4, 0.9])
    assert stats.holm([0.5, 0.9]).tolist() == [1.0, 1.0]


def test_friedman_post_hoc_and_cliques_on_constructed_objectives() -> None:
    runs = []
    for i in range(12):
        runs += runs_of("rand", f"o{i:02d}", [1.0, 1.1, 0.9])
        runs += runs_of("best", f"o{i:02d}", [0.01, 0.011, 0.009])
        twin_a, twin_b = (0.5, 0.6) if i % 2 else (0.6, 0.5)
        runs += runs_of("a", f"o{i:02d}", [twin_a] * 3)
        runs += runs_of("b", f"o{i:02d}", [twin_b] * 3)
    _, _, comparison = verdict(runs, ["rand", "a", "b", "best"])
    assert comparison.backends[0] == "best" and comparison.backends[-1] == "rand"
    assert comparison.friedman_p < 1e-4 and comparison.reachable
    assert comparison.different("best", "a") and comparison.different("a", "rand")
    assert not comparison.different("a", "b")
    assert comparison.cliques == [(1, 2)]  # a and b, which alternate, are one group


def test_cliques_are_the_longest_runs_no_test_separates() -> None:
    different = np.zeros((4, 4), dtype=bool)
    different[0, 3] = different[3, 0] = True  # only the ends differ
    assert stats.cliques(range(4), different) == [(0, 2), (1, 3)]
    assert stats.cliques(range(3), ~np.eye(3, dtype=bool)) == []


def test_too_few_objectives_are_said() -> None:
    runs = []
    for i in range(3):
        for backend, final in (("rand", 1.0), ("a", 0.5), ("b", 0.1)):
            runs += runs_of(backend, f"o{i}", [final] * 3)
    results, _, comparison = verdict(runs, ["rand", "a", "b"])
    assert not comparison.reachable and comparison.cliques == [(0, 2)]
    assert "no pairwise test can reach" in cd_diagram.caption(comparison)
    assert any("add objectives" in n for n in report.caveats(results, comparison, []))


def test_cd_diagram_is_written(tmp_path: Path) -> None:
    runs = []
    for i in range(8):
        for j, backend in enumerate(["rand", *(f"backend.{k:02d}" for k in range(14))]):
            runs += runs_of(backend, f"o{i}", [1.0 / (1 + j + (i % 3))] * 3)
    backends = sorted({r.backend for r in runs})
    _, _, comparison = verdict(runs, backends)
    path = cd_diagram.draw(comparison, tmp_path / "cd.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert comparison.mean_ranks == sorted(comparison.mean_ranks)


# -- 3. plots -----------------------------------------------------------------------------


def objective_result(curves: dict[str, np.ndarray]) -> analysis.ObjectiveResult:
    return analysis.ObjectiveResult("acc", 0.0, False, 1.0, "a", [], curves)


def test_zero_regret_is_drawn_on_a_stated_floor_not_as_a_dive() -> None:
    plt = figures.pyplot()
    # an accuracy-like objective: one sample of 1/178 separates the runs from f*
    a = np.array([[0.1, 0.0056, 0.0, 0.0]] * 3)
    b = np.array([[0.1, 0.05, 0.0112, 0.0056]] * 3)
    fig, ax = plt.subplots()
    floor = figures.draw_convergence(ax, objective_result({"a": a, "b": b}), ["a", "b"])
    assert 0.0056 / 100 <= floor < 0.0056  # within two decades, not at 1e-12
    lines = {line.get_label(): line for line in ax.get_lines()}
    floor_line = next(line for label, line in lines.items() if label.startswith("regret 0"))
    assert f"{floor:.0e}" in floor_line.get_label()
    median_a = np.asarray(lines["a (n=3)"].get_ydata(), dtype=float)
    assert np.isnan(median_a[2:]).all()  # the line stops where the median reached f*
    assert np.nanmin(median_a) == pytest.approx(0.0056)
    markers = [line for line in ax.get_lines() if line.get_marker() == "v"]
    assert [tuple(m.get_xydata()[0]) for m in markers] == [(3.0, floor)]
    assert ax.get_ylim()[0] >= floor / 10
    plt.close(fig)


def test_a_backend_at_the_optimum_from_its_first_evaluation_is_drawn(tmp_path: Path) -> None:
    # COBYLA starts at the centre of the space, where ackley5's optimum is: its median
    # regret is 0 throughout, and matplotlib's marker spacing failed on that empty line.
    curves = {"centre": np.zeros((3, 5)), "other": np.array([[1.0, 0.5, 0.2, 0.1, 0.1]] * 3)}
    path = figures.convergence(objective_result(curves), list(curves), tmp_path / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_floor_line_when_nothing_reached_the_optimum() -> None:
    plt = figures.pyplot()
    fig, ax = plt.subplots()
    figures.draw_convergence(ax, objective_result({"a": np.array([[1.0, 0.5]])}), ["a"])
    assert not any(line.get_label().startswith("regret 0") for line in ax.get_lines())
    plt.close(fig)


def test_fifteen_lines_stay_apart_and_the_legend_hides_none(tmp_path: Path) -> None:
    backends = [f"backend.{i:02d}" for i in range(15)]
    styles = figures.line_styles(backends)
    assert len({(s["color"], s["linestyle"]) for s in styles.values()}) == 15
    rng = np.random.default_rng(0)
    curves = {b: np.sort(rng.uniform(0.1, 1, (3, 20)), axis=1)[:, ::-1] for b in backends}
    plt = figures.pyplot()
    fig, ax = plt.subplots()
    figures.draw_convergence(ax, objective_result(curves), backends)
    legend = figures._legend(ax)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
    assert len(legend.get_texts()) == 15
    plt.close(fig)


def test_identical_backends_are_detected_and_said() -> None:
    backends = ["bbopt.sobol", "optuna.qmc", "hyperopt.tpe", "hyperopt.rand"]
    objectives = ["synthetic.branin", "synthetic.conditional"]  # qmc maps choices its own way
    runs = []
    for objective in objectives:
        for k in range(2):
            for backend in backends:
                study = bbopt.minimize(objective, backend=backend, max_evals=25, seed=k,
                                       progress=False)  # fmt: skip
                f_star = bbopt.get_objective(objective).f_star
                losses = tuple(study.losses)
                runs.append(RunData(backend, objective, k, k, f_star, losses, (0.0,) * 25, 1))
    twins = analysis.twins(analysis.cells_from_runs(runs), backends)
    assert twins == [analysis.Twin("bbopt.sobol", "optuna.qmc", 1, ("synthetic.branin",), 2)]
    assert analysis.twins_on(twins, objectives) == []
    labels = figures.labels(backends, twins)
    assert labels["optuna.qmc"] == "optuna.qmc (= bbopt.sobol, 1 trial later)"
    styles = figures.line_styles(backends, twins)
    assert styles["optuna.qmc"]["linestyle"] != styles["bbopt.sobol"]["linestyle"]
    results, _ = analysis.analyze_runs(runs, backends, objectives, "hyperopt.rand", 1.0)
    notes = report.caveats(results, analysis.compare(results, backends), twins)
    assert any(
        "bbopt.sobol and optuna.qmc evaluated the same losses on 1 of 2 objectives "
        "(synthetic.branin)" in note
        for note in notes
    )


# -- 4. folders ---------------------------------------------------------------------------


def test_folder_names_follow_the_selection() -> None:
    one = Selection(("hyperopt.tpe", "hyperopt.rand"), ("toy.sin",), 3, 20, 0, "hyperopt.rand")
    other = Selection(("hyperopt.tpe", "hyperopt.rand"), ("toy.sin",), 4, 20, 0, "hyperopt.rand")
    name = results_name(None, "hyperopt.tpe", "toy.sin", one, quick=False)
    assert name.startswith("hyperopt.tpe_toy.sin_s3_b20-") and len(name) < 60
    assert name == results_name(None, "hyperopt.tpe", "toy.sin", one, quick=False)
    assert name != results_name(None, "hyperopt.tpe", "toy.sin", other, quick=False)
    assert results_name(None, "quick", "synthetic,toy.sin", one, quick=True) == QUICK_NAME
    assert results_name("mine", "quick", "x", one, quick=True) == "mine"
    listed = results_name(None, "a,b,c", "bbob.*.d05.i01", one, quick=False)
    assert listed.startswith("a+2_bbob.x.d05.i01_")


def test_two_selections_without_a_name_never_share_a_folder(tmp_path: Path) -> None:
    common = ["--results-dir", str(tmp_path), "--no-progress", "--jobs", "1", "--no-figures"]
    common += ["--objectives", "toy.sin", "--budget", "6", "--seeds", "2"]
    assert main([*common, "--backends", "hyperopt.tpe"]) == 0
    (first,) = tmp_path.iterdir()
    summary = (first / "summary.md").read_text()
    assert main([*common, "--backends", "bbopt.random"]) == 0
    assert len(list(tmp_path.iterdir())) == 2
    assert (first / "summary.md").read_text().split("this invocation")[0] == summary.split(
        "this invocation"
    )[0]
    assert QUICK_NAME not in {p.name for p in tmp_path.iterdir()}


# -- 7. one page ----------------------------------------------------------------------------


def test_index_html_is_self_contained_and_links_coco_when_present(tmp_path: Path) -> None:
    args = ["--results-dir", str(tmp_path), "--name", "t", "--no-progress", "--jobs", "1"]
    args += ["--backends", "hyperopt.tpe", "--objectives", "toy.sin,synthetic.branin"]
    assert main([*args, "--seeds", "2", "--budget", "8"]) == 0
    folder = tmp_path / "t"
    text = (folder / "index.html").read_text()
    figures_written = sorted(folder.glob("*.png"))
    assert len(figures_written) == 4  # two convergence plots, ecdf.png, cd.png
    assert text.count('src="data:image/png;base64,') == len(figures_written)
    assert "http://" not in text and "https://" not in text and "<script" not in text.lower()
    assert "<table>" in text and "hyperopt.tpe" in text and "Overall ranking" in text
    assert "coco/index.html" not in text
    (folder / page.COCO_INDEX).parent.mkdir()
    (folder / page.COCO_INDEX).write_text("<html></html>")
    assert page.refresh_coco_section(folder, "t")
    assert '<a href="coco/index.html">' in (folder / "index.html").read_text()
