"""The benchmark command (issue 12 item 5, issue 10 item 8): ``bbopt bench`` from any
directory, ``--import`` of a user's module, plugin backends opting into the quick
default, and one-line errors with exit code 2 for usage errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import bbopt
from bbopt.backends import Backend, get_backend
from bbopt.backends.native import RandomSearch
from benchmarks.grid import joins_quick_default, select_backends
from benchmarks.run import main

BBOPT = Path(sys.executable).with_name("bbopt")  # the installed entry point

USER_MODULE = """
import bbopt
from bbopt import hp
from bbopt.backends.native import RandomSearch


@bbopt.register_objective("mine.bowl", space=hp.uniform("x", -2, 2), f_star=0.0)
def bowl(x):
    return (x - 0.5) ** 2


class Walk(RandomSearch):
    name = "mine.walk"
    quick_benchmark = True


bbopt.register_backend(Walk)
"""


def bench(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [str(BBOPT), "bench", "--no-progress", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_bbopt_bench_runs_from_any_directory(tmp_path: Path) -> None:
    done = bench(tmp_path, "--backends", "hyperopt.rand", "--objectives", "toy.sin",
                 "--seeds", "2", "--budget", "5", "--jobs", "1", "--no-figures")  # fmt: skip
    assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / "results").glob("hyperopt.rand_toy.sin_s2_b5-*")
    assert "toy.sin,hyperopt.rand,2," in (folder / "summary.csv").read_text()
    assert (
        "bbopt bench --no-progress --backends hyperopt.rand" in (folder / "summary.md").read_text()
    )
    usage = bench(tmp_path, "--help")
    assert usage.returncode == 0 and usage.stdout.startswith("usage: bbopt bench")
    assert "--import MODULE" in usage.stdout


@pytest.mark.slow
def test_import_benchmarks_a_users_objective_and_backend_in_worker_processes(
    tmp_path: Path,
) -> None:
    (tmp_path / "mine.py").write_text(textwrap.dedent(USER_MODULE))
    args = ["--import", "mine", "--objectives", "mine.bowl", "--backends", "mine.walk"]
    done = bench(tmp_path, *args, "--seeds", "2", "--budget", "6", "--jobs", "2", "--name", "m")
    assert done.returncode == 0, done.stderr
    summary = (tmp_path / "results" / "m" / "summary.csv").read_text()
    assert "mine.bowl,mine.walk,2," in summary and "mine.bowl,hyperopt.rand,2," in summary
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    by_path = bench(elsewhere, "--import", str(tmp_path / "mine.py"), "--list")
    assert by_path.returncode == 0, by_path.stderr
    assert "* mine.walk" in by_path.stdout  # it opted into the quick default


def test_plugin_backends_join_the_quick_default_only_when_they_say_so(
    clean_registries: None,
) -> None:
    class Plain(Backend):
        name = "plugin.plain"
        ask = RandomSearch.ask
        tell = RandomSearch.tell

    class Inherits(RandomSearch):  # a quick built-in's subclass that says nothing
        name = "plugin.inherits"

    class Eager(RandomSearch):
        name = "plugin.eager"
        quick_benchmark = True

    for cls in (Plain, Inherits, Eager):
        bbopt.register_backend(cls)
    chosen, _ = select_backends(None)
    assert "plugin.eager" in chosen
    assert "plugin.plain" not in chosen and "plugin.inherits" not in chosen
    builtin = {"hyperopt.tpe", "hyperopt.rand", "hyperopt.anneal", "bbopt.random", "bbopt.sobol"}
    assert builtin <= set(chosen)
    assert not joins_quick_default(get_backend("optuna.gp"))
    assert not joins_quick_default(get_backend("skopt.gp"))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--objectives", "synthetc"], "'synthetic'"),
        (["--objectives", "keras.wine2"], "Did you mean"),
        (["--backends", "hyperopt.tp"], "'hyperopt.tpe'"),
        (["--seed", "3"], "did you mean --seeds"),
        (["--seeds", "0"], "must be >= 1"),
        (["--seeds", "ten"], "argument --seeds: expected a whole number, got 'ten'"),
        (["--target", "-1"], "argument --target: must be > 0"),
        (["--budget", "-5"], "must be >= 1"),
        (["--import", "no_such_module_here"], "no module named 'no_such_module_here'"),
        (["--import", "missing_file.py"], "no such file"),
        (["--executor", "dusk"], "unknown executor 'dusk': use 'process'"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(
    args: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*args, "--results-dir", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("python -m benchmarks.run: error:") and expected in err
    assert "Traceback" not in err and "list_objective" not in err and ".* (" not in err
    assert not list(tmp_path.iterdir())  # nothing was run or written


def test_a_failing_import_names_the_module_and_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("x = 1\nraise RuntimeError('no good')\n")
    assert main(["--import", str(broken), "--results-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--import" in err and "RuntimeError: no good" in err and "line 2" in err
