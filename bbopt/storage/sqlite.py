"""SQLite storage (the standard library's ``sqlite3``): one file holds any number of studies.

Several processes may write the same file at once. The file is in WAL mode (readers
never block the writer), every write is one short ``BEGIN IMMEDIATE`` transaction,
and a transaction that meets "database is locked" is retried with backoff until
``timeout`` seconds have passed. Trial ids are assigned here, inside the insert
transaction, so they stay unique per study whatever the number of writers.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from bbopt.errors import BBoptError
from bbopt.storage.owners import owner_is_gone
from bbopt.trial import Trial, TrialState

T = TypeVar("T")

APPLICATION_ID = 0x62626F70  # "bbop" in the SQLite header marks a bbopt storage file
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    study_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    objective TEXT NOT NULL,
    backend TEXT NOT NULL,
    backend_options TEXT NOT NULL,
    seed INTEGER,
    f_star REAL,
    space TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    versions TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    study_id INTEGER NOT NULL REFERENCES studies (study_id),
    tid INTEGER NOT NULL,
    state TEXT NOT NULL,
    loss REAL,
    owner TEXT,
    retry_of INTEGER,
    record TEXT NOT NULL,
    PRIMARY KEY (study_id, tid)
);
CREATE UNIQUE INDEX IF NOT EXISTS trials_retry_of
    ON trials (study_id, retry_of) WHERE retry_of IS NOT NULL;
"""


class StorageError(BBoptError):
    """A storage file that cannot be used, or a study that does not match its stored record."""


@dataclass
class StudyRecord:
    """What a study is, as stored: everything but its trials."""

    name: str
    objective: str
    backend: str
    backend_options: dict[str, Any]
    seed: int | None
    f_star: float | None
    space: dict[str, Any]
    fingerprint: str
    versions: dict[str, str] = field(default_factory=dict)
    created_at: str = ""

    def mismatch(self, other: StudyRecord) -> str | None:
        """Why a run described by ``other`` cannot continue this stored study, if it cannot.

        The objective and the space define a study; the backend, its options and the
        seed may change from run to run (each trial records its own).
        """
        if self.objective != other.objective:
            return (
                f"study {self.name!r} holds objective {self.objective!r}, not "
                f"{other.objective!r}; give a new study name for another objective"
            )
        if self.fingerprint != other.fingerprint:
            return (
                f"study {self.name!r} was stored with a different search space; "
                "give a new study name for a changed space"
            )
        return None


@dataclass
class StoredTrial:
    """A trial row: the trial plus who runs it and which abandoned trial it re-runs."""

    trial: Trial
    owner: str | None
    retry_of: int | None


def mark_orphan(row: StoredTrial) -> None:
    """Abandon a running trial whose process has ended."""
    row.trial.state = TrialState.ABANDONED
    row.trial.error = f"abandoned: process {row.owner} ended while running it"


def _dumps(value: Any) -> str:
    return json.dumps(value, default=repr)


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def retry_origin(origin: str) -> str:
    """The origin of the re-run of an abandoned trial.

    Re-runs of backend points are ``retry`` (told to the backend as its own
    suggestions, so seeded backends stay on their sequence); a user-given point
    stays ``warm_start``.
    """
    return "warm_start" if origin == "warm_start" else "retry"


