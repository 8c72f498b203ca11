"""SQLite storage: what a stored study holds, load/list, bad input, concurrent writers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import bbopt
from bbopt import hp
from bbopt.errors import UnknownNameError
from bbopt.space import Space
from bbopt.storage import SQLiteStorage, StorageError
from bbopt.trial import TrialState

SPACE = {
    "x": hp.uniform("x", -5, 5),
    "model": hp.choice(
        "model",
        [
            {"kind": "linear", "alpha": hp.loguniform("alpha", -5, 0)},
            {"kind": "tree", "depth": hp.randint("depth", 1, 8), "pair": (1, "a")},
        ],
    ),
}


def objective(params: dict[str, Any]) -> dict[str, Any]:
    """Quadratic in x; deep trees fail, every trial reports an extra."""
    model = params["model"]
    if model["kind"] == "tree" and model["depth"] >= 5:
        raise RuntimeError("deep tree diverged")
    extra = model.get("alpha", model.get("depth"))
    return {"loss": (params["x"] - 1) ** 2, "status": "ok", "extra_value": extra}


def quadratic(params: dict[str, Any]) -> float:
    return (params["x"] - 1) ** 2


def as_json(value: Any) -> Any:
    """What a value looks like once stored as JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of ``folder`` with its bytes: to check that nothing was written."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- what is stored ---------------------------------------------------------------------


