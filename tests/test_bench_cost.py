"""The cost-aware benchmark: trial costs, regret against spent budget, cost caps."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

import bbopt
from bbopt.backends import Suggestion
from bbopt.backends.native import RandomSearch
from bbopt.objectives import multifidelity as mf
from bbopt.objectives.iterative import IterativeSGD
from bbopt.trial import Trial, TrialState
from benchmarks.cost import CostCap, Curve, curve, trial_cost
from benchmarks.cost_report import compare, paired_p_value
from benchmarks.entries import check_entry, split_entry
from benchmarks.run import main


def _trial(tid: int, loss: float, state: TrialState, budget: float | None, steps: int) -> Trial:
    trial = Trial(tid=tid, flat_params={}, params={}, state=state, loss=loss, budget=budget)
    trial.intermediate = {step: loss for step in range(1, steps + 1)}
    trial.duration = 0.5
    return trial


def test_a_trial_costs_the_cost_model_at_its_steps_else_its_steps_else_one() -> None:
    done_full = _trial(0, -3.0, TrialState.DONE, None, mf.STEPS)
    pruned = _trial(1, -1.0, TrialState.PRUNED, None, 3)
    cheap = _trial(2, -2.0, TrialState.DONE, 9.0, 9)
    assert trial_cost(mf.MF_HARTMANN6, done_full) == 1.0
    assert trial_cost(mf.MF_HARTMANN6, pruned) == pytest.approx(mf.cost(3 / mf.STEPS))
    assert trial_cost(mf.MF_HARTMANN6, cheap) == pytest.approx(mf.cost(1 / 3))
    assert trial_cost(IterativeSGD(), pruned) == 3.0  # epochs
    assert trial_cost(bbopt.get_objective("toy.sin"), pruned) == 1.0  # one evaluation


def test_only_full_fidelity_results_make_the_regret() -> None:
    trials = [
        _trial(0, -3.3, TrialState.DONE, 1.0, 1),  # low fidelity: does not count
        _trial(1, -3.3, TrialState.PRUNED, None, 3),  # pruned: does not count
        _trial(2, -2.0, TrialState.DONE, None, mf.STEPS),
        _trial(3, -1.0, TrialState.DONE, float(mf.STEPS), mf.STEPS),
    ]
    run = curve(mf.MF_HARTMANN6, trials)
    regret = -2.0 - mf.MF_HARTMANN6.f_star
    assert run.regret.tolist()[:2] == [float("inf")] * 2
    assert run.regret.tolist()[2:] == pytest.approx([regret, regret])
    assert run.cost[-1] == pytest.approx(mf.cost(1 / 27) + mf.cost(3 / 27) + 2)
    assert run.wall.tolist() == [0.5, 1.0, 1.5, 2.0]
    assert run.regret_at(1.0) == float("inf") and run.regret_at(100) == pytest.approx(regret)


def test_a_cost_cap_stops_minimize_once_spent() -> None:
    study = bbopt.minimize(
        "mf.branin", backend="bbopt.bohb", max_evals=500, seed=0, early_stop=CostCap(
            mf.MF_BRANIN, 3.0
        ),
    )  # fmt: skip
    spent = CostCap(mf.MF_BRANIN, 3.0).spent(study.trials)
    assert study.stop_reason == "early_stop" and 3.0 <= spent < 3.0 + 1.0
    assert spent - trial_cost(mf.MF_BRANIN, study.trials[-1]) < 3.0  # not one trial late
    with pytest.raises(ValueError, match="a cost budget must be > 0"):
        CostCap(mf.MF_BRANIN, 0)


def test_entries_name_a_backend_and_maybe_a_pruner() -> None:
    assert split_entry("hyperopt.tpe+hyperband") == ("hyperopt.tpe", "hyperband")
    assert split_entry("bbopt.bohb") == ("bbopt.bohb", None)
    with pytest.raises(bbopt.errors.UnknownNameError, match="hyperbnd"):
        check_entry("hyperopt.tpe+hyperbnd")


def test_paired_test_points_the_right_way() -> None:
    low, high = [0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1], [1.0, 1.1, 1.2, 1.0, 1.3, 1.4, 1.0]
    assert paired_p_value(low, high) < 0.05 < paired_p_value(high, low)
    assert paired_p_value(low, low) == 1.0


def test_a_run_without_a_full_fidelity_result_counts_as_the_worst() -> None:
    """Its regret is inf: percentiles came out NaN, which passed every 'lower median'
    check (an entry tested against itself, and both ways), and the test dropped it."""
    assert paired_p_value([1.0] * 10, [0.5, 0.6] + [math.inf] * 8) < 0.01
    one = np.array([1.0])

    def run(regret: float) -> Curve:
        return Curve(cost=one, wall=one, regret=np.array([regret]))

    curves = {
        ("f", "never"): {k: run(math.inf) for k in range(6)},
        ("f", "twice"): {k: run(0.1 if k < 2 else math.inf) for k in range(6)},
        ("f", "always"): {k: run(0.5) for k in range(6)},
    }
    rows, tests = compare(curves, ["f"], ["never", "twice", "always"], max_cost=1.0)
    medians = {r.entry: r.regret_median for r in rows}
    assert medians == {"never": math.inf, "twice": math.inf, "always": 0.5}
    assert {(t.better, t.worse) for t in tests} == {("always", "never"), ("always", "twice")}
    assert all(t.better != t.worse for t in tests)


@pytest.mark.slow
def test_the_command_compares_pruned_and_multi_fidelity_runs_at_equal_cost(
    tmp_path: Path,
) -> None:
    args = ["--results-dir", str(tmp_path), "--name", "c", "--no-progress", "--jobs", "1"]
    args += ["--objectives", "mf.branin", "--seeds", "2", "--budget", "400"]
    args += ["--backends", "bbopt.bohb,hyperopt.tpe+successive_halving", "--cost-budget", "4"]
    assert main(args) == 0
    folder = tmp_path / "c"
    assert (folder / "cost_mf.branin.png").stat().st_size > 0
    rows = list(csv.DictReader((folder / "cost.csv").open()))
    assert [r["entry"] for r in rows] == [
        "bbopt.bohb", "hyperopt.tpe+successive_halving", "hyperopt.rand"
    ]  # fmt: skip
    assert all(float(r["level"]) == 4.0 and int(r["runs"]) == 2 for r in rows)
    study = bbopt.load_study(
        "mf.branin/hyperopt.tpe+successive_halving/run-000", folder / "studies.db"
    )
    assert any(t.state is TrialState.PRUNED for t in study.trials)
    assert "One-sided paired Wilcoxon" in (folder / "cost.md").read_text()
    index = (folder / "index.html").read_text()  # the page of a run that ends by cost
    assert "Regret at equal spent budget" in index and "hyperopt.tpe+successive_halving" in index
    assert index.count("data:image/png;base64,") == 1  # cost_mf.branin.png
    assert main(args) == 0  # the second time every run is complete: nothing runs again
    again = bbopt.load_study(study.name, folder / "studies.db")
    assert len(again.trials) == len(study.trials)


def test_optunas_own_tpe_with_its_hyperband_pruner_stops_at_the_cost() -> None:
    from benchmarks.mf_hartmann import optuna_own

    regret = optuna_own(0, 12.0)
    assert 0 <= regret < 4  # a full-fidelity result was reached within 12 units


def test_optunas_own_arm_repeats_itself_with_its_seed() -> None:
    from benchmarks.mf_hartmann import optuna_own

    # Optuna's HyperbandPruner hashes the study name into brackets: a random name
    # (Optuna's default) would change which trials it prunes from run to run.
    assert len({optuna_own(7, 30.0) for _ in range(4)}) == 1


def test_the_wine_figure_takes_entries_with_trial_counts() -> None:
    from benchmarks.pruning_wine import parse_arms

    reference, bohb, patient = parse_arms(
        "hyperopt.tpe:20, bbopt.bohb:60:min_budget=2:eta=2.5:x=y, hyperopt.tpe+patient:40"
        ":pruner.patience=10"
    )
    assert (reference.entry, reference.evals, reference.backend_options) == ("hyperopt.tpe", 20, {})
    assert (bohb.entry, bohb.evals) == ("bbopt.bohb", 60)
    assert bohb.backend_options == {"min_budget": 2, "eta": 2.5, "x": "y"}
    assert bohb.label == "bbopt.bohb:60:min_budget=2:eta=2.5:x=y"
    assert (patient.entry, patient.backend_options) == ("hyperopt.tpe+patient", {})
    assert patient.pruner_options == {"patience": 10}
    for bad in ("hyperopt.tpe", "hyperopt.tpe:20:eta", "hyperopt.tpe:x"):
        with pytest.raises(SystemExit, match="is not entry:evals"):
            parse_arms(bad)


def test_the_bohb_screen_compares_options_with_defaults_and_optuna(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from benchmarks.bohb_options import bohb_regret, main

    assert bohb_regret(3, 20.0, {}) == bohb_regret(3, 20.0, {})
    assert bohb_regret(3, 20.0, {}) != bohb_regret(3, 20.0, {"random_fraction": 0.0})
    main(["--seeds", "2", "--cost-budget", "10", "--jobs", "1", "--option", "eta=4"])
    out = capsys.readouterr().out
    assert "bbopt.bohb eta=4" in out and "bbopt.bohb (defaults)" in out
    assert "optuna: TPESampler + HyperbandPruner" in out
    assert "power@2" in out


def test_subset_power_is_the_share_of_subsets_the_paired_test_separates() -> None:
    from benchmarks.cost_report import subset_power

    lower = [0.01 * k for k in range(40)]
    assert subset_power(lower, [x + 1 for x in lower], 20, draws=50) == 1.0
    assert subset_power(lower, lower, 20, draws=50) == 0.0
    mixed = [x + (1 if k % 2 else -1) for k, x in enumerate(lower)]  # half better, half worse
    assert subset_power(lower, mixed, 20, draws=200) < 0.2
    with pytest.raises(ValueError, match="subset size"):
        subset_power(lower, lower, 41)


def test_the_bohb_screen_refuses_bad_options_and_objectives() -> None:
    from benchmarks.bohb_options import main

    with pytest.raises(SystemExit) as bad_option:
        main(["--option", "eta=1"])
    assert bad_option.value.code == 2
    with pytest.raises(SystemExit) as too_many:
        main(["--seeds", "5", "--power-seeds", "6"])
    assert too_many.value.code == 2
    with pytest.raises(SystemExit) as no_fidelity:
        main(["--objective", "toy.sin"])
    assert no_fidelity.value.code == 2


def test_capped_regret_counts_full_fidelity_trials_that_fit_in_the_budget() -> None:
    from benchmarks.cost import CappedRegret

    regret = CappedRegret(mf.MF_HARTMANN6, max_cost=1.5)
    assert mf.MF_HARTMANN6.f_star is not None
    assert regret.add(1, -3.0)  # a low-fidelity trial: cost, no regret
    assert regret.best == float("inf")
    assert regret.add(mf.STEPS, -3.2)
    assert regret.best == pytest.approx(-3.2 - mf.MF_HARTMANN6.f_star)
    assert not regret.add(mf.STEPS, -3.3)  # over the budget: not counted, the run ends
    assert regret.best == pytest.approx(-3.2 - mf.MF_HARTMANN6.f_star)


def test_runs_capped_by_the_evaluation_budget_are_flagged_as_not_at_equal_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--results-dir", str(tmp_path), "--name", "c", "--no-progress", "--jobs", "1"]
    args += ["--objectives", "mf.branin", "--seeds", "2", "--budget", "3", "--no-figures"]
    args += ["--backends", "hyperopt.tpe", "--cost-budget", "4"]
    assert main(args) == 0
    rows = list(csv.DictReader((tmp_path / "c" / "cost.csv").open()))
    assert {r["entry"]: int(r["short_runs"]) for r in rows} == {
        "hyperopt.tpe": 2,
        "hyperopt.rand": 2,
    }
    assert "2 of 2 runs of hyperopt.tpe on mf.branin" in (tmp_path / "c" / "cost.md").read_text()
    assert "Not at equal cost" in (tmp_path / "c" / "index.html").read_text()
    out, err = capsys.readouterr()
    assert "raise --budget" in err
    assert "(cost.md, cost.csv)" in out  # no figures were asked for


def test_runs_ended_by_the_cost_budget_are_whole_runs_on_the_page(tmp_path: Path) -> None:
    args = ["--results-dir", str(tmp_path), "--name", "c", "--no-progress", "--jobs", "1"]
    args += ["--objectives", "mf.branin", "--seeds", "2", "--budget", "50", "--no-figures"]
    assert main([*args, "--backends", "hyperopt.tpe", "--cost-budget", "4"]) == 0
    rows = list(csv.DictReader((tmp_path / "c" / "cost.csv").open()))
    assert [int(r["short_runs"]) for r in rows] == [0, 0]
    index = (tmp_path / "c" / "index.html").read_text()
    assert "missing or unfinished" not in index
    assert "hyperopt.rand (the reference arm at equal cost)" in index  # no scores here


def test_failed_runs_are_left_out_of_the_cost_comparison_not_blamed_on_the_cap(
    tmp_path: Path, clean_registries: None, capsys: pytest.CaptureFixture[str]
) -> None:
    class BreaksAtTheThirdAsk(RandomSearch):
        name = "plugin.breaks"

        def ask(self, n: int = 1) -> list[Suggestion]:
            self.asked = getattr(self, "asked", 0) + 1
            if self.asked == 3:
                raise RuntimeError("a plugin bug")
            return super().ask(n)

    bbopt.register_backend(BreaksAtTheThirdAsk)
    args = ["--results-dir", str(tmp_path), "--name", "c", "--no-progress", "--jobs", "1"]
    args += ["--objectives", "mf.branin", "--seeds", "2", "--budget", "50", "--no-figures"]
    args += ["--backends", "plugin.breaks", "--baseline", "hyperopt.rand", "--cost-budget", "4"]
    assert main(args) == 1
    rows = list(csv.DictReader((tmp_path / "c" / "cost.csv").open()))
    assert [r["entry"] for r in rows] == ["hyperopt.rand"]  # the failed runs are not compared
    err = capsys.readouterr().err
    assert "a plugin bug" in err and "raise --budget" not in err
    assert "2 of 4 runs are missing or unfinished" in (tmp_path / "c" / "index.html").read_text()


def test_the_page_of_a_run_on_a_fidelity_objective_has_the_cost_section(tmp_path: Path) -> None:
    args = ["--results-dir", str(tmp_path), "--name", "c", "--no-progress", "--jobs", "1"]
    args += ["--objectives", "mf.branin", "--seeds", "2", "--budget", "4"]
    assert main([*args, "--backends", "hyperopt.tpe"]) == 0
    index = (tmp_path / "c" / "index.html").read_text()
    assert index.index("Overall ranking") < index.index("Regret at equal spent budget")
    assert 'alt="regret against cost on mf.branin"' in index
