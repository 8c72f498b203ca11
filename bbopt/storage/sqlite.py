"""SQLite storage (the standard library's ``sqlite3``): one file holds any number of studies.

Several processes may write the same file at once. The file is in WAL mode (readers
never block the writer), every write is one short ``BEGIN IMMEDIATE`` transaction,
and a transaction that meets "database is locked" is retried with backoff until
``timeout`` seconds have passed. Trial ids are assigned inside the insert
transaction, so they stay unique per study whatever the number of writers; a
unique index allows one re-run per abandoned trial.

A file bbopt may not write (read-only file or folder) is read without changing
anything beside it: it is opened read-only and, when no other process is writing
it, as immutable, so SQLite creates no ``-wal``/``-shm`` files. Writing to it is a
clear StorageError. Content is data: every stored record is checked as it is read,
and a bad one is a StorageError naming study, trial and field.
"""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from stat import S_IMODE
from typing import Any, TypeVar

from bbopt.storage.base import (
    DuplicateTrialError,
    Storage,
    StorageContentError,
    StorageError,
    StudyFullError,
    StudyRecord,
)
from bbopt.storage.records import TRIAL_COLUMNS, dumps, load_json, parse_trial, trial_text
from bbopt.trial import Trial, TrialRecordError, TrialState

T = TypeVar("T")

APPLICATION_ID = 0x62626F70  # "bbop" in the SQLite header marks a bbopt storage file
SCHEMA_VERSION = 1

# Files written before blobs existed lack their table: it is created with the first blob.
_BLOB_TABLE = """
CREATE TABLE IF NOT EXISTS blobs (
    study_id INTEGER NOT NULL REFERENCES studies (study_id),
    key TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (study_id, key)
)"""
_SCHEMA = f"""
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
{_BLOB_TABLE};
"""

_STUDY_COLUMNS = (
    "name",
    "objective",
    "backend",
    "backend_options",
    "seed",
    "f_star",
    "space",
    "fingerprint",
    "versions",
    "created_at",
)
_JSON_COLUMNS = frozenset({"backend_options", "space", "versions"})


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _identity(path: Path) -> tuple[int, int] | None:
    """Device and inode of ``path`` (None when it is gone): tells a file deleted or
    replaced while a connection holds it open."""
    stat = _stat(path)
    return None if stat is None else (stat.st_dev, stat.st_ino)


def _rescue_file(path: Path, mode: int) -> Path:
    """A new empty file to save what a deleted storage file held (``VACUUM INTO`` takes
    an empty one): beside it while its folder is there, else in the temporary folder;
    with the lost file's permissions (``mkstemp`` makes it private to its owner)."""
    folder = path.parent if path.parent.is_dir() else Path(tempfile.gettempdir())
    handle, name = tempfile.mkstemp(prefix=f"{path.stem}.rescued-", suffix=path.suffix, dir=folder)
    os.close(handle)
    os.chmod(name, mode)
    return Path(name)


def _may_write(path: Path) -> bool:
    """Whether this process may change ``path`` (or create it) and files beside it."""
    folder_ok = os.access(path.parent, os.W_OK | os.X_OK)
    return folder_ok and (not path.exists() or os.access(path, os.W_OK))


