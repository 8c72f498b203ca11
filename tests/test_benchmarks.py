"""The benchmark suite: seeds, run files and resume, statistics, summary files, plugins.

More in test_bench_verdict.py (scores, tests, figures, folders, index.html),
test_bench_coco.py (COCO's format and cocopp) and test_bench_command.py (``bbopt
bench``, ``--import``, errors).
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import bbopt
from bbopt import hp
from benchmarks import analysis, stats
from benchmarks.execute import RunMismatchError, execute, stored_trials
from benchmarks.grid import (
    RunSpec,
    build_grid,
    derive_seed,
    select_backends,
    select_objectives,
)
from benchmarks.run import main


def spec(folder: Path, backend: str = "hyperopt.tpe", budget: int = 24, k: int = 0) -> RunSpec:
    (one,) = build_grid(folder, [backend], ["toy.sin"], 1, master_seed=7, budget=budget)
    return RunSpec(backend, "toy.sin", k, derive_seed(7, k, "toy.sin"), budget, one.path)


def losses(run: RunSpec) -> list[float | None]:
    trials = stored_trials(run)
    assert trials is not None
    return [t.loss for t in trials]


# -- seeds and selection ------------------------------------------------------------


def test_derived_seeds_follow_the_documented_formula() -> None:
    seeds = [derive_seed(3, k, "o1") for k in range(50)]
    assert len(set(seeds)) == 50
    assert seeds == [derive_seed(3, k, "o1") for k in range(50)]
    key = (4, zlib.crc32(b"o1"))
    assert seeds[4] == int(np.random.SeedSequence(3, spawn_key=key).generate_state(1)[0])
    assert derive_seed(4, 0, "o1") != derive_seed(3, 0, "o1")
    grid = build_grid(Path("r"), ["a", "b"], ["o1", "o2"], 3, master_seed=3, budget=5)
    assert len(grid) == 12
    on_o1 = {s.seed for s in grid if s.run_index == 2 and s.objective == "o1"}
    assert on_o1 == {seeds[2]}  # shared by backends a and b: common random numbers
    on_o2 = {s.seed for s in grid if s.run_index == 2 and s.objective == "o2"}
    assert len(on_o2) == 1 and on_o2 != on_o1  # objectives are independent blocks
    assert len({s.study for s in grid}) == 12


def test_a_single_run_is_redone_alone_with_minimize(tmp_path: Path) -> None:
    run = spec(tmp_path, budget=25, k=3)
    execute(run)
    alone = bbopt.minimize(
        "toy.sin", backend="hyperopt.tpe", max_evals=25, seed=derive_seed(7, 3, "toy.sin")
    )
    assert losses(run) == alone.losses


def test_objective_selection_by_name_group_and_pattern() -> None:
    chosen = select_objectives("toy.sin,synthetic,synthetic.branin,synthetic.rosen*")
    assert chosen[0] == "toy.sin"
    assert chosen.count("synthetic.branin") == 1
    assert {"synthetic.rosenbrock2", "synthetic.rosenbrock5", "synthetic.conditional"} <= set(
        chosen
    )
    with pytest.raises(LookupError, match="synthetc"):
        select_objectives("synthetc")


def test_quick_backends_are_the_flagged_installed_ones() -> None:
    chosen, notes = select_backends(None)
    assert {"hyperopt.tpe", "hyperopt.rand", "hyperopt.anneal"} <= set(chosen)
    flagged = [n for n in bbopt.list_backends() if bbopt.backends.get_backend(n).quick_benchmark]
    assert set(chosen) <= set(flagged)
    assert len(chosen) + len(notes) == len(flagged)


# -- run files, resume ---------------------------------------------------------------


def test_resume_skips_finished_runs_and_extends_shorter_ones(tmp_path: Path) -> None:
    short = spec(tmp_path / "a", budget=22)
    assert execute(short).status == "done"
    before, first = short.path.read_bytes(), losses(short)
    assert execute(short).status == "skipped"
    assert short.path.read_bytes() == before
    longer = spec(tmp_path / "a", budget=30)
    assert execute(longer).status == "done"
    fresh = spec(tmp_path / "b", budget=30)
    execute(fresh)
    assert losses(longer)[:22] == first
    assert losses(longer) == losses(fresh)  # hyperopt resumes exactly
    trials = stored_trials(longer)
    assert trials is not None and len(trials) == 30
    assert all(t.suggest_duration is not None and t.suggest_duration >= 0 for t in trials)


class Interrupt:
    """A toy objective that raises KeyboardInterrupt once, at its n-th call."""

    def __init__(self, at: int) -> None:
        self.at, self.calls = at, 0

    def __call__(self, x: float) -> float:
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return (x - 1) ** 2


@pytest.fixture
def interrupting(clean_registries: None) -> Iterator[Interrupt]:
    fn = Interrupt(at=8)
    bbopt.register_objective("test.interrupt", space=hp.uniform("x", -5, 5), f_star=0.0)(fn)
    yield fn


def test_an_interrupted_run_is_saved_and_completed_later(
    tmp_path: Path, interrupting: Interrupt
) -> None:
    def make(folder: Path) -> RunSpec:
        return RunSpec("hyperopt.tpe", "test.interrupt", 0, 11, 26, folder / "studies.db")

    run = make(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        execute(run)
    partial = stored_trials(run)
    assert partial is not None and len(partial) == 7
    assert execute(run).status == "done"
    interrupting.at = -1  # never again
    reference = make(tmp_path / "b")
    execute(reference)
    assert losses(run) == losses(reference)


def test_a_run_file_of_another_seed_is_refused(tmp_path: Path) -> None:
    run = spec(tmp_path, budget=5)
    execute(run)
    other = RunSpec(run.backend, run.objective, 0, run.seed + 1, 5, run.path)
    with pytest.raises(RunMismatchError, match="seed"):
        execute(other)


# -- statistics on constructed data ---------------------------------------------------


def test_regret_curves_ignore_failures_and_start_at_the_worst_loss() -> None:
    losses_ = np.array([[np.nan, 5.0, 7.0, 2.0, np.nan, 3.0]])
    curve = stats.regret_curves(losses_, f_star=1.0, worst=9.0)
    assert curve.tolist() == [[8.0, 4.0, 4.0, 1.0, 1.0, 1.0]]
    assert stats.regret_curves(np.array([[0.5]]), 1.0, 9.0).tolist() == [[0.0]]  # floored


def test_score_is_the_clipped_log_ratio_to_the_baseline_with_an_interval() -> None:
    baseline = np.array([1.0, 2.0, 3.0, 2.0, 2.0])
    runs = np.array([0.2, 0.1, 0.3, 0.2, 0.2])  # ten times lower: score -1
    estimate = stats.score_ci(runs, baseline)
    assert estimate.value == pytest.approx(-1.0)
    assert estimate.low <= estimate.value <= estimate.high
    assert estimate.low > -1.5 and estimate.high < -0.5
    assert estimate.replicates.shape == (stats.BOOTSTRAP_SAMPLES,)
    assert estimate.replicates.mean() == pytest.approx(-1.0, abs=0.01)  # centred
    assert stats.score(baseline, baseline) == 0.0
    assert stats.score(baseline * 1e6, baseline) == stats.SCORE_CLIP  # clipped
    assert stats.score(np.zeros(5), baseline) == -stats.SCORE_CLIP  # the optimum
    # the baseline itself at the optimum: reaching it too is par, missing it the worst
    assert stats.score(np.zeros(3), np.zeros(3)) == 0.0
    assert stats.score(np.ones(3), np.zeros(3)) == stats.SCORE_CLIP
    pairs = np.log10(np.array([[0.5 / 1.0, 0.5 / 4.0], [2.0 / 1.0, 2.0 / 4.0]]))
    assert stats.score(np.array([0.5, 2.0]), np.array([1.0, 4.0])) == pytest.approx(pairs.mean())


def test_score_intervals_are_centred_and_cover_as_documented() -> None:
    """Random search against random search (true score 0) on skewed regrets: the
    bootstrap is centred on the estimate even with 3 seeds (a bootstrap of medians is
    not), and 95% intervals over 10 seeds cover 0 about 91% of the time (documented)."""
    rng = np.random.default_rng(3)
    for _ in range(100):
        x, y = rng.lognormal(0, 2, 3), rng.lognormal(0, 2, 3)
        estimate = stats.score_ci(x, y, samples=400)
        assert estimate.replicates.mean() == pytest.approx(estimate.value, abs=0.15)
    covered = 0
    for _ in range(200):
        estimate = stats.score_ci(rng.lognormal(0, 2, 10), rng.lognormal(0, 2, 10), samples=400)
        covered += estimate.low <= 0.0 <= estimate.high
    assert 0.85 <= covered / 200 <= 0.98


def test_anytime_score_is_the_per_budget_score_averaged() -> None:
    baseline = np.array([[10.0, 1.0, 1.0, 1.0], [10.0, 1.0, 1.0, 1.0]])
    runs = np.array([[10.0, 0.1, 0.1, 0.01], [10.0, 0.1, 0.1, 0.01]])
    assert stats.anytime_score(runs, baseline) == pytest.approx((0 - 1 - 1 - 2) / 4)
    assert stats.anytime_score(baseline, baseline) == 0.0


def test_evaluations_to_reach_a_target() -> None:
    curves = np.array([[5.0, 3.0, 1.0, 0.5], [5.0, 5.0, 5.0, 5.0]])
    assert stats.evaluations_to_reach(curves, 1.0).tolist() == [3.0, math.inf]


def test_p_values_are_probabilities_and_point_the_right_way() -> None:
    better, worse = np.arange(10.0), np.arange(10.0) + 20
    assert stats.p_less(better, worse) < 1e-3
    assert stats.p_less(worse, better) > 0.99
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.normal(size=8), rng.normal(size=8)
        assert 0.0 <= stats.p_less(x, y) <= 1.0
    assert stats.p_less(np.zeros(5), np.zeros(5)) == 1.0  # all tied: no evidence


def test_ecdf_counts_solved_targets() -> None:
    targets = np.array([1.0, 0.1])
    curves = [np.array([[2.0, 1.0, 0.05]]), np.array([[2.0, 2.0, 2.0]])]
    # evaluation 3: objective 1 solves both targets, objective 2 none -> 2 of 4 pairs
    assert stats.ecdf(curves, targets).tolist() == [0.0, 0.25, 0.5]


def test_analysis_of_constructed_cells() -> None:
    def cell(final: list[float]) -> analysis.Cell:
        rows = np.array([[10.0, 10.0, f] for f in final])
        return analysis.Cell(rows, np.full(rows.shape, 1e-3), np.ones(len(final)))

    cells = {
        "rand": cell([4.0, 5.0, 6.0, 5.0, 5.0, 4.5]),
        "good": cell([1.0, 1.5, 0.5, 1.0, 2.0, 1.0]),
        "same": cell([4.0, 5.0, 6.0, 5.0, 5.0, 4.5]),
    }
    result = analysis.analyze_objective("o", cells, 0.0, "rand", target_level=1.0)
    rows = {r.backend: r for r in result.rows}
    assert result.best_backend == "good"
    good, rand = np.log10([1.0, 1.5, 0.5, 1.0, 2.0, 1.0]), np.log10([4.0, 5.0, 6.0, 5.0, 5.0, 4.5])
    assert rows["good"].score == pytest.approx(good.mean() - rand.mean())  # no pair clipped
    assert rows["rand"].score == 0.0
    assert rows["good"].p_vs_baseline < 0.01 and rows["same"].p_vs_baseline > 0.3
    assert rows["same"].p_vs_best < 0.01 and math.isnan(rows["good"].p_vs_best)
    assert rows["good"].evals_to_target == 3 and rows["good"].target_hit_fraction == 1.0
    assert rows["good"].suggest_ms == pytest.approx(1.0)
    unknown = analysis.analyze_objective("o", cells, None, "rand", target_level=1.0)
    assert unknown.f_star == 0.5 and not unknown.f_star_known  # best loss of any run
    table = analysis.overall([result], ["rand", "good", "same"])
    assert table[0].backend == "good"
    assert table[0].mean_rank == 1.0 and table[0].wins_vs_baseline == 1


# -- the command ----------------------------------------------------------------------


def run_command(folder: Path, *args: str) -> int:
    return main(["--results-dir", str(folder), "--name", "t", "--no-progress", *args])


def test_command_writes_every_file_and_skips_on_rerun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--backends", "hyperopt.tpe", "--objectives", "toy.sin,synthetic.branin"]
    args += ["--seeds", "3", "--budget", "12", "--jobs", "1"]
    assert run_command(tmp_path, *args) == 0
    out = tmp_path / "t"
    storage = out / "studies.db"
    assert len(bbopt.list_studies(storage)) == 2 * 2 * 3  # the baseline hyperopt.rand is added
    names = {p.name for p in out.iterdir()}
    assert {"summary.md", "summary.csv", "ranking.csv", "ecdf.png", "cd.png", "index.html"} <= names
    assert {"convergence_toy.sin.png", "convergence_synthetic.branin.png"} <= names
    rows = (out / "summary.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 and rows[0].startswith("objective,backend,runs,regret_median")
    summary = (out / "summary.md").read_text()
    assert "## Overall ranking" in summary and "### synthetic.branin" in summary
    assert "p vs hyperopt.rand" in summary
    stored = storage.read_bytes()
    assert run_command(tmp_path, *args) == 0
    assert storage.read_bytes() == stored  # nothing re-run


@pytest.mark.slow
def test_parallel_jobs_give_the_serial_results(tmp_path: Path) -> None:
    args = ["--backends", "hyperopt.tpe", "--objectives", "toy.sin", "--seeds", "2"]
    args += ["--budget", "22", "--no-figures"]
    assert run_command(tmp_path / "serial", *args, "--jobs", "1") == 0
    assert run_command(tmp_path / "pool", *args, "--jobs", "2") == 0
    serial = tmp_path / "serial" / "t" / "studies.db"
    pool = tmp_path / "pool" / "t" / "studies.db"
    names = bbopt.list_studies(serial)
    assert names == bbopt.list_studies(pool) and len(names) == 2 * 2
    for name in names:
        assert bbopt.load_study(name, pool).losses == bbopt.load_study(name, serial).losses


PLUGIN_MODULE = """
from bbopt import hp
from bbopt.objective import FunctionObjective


