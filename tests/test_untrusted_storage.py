"""A storage file is data: a crafted one runs nothing, bad content is a clear error,
a read-only study is read without changing its folder."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import bbopt
from bbopt import hp
from bbopt.storage import StorageContentError, StorageError

SPACE = {"x": hp.uniform("x", -5, 5), "c": hp.choice("c", ["a", "b"])}


def quadratic(params: dict[str, Any]) -> float:
    return (params["x"] - 1) ** 2


def stored_study(folder: Path, name: str = "s", trials: int = 4) -> Path:
    db = folder / "studies.db"
    bbopt.minimize(quadratic, SPACE, max_evals=trials, seed=0, storage=db, study=name)
    return db


def cli(*args: object, cwd: Path, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "bbopt.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def execute(db: Path, statement: str, *values: Any) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(statement, values)
    conn.close()


# -- 1. a crafted file runs nothing --------------------------------------------------------

EVIL_MODULE = """
from pathlib import Path
Path(__file__).with_name("IMPORTED").touch()

def boom(*args):
    Path(__file__).with_name("CALLED").touch()
    return 1
"""


@pytest.fixture
def crafted(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A valid bbopt file whose space names ``os:system`` and a module that leaves a mark
    when imported, with an abandoned trial without params (so a reader would want to
    rebuild them from the stored space)."""
    (tmp_path / "evilmod.py").write_text(EVIL_MODULE)
    db = stored_study(tmp_path)
    space = {
        "bbopt_space": 1,
        "tree": {
            "type": "dict",
            "items": {
                "run": {
                    "type": "transform",
                    "fn": "os:system",
                    "args": [{"type": "const", "value": f"touch {tmp_path / 'PWNED'}"}],
                },
                "mod": {"type": "transform", "fn": "evilmod:boom", "args": []},
                "x": {"type": "uniform", "label": "x", "low": -5, "high": 5},
            },
        },
    }
    execute(db, "UPDATE studies SET space = ?", json.dumps(space))
    record = {"flat_params": {"x": 0.5}, "params": None, "origin": "backend"}
    execute(
        db,
        "INSERT INTO trials (study_id, tid, state, loss, owner, retry_of, record) "
        "VALUES (1, (SELECT MAX(tid) + 1 FROM trials), 'abandoned', NULL, NULL, NULL, ?)",
        json.dumps(record),
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()])}
    return db, env


def test_reading_a_crafted_study_imports_and_calls_nothing(
    tmp_path: Path, crafted: tuple[Path, dict[str, str]]
) -> None:
    db, env = crafted
    commands = [
        ("show", "s", "--storage", db),
        ("studies", "--storage", db),
        ("export", "s", "--storage", db, "--format", "csv"),
        ("export", "s", "--storage", db, "--format", "json"),
        ("plot", "s", "--storage", db, "-o", tmp_path / "figures"),
    ]
    for command in commands:
        done = cli(*command, cwd=tmp_path, env=env)
        assert done.returncode == 0, (command, done.stderr)
        assert "Traceback" not in done.stderr
    shown = cli("show", "s", "--storage", db, "--last", 1, cwd=tmp_path, env=env).stdout
    assert '{"x": 0.5}' in shown  # the abandoned trial shows its flat point
    sys.path.insert(0, str(tmp_path))
    try:
        study = bbopt.load_study("s", db)
        study.plot_params(tmp_path / "in-process.png")
        study.to_csv(tmp_path / "in-process.csv")
        assert study.shown_params(study.trials[-1]) == {"x": 0.5}
        assert "evilmod" not in sys.modules
    finally:
        sys.path.remove(str(tmp_path))
    for mark in ("PWNED", "IMPORTED", "CALLED"):
        assert not (tmp_path / mark).exists(), f"reading the study left {mark}"


def test_a_transform_round_trips_only_through_code_that_defined_it() -> None:
    space = bbopt.Space({"b": bbopt.transform(shutil.which, hp.choice("p", ["ls", "sh"]))})
    again = bbopt.Space.from_json(json.loads(json.dumps(space.to_json())))
    assert again.to_params({"p": 0}) == space.to_params({"p": 0})  # registered by this code
    named = json.loads(json.dumps(space.to_json()))
    named["tree"]["items"]["b"]["fn"] = "subprocess:getoutput"  # never registered here
    with pytest.raises(RuntimeError, match="not known to this process"):
        bbopt.Space.from_json(named).to_params({"p": 0})


