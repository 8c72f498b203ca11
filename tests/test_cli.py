"""The ``bbopt`` command line, run as a real subprocess: output, files and exit codes."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import bbopt
from bbopt import hp
from bbopt.backends import get_backend
from bbopt.cli import FAMILY_LISTED
from bbopt.objective import get_objective

Run = Callable[..., subprocess.CompletedProcess[str]]


def _command() -> list[str]:
    """The installed console script next to this Python, else ``python -m bbopt.cli``."""
    script = shutil.which("bbopt", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "bbopt.cli"]


@pytest.fixture(scope="module")
def bbopt_cli() -> Run:
    command = _command()

    def run(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=120,
        )

    return run


TOY_RUN = (
    "run", "toy.sin", "--backend", "hyperopt.tpe", "--max-evals", 25, "--seed", 1,
    "--study", "toy", "--option", "n_startup_jobs=5", "--option", "gamma=0.3",
)  # fmt: skip


@pytest.fixture(scope="module")
def first_run(
    tmp_path_factory: pytest.TempPathFactory, bbopt_cli: Run
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``bbopt run`` of study 'toy' (25 TPE trials) into a new storage file."""
    db = tmp_path_factory.mktemp("cli") / "studies.db"
    done = bbopt_cli(*TOY_RUN, "--storage", db)
    assert done.returncode == 0, done.stderr
    return db, done


