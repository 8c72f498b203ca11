"""COCO interoperability (issue 12, item 6): bbopt's files are what COCO's logger writes,
cocopp reads them, and bbopt's bbob ECDF agrees with cocopp's reading."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import bbopt
from benchmarks import analysis, coco, cocodata, figures, stats
from benchmarks.run import main
from benchmarks.rundata import RunData

cocoex = pytest.importorskip("cocoex")
pytest.importorskip("cocopp")

PROBLEMS = ("bbob.f01.d02.i01", "bbob.f21.d02.i01", "bbob.f21.d02.i02", "bbob.f08.d03.i01")
BACKENDS = ("bbopt.random", "hyperopt.tpe")


def run_and_observe(observed: Path) -> list[RunData]:
    """Run each backend on each problem twice; replay every point into COCO's observer."""
    cocoex.log_level("warning")
    runs = []
    for backend in BACKENDS:
        observer = cocoex.Observer(
            "bbob", f"outer_folder: {observed} result_folder: {backend} algorithm_name: {backend}"
        )
        for name in PROBLEMS:
            function, dimension, instance = cocodata.parse_bbob(name)  # type: ignore[misc]
            objective = bbopt.get_objective(name)
            for seed in range(2):
                study = bbopt.minimize(
                    name, backend=backend, max_evals=12 * dimension, seed=seed, progress=False
                )
                losses = tuple(study.losses)
                seconds = (0.0,) * len(losses)
                runs.append(
                    RunData(backend, name, seed, seed, objective.f_star, losses, seconds, 1)
                )
                options = f"function_indices:{function} dimensions:{dimension} "
                suite = cocoex.Suite("bbob", "", options + f"instance_indices:{instance}")
                problem = suite.get_problem(0)
                problem.observe_with(observer)
                for trial in study.trials:
                    problem(np.asarray(trial.params, dtype=float))
                problem.free()
    return runs


def datasets(folder: Path) -> list:
    import cocopp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = cocopp.pproc.DataSetList(str(folder))
    return sorted(found, key=lambda d: (d.funcId, d.dim))


def test_written_files_read_by_cocopp_equal_those_of_coco_observer(tmp_path: Path) -> None:
    runs = run_and_observe(tmp_path / "observer")
    written = cocodata.write_data(tmp_path / "mine", runs, "test")
    assert sorted(p.name for p in written) == sorted(BACKENDS)
    for backend in BACKENDS:
        ours, theirs = (
            datasets(tmp_path / "mine" / backend),
            datasets(tmp_path / "observer" / backend),
        )
        assert [(d.funcId, d.dim) for d in ours] == [(1, 2), (8, 3), (21, 2)]
        assert [(d.funcId, d.dim) for d in theirs] == [(1, 2), (8, 3), (21, 2)]
        for mine, coco_own in zip(ours, theirs, strict=True):
            assert mine.algId == backend and mine.instancenumbers == coco_own.instancenumbers
            assert mine.maxevals.tolist() == coco_own.maxevals.tolist()
            for a, b in zip(
                mine.detEvals(stats.COCO_TARGETS),
                coco_own.detEvals(stats.COCO_TARGETS),
                strict=True,
            ):
                assert np.array_equal(a, b, equal_nan=True)  # runtimes to every target
            assert mine.funvals.shape == coco_own.funvals.shape  # same .tdat triggers
            assert np.allclose(mine.funvals, coco_own.funvals, rtol=1e-8)
    assert cocodata.evaluation_triggers(30, 2) == [
        *range(1, 9), 10, 11, 12, 14, 15, 17, 19, 20, 22, 25, 28, 30
    ]  # fmt: skip


def test_bbob_ecdf_uses_coco_targets_and_agrees_with_cocopp(tmp_path: Path) -> None:
    runs = run_and_observe(tmp_path / "observer")
    cocodata.write_data(tmp_path / "data", runs, "test")
    results, _ = analysis.analyze_runs(runs, list(BACKENDS), list(PROBLEMS), "bbopt.random", 1.0)
    assert stats.COCO_TARGETS[0] == 100 and stats.COCO_TARGETS[-1] == pytest.approx(1e-8)
    assert len(stats.COCO_TARGETS) == 51
    from_cocopp = coco.reached_within_budget(tmp_path / "data")
    for dimension in (2, 3):
        curves = figures.bbob_curves(results, BACKENDS, dimension)
        for backend in BACKENDS:
            ours = stats.ecdf(curves[backend], stats.COCO_TARGETS)[-1]
            assert ours == pytest.approx(from_cocopp[dimension][backend])


def test_coco_command_without_data_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert coco.main(["nothing", "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no COCO data" in err and "--name nothing" in err


@pytest.mark.slow
def test_benchmarks_coco_runs_cocopp_with_best_2009(tmp_path: Path) -> None:
    args = ["--results-dir", str(tmp_path), "--name", "b", "--no-progress", "--jobs", "1"]
    args += ["--backends", "hyperopt.tpe", "--objectives", "bbob.f01.d02.i01,bbob.f21.d02.i0[12]"]
    assert main([*args, "--seeds", "1", "--budget", "20"]) == 0  # 1 instance: cocopp warns
    folder = tmp_path / "b"
    assert (folder / "ecdf_bbob_d02.png").exists()
    assert {p.name for p in (folder / "coco" / "data").iterdir()} == {
        "hyperopt.tpe",
        "hyperopt.rand",
    }
    command = [sys.executable, "-m", "benchmarks.coco", "b", "--results-dir", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "best 2009" in done.stdout and "hyperopt.tpe" in done.stdout
    assert "Warning" not in done.stderr  # cocopp's warnings go to its log
    assert "less than 15 instances" in (folder / "coco" / "cocopp.log").read_text()
    assert (folder / "coco" / "index.html").exists()
    (output,) = [p for p in (folder / "coco").iterdir() if p.is_dir() and p.name != "data"]
    assert (output / "pprldmany_02D_noiselessall.png").exists()
    assert (output / "pprldmany_02D_noiselessall.svg").exists()
    assert "best 2009" in (output / "pprldmany_02D_noiselessall.tex").read_text()
    assert '<a href="coco/index.html">' in (folder / "index.html").read_text()