def test_a_study_records_when_it_was_first_stored(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    before = datetime.now(timezone.utc)
    bbopt.minimize(quadratic, [hp.uniform("x", -2, 2)], max_evals=2, seed=0, storage=path)
    created = bbopt.load_study("quadratic", path).record.created_at
    assert before <= datetime.fromisoformat(created) <= datetime.now(timezone.utc)
    bbopt.minimize(quadratic, [hp.uniform("x", -2, 2)], max_evals=4, seed=0, storage=path)
    assert bbopt.load_study("quadratic", path).record.created_at == created  # resumed


def test_stored_run_equals_in_memory_run_and_load_study_gives_it_back(tmp_path: Path) -> None:
    db = tmp_path / "studies.db"
    kwargs: dict[str, Any] = {"backend": "hyperopt.tpe", "max_evals": 25, "seed": 3}
    in_memory = bbopt.minimize(objective, SPACE, **kwargs)
    live = bbopt.minimize(objective, SPACE, storage=db, study="s1", **kwargs)
    assert isinstance(live.storage, SQLiteStorage)
    assert [t.flat_params for t in live.trials] == [t.flat_params for t in in_memory.trials]
    assert [t.loss for t in live.trials] == [t.loss for t in in_memory.trials]
    assert any(t.state is TrialState.FAILED for t in live.trials)  # the failing branch ran

    loaded = bbopt.load_study("s1", db)
    assert type(loaded) is type(live)
    assert [as_json(t.to_dict()) for t in loaded.trials] == [
        as_json(t.to_dict()) for t in live.trials
    ]
    assert loaded.best_trial.tid == live.best_trial.tid
    assert loaded.best_loss == live.best_loss
    assert loaded.best_so_far() == live.best_so_far()
    assert loaded.count_by_state() == live.count_by_state()
    assert loaded.space is None  # an unregistered objective: the stored space stays data
    given = bbopt.load_study("s1", db, objective=SPACE)
    assert given.space is not None and given.space.fingerprint() == Space(SPACE).fingerprint()
    live.to_csv(tmp_path / "live.csv")
    loaded.to_csv(tmp_path / "loaded.csv")
    assert (tmp_path / "live.csv").read_text() == (tmp_path / "loaded.csv").read_text()
    assert as_json(loaded.to_dict()) == as_json(live.to_dict())


def test_record_holds_metadata_versions_and_full_trial_records(tmp_path: Path) -> None:
    db = tmp_path / "studies.db"
    options = {"n_startup_jobs": 4, "gamma": 0.3}
    bbopt.minimize(
        objective,
        SPACE,
        backend="hyperopt.tpe",
        backend_options=options,
        max_evals=30,
        seed=11,
        storage=db,
        study="meta",
    )
    study = bbopt.load_study("meta", db)
    assert study.objective_name == "objective"
    assert (study.backend_name, study.backend_options, study.seed) == ("hyperopt.tpe", options, 11)
    assert study.versions["hyperopt"] == metadata.version("hyperopt")
    assert study.versions["bbopt"] == metadata.version("bbopt")
    failed = [t for t in study.trials if t.state is TrialState.FAILED]
    ok = [t for t in study.trials if t.state is TrialState.DONE]
    assert failed and ok
    assert all("deep tree diverged" in (t.error or "") for t in failed)
    assert all("RuntimeError" in (t.error or "") for t in failed)  # the full traceback text
    for trial in ok:
        model = trial.params["model"]
        assert trial.extras == {"extra_value": model.get("alpha", model.get("depth"))}
        assert trial.duration is not None and trial.duration >= 0
        assert trial.worker and trial.origin == "backend"
        assert trial.started_at is not None and trial.finished_at is not None
        assert trial.started_at <= trial.finished_at
    # The file itself: a bbopt storage in WAL mode, trials as rows with their JSON record.
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = conn.execute("SELECT tid, state, record FROM trials ORDER BY tid").fetchall()
    assert [r[0] for r in rows] == list(range(30))
    assert json.loads(rows[0][2])["flat_params"] == study.trials[0].flat_params


def test_each_trial_is_committed_before_the_next_starts(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    seen: list[list[str]] = []

    def watched(params: dict[str, Any]) -> float:
        # What another process sees in the file while this trial runs.
        if db.exists():
            seen.append([t.state.value for t in bbopt.load_study("watched", db).trials])
        return quadratic(params)

    bbopt.minimize(
        watched, SPACE, backend="hyperopt.rand", max_evals=6, storage=db, study="watched"
    )
    assert seen == [["done"] * k + ["running"] for k in range(6)]


def test_ctrl_c_as_a_write_begins_leaves_no_transaction_open(tmp_path: Path) -> None:
    # Another connection holds the write lock, so BEGIN IMMEDIATE waits; Ctrl-C arrives
    # during the wait and is raised as BEGIN returns. The next write must still work.
    db = tmp_path / "s.db"
    bbopt.minimize(quadratic, SPACE, backend="bbopt.random", max_evals=1, storage=db, study="s")
    storage = SQLiteStorage(db)
    (trial,) = storage.get_trials("s")
    assert storage.update_trial("s", trial)  # its connection is open for writing
    holder = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    def interrupt_then_release() -> None:  # in this order, whatever the machine's load
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.4)
        holder.execute("COMMIT")

    other_thread = threading.Thread(target=interrupt_then_release)
    other_thread.start()
    with pytest.raises(KeyboardInterrupt):
        storage.update_trial("s", trial)
    other_thread.join()
    holder.close()
    trial.extras = {"after": 1}
    assert storage.update_trial("s", trial)
    assert storage.get_trials("s")[0].extras == {"after": 1}
    other = sqlite3.connect(db, timeout=1.0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the interrupted call holds no lock either
    other.execute("ROLLBACK")
    other.close()


_DELETING_RUN = """
import sys
from pathlib import Path
import bbopt
from bbopt import hp

path = Path(sys.argv[1])

def evaluate(params):
    if len(bbopt.load_study("s", path).trials) == 4:  # trial 3 runs: a clean-up script
        path.unlink()
    return params["x"]

bbopt.minimize(evaluate, {"x": hp.uniform("x", -5, 5)}, max_evals=8, seed=0, storage=path,
               study="s")
"""


def test_a_storage_file_deleted_mid_run_stops_it_and_saves_what_it_held(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    run = [sys.executable, "-c", _DELETING_RUN, str(path)]
    ended = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert (
        ended.returncode == 1
        and "was deleted (or moved away) while this run wrote it" in ended.stderr
    )
    (rescued,) = tmp_path.glob("s.rescued-*.db")
    assert str(rescued) in ended.stderr
    assert list(tmp_path.glob("s.db*")) == []  # nothing at the path, no stale -wal file
    trials = bbopt.load_study("s", rescued).trials  # trial 3, of the ended run, abandoned
    assert [t.state for t in trials] == [TrialState.DONE] * 3 + [TrialState.ABANDONED]
    os.replace(rescued, path)  # moved back, the study resumes where it stopped

    def evaluate(params: dict[str, Any]) -> float:
        return float(params["x"])

    space = {"x": hp.uniform("x", -5, 5)}
    again = bbopt.minimize(evaluate, space, max_evals=8, seed=0, storage=path, study="s")
    assert sum(t.state is TrialState.DONE for t in again.trials) == 8
    assert [t.flat_params for t in again.trials[:3]] == [t.flat_params for t in trials[:3]]


def test_a_storage_file_replaced_mid_run_is_left_alone_and_the_study_saved(
    tmp_path: Path,
) -> None:
    path, other = tmp_path / "s.db", tmp_path / "other.db"
    bbopt.minimize(lambda p: p["x"], SPACE, max_evals=1, seed=1, storage=other, study="o")
    calls = {"n": 0}

    def evaluate(params: dict[str, Any]) -> float:
        calls["n"] += 1
        if calls["n"] == 3:
            os.replace(other, path)
        return float(params["x"])

    space = {"x": hp.uniform("x", -5, 5)}
    with pytest.raises(StorageError, match="was replaced by another file while"):
        bbopt.minimize(evaluate, space, max_evals=8, seed=0, storage=path, study="s")
    (rescued,) = tmp_path.glob("s.rescued-*.db")
    assert len(bbopt.load_study("s", rescued).trials) == 3


LOST = r"was deleted \(or moved away\) while this run wrote it"


def minimize_x(fn: Any, storage: Any, max_evals: int) -> bbopt.Study:
    """Study ``s`` of ``fn`` over x in [0, 1], seed 0, in ``storage``."""
    space = {"x": hp.uniform("x", 0, 1)}
    return bbopt.minimize(fn, space, max_evals=max_evals, seed=0, storage=storage, study="s")


def test_a_deleted_storage_folder_saves_the_study_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, spare = tmp_path / "results", tmp_path / "tmp"
    folder.mkdir()
    spare.mkdir()
    monkeypatch.setenv("TMPDIR", str(spare))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    path = folder / "s.db"

    def evaluate(params: dict[str, Any]) -> float:
        if (folder / "s.db").exists() and len(bbopt.load_study("s", path).trials) == 3:
            for leftover in folder.iterdir():
                leftover.unlink()
            folder.rmdir()
        return float(params["x"])

    with pytest.raises(StorageError, match=LOST):
        minimize_x(evaluate, path, 6)
    (rescued,) = spare.glob("s.rescued-*.db")
    assert len(bbopt.load_study("s", rescued).trials) == 3


def test_a_file_deleted_after_a_read_and_before_the_first_write_is_caught(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    minimize_x(lambda p: p["x"], path, 3)
    path.chmod(0o640)
    storage = SQLiteStorage(path)
    assert len(storage.get_trials("s")) == 3  # the connection is opened by a read
    for leftover in tmp_path.iterdir():
        leftover.unlink()
    with pytest.raises(StorageError, match=LOST):
        minimize_x(lambda p: p["x"], storage, 8)
    (rescued,) = tmp_path.glob("s.rescued-*.db")
    assert (rescued.stat().st_mode & 0o777) == 0o640  # the lost file's permissions
    assert len(bbopt.load_study("s", rescued).trials) == 3
    with pytest.raises(StorageError, match=LOST):  # nothing at the path yet
        storage.get_trials("s")
    assert not path.exists()  # and no new file made by that call
    os.replace(rescued, path)  # moved back: the same storage object goes on
    again = minimize_x(lambda p: p["x"], storage, 8)
    assert sum(t.state is TrialState.DONE for t in again.trials) == 8


def test_list_studies_and_counts(tmp_path: Path) -> None:
    db = tmp_path / "studies.db"
    for name, evals in (("b", 5), ("a", 3)):
        bbopt.minimize(
            quadratic, SPACE, backend="hyperopt.rand", max_evals=evals, storage=db, study=name
        )
    assert bbopt.list_studies(db) == ["a", "b"]
    assert bbopt.load_study("b", db).count_by_state() == {"done": 5}
    assert len(bbopt.load_study("a", db).trials) == 3


def test_max_evals_zero_writes_nothing(tmp_path: Path) -> None:
    study = bbopt.minimize(quadratic, SPACE, max_evals=0, storage=tmp_path / "s.db")
    assert len(study) == 0
    assert list(tmp_path.iterdir()) == []


# -- bad input: clear error, nothing changed on disk ----------------------------------------


def test_text_file_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100)
    before = snapshot(tmp_path)
    with pytest.raises(StorageError, match="not a bbopt storage"):
        bbopt.minimize(quadratic, SPACE, max_evals=2, storage=path)
    with pytest.raises(StorageError, match="not a bbopt storage"):
        bbopt.list_studies(path)
    assert snapshot(tmp_path) == before


def test_other_sqlite_database_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('ada')")
    conn.close()
    before = snapshot(tmp_path)
    with pytest.raises(StorageError, match=r"not a bbopt storage \(its tables: users\)"):
        bbopt.minimize(quadratic, SPACE, max_evals=2, storage=path)
    with pytest.raises(StorageError, match="not a bbopt storage"):
        bbopt.load_study("quadratic", path)
    assert snapshot(tmp_path) == before


def _dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("fn", "space", "message"),
    [
        (quadratic, {**SPACE, "x": hp.uniform("x", -5, 6)}, "different search space"),
        (objective, SPACE, "holds objective 'quadratic', not 'objective'"),
    ],
)
def test_reopening_with_another_space_or_objective_is_refused(
    tmp_path: Path, fn: Any, space: Any, message: str
) -> None:
    db = tmp_path / "s.db"
    bbopt.minimize(quadratic, SPACE, backend="hyperopt.rand", max_evals=4, storage=db, study="s")
    before = _dump(db)
    with pytest.raises(StorageError, match=message):
        bbopt.minimize(fn, space, backend="hyperopt.rand", max_evals=8, storage=db, study="s")
    assert _dump(db) == before


def test_storage_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "folder" / "s.db"
    with pytest.raises(StorageError, match="does not exist"):
        bbopt.minimize(quadratic, SPACE, max_evals=2, storage=path)
    assert list(tmp_path.iterdir()) == []


def test_missing_storage_file_is_not_created_by_readers(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    with pytest.raises(StorageError, match="no storage file"):
        bbopt.list_studies(path)
    with pytest.raises(StorageError, match="no storage file"):
        bbopt.load_study("x", path)
    assert not path.exists()


def test_unknown_study_name_suggests_close_matches(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    bbopt.minimize(quadratic, SPACE, max_evals=2, storage=db, study="wine-tpe")
    with pytest.raises(UnknownNameError, match="Did you mean 'wine-tpe'") as info:
        bbopt.load_study("wine_tpe", db)
    assert info.value.close_matches == ["wine-tpe"]


def test_storage_argument_must_be_a_path_or_storage(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="storage must be"):
        bbopt.minimize(quadratic, SPACE, max_evals=2, storage=42)  # type: ignore[arg-type]
    storage = SQLiteStorage(tmp_path / "s.db")
    study = bbopt.minimize(quadratic, SPACE, max_evals=3, storage=storage, study="obj")
    assert study.storage is storage
    assert bbopt.list_studies(storage) == ["obj"]


# -- several processes writing one study ------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import json, os, socket, sys, time
    from pathlib import Path
    import bbopt
    from bbopt import hp

    def shared(params):
        time.sleep(0.005)  # lets the writers interleave
        return (params["x"] - 1) ** 2

    folder = Path(sys.argv[1]).parent
    (folder / f"ready-{os.getpid()}").touch()
    while not (folder / "go").exists():  # start together
        time.sleep(0.01)
    study = bbopt.minimize(
        shared, {"x": hp.uniform("x", -5, 5)}, backend="bbopt.random", max_evals=int(sys.argv[2]),
        storage=sys.argv[1], study="shared", progress=False,
    )
    me = f"{socket.gethostname()}:{os.getpid()}"
    print(json.dumps([[t.tid, t.flat_params["x"], t.loss] for t in study.trials if t.worker == me]))
    """
)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_four_processes_write_one_study_without_losing_or_duplicating_trials(
    tmp_path: Path,
) -> None:
    db = tmp_path / "shared.db"
    max_evals = 120
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(max_evals)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    (tmp_path / "go").touch()
    outputs = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0, 0], [err for _, err in outputs]
    reported = [json.loads(out) for out, _ in outputs]
    study = bbopt.load_study("shared", db)
    tids = [t.tid for t in study.trials]
    assert tids == list(range(len(tids)))  # unique and without gaps
    assert all(t.state is TrialState.DONE for t in study.trials)
    stored = {t.tid: [t.tid, t.flat_params["x"], t.loss] for t in study.trials}
    claimed = [tid for trials in reported for tid, _, _ in trials]
    assert sorted(claimed) == tids  # every stored trial written by exactly one process
    for trials in reported:
        assert all(stored[tid] == [tid, x, loss] for tid, x, loss in trials)
    assert all(len(trials) > 0 for trials in reported)  # they really wrote together
    # max_evals is the study's total; a writer may start one trial after another's last
    assert max_evals <= len(tids) <= max_evals + 3