@pytest.fixture(scope="module")
def stored(first_run: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    return first_run[0]


def assert_user_error(done: subprocess.CompletedProcess[str], code: int, *texts: str) -> None:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("bbopt")  # one message, last on stderr
    for text in texts:
        assert text in done.stderr


def test_objectives_and_backends_list_names_with_descriptions(bbopt_cli: Run) -> None:
    objectives = bbopt_cli("objectives")
    assert objectives.returncode == 0
    lines = {line.split()[0]: line for line in objectives.stdout.splitlines()}
    families: dict[str, list[str]] = {}
    for name in bbopt.list_objectives():
        families.setdefault(name.split(".", 1)[0], []).append(name)
    large = {f: members for f, members in families.items() if len(members) > FAMILY_LISTED}
    assert "sklearn" in large  # Bayesmark's 90 problems
    small = {n for f, members in families.items() if f not in large for n in members}
    assert small <= set(lines)
    assert get_objective("toy.sin").description in lines["toy.sin"]
    # a large family (90 sklearn problems, 720 COCO ones) is one line, with the command
    # that lists it
    for family, members in large.items():
        assert f"{len(members)} objectives" in lines[f"{family}.*"]
    assert len(lines) == len(small) + len(large)
    bbob = large.get("bbob", [])
    if bbob:
        listed = bbopt_cli("objectives", "bbob.f01.d02.*")
        assert listed.returncode == 0
        assert [line.split()[0] for line in listed.stdout.splitlines()] == [
            n for n in bbob if n.startswith("bbob.f01.d02.")
        ]
    assert_user_error(bbopt_cli("objectives", "nothing.like.this*"), 2, "unknown objective")
    backends = bbopt_cli("backends")
    assert backends.returncode == 0
    lines = {line.split()[0]: line for line in backends.stdout.splitlines()}
    assert set(lines) == set(bbopt.list_backends())
    assert get_backend("hyperopt.tpe").description in lines["hyperopt.tpe"]


def test_run_stores_the_study_prints_the_best_trial_and_resumes(
    first_run: tuple[Path, subprocess.CompletedProcess[str]], bbopt_cli: Run
) -> None:
    stored, done = first_run
    study = bbopt.load_study("toy", stored)
    assert len(study.finished_trials) == 25
    assert study.backend_options == {"n_startup_jobs": 5, "gamma": 0.3}  # JSON values
    assert study.seed == 1
    best = study.best_trial
    assert f"best: trial {best.tid}, loss {best.loss:.6g}" in done.stdout
    assert "25/25" in done.stderr  # the progress bar, on stderr
    # the same command again resumes the finished study: nothing new, same best
    again = bbopt_cli(*TOY_RUN, "--storage", stored, "--quiet")
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""  # --quiet: no progress bar
    assert f"best: trial {best.tid}, loss {best.loss:.6g}" in again.stdout
    assert "25 trials (25 done)" in again.stdout
    assert len(bbopt.load_study("toy", stored).trials) == 25


@pytest.mark.parametrize(
    ("args", "texts"),
    [
        (["run", "toy.sim"], ["unknown objective 'toy.sim'", "Did you mean 'toy.sin'"]),
        (["run", "toy.sin", "--backend", "hyperopt.tpee"], ["Did you mean 'hyperopt.tpe'"]),
        (["run", "toy.sin", "--option", "gamma"], ["expected KEY=VALUE, got 'gamma'"]),
        (
            ["run", "toy.sin", "--option", "n_startup_job=3"],
            ["does not accept option(s) 'n_startup_job'", "n_startup_jobs"],
        ),
        (["frobnicate"], ["invalid choice"]),
        (["run", "toy.sin", "--timeout", "-1"], ["--timeout", "must be a number of seconds > 0"]),
        (["run", "toy.sin", "--max-evals", "ten"], ["expected a whole number, got 'ten'"]),
        (["run", "toy.sin", "--max-evals", "0"], ["--max-evals", "must be >= 1, got 0"]),
        (["run", "toy.sin", "--max-eval", "10"], ["did you mean --max-evals?"]),
        (["run", "toy.sin", "--workers", "0"], ["--workers", "must be >= 1"]),
        (["run", "toy.sin", "--trial-timeout", "soon"], ["expected a number of seconds"]),
        (["run", "toy.sin", "--seed", "-3"], ["--seed", "must be >= 0"]),
        (["run", "toy.sin", "--seed", str(2**32)], ["--seed", "must be <= 4294967295"]),
        (["run", "toy.sin", "--study", ""], ["--study", "must not be empty"]),
        (
            ["run", "toy.sin", "--backend", "optuna.qmc", "--option", "qmc_type=foo"],
            ["backend 'optuna.qmc' refused its options (qmc_type='foo')"],
        ),
        (
            ["run", "mf.branin", "--pruner", "hyperband", "--pruner-option", "max_resource=-5"],
            ["'max_resource' must be > min_resource"],
        ),
        (["run", "toy.sin", "--trial-timeout", "5"], ["--trial-timeout needs --workers N"]),
        (["run", "toy.sin", "--executor", "queue"], ["--executor queue needs --storage"]),
        (["run", "toy.sin", "--executor", "dsak"], ["(did you mean 'dask'?)"]),
        # checked before the run starts: no progress bar before the message
        (["run", "toy.sin", "--backend", "bbopt.bohb"], ["bbopt.bohb needs budgets"]),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    bbopt_cli: Run, args: list[str], texts: list[str]
) -> None:
    done = bbopt_cli(*args)
    assert_user_error(done, 2, *texts)
    assert len(done.stderr.splitlines()) == 1, done.stderr  # one line, no usage block


def test_a_mistyped_flag_is_matched_against_its_own_commands_flags(bbopt_cli: Run) -> None:
    done = bbopt_cli("objectives", "--quiet")  # a flag of `run`, not of `objectives`
    assert_user_error(done, 2, "unrecognized arguments: --quiet")
    assert "did you mean" not in done.stderr
    assert done.stderr.startswith("bbopt objectives: error:")  # its command, as other errors
    assert done.stderr.rstrip().endswith("(see bbopt objectives --help)")


def test_every_command_has_a_description_in_its_help(bbopt_cli: Run) -> None:
    top = bbopt_cli("--help")
    assert top.returncode == 0
    commands = ["objectives", "backends", "run", "studies", "show", "export", "plot"]
    for command in commands:
        assert command in top.stdout
        helped = bbopt_cli(command, "--help")
        assert helped.returncode == 0, helped.stderr
        description = helped.stdout.split("\n\n")[1]  # the paragraph after the usage
        assert not description.lstrip().startswith(("positional", "options")), command


def test_a_run_without_a_seed_prints_the_seed_it_drew(tmp_path: Path, bbopt_cli: Run) -> None:
    db = tmp_path / "s.db"
    done = bbopt_cli("run", "toy.sin", "--max-evals", 6, "--storage", db, "--quiet")
    assert done.returncode == 0, done.stderr
    seed = int(done.stdout.split(", seed ")[1].split()[0])
    study = bbopt.load_study("toy.sin", db)
    assert study.seed == seed and {t.seed for t in study.trials} == {seed}
    again = bbopt.minimize("toy.sin", max_evals=6, seed=seed)
    assert [t.flat_params for t in again.trials] == [t.flat_params for t in study.trials]


@pytest.mark.parametrize(
    "executor",
    [[], pytest.param(["--executor", "dask", "--workers", "2"], marks=pytest.mark.slow)],
    ids=["serial", "dask"],
)
def test_ctrl_c_during_a_run_saves_and_exits_130(tmp_path: Path, executor: list[str]) -> None:
    db = tmp_path / "s.db"
    command = [*_command(), "run", "toy.sin", "--backend", "bbopt.random", *executor]
    command += ["--max-evals", "10000000", "--storage", str(db), "--quiet"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (db.exists() and _finished_trials(db) >= 20):
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to every process of the run
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    study = bbopt.load_study("toy.sin", db)
    assert len(study.finished_trials) >= 20
    assert f"{len(study.trials)} trials" in out
    assert all(t.state.value in ("done", "abandoned") for t in study.trials)


def _finished_trials(db: Path) -> int:
    try:
        return len(bbopt.load_study("toy.sin", db).finished_trials)
    except bbopt.BBoptError:
        return 0


def test_unknown_study_exits_2_suggesting_close_names(stored: Path, bbopt_cli: Run) -> None:
    assert_user_error(bbopt_cli("show", "toi", "--storage", stored), 2, "Did you mean 'toy'")


def test_runtime_failures_exit_1_and_leave_files_alone(tmp_path: Path, bbopt_cli: Run) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    done = bbopt_cli(
        "run", "toy.sin", "--backend", "bbopt.random", "--max-evals", 2, "--storage", text
    )
    assert_user_error(done, 1, "not a bbopt storage")
    assert text.read_text() == "hello\n"
    missing = tmp_path / "missing" / "s.db"
    assert_user_error(bbopt_cli("studies", "--storage", missing), 1, "does not exist")
    assert_user_error(bbopt_cli("studies", "--storage", tmp_path / "s.db"), 1, "no storage file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_studies_lists_the_stored_studies(stored: Path, bbopt_cli: Run) -> None:
    done = bbopt_cli("studies", "--storage", stored)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[:3] == ["study", "objective", "backend"]
    best = bbopt.load_study("toy", stored).best_loss
    assert [row.split() for row in rows] == [
        ["toy", "toy.sin", "hyperopt.tpe", "25", "0", f"{best:.6g}"]
    ]


def test_show_prints_best_counts_and_last_trials(stored: Path, bbopt_cli: Run) -> None:
    done = bbopt_cli("show", "toy", "--storage", stored, "--last", 4)
    assert done.returncode == 0, done.stderr
    study = bbopt.load_study("toy", stored)
    assert "trials: 25 (25 done)" in done.stdout
    assert f"best: trial {study.best_trial.tid}, loss {study.best_loss:.6g}" in done.stdout
    table = done.stdout.split("last 4 trials:\n")[1].splitlines()
    assert table[0].split()[:3] == ["tid", "state", "loss"]
    assert [line.split()[0] for line in table[1:]] == ["21", "22", "23", "24"]
    assert "hyperopt 0.3" in done.stdout  # the stored library versions
    created = datetime.fromisoformat(study.record.created_at)
    assert timedelta(0) <= datetime.now(timezone.utc) - created < timedelta(hours=1)
    assert f"created {study.record.created_at} with python" in done.stdout


def test_an_abandoned_trial_shows_values_only_with_the_live_space(
    tmp_path: Path, bbopt_cli: Run
) -> None:
    calls = 0

    def cut_at_third_trial(params: dict[str, int]) -> float:
        nonlocal calls
        calls += 1
        if calls == 3:  # Ctrl-C while the third trial runs: it is kept as abandoned
            raise KeyboardInterrupt
        return params["size"] / 100

    db = tmp_path / "cut.db"
    space = {"size": hp.choice("size", [16, 32, 64])}
    with pytest.warns(RuntimeWarning, match="interrupted"):
        bbopt.minimize(cut_at_third_trial, space, max_evals=5, seed=0, storage=db, study="cut")
    abandoned = bbopt.load_study("cut", db).trials[-1]
    assert abandoned.state.value == "abandoned" and abandoned.params is None
    # The command line has no live space for an unregistered objective: the stored space
    # is data, never evaluated, so the flat point (a choice index) is shown.
    done = bbopt_cli("show", "cut", "--storage", db, "--last", 1)
    assert done.returncode == 0, done.stderr
    row = done.stdout.split("last 1 trials:\n")[1].splitlines()[1]
    assert row.split()[:2] == [str(abandoned.tid), "abandoned"]
    assert row.endswith(json.dumps(abandoned.flat_params))
    # Given the objective's space, the same trial shows the chosen value.
    live = bbopt.load_study("cut", db, objective=space)
    size = [16, 32, 64][abandoned.flat_params["size"]]
    assert live.shown_params(live.trials[-1]) == {"size": size}


def test_export_csv_to_a_file_and_json_to_stdout(
    stored: Path, tmp_path: Path, bbopt_cli: Run
) -> None:
    out = tmp_path / "toy.csv"
    done = bbopt_cli("export", "toy", "--storage", stored, "--format", "csv", "-o", out)
    assert done.returncode == 0, done.stderr
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    study = bbopt.load_study("toy", stored)
    assert [float(r["loss"]) for r in rows] == [t.loss for t in study.trials]
    assert [float(r["params.x"]) for r in rows] == [t.params for t in study.trials]
    as_json = bbopt_cli("export", "toy", "--storage", stored, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["name"] == "toy"
    assert [t["tid"] for t in data["trials"]] == list(range(25))


def test_plot_writes_history_and_parameter_figures(
    stored: Path, tmp_path: Path, bbopt_cli: Run
) -> None:
    folder = tmp_path / "figures" / "toy"
    done = bbopt_cli("plot", "toy", "--storage", stored, "-o", folder)
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in folder.iterdir())
    assert written == ["toy-history.png", "toy-params.png"]
    assert done.stdout.split() == [str(folder / name) for name in written]
    for name in written:
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_command_line_leaves_the_warning_format_of_the_process_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import warnings

    from bbopt.cli import main

    before = warnings.formatwarning
    assert main(["backends"]) == 0
    assert warnings.formatwarning is before
    capsys.readouterr()