class SQLiteStorage:
    """Studies in one SQLite file. Nothing is written to disk before the first trial."""

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 60.0, durable: bool = False
    ):
        """``timeout``: seconds a transaction may wait for a busy file. ``durable``: also
        survive power loss (``synchronous=FULL``: one fsync per commit); a crash of the
        process never loses a committed trial either way."""
        self.path = Path(path).expanduser().absolute()
        if not self.path.parent.is_dir():
            raise StorageError(
                f"cannot use storage {str(path)!r}: folder {str(self.path.parent)!r} does not exist"
            )
        if self.path.is_dir():
            raise StorageError(f"cannot use storage {str(path)!r}: it is a folder")
        self.timeout = timeout
        self.durable = durable
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._ready = False  # the open file is known to hold the bbopt schema
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"SQLiteStorage({str(self.path)!r})"

    def __enter__(self) -> SQLiteStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (it is opened again when needed)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn, self._ready = None, False

    # -- connection and transactions ------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def _connection(self, create: bool) -> sqlite3.Connection:
        """This process's connection; checks the file (and creates the schema) on first use."""
        if self._conn is None or self._pid != os.getpid():  # not one inherited through fork
            self._conn, self._pid, self._ready = self._open(create), os.getpid(), False
        if not self._ready:
            self._ready = self._prepare(self._conn, create)
        return self._conn

    def _open(self, create: bool) -> sqlite3.Connection:
        if not create and not self.path.exists():
            raise StorageError(f"no storage file {str(self.path)!r}")
        try:
            return sqlite3.connect(
                f"{self.path.as_uri()}?mode={'rwc' if create else 'rw'}",
                uri=True,
                timeout=min(self.timeout, 10.0),
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open storage {str(self.path)!r}: {exc}") from None

    def _prepare(self, conn: sqlite3.Connection, create: bool) -> bool:
        """Check that the file is a bbopt storage, creating the schema in a new file when
        ``create``; False for an empty file left as it is."""
        try:
            if self._read_header(conn) is None:
                if not create:
                    return False
                self._retrying(lambda: self._in_transaction(conn, True, self._create_schema))
            self._retrying(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            conn.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
        except sqlite3.DatabaseError as exc:
            self.close()
            if _is_busy(exc):
                raise StorageError(f"storage {str(self.path)!r} stayed locked: {exc}") from None
            raise StorageError(f"{str(self.path)!r} is not a bbopt storage file ({exc})") from None
        except StorageError:
            self.close()
            raise
        return True

    def _read_header(self, conn: sqlite3.Connection) -> int | None:
        """The schema version of a bbopt file, None for an empty file; raise for others."""
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id == APPLICATION_ID:
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"storage {str(self.path)!r} was written by a newer bbopt "
                    f"(schema {version}, this bbopt reads {SCHEMA_VERSION})"
                )
            return int(version)
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master")]
        if tables or app_id:
            listing = ", ".join(tables[:5]) or "none"
            raise StorageError(
                f"{str(self.path)!r} is an SQLite database but not a bbopt storage "
                f"(its tables: {listing}); use another file"
            )
        return None

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        if self._read_header(conn) is None:  # another process may have just created it
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @staticmethod
    def _in_transaction(
        conn: sqlite3.Connection, write: bool, body: Callable[[sqlite3.Connection], T]
    ) -> T:
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            result = body(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _retrying(self, action: Callable[[], T]) -> T:
        """Run ``action``, again after a short random pause while the file is locked."""
        deadline = time.monotonic() + self.timeout
        pause = 0.002
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 0.2)

    def _run(self, body: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """``body`` in one transaction (retried while locked); sqlite errors -> StorageError."""
        with self._lock:
            conn = self._connection(create=write)
            try:
                return self._retrying(lambda: self._in_transaction(conn, write, body))
            except sqlite3.Error as exc:
                raise StorageError(f"storage {str(self.path)!r}: {exc}") from exc

    def _has_schema(self) -> bool:
        if not self.path.exists():
            return False
        with self._lock:
            self._connection(create=False)
            return self._ready

    # -- studies ---------------------------------------------------------------------

    def study_names(self) -> list[str]:
        if not self._has_schema():
            return []
        return self._run(
            lambda c: [r[0] for r in c.execute("SELECT name FROM studies ORDER BY name")],
            write=False,
        )

    def summaries(self) -> list[dict[str, Any]]:
        """One dict per study: name, objective, backend, seed, created_at, counts, best_loss."""
        if not self._has_schema():
            return []

        def read(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            out = []
            studies = conn.execute(
                "SELECT study_id, name, objective, backend, seed, created_at FROM studies "
                "ORDER BY name"
            ).fetchall()
            for study_id, name, objective, backend, seed, created in studies:
                counts = dict(
                    conn.execute(
                        "SELECT state, COUNT(*) FROM trials WHERE study_id = ? GROUP BY state",
                        (study_id,),
                    ).fetchall()
                )
                (best,) = conn.execute(
                    "SELECT MIN(loss) FROM trials WHERE study_id = ? AND state = ?",
                    (study_id, TrialState.DONE.value),
                ).fetchone()
                out.append(
                    {
                        "name": name,
                        "objective": objective,
                        "backend": backend,
                        "seed": seed,
                        "created_at": created,
                        "counts": counts,
                        "best_loss": best,
                    }
                )
            return out

        return self._run(read, write=False)

    def read_study(self, name: str) -> tuple[int, StudyRecord, list[StoredTrial]] | None:
        """The study called ``name`` with all its trials in tid order, or None."""
        if not self._has_schema():
            return None

        def read(conn: sqlite3.Connection) -> tuple[int, StudyRecord, list[StoredTrial]] | None:
            found = _find_study(conn, name)
            if found is None:
                return None
            study_id, record = found
            return study_id, record, _read_trials(conn, study_id, -1)

        return self._run(read, write=False)

    # -- trials ------------------------------------------------------------------------

    def insert_trial(
        self,
        record: StudyRecord,
        study_id: int | None,
        trial: Trial,
        owner: str,
        after_tid: int,
    ) -> tuple[int, list[StoredTrial]]:
        """Store a new trial, setting its tid; the study too when ``study_id`` is None.

        Returns the study id and the rows other writers added after ``after_tid``
        (all below the new tid), so the caller's view stays complete.
        """

        def insert(conn: sqlite3.Connection) -> tuple[int, list[StoredTrial]]:
            known_id = _ensure_study(conn, record) if study_id is None else study_id
            others = _read_trials(conn, known_id, after_tid)
            _insert_row(conn, known_id, _next_tid(conn, known_id), trial, owner, None)
            return known_id, others

        return self._run(insert, write=True)

    def update_trial(
        self, study_id: int, trial: Trial, owner: str, after_tid: int
    ) -> list[StoredTrial]:
        """Store the new state of ``trial``; returns the rows others added after ``after_tid``."""

        def update(conn: sqlite3.Connection) -> list[StoredTrial]:
            _update_row(conn, study_id, trial, owner)
            return _read_trials(conn, study_id, after_tid)

        return self._run(update, write=True)

    def recover(self, study_id: int, owner: str) -> None:
        """Abandon trials whose process is gone and queue re-runs of abandoned trials.

        Runs as ``owner``: queued re-runs of dead owners (and of this process) pass to it.
        """

        def recover(conn: sqlite3.Connection) -> None:
            for row in _read_trials(conn, study_id, -1, (TrialState.RUNNING, TrialState.QUEUED)):
                trial = row.trial
                if trial.state is TrialState.RUNNING and owner_is_gone(row.owner):
                    mark_orphan(row)
                    _update_row(conn, study_id, trial, row.owner)
                elif trial.state is TrialState.QUEUED and (
                    row.owner == owner or owner_is_gone(row.owner)
                ):
                    _update_row(conn, study_id, trial, owner)
            orphans = conn.execute(
                "SELECT a.tid, a.record FROM trials AS a WHERE a.study_id = ? AND a.state = ? "
                "AND NOT EXISTS (SELECT 1 FROM trials AS r "
                "WHERE r.study_id = a.study_id AND r.retry_of = a.tid) ORDER BY a.tid",
                (study_id, TrialState.ABANDONED.value),
            ).fetchall()
            for tid, text in orphans:
                abandoned = Trial.from_dict({**json.loads(text), "tid": tid})
                rerun = Trial(
                    tid=-1,
                    flat_params=abandoned.flat_params,
                    state=TrialState.QUEUED,
                    backend=abandoned.backend,
                    seed=abandoned.seed,
                    origin=retry_origin(abandoned.origin),
                )
                _insert_row(conn, study_id, _next_tid(conn, study_id), rerun, owner, tid)

        self._run(recover, write=True)


def _find_study(conn: sqlite3.Connection, name: str) -> tuple[int, StudyRecord] | None:
    row = conn.execute(
        "SELECT study_id, objective, backend, backend_options, seed, f_star, space, "
        "fingerprint, versions, created_at FROM studies WHERE name = ?",
        (name,),
    ).fetchone()
    if row is None:
        return None
    study_id, objective, backend, options, seed, f_star, space, fingerprint, versions, created = row
    record = StudyRecord(
        name,
        objective,
        backend,
        json.loads(options),
        seed,
        f_star,
        json.loads(space),
        fingerprint,
        json.loads(versions),
        created,
    )
    return study_id, record


def _ensure_study(conn: sqlite3.Connection, record: StudyRecord) -> int:
    found = _find_study(conn, record.name)
    if found is not None:
        problem = found[1].mismatch(record)
        if problem:
            raise StorageError(problem)
        return found[0]
    if not record.created_at:
        record.created_at = datetime.now(timezone.utc).isoformat()
    cursor = conn.execute(
        "INSERT INTO studies (name, objective, backend, backend_options, seed, f_star, space, "
        "fingerprint, versions, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.name,
            record.objective,
            record.backend,
            _dumps(record.backend_options),
            record.seed,
            record.f_star,
            _dumps(record.space),
            record.fingerprint,
            _dumps(record.versions),
            record.created_at,
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _next_tid(conn: sqlite3.Connection, study_id: int) -> int:
    (last,) = conn.execute("SELECT MAX(tid) FROM trials WHERE study_id = ?", (study_id,)).fetchone()
    return 0 if last is None else int(last) + 1


def _trial_values(trial: Trial) -> tuple[str, float | None, str]:
    record = trial.to_dict()
    del record["tid"]  # the tid column is the one truth
    return trial.state.value, trial.loss, _dumps(record)


def _insert_row(
    conn: sqlite3.Connection,
    study_id: int,
    tid: int,
    trial: Trial,
    owner: str,
    retry_of: int | None,
) -> None:
    trial.tid = tid
    state, loss, text = _trial_values(trial)
    conn.execute(
        "INSERT INTO trials (study_id, tid, state, loss, owner, retry_of, record) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (study_id, tid, state, loss, owner, retry_of, text),
    )


def _update_row(conn: sqlite3.Connection, study_id: int, trial: Trial, owner: str | None) -> None:
    state, loss, text = _trial_values(trial)
    cursor = conn.execute(
        "UPDATE trials SET state = ?, loss = ?, owner = ?, record = ? "
        "WHERE study_id = ? AND tid = ?",
        (state, loss, owner, text, study_id, trial.tid),
    )
    if cursor.rowcount != 1:
        raise StorageError(f"trial {trial.tid} is not in the stored study")


def _read_trials(
    conn: sqlite3.Connection,
    study_id: int,
    after_tid: int,
    states: Iterable[TrialState] | None = None,
) -> list[StoredTrial]:
    query = "SELECT tid, state, owner, retry_of, record FROM trials WHERE study_id = ? AND tid > ?"
    args: list[Any] = [study_id, after_tid]
    if states is not None:
        wanted = [s.value for s in states]
        query += f" AND state IN ({', '.join('?' for _ in wanted)})"
        args.extend(wanted)
    rows = conn.execute(query + " ORDER BY tid", args).fetchall()
    return [
        StoredTrial(
            Trial.from_dict({**json.loads(text), "tid": tid, "state": state}), owner, retry_of
        )
        for tid, state, owner, retry_of, text in rows
    ]