# -- 4. bad content: a StorageContentError naming study, trial and field ---------------------

BAD_TRIALS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "record is not JSON": lambda r: "{not json",
    "record is a list": lambda r: json.dumps([1, 2]),
    "flat_params missing": lambda r: json.dumps({k: v for k, v in r.items() if k != "flat_params"}),
    "a string loss": lambda r: json.dumps({**r, "loss": "1.5"}),
    "a bad date": lambda r: json.dumps({**r, "started_at": "yesterday"}),
    "a text flat value": lambda r: json.dumps({**r, "flat_params": {"x": "one"}}),
    "a bad report step": lambda r: json.dumps({**r, "intermediate": {"first": 1.0}}),
    "extras not an object": lambda r: json.dumps({**r, "extras": [1]}),
    "a NaN loss of a done trial": lambda r: json.dumps({**r, "state": "done", "loss": math.nan}),
    "extras nested 3000 deep": lambda r: json.dumps({**r, "extras": {}}).replace(
        '"extras": {}', '"extras": {"a": ' + "[" * 3000 + "]" * 3000 + "}"
    ),
    "extras nested 500 deep": lambda r: json.dumps({**r, "extras": {}}).replace(
        '"extras": {}', '"extras": {"a": ' + "[" * 500 + "]" * 500 + "}"
    ),
}


@pytest.fixture(scope="module")
def good_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stored_study(tmp_path_factory.mktemp("good"))


def _damaged_copy(good: Path, folder: Path) -> Path:
    db = folder / "studies.db"
    shutil.copy(good, db)
    return db


@pytest.mark.parametrize("case", BAD_TRIALS)
def test_a_bad_trial_record_is_a_clear_error_and_the_file_is_unchanged(
    good_study: Path, tmp_path: Path, case: str
) -> None:
    db = _damaged_copy(good_study, tmp_path)
    conn = sqlite3.connect(db)
    (text,) = conn.execute("SELECT record FROM trials WHERE tid = 2").fetchone()
    conn.close()
    execute(db, "UPDATE trials SET record = ? WHERE tid = 2", BAD_TRIALS[case](json.loads(text)))
    before = snapshot(tmp_path)
    with pytest.raises(StorageContentError, match=r"study 's', trial 2: field"):
        bbopt.load_study("s", db)
    for command in (("show", "s"), ("export", "s"), ("plot", "s", "-o", tmp_path / "f")):
        done = cli(*command, "--storage", db, cwd=tmp_path)
        assert done.returncode == 2, (case, command, done.stderr)
        assert done.stderr.count("\n") == 1 and "trial 2" in done.stderr, done.stderr
    assert snapshot(tmp_path) == before


BAD_STUDIES = {
    "state": ("UPDATE trials SET state = 'exploded' WHERE tid = 1", "trial 1: field 'state'"),
    "space": ("UPDATE studies SET space = '{oops'", "field 'space'"),
    "options": ("UPDATE studies SET backend_options = 'nope'", "field 'backend_options'"),
    "seed": ("UPDATE studies SET seed = 'soon'", "field 'seed'"),
    "created_at": ("UPDATE studies SET created_at = 'yesterday'", "field 'created_at'"),
    "a huge trial id": ("UPDATE trials SET tid = 9223372036854775807 WHERE tid = 1", "'tid'"),
    "a negative trial id": ("UPDATE trials SET tid = -7 WHERE tid = 1", "trial -7: field 'tid'"),
    "deep space": (
        "UPDATE studies SET space = '" + "[" * 3000 + "]" * 3000 + "'",
        "field 'space' nests deeper than",
    ),
    "space node": (
        'UPDATE studies SET space = \'{"bbopt_space": 1, "tree": {"type": "os.system"}}\'',
        "field 'space'",
    ),
}