def _bowl(params):
    return (params["a"] - 0.25) ** 2 + abs(params["b"])


objective = FunctionObjective(
    _bowl,
    {"a": hp.uniform("a", -1, 1), "b": hp.uniform("b", -1, 1)},
    name="theirs.bowl",
    f_star=0.0,
    groups=("theirs",),
)
"""

PLUGIN_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "theirs-bowl"
version = "0.1"

[project.entry-points."bbopt.objectives"]
bowl = "theirs_bowl:objective"
"""


@pytest.mark.slow
def test_a_plugin_objective_is_benchmarked_without_changing_bbopt(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "pyproject.toml").write_text(textwrap.dedent(PLUGIN_PYPROJECT))
    (source / "theirs_bowl.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    site = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    install += ["--no-build-isolation", "--target", str(site), str(source)]
    subprocess.run(install, check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site)}  # benchmarks itself is installed
    command = [sys.executable, "-m", "benchmarks.run", "--objectives", "theirs"]
    command += ["--backends", "hyperopt.rand", "--seeds", "2", "--budget", "6", "--jobs", "2"]
    command += ["--results-dir", str(tmp_path / "results"), "--name", "p", "--no-progress"]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    summary = (tmp_path / "results" / "p" / "summary.csv").read_text()
    assert "theirs.bowl,hyperopt.rand,2," in summary
    storage = tmp_path / "results" / "p" / "studies.db"
    run = bbopt.load_study("theirs.bowl/hyperopt.rand/run-001", storage)
    assert len(run.trials) == 6 and run.f_star == 0.0


