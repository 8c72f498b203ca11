"""Suggestion cost (issue 13 item 4): a trial's suggest time counts the backend's tells
since the last ask, and the summary reports the median time to suggest trials 10, 100
and 1000, from the stored runs."""

from __future__ import annotations

import csv
import math
import statistics
import time
from pathlib import Path

import numpy as np
import pytest

import bbopt
from bbopt import hp
from bbopt.backends.base import Observation
from bbopt.backends.native import RandomSearch
from benchmarks import analysis, report
from benchmarks.run import main

TELL_SECONDS = 0.05


class SlowTell(RandomSearch):
    """Random search that, like skopt, does its work when told a result."""

    name = "test.slow_tell"

    def tell(self, observation: Observation) -> None:
        time.sleep(TELL_SECONDS)
        super().tell(observation)


def test_a_trials_suggest_time_counts_the_tells_since_the_last_ask(
    clean_registries: None,
) -> None:
    bbopt.register_backend(SlowTell)
    study = bbopt.minimize(
        lambda x: x**2, hp.uniform("x", -1, 1), backend="test.slow_tell", max_evals=4, seed=0
    )
    seconds = [t.suggest_duration for t in study.trials]
    assert seconds[0] is not None and seconds[0] < TELL_SECONDS  # nothing told before it
    assert all(s is not None and s >= TELL_SECONDS for s in seconds[1:])


def cell(budget: int, seconds_at: dict[int, float], runs: int = 3) -> analysis.Cell:
    suggest = np.full((runs, budget), 1e-4)
    for trial, seconds in seconds_at.items():
        suggest[:, trial - 1] = seconds
    losses = np.tile(np.linspace(1.0, 0.1, budget), (runs, 1))
    return analysis.Cell(losses, suggest, np.ones(runs))


def test_the_suggest_cost_is_the_median_at_trials_10_100_1000_over_runs_and_objectives() -> None:
    long = {"base": cell(120, {10: 0.002, 100: 0.02}), "slow": cell(120, {10: 0.01, 100: 0.5})}
    short = {"base": cell(50, {10: 0.004}), "slow": cell(50, {10: 0.03})}
    results = [
        analysis.analyze_objective("long", long, 0.0, "base", 1.0),
        analysis.analyze_objective("short", short, 0.0, "base", 1.0),
    ]
    rows = {(r.objective, r.backend): r for result in results for r in result.rows}
    assert rows[("long", "slow")].suggest_ms_at_10 == pytest.approx(10.0)
    assert rows[("long", "slow")].suggest_ms_at_100 == pytest.approx(500.0)
    assert math.isnan(rows[("short", "slow")].suggest_ms_at_100)  # a budget of 50
    table = {row.backend: row for row in analysis.overall(results, ["base", "slow"])}
    slow = table["slow"]
    # trial 10: 3 runs at 10 ms and 3 at 30 ms; trial 100: only the long objective's runs
    assert slow.suggest_ms_at_10 == pytest.approx(20.0)
    assert slow.suggest_ms_at_100 == pytest.approx(500.0)
    assert math.isnan(slow.suggest_ms_at_1000)
    assert report.suggest_cost(slow) == "20 / 5e+02 / -"
    ranking = report.ranking_table(list(table.values()), "base")
    column = ranking.header.index(report.SUGGEST_COST)
    assert [line[column] for line in ranking.rows] == ["3 / 20 / -", "20 / 5e+02 / -"]


def test_the_summary_files_report_the_stored_suggest_times(tmp_path: Path) -> None:
    args = ["--backends", "hyperopt.tpe", "--objectives", "toy.sin,synthetic.branin"]
    args += ["--seeds", "2", "--budget", "12", "--jobs", "1", "--no-figures", "--no-progress"]
    assert main([*args, "--results-dir", str(tmp_path), "--name", "t"]) == 0
    folder = tmp_path / "t"
    stored = [
        bbopt.load_study(name, folder / "studies.db").trials[9].suggest_duration
        for name in bbopt.list_studies(folder / "studies.db")
        if "/hyperopt.tpe/" in name
    ]
    with (folder / "ranking.csv").open() as handle:
        (tpe,) = [row for row in csv.DictReader(handle) if row["backend"] == "hyperopt.tpe"]
    assert float(tpe["suggest_ms_at_10"]) == pytest.approx(statistics.median(stored) * 1000)
    assert math.isnan(float(tpe["suggest_ms_at_100"]))
    with (folder / "summary.csv").open() as handle:
        per_objective = list(csv.DictReader(handle))
    assert all(float(row["suggest_ms_at_10"]) > 0 for row in per_objective)
    summary = (folder / "summary.md").read_text()
    assert summary.count(f"| {report.SUGGEST_COST} |") == 1 + 2  # ranking, each objective
    assert " / - / - |" in summary
    assert report.SUGGEST_COST in (folder / "index.html").read_text()