@pytest.mark.parametrize("case", BAD_STUDIES)
def test_a_bad_study_record_is_a_clear_error(good_study: Path, tmp_path: Path, case: str) -> None:
    db = _damaged_copy(good_study, tmp_path)
    statement, message = BAD_STUDIES[case]
    execute(db, statement)
    before = snapshot(tmp_path)
    command = ("plot", "s", "-o", tmp_path / "f") if case == "space node" else ("show", "s")
    done = cli(*command, "--storage", db, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert "study 's'" in done.stderr
    assert snapshot(tmp_path) == before


# -- 5. read-only studies -------------------------------------------------------------------


def make_read_only(*paths: Path) -> Callable[[], None]:
    """Take write access to ``paths`` away from this process; returns the undo. chmod for
    a normal user; root ignores permissions, so as root the files are made immutable
    (``chattr +i``), which stops root too."""
    if os.geteuid() != 0:
        modes = [(p, p.stat().st_mode) for p in paths]
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)

        def restore() -> None:
            for path, mode in modes:
                path.chmod(mode)

        return restore
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make files read-only for root here: {done.stderr.decode()}")

    def mutable_again() -> None:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)

    return mutable_again


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder holding a stored study; neither may be written."""
    folder = tmp_path / "ro"
    folder.mkdir()
    db = stored_study(folder)
    undo = make_read_only(db, folder)
    yield folder
    undo()


def test_a_read_only_study_is_read_without_changing_its_folder(read_only_folder: Path) -> None:
    before = snapshot(read_only_folder)
    for command in (("show", "s"), ("studies",), ("export", "s")):
        done = cli(*command, "--storage", "studies.db", cwd=read_only_folder)
        assert done.returncode == 0, (command, done.stderr)
    study = bbopt.load_study("s", read_only_folder / "studies.db")
    assert len(study.trials) == 4
    study.storage.close()
    assert snapshot(read_only_folder) == before  # no -wal / -shm files either


def test_writing_a_read_only_study_says_so(read_only_folder: Path) -> None:
    done = cli(
        "run", "toy.sin", "--max-evals", 2, "--storage", "studies.db", "--study", "more",
        cwd=read_only_folder,
    )  # fmt: skip
    assert done.returncode == 1
    assert "read-only" in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(StorageError, match="read-only"):
        bbopt.minimize(
            quadratic,
            SPACE,
            max_evals=8,
            seed=0,
            storage=read_only_folder / "studies.db",
            study="s",
        )


def test_a_read_only_file_in_a_writable_folder_leaves_no_files(tmp_path: Path) -> None:
    db = stored_study(tmp_path)
    undo = make_read_only(db)
    try:
        before = sorted(p.name for p in tmp_path.iterdir())
        done = cli("show", "s", "--storage", db, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == before
    finally:
        undo()


def test_a_stored_point_with_a_label_its_space_lacks_stops_the_resume_clearly(
    good_study: Path, tmp_path: Path
) -> None:
    db = _damaged_copy(good_study, tmp_path)
    conn = sqlite3.connect(db)
    (text,) = conn.execute("SELECT record FROM trials WHERE tid = 2").fetchone()
    conn.close()
    execute(db, "UPDATE trials SET record = ? WHERE tid = 2", json.dumps(
        {**json.loads(text), "flat_params": {"zz": 1.0}}
    ))  # fmt: skip
    with pytest.raises(StorageContentError, match=r"trial 2: field 'flat_params' has .*'zz'"):
        bbopt.minimize(quadratic, SPACE, max_evals=6, seed=0, storage=db, study="s")


def test_terminal_control_characters_from_a_file_are_printed_escaped(tmp_path: Path) -> None:
    db = stored_study(tmp_path)
    execute(db, "UPDATE studies SET backend = ?", "tpe\x1b]0;PWNED\x07\x1b[2J")
    for command in (("studies",), ("show", "s")):
        done = cli(*command, "--storage", db, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout and "\x07" not in done.stdout
        assert "tpe\\x1b]0;PWNED\\x07\\x1b[2J" in done.stdout


def test_a_line_break_in_a_stored_name_does_not_add_a_row_to_the_listing(tmp_path: Path) -> None:
    db = stored_study(tmp_path)
    execute(db, "UPDATE studies SET backend = ?", "tpe\nfake  row\t1")
    done = cli("studies", "--storage", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2  # the header and the one study
    assert "tpe\\nfake  row\\t1" in done.stdout