ALWAYS_FAILS = """
import bbopt
from bbopt import hp


@bbopt.register_objective("report-test.always-fails", space={"x": hp.uniform("x", 0, 1)})
def always_fails(params):
    raise RuntimeError("this objective never returns")
"""


def test_the_report_is_written_when_a_backend_or_an_objective_has_no_result(
    tmp_path: Path,
) -> None:
    module = tmp_path / "always_fails.py"
    module.write_text(ALWAYS_FAILS)
    command = [sys.executable, "-m", "benchmarks.run", "--import", str(module)]
    command += ["--objectives", "report-test.always-fails,toy.sin", "--seeds", "2"]
    command += ["--backends", "bbopt.bohb,bbopt.random", "--budget", "4", "--jobs", "1"]
    command += ["--results-dir", str(tmp_path), "--name", "t", "--no-progress"]
    # in its own process, so that the objective it registers stays out of this one;
    # bbopt.bohb cannot run on these objectives: they declare no fidelity
    subprocess.run(command, cwd=tmp_path, capture_output=True, check=False)
    out = tmp_path / "t"
    summary = (out / "summary.md").read_text()
    assert "report-test.always-fails: no successful trial in any run, left out" in summary
    assert "toy.sin,bbopt.random,2," in (out / "summary.csv").read_text()
    assert (out / "index.html").exists() and (out / "cd.png").exists()


