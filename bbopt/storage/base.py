"""The storage interface: where studies and their trials live.

A storage keeps any number of studies by name. For each it holds a
:class:`StudyRecord` (what the study is) and its trials, and it alone gives out
trial ids: 0, 1, 2, ... per study, never twice, whatever the number of processes
writing. Everything a storage returns is a copy; it never changes objects it was
given. Two operations are atomic, so that several processes can share a study:
``add_trial`` (id assignment, at most one re-run per abandoned trial, and an optional
limit on the study's trials, so that ``max_evals`` holds across processes) and
``update_trial`` with ``expected_state`` (compare-and-set: claim a queued trial,
or refuse a late result for a trial already given up).

Beside its trials, a study may hold a few named blobs (bytes): a work queue's
settings, the objective its driver stored for queue workers. A storage keeps them as
plain bytes; whoever reads one decides whether to trust it.

Implementations: :class:`~bbopt.storage.memory.InMemoryStorage` (the default),
:class:`~bbopt.storage.sqlite.SQLiteStorage` and
:class:`~bbopt.storage.mongo.MongoStorage`; ``bbopt.testing.check_storage`` checks
any other.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from bbopt.errors import BBoptError
from bbopt.trial import Trial, TrialState


class StorageError(BBoptError):
    """A storage that cannot be used, bad stored content, or a study that does not match
    its stored record."""


class StorageContentError(StorageError):
    """Stored content that is not what bbopt writes (a damaged or crafted record); the
    message names the study, the trial and the field."""


class DuplicateTrialError(StorageError):
    """A second re-run of the same abandoned trial (another process queued it first)."""


class StudyFullError(StorageError):
    """A new trial refused: the study holds the ``limit`` of trials it was added with."""


@dataclass
class StudyRecord:
    """What a study is, as stored: everything but its trials (plain JSON-able data)."""

    name: str
    objective: str
    backend: str
    backend_options: dict[str, Any]
    seed: int | None
    f_star: float | None
    space: dict[str, Any]  # Space.to_json(): data, compared and shown, never evaluated
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> StudyRecord:
        """A record from :meth:`to_dict`'s output; StorageError naming the bad field."""
        if not isinstance(data, dict):
            raise StorageContentError("a study record is not an object")
        name = data.get("name")
        checks: dict[str, Any] = {
            "name": str,
            "objective": str,
            "backend": str,
            "backend_options": dict,
            "space": dict,
            "fingerprint": str,
            "versions": dict,
            "created_at": str,
        }
        for key, kind in checks.items():
            if not isinstance(data.get(key), kind):
                raise StorageContentError(
                    f"study {name!r}: field {key!r} is missing or not a {kind.__name__}"
                )
        if data["created_at"]:  # empty until the study is first stored
            try:
                datetime.fromisoformat(data["created_at"])
            except ValueError:
                raise StorageContentError(
                    f"study {name!r}: field 'created_at' is not a date: {data['created_at']!r:.40}"
                ) from None
        seed, f_star = data.get("seed"), data.get("f_star")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise StorageContentError(
                f"study {name!r}: field 'seed' is not an integer: {seed!r:.40}"
            )
        if f_star is not None and not (
            isinstance(f_star, (int, float))
            and not isinstance(f_star, bool)
            and math.isfinite(f_star)
        ):
            raise StorageContentError(
                f"study {name!r}: field 'f_star' is not a number: {f_star!r:.40}"
            )
        fields: dict[str, Any] = {key: data.get(key) for key in cls.__dataclass_fields__}
        return cls(**fields)


class Storage(ABC):
    """Studies by name, each with its record and its trials."""

    #: Whether processes other than this one may write its studies (then a study
    #: rereads the storage before each new trial, to see the others' trials).
    shared: bool = False

    @abstractmethod
    def create_study(self, record: StudyRecord) -> StudyRecord:
        """Store ``record`` unless a study of that name exists (atomically); return the
        record as stored, which is the existing one if there was one."""

    @abstractmethod
    def get_study(self, name: str) -> StudyRecord | None:
        """The record of study ``name``, or None."""

    @abstractmethod
    def study_names(self) -> list[str]:
        """Names of the stored studies, sorted."""

    @abstractmethod
    def add_trial(self, study: str, trial: Trial, *, limit: int | None = None) -> int:
        """Store a copy of ``trial`` under the study's next id and return that id (the
        ``tid`` of ``trial`` is ignored and left as it is).

        With ``limit``, a trial that is not a re-run (``retry_of`` None) is stored only
        while the study holds fewer than ``limit`` such trials, atomically: else
        :class:`StudyFullError`. Re-runs stand for the trial they re-run and are not
        limited. Raises :class:`DuplicateTrialError` when ``trial.retry_of`` names a
        trial that already has a re-run, and :class:`StorageError` for an unknown study.
        """

    @abstractmethod
    def update_trial(
        self, study: str, trial: Trial, *, expected_state: TrialState | None = None
    ) -> bool:
        """Replace the stored trial ``trial.tid`` with a copy of ``trial``.

        With ``expected_state``, only if the stored trial is in that state, atomically
        (compare-and-set). Returns whether the trial was written; StorageError for an
        unknown study or trial.
        """

    @abstractmethod
    def get_trials(self, study: str, *, after: int = -1) -> list[Trial]:
        """Copies of the study's trials with an id above ``after``, in id order."""

    def changed_elsewhere(self, study: str) -> bool:
        """Whether another process may have written ``study`` since this storage last
        read it: a running study rereads only then. The default, True, always rereads;
        a storage with a cheap change counter says False when nothing changed."""
        return True

    def put_blob(self, study: str, key: str, data: bytes) -> None:
        """Store ``data`` as the study's blob ``key``, replacing the one there; StorageError
        for an unknown study, or when this storage keeps no blobs (the default)."""
        raise StorageError(f"{type(self).__name__} keeps no blobs (needed for {key!r})")

    def get_blob(self, study: str, key: str) -> bytes | None:
        """The study's blob ``key``, or None (also for an unknown study, and for storages
        that keep no blobs)."""
        return None

    def close(self) -> None:  # noqa: B027  (optional: most storages hold nothing to close)
        """Release connections (a storage reopens them when used again)."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
