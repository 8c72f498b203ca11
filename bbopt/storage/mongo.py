"""MongoDB storage (pymongo 4): one study shared by processes on any number of machines.

``storage="mongodb://host:27017/db"`` (or ``mongodb+srv://...``) keeps studies in
database ``db`` (default ``bbopt``), in four collections:

- ``bbopt_studies``: ``{_id: name, record: JSON text, next_tid, fresh}`` (the next
  trial id, and how many trials are not re-runs: what ``limit`` counts);
- ``bbopt_trials``: ``{study, tid, state, loss, owner, retry_of, record: JSON text}``,
  with a unique index on ``(study, tid)`` and a unique partial index on
  ``(study, retry_of)`` (``retry_of`` is present only on re-runs), so no id is given
  twice and an abandoned trial gets one re-run;
- ``bbopt_blobs``: ``{study, key, data}`` (a work queue's settings and objective);
- ``bbopt_meta``: the schema version.

Trials are stored as in SQLite: tid, state, owner and retry_of in their own fields
(the truth, changed atomically), the rest of :meth:`Trial.to_dict` as JSON text.
Ids come from an atomic ``$inc`` of the study's ``next_tid`` (with ``limit``, only
while ``fresh`` is below it, in the same update); an insert that meets
a taken id (a counter behind its trials, e.g. after a restore) moves the counter
past the highest stored id and takes the next one. A process that dies between
taking an id and inserting its trial leaves that id unused (studies skip holes).
Updates with ``expected_state`` are one ``update_one`` filtered on the state:
compare-and-set.

Credentials come from the URL (``mongodb://user:password@host/db``) or, when it has
none, from ``BBOPT_MONGO_USERNAME`` and ``BBOPT_MONGO_PASSWORD``. bbopt never shows
them: the storage's repr, its errors and its logs name ``mongodb://host:port/db``.
pymongo is imported when the storage first connects (``pip install 'bbopt[mongo]'``).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

from bbopt.errors import MissingDependencyError
from bbopt.storage.base import (
    DuplicateTrialError,
    Storage,
    StorageContentError,
    StorageError,
    StudyFullError,
    StudyRecord,
)
from bbopt.storage.records import dumps, parse_study, parse_trial, trial_text
from bbopt.trial import Trial, TrialRecordError, TrialState

T = TypeVar("T")

SCHEMES = ("mongodb://", "mongodb+srv://")
SCHEMA_VERSION = 1
DEFAULT_DATABASE = "bbopt"
USERNAME_VARIABLE = "BBOPT_MONGO_USERNAME"
PASSWORD_VARIABLE = "BBOPT_MONGO_PASSWORD"

STUDIES, TRIALS, BLOBS, META = "bbopt_studies", "bbopt_trials", "bbopt_blobs", "bbopt_meta"
_ID_ATTEMPTS = 5  # inserts tried when ids are taken (a counter that fell behind)


def is_mongo_url(location: object) -> bool:
    """Whether ``location`` is a MongoDB connection string."""
    return isinstance(location, str) and location.startswith(SCHEMES)


def hyperopt_url(url: str) -> str:
    """hyperopt's ``mongo://host:port/db/jobs`` (or ``host:port/db``, as given to
    ``hyperopt-mongo-worker --mongo``) as a ``mongodb://host:port/db`` connection string."""
    rest = url.split("://", 1)[1] if "://" in url else url
    netloc, _, path = rest.partition("/")
    database = path.split("/")[0]
    if not netloc or not database:
        raise ValueError(
            f"expected a MongoDB address such as host:27017/db or mongo://host:27017/db/jobs, "
            f"got {display_address(url)!r}"
        )
    return f"mongodb://{netloc}/{database}"