class SQLiteStorage(Storage):
    """Studies in one SQLite file. Nothing is written to disk before the first study."""

    shared = True

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
        self._writable = False  # the open connection may write
        self._ready = False  # the open file is known to hold the bbopt schema
        self._study_ids: dict[str, int] = {}
        self._data_version: int | None = None  # last PRAGMA data_version seen
        self._file: tuple[int, int] | None = None  # identity of the file opened
        self._mode = 0o644  # its permissions, for a rescued copy
        self._lost: StorageError | None = None  # the file was deleted or replaced mid-run
        self._lost_at: tuple[int, int] | None = None  # what was at the path then
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"SQLiteStorage({str(self.path)!r})"

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn, self._ready = None, False

    def exists(self) -> bool:
        return self.path.exists()

    # -- connection and transactions ------------------------------------------------

    def _connection(self, write: bool) -> sqlite3.Connection:
        """This process's connection; checks the file (and creates the schema) on first use."""
        stale = self._conn is None or self._pid != os.getpid()  # not one inherited by fork
        if not stale and write and not self._writable:
            self.close()
            stale = True
        if stale:
            self._conn, self._pid, self._ready = self._open(write), os.getpid(), False
            self._study_ids.clear()
            opened = _stat(self.path)
            self._file = None if opened is None else (opened.st_dev, opened.st_ino)
            self._mode = 0o644 if opened is None else S_IMODE(opened.st_mode)
        assert self._conn is not None
        if self._conn.in_transaction:  # left by a call a second Ctrl-C cut short in ROLLBACK
            self._conn.execute("ROLLBACK")
        if not self._ready:
            self._ready = self._prepare(self._conn, write)
        return self._conn

    def _open(self, write: bool) -> sqlite3.Connection:
        exists = self.path.exists()
        if not write and not exists:
            raise StorageError(f"no storage file {str(self.path)!r}")
        writable = _may_write(self.path)
        if write and not writable:
            raise StorageError(f"storage {str(self.path)!r} is read-only: it cannot be written")
        if writable:
            query = "mode=rwc" if write else "mode=rw"
        elif Path(f"{self.path}-wal").exists():
            query = "mode=ro"  # a writer is active: read through its WAL
        else:
            query = "mode=ro&immutable=1"  # nobody writes it: read without -wal/-shm files
        try:
            conn = sqlite3.connect(
                f"{self.path.as_uri()}?{query}",
                uri=True,
                timeout=min(self.timeout, 10.0),
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open storage {str(self.path)!r}: {exc}") from None
        self._writable = writable
        return conn

    def _prepare(self, conn: sqlite3.Connection, write: bool) -> bool:
        """Check that the file is a bbopt storage, creating the schema in a new file when
        ``write``; False for an empty file left as it is."""
        try:
            if self._read_header(conn) is None:
                if not write:
                    return False
                self._retrying(lambda: self._in_transaction(conn, True, self._create_schema))
            if self._writable:
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
        """The schema version of a bbopt file, None for an empty file; raise for others.

        Its reads are one snapshot: read one by one, another process creating the schema
        could commit between them, and a file whose header this read before the commit
        and whose tables it listed after would look like somebody else's database."""
        if conn.in_transaction:  # in the transaction that creates the schema
            return self._header_of(conn)
        try:  # BEGIN inside: an interrupt as it returns must not leave the snapshot open
            conn.execute("BEGIN")
            return self._header_of(conn)
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def _header_of(self, conn: sqlite3.Connection) -> int | None:
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
        if not write:  # each read is one SELECT, atomic by itself
            return body(conn)
        try:  # BEGIN inside: Ctrl-C as it returns must roll back, not leave it open
            conn.execute("BEGIN IMMEDIATE")
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
            if self._lost is not None:
                if _identity(self.path) in (None, self._lost_at):  # still gone or the other
                    raise self._lost  # file: a write now would not reach the study's file
                self._lost = None  # a file was put at the path (the saved copy moved back)
            conn = self._connection(write)
            try:
                if write:
                    self._check_same_file(conn)
                return self._retrying(lambda: self._in_transaction(conn, write, body))
            except sqlite3.IntegrityError as exc:
                raise DuplicateTrialError(f"storage {str(self.path)!r}: {exc}") from None
            except sqlite3.Error as exc:
                raise StorageError(f"storage {str(self.path)!r}: {exc}") from exc

    def _check_same_file(self, conn: sqlite3.Connection) -> None:
        """Before a write: the file this connection writes must still be at the path. One
        deleted (a folder cleaned up mid-run) or replaced would take every trial written
        to it into a file nobody can open, and the run would end as if all were well: its
        content is saved through the open connection and the run stops."""
        now = _identity(self.path)
        if now is not None and now == self._file:
            return
        try:
            target = _rescue_file(self.path, self._mode)
        except OSError as exc:  # a read-only or full folder
            saved = f"saving what it held failed ({exc})"
        else:
            try:
                conn.execute("VACUUM INTO ?", (str(target),))
                saved = f"what it held is saved in {str(target)!r} (move it back to go on)"
            except sqlite3.Error as exc:  # a full disk, say: tell it, leave no empty file
                target.unlink(missing_ok=True)
                saved = f"saving what it held failed ({exc})"
        self.close()
        if now is None:  # its -wal and -shm files would be read into the file moved back
            for leftover in (Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                leftover.unlink(missing_ok=True)
        change = "deleted (or moved away)" if now is None else "replaced by another file"
        self._lost_at = now
        self._lost = StorageError(
            f"storage {str(self.path)!r} was {change} while this run wrote it; {saved}"
        )
        raise self._lost

    def _readable(self) -> bool:
        """Whether the file exists and holds the bbopt schema (an empty file does not)."""
        if not self.path.exists():
            return False
        with self._lock:
            self._connection(write=self._conn is not None and self._writable)
            return self._ready

    def changed_elsewhere(self, study: str) -> bool:
        """SQLite's ``PRAGMA data_version`` changes when another connection commits."""
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                return True
            (version,) = self._conn.execute("PRAGMA data_version").fetchone()
            changed = version != self._data_version
            self._data_version = version
            return changed

    def _study_id(self, conn: sqlite3.Connection, name: str) -> int:
        study_id = self._study_ids.get(name)
        if study_id is None:
            row = conn.execute("SELECT study_id FROM studies WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise StorageError(f"no study {name!r} in {str(self.path)!r}")
            study_id = self._study_ids[name] = int(row[0])
        return study_id

    # -- studies ---------------------------------------------------------------------

    def create_study(self, record: StudyRecord) -> StudyRecord:
        values = [dumps(v) if k in _JSON_COLUMNS else v for k, v in record.to_dict().items()]

        def create(conn: sqlite3.Connection) -> StudyRecord:
            conn.execute(
                f"INSERT OR IGNORE INTO studies ({', '.join(_STUDY_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _STUDY_COLUMNS)})",
                values,
            )
            stored = self._read_record(conn, record.name)
            assert stored is not None
            return stored

        return self._run(create, write=True)

    def get_study(self, name: str) -> StudyRecord | None:
        if not self._readable():
            return None
        return self._run(lambda conn: self._read_record(conn, name), write=False)

    def _read_record(self, conn: sqlite3.Connection, name: str) -> StudyRecord | None:
        row = conn.execute(
            f"SELECT {', '.join(_STUDY_COLUMNS)} FROM studies WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        data: dict[str, Any] = {}
        for column, value in zip(_STUDY_COLUMNS, row, strict=True):
            if column in _JSON_COLUMNS:
                try:
                    value = load_json(value)
                except ValueError as exc:
                    raise StorageContentError(
                        f"{str(self.path)!r}: study {name!r}: field {column!r} {exc}"
                    ) from None
            data[column] = value
        try:
            return StudyRecord.from_dict(data)
        except StorageContentError as exc:
            raise StorageContentError(f"{str(self.path)!r}: {exc}") from None

    def study_names(self) -> list[str]:
        if not self._readable():
            return []
        return self._run(
            lambda c: [r[0] for r in c.execute("SELECT name FROM studies ORDER BY name")],
            write=False,
        )

    # -- trials ------------------------------------------------------------------------

    def add_trial(self, study: str, trial: Trial, *, limit: int | None = None) -> int:
        state, loss, text = _trial_values(trial)

        def insert(conn: sqlite3.Connection) -> int:
            study_id = self._study_id(conn, study)
            (last, fresh) = conn.execute(
                "SELECT MAX(tid), COUNT(*) - COUNT(retry_of) FROM trials WHERE study_id = ?",
                (study_id,),
            ).fetchone()
            if limit is not None and trial.retry_of is None and fresh >= limit:
                raise StudyFullError(f"study {study!r} holds its {limit} trials")
            tid = 0 if last is None else int(last) + 1
            conn.execute(
                "INSERT INTO trials (study_id, tid, state, loss, owner, retry_of, record) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (study_id, tid, state, loss, trial.owner, trial.retry_of, text),
            )
            return tid

        return self._run(insert, write=True)

    def update_trial(
        self, study: str, trial: Trial, *, expected_state: TrialState | None = None
    ) -> bool:
        state, loss, text = _trial_values(trial)

        def update(conn: sqlite3.Connection) -> bool:
            study_id = self._study_id(conn, study)
            query = (
                "UPDATE trials SET state = ?, loss = ?, owner = ?, retry_of = ?, record = ? "
                "WHERE study_id = ? AND tid = ?"
            )
            args: list[Any] = [state, loss, trial.owner, trial.retry_of, text, study_id, trial.tid]
            if expected_state is not None:
                query += " AND state = ?"
                args.append(expected_state.value)
            if conn.execute(query, args).rowcount == 1:
                return True
            found = conn.execute(
                "SELECT 1 FROM trials WHERE study_id = ? AND tid = ?", (study_id, trial.tid)
            ).fetchone()
            if found is None:
                raise StorageError(f"study {study!r} has no trial {trial.tid}")
            return False

        return self._run(update, write=True)

    def get_trials(self, study: str, *, after: int = -1) -> list[Trial]:
        def read(conn: sqlite3.Connection) -> list[Trial]:
            rows = conn.execute(
                "SELECT tid, state, owner, retry_of, record FROM trials "
                "WHERE study_id = ? AND (tid > ? OR tid < 0) ORDER BY tid",
                (self._study_id(conn, study), after),
            ).fetchall()
            for expected, row in enumerate(rows, start=after + 1):
                if row[0] != expected:  # bbopt numbers a study's trials 0, 1, 2, ...
                    raise StorageContentError(
                        f"{str(self.path)!r}: study {study!r}, trial {row[0]}: field 'tid' "
                        f"breaks the numbering of the trials (expected {expected})"
                    )
            return [self._parse_trial(study, row) for row in rows]

        return self._run(read, write=False)

    def _parse_trial(self, study: str, row: tuple[Any, ...]) -> Trial:
        try:
            return parse_trial(dict(zip(TRIAL_COLUMNS, row[:4], strict=True)), row[4])
        except TrialRecordError as exc:
            raise StorageContentError(
                f"{str(self.path)!r}: study {study!r}, trial {row[0]}: {exc}"
            ) from None

    # -- blobs -------------------------------------------------------------------------

    def put_blob(self, study: str, key: str, data: bytes) -> None:
        def put(conn: sqlite3.Connection) -> None:
            study_id = self._study_id(conn, study)
            conn.execute(_BLOB_TABLE)
            conn.execute(
                "INSERT OR REPLACE INTO blobs (study_id, key, data) VALUES (?, ?, ?)",
                (study_id, key, bytes(data)),
            )

        self._run(put, write=True)

    def get_blob(self, study: str, key: str) -> bytes | None:
        if not self._readable():
            return None

        def get(conn: sqlite3.Connection) -> bytes | None:
            tables = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'blobs'").fetchone()
            if tables is None:
                return None
            row = conn.execute(
                "SELECT data FROM blobs JOIN studies USING (study_id) "
                "WHERE studies.name = ? AND key = ?",
                (study, key),
            ).fetchone()
            return None if row is None else bytes(row[0])

        return self._run(get, write=False)


def _trial_values(trial: Trial) -> tuple[str, float | None, str]:
    return trial.state.value, trial.loss, trial_text(trial)