def test_a_backend_with_no_finished_run_is_ranked_last_and_the_others_are_compared(
    tmp_path: Path,
) -> None:
    """It used to leave no objective complete: no ranks, no Friedman test, and the
    ranking table in no order (the failed backend first)."""
    command = [sys.executable, "-m", "benchmarks.run", "--objectives", "toy.sin,synthetic.branin"]
    command += ["--backends", "bbopt.bohb,hyperopt.rand,optuna.random,bbopt.random"]
    command += ["--seeds", "2", "--budget", "4", "--jobs", "1", "--no-figures"]
    command += ["--results-dir", str(tmp_path), "--name", "t", "--no-progress"]
    subprocess.run(command, cwd=tmp_path, capture_output=True, check=False)
    with (tmp_path / "t" / "ranking.csv").open(newline="") as handle:
        ranking = list(csv.DictReader(handle))
    assert [row["backend"] for row in ranking][-1] == "bbopt.bohb"
    assert all(row["mean_rank"] not in ("", "nan") for row in ranking[:-1])
    summary = (tmp_path / "t" / "summary.md").read_text()
    assert "bbopt.bohb: no run finished on any objective, left out of the ranks" in summary
    assert "Friedman p = " in summary


def test_runs_of_a_backend_that_does_not_resume_exactly_are_noted_when_resumed(
    tmp_path: Path,
) -> None:
    args = ["--objectives", "toy.sin", "--backends", "optuna.tpe,hyperopt.tpe", "--seeds", "2"]
    args += ["--jobs", "1", "--no-figures", "--results-dir", str(tmp_path), "--name", "t"]
    args += ["--no-progress", "--baseline", "hyperopt.tpe"]
    first = [sys.executable, "-m", "benchmarks.run", *args, "--budget", "4"]
    subprocess.run(first, cwd=tmp_path, capture_output=True, check=True)  # another process
    summary = tmp_path / "t" / "summary.md"
    assert "resumed" not in summary.read_text()
    assert main([*args, "--budget", "8"]) == 0  # this process extends the runs
    text = summary.read_text()
    assert "2 run(s) of optuna.tpe were resumed" in text
    assert "of hyperopt.tpe were resumed" not in text  # hyperopt's backends resume exactly


def test_counts_in_the_printed_lines_agree_with_their_nouns() -> None:
    from benchmarks.wording import counted

    assert [counted(n, "objective") for n in (0, 1, 2)] == [
        "0 objectives",
        "1 objective",
        "2 objectives",
    ]