def display_address(url: str) -> str:
    """``url`` as bbopt shows it: without user, password and options."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    netloc, slash, path = rest.partition("/")
    netloc = netloc.rpartition("@")[2]
    return f"{scheme}{sep}{netloc}{slash}{path.partition('?')[0]}"


def _pymongo() -> Any:
    try:
        import pymongo
    except ImportError:
        raise MissingDependencyError("pymongo", "mongo", "a mongodb:// storage") from None
    return pymongo


class MongoStorage(Storage):
    """Studies in a MongoDB database; safe to share between threads, processes and machines."""

    shared = True

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        """``url``: ``mongodb://[user:password@]host[:port][/database][?options]``.
        ``timeout``: seconds to wait for the server on each operation.
        ``client_options``: more keyword arguments for ``pymongo.MongoClient``."""
        if not is_mongo_url(url):
            raise StorageError(
                f"not a MongoDB address: {display_address(str(url))!r} "
                "(expected mongodb://host:port/database)"
            )
        parts = urlsplit(url)
        userinfo, _, hosts = parts.netloc.rpartition("@")
        if not hosts:
            raise StorageError(f"MongoDB address {display_address(url)!r} names no host")
        database = unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE
        if "/" in database or any(c in database for c in ' ."$\\'):
            raise StorageError(
                f"bad MongoDB database name {database!r} in {display_address(url)!r}: "
                "use letters, digits, '-' and '_'"
            )
        self.database = database
        self.address = f"{parts.scheme}://{hosts}/{database}"  # what bbopt ever shows
        self.timeout = timeout
        self._url = url
        self._options = dict(client_options or {})
        user, _, password = (unquote(part) for part in userinfo.partition(":"))
        if not userinfo and os.environ.get(USERNAME_VARIABLE):
            user, password = os.environ[USERNAME_VARIABLE], os.environ.get(PASSWORD_VARIABLE, "")
            self._options.setdefault("username", user)
            self._options.setdefault("password", password)
        self._secrets = _secret_forms(user, password, userinfo)
        self._client: Any = None
        self._pid = 0
        self._indexed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MongoStorage({self.address!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_client=None, _pid=0, _indexed=False, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                self._client.close()
            self._client, self._indexed = None, False

    # -- connection ------------------------------------------------------------------------

    def _database(self, write: bool) -> Any:
        """This process's database handle (a client is not shared across a fork); indexes
        and the schema version are set up before the first write."""
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                pymongo = _pymongo()
                milliseconds = max(1, int(self.timeout * 1000))
                options: dict[str, Any] = {
                    "serverSelectionTimeoutMS": milliseconds,
                    "connectTimeoutMS": milliseconds,
                    "appname": "bbopt",
                    **self._options,
                }
                self._client, self._pid, self._indexed = (
                    pymongo.MongoClient(self._url, **options),
                    os.getpid(),
                    False,
                )
            database = self._client[self.database]
            if write and not self._indexed:
                self._prepare(database)
                self._indexed = True
            return database

    def _prepare(self, database: Any) -> None:
        meta = database[META].find_one({"_id": "schema"})
        if meta is None:
            database[META].update_one(
                {"_id": "schema"}, {"$setOnInsert": {"version": SCHEMA_VERSION}}, upsert=True
            )
        elif not isinstance(meta.get("version"), int) or meta["version"] > SCHEMA_VERSION:
            raise StorageError(
                f"{self.address} was written by a newer bbopt (schema {meta.get('version')!r}, "
                f"this bbopt reads {SCHEMA_VERSION})"
            )
        trials = database[TRIALS]
        trials.create_index([("study", 1), ("tid", 1)], unique=True, name="study_tid")
        trials.create_index(
            [("study", 1), ("retry_of", 1)],
            unique=True,
            name="study_retry_of",
            partialFilterExpression={"retry_of": {"$exists": True}},
        )
        database[BLOBS].create_index([("study", 1), ("key", 1)], unique=True, name="study_key")

    def _call(self, action: Callable[[Any], T], *, write: bool) -> T:
        """``action(database)``; the driver's errors become StorageErrors without credentials
        (raised outside the handler, so they do not even carry the original as context)."""
        errors = _pymongo().errors
        try:
            return action(self._database(write))
        except StorageError:
            raise
        except errors.DuplicateKeyError as exc:
            failure: StorageError = DuplicateTrialError(f"{self.address}: {self._scrub(exc)}")
        except Exception as exc:  # pymongo's, and a few plain ones (a failed handshake)
            failure = StorageError(f"{self.address}: {self._scrub(exc)}")
        raise failure

    def _scrub(self, error: BaseException) -> str:
        """The text of ``error`` with every form of the credentials replaced by ``***``."""
        text = str(error)
        if not isinstance(error, _pymongo().errors.PyMongoError):
            text = f"{type(error).__name__}: {text}"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- studies ---------------------------------------------------------------------------

    def create_study(self, record: StudyRecord) -> StudyRecord:
        def create(database: Any) -> StudyRecord:
            try:
                database[STUDIES].update_one(
                    {"_id": record.name},
                    {
                        "$setOnInsert": {
                            "record": dumps(record.to_dict()),
                            "next_tid": 0,
                            "fresh": 0,
                        }
                    },
                    upsert=True,
                )
            except _pymongo().errors.DuplicateKeyError:
                pass  # two upserts raced; the other one stored the study
            stored = self._read_study(database, record.name)
            assert stored is not None
            return stored

        return self._call(create, write=True)

    def get_study(self, name: str) -> StudyRecord | None:
        return self._call(lambda database: self._read_study(database, name), write=False)

    def _read_study(self, database: Any, name: str) -> StudyRecord | None:
        doc = database[STUDIES].find_one({"_id": name}, {"record": 1})
        return None if doc is None else parse_study(self.address, name, doc.get("record"))

    def study_names(self) -> list[str]:
        return self._call(
            lambda database: sorted(str(d["_id"]) for d in database[STUDIES].find({}, {"_id": 1})),
            write=False,
        )

    def _require_study(self, database: Any, study: str) -> None:
        if database[STUDIES].find_one({"_id": study}, {"_id": 1}) is None:
            raise StorageError(f"no study {study!r} in {self.address}")

    # -- trials ----------------------------------------------------------------------------

    def add_trial(self, study: str, trial: Trial, *, limit: int | None = None) -> int:
        fields = _trial_fields(trial)
        duplicate = _pymongo().errors.DuplicateKeyError

        def insert(database: Any) -> int:
            trials = database[TRIALS]
            rerun = {"study": study, "retry_of": trial.retry_of}
            if trial.retry_of is not None and trials.find_one(rerun, {"_id": 1}):
                raise DuplicateTrialError(
                    f"study {study!r}: trial {trial.retry_of} already has a re-run"
                )
            counts = trial.retry_of is None  # a trial that limit counts
            for _ in range(_ID_ATTEMPTS):
                query: dict[str, Any] = {"_id": study}
                increments = {"next_tid": 1}
                if counts:
                    increments["fresh"] = 1
                    if limit is not None:
                        query["fresh"] = {"$lt": limit}
                counter = database[STUDIES].find_one_and_update(
                    query, {"$inc": increments}, projection={"next_tid": 1}
                )  # the document before the increment: its next_tid is ours
                if counter is None:
                    self._require_study(database, study)
                    raise StudyFullError(f"study {study!r} holds its {limit} trials")
                counts = False  # counted once, whatever the attempts for a free id
                tid = int(counter["next_tid"])
                try:
                    trials.insert_one({"study": study, "tid": tid, **fields})
                    return tid
                except duplicate:
                    if trial.retry_of is not None and trials.find_one(rerun, {"_id": 1}):
                        raise DuplicateTrialError(
                            f"study {study!r}: trial {trial.retry_of} already has a re-run"
                        ) from None
                    top = trials.find_one({"study": study}, {"tid": 1}, sort=[("tid", -1)])
                    database[STUDIES].update_one(
                        {"_id": study}, {"$max": {"next_tid": int(top["tid"]) + 1}}
                    )
            raise StorageError(f"{self.address}: no free trial id for study {study!r}")

        return self._call(insert, write=True)

    def update_trial(
        self, study: str, trial: Trial, *, expected_state: TrialState | None = None
    ) -> bool:
        fields = _trial_fields(trial)
        change: dict[str, Any] = {"$set": fields}
        if "retry_of" not in fields:
            change["$unset"] = {"retry_of": ""}
        query: dict[str, Any] = {"study": study, "tid": trial.tid}
        if expected_state is not None:
            query["state"] = expected_state.value

        def update(database: Any) -> bool:
            if database[TRIALS].update_one(query, change).matched_count:
                return True
            if database[TRIALS].find_one({"study": study, "tid": trial.tid}, {"_id": 1}) is None:
                self._require_study(database, study)
                raise StorageError(f"study {study!r} has no trial {trial.tid}")
            return False

        return self._call(update, write=True)

    def get_trials(self, study: str, *, after: int = -1) -> list[Trial]:
        def read(database: Any) -> list[Trial]:
            docs = list(
                database[TRIALS].find({"study": study, "tid": {"$gt": after}}).sort("tid", 1)
            )
            if not docs:
                self._require_study(database, study)
            return [self._parse_trial(study, doc) for doc in docs]

        return self._call(read, write=False)

    def _parse_trial(self, study: str, doc: dict[str, Any]) -> Trial:
        try:
            return parse_trial(doc, doc.get("record"))
        except TrialRecordError as exc:
            raise StorageContentError(
                f"{self.address}: study {study!r}, trial {doc.get('tid')!r}: {exc}"
            ) from None

    # -- blobs -----------------------------------------------------------------------------

    def put_blob(self, study: str, key: str, data: bytes) -> None:
        def put(database: Any) -> None:
            self._require_study(database, study)
            database[BLOBS].update_one(
                {"study": study, "key": key}, {"$set": {"data": bytes(data)}}, upsert=True
            )

        self._call(put, write=True)

    def get_blob(self, study: str, key: str) -> bytes | None:
        def get(database: Any) -> bytes | None:
            doc = database[BLOBS].find_one({"study": study, "key": key})
            return None if doc is None else bytes(doc["data"])

        return self._call(get, write=False)


def _trial_fields(trial: Trial) -> dict[str, Any]:
    """A trial's stored fields but ``study`` and ``tid`` (``retry_of`` only on re-runs)."""
    loss = trial.loss if trial.loss is not None and math.isfinite(trial.loss) else None
    fields: dict[str, Any] = {
        "state": trial.state.value,
        "loss": loss,  # for queries; the record holds the loss as it was
        "owner": trial.owner,
        "record": trial_text(trial),
    }
    if trial.retry_of is not None:
        fields["retry_of"] = trial.retry_of
    return fields


def _secret_forms(user: str, password: str, userinfo: str) -> list[str]:
    """Every spelling of the credentials an error text might carry, longest first."""
    forms = {userinfo, password, quote(password, safe=""), user and f"{user}:", user and f"{user}@"}
    return sorted((form for form in forms if form), key=len, reverse=True)
