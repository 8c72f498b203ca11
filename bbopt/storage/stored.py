"""A Study kept in storage: each trial is written when it starts and when it ends."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

from bbopt.errors import UnknownNameError
from bbopt.space import Space
from bbopt.storage.owners import current_owner, owner_is_gone
from bbopt.storage.sqlite import SQLiteStorage, StorageError, StoredTrial, StudyRecord, mark_orphan
from bbopt.study import Study
from bbopt.trial import Trial, TrialState

StorageLike = str | os.PathLike[str] | SQLiteStorage


def as_storage(storage: StorageLike) -> SQLiteStorage:
    """A storage object from a path (SQLite file) or a storage object."""
    if isinstance(storage, SQLiteStorage):
        return storage
    if isinstance(storage, (str, os.PathLike)):
        return SQLiteStorage(storage)
    raise TypeError(f"storage must be a file path or a SQLiteStorage, got {storage!r}")


class StoredStudy(Study):
    """A Study whose trials are committed to storage as they start and finish.

    Tids are assigned by the storage. When other processes write the same study,
    their new trials are merged into ``trials`` at each write (with the state they
    had then); :func:`load_study` gives the complete, current view.
    """

    def __init__(
        self,
        storage: SQLiteStorage,
        record: StudyRecord,
        space: Space,
        rows: list[StoredTrial],
        *,
        study_id: int | None,
        owner: str,
        run: StudyRecord | None = None,
    ) -> None:
        """``record`` is the study as stored; ``run`` the backend, options and seed of the
        run that writes it now (its trials record them), by default the stored ones."""
        run = run or record
        super().__init__(
            record.name,
            space,
            objective=record.objective,
            backend=run.backend,
            backend_options=run.backend_options,
            seed=run.seed,
            f_star=record.f_star,
            trials=[row.trial for row in rows],
        )
        self.storage = storage
        self.record = record
        self._study_id = study_id
        self._owner = owner
        self._known_tid = max((t.tid for t in self.trials), default=-1)
        self._queued = [
            row.trial for row in rows if row.trial.state is TrialState.QUEUED and row.owner == owner
        ]

    @property
    def versions(self) -> dict[str, str]:
        """bbopt, Python and backend library versions of the run that created the study."""
        return dict(self.record.versions)

    def pending_retries(self) -> list[Trial]:
        return list(self._queued)

    def add_trial(self, trial: Trial) -> Trial:
        """Store ``trial`` (a queued re-run of the same point keeps its reserved tid)."""
        if self._queued and _same_point(self._queued[0], trial):
            placeholder = self._queued.pop(0)
            trial.tid = placeholder.tid
            index = next(i for i, t in enumerate(self.trials) if t is placeholder)
            self.trials[index] = trial
            self.save_trial(trial)
            return trial
        self._study_id, others = self.storage.insert_trial(
            self.record, self._study_id, trial, self._owner, self._known_tid
        )
        self._merge(others)
        self.trials.append(trial)
        self._known_tid = max(self._known_tid, trial.tid)
        return trial

    def save_trial(self, trial: Trial) -> None:
        """Commit the new state of ``trial`` before the run goes on."""
        if self._study_id is None:
            raise StorageError(f"trial {trial.tid} was never added to study {self.name!r}")
        self._merge(self.storage.update_trial(self._study_id, trial, self._owner, self._known_tid))

    def _merge(self, rows: list[StoredTrial]) -> None:
        """Append trials other processes added meanwhile (they come in tid order)."""
        for row in rows:
            self.trials.append(row.trial)
            self._known_tid = max(self._known_tid, row.trial.tid)


def _same_point(queued: Trial, trial: Trial) -> bool:
    return queued.origin == trial.origin and queued.flat_params == trial.flat_params


def library_versions(backend: object, backend_name: str) -> dict[str, str]:
    """Versions of bbopt, Python and the library behind ``backend`` (importlib.metadata)."""
    versions = {"python": platform.python_version()}
    candidates = [
        "bbopt",
        type(backend).__module__.partition(".")[0],
        backend_name.partition(".")[0],
    ]
    for name in dict.fromkeys(candidates):
        try:
            versions[name] = metadata.version(name)
            continue
        except metadata.PackageNotFoundError:
            pass
        for dist in metadata.packages_distributions().get(name, []):  # import name != dist name
            versions[dist] = metadata.version(dist)
    return versions


def open_study(storage: StorageLike, study: Study, backend: Any) -> StoredStudy:
    """``study`` (new and empty: its name, space and run settings) backed by ``storage``:
    created on its first trial, or reopened.

    Reopening checks that the objective and the space match the stored record
    (nothing is written otherwise), abandons trials whose process has died and
    queues a re-run of every abandoned trial not re-run yet.
    """
    store = as_storage(storage)
    owner = current_owner()
    name, space = study.name, study.space
    record = StudyRecord(
        name=name,
        objective=study.objective_name,
        backend=study.backend_name,
        backend_options=dict(study.backend_options),
        seed=study.seed,
        f_star=study.f_star,
        space=space.to_json(),
        fingerprint=space.fingerprint(),
        versions=library_versions(backend, study.backend_name),
    )
    found = store.read_study(name)
    if found is None:
        return StoredStudy(store, record, space, [], study_id=None, owner=owner, run=record)
    study_id, stored, rows = found
    problem = stored.mismatch(record)
    if problem:
        raise StorageError(problem)
    if _needs_recovery(rows, owner):
        store.recover(study_id, owner)
        found = store.read_study(name)
        assert found is not None
        study_id, stored, rows = found
    return StoredStudy(store, stored, space, rows, study_id=study_id, owner=owner, run=record)


def _needs_recovery(rows: list[StoredTrial], owner: str) -> bool:
    retried = {row.retry_of for row in rows}
    for row in rows:
        state = row.trial.state
        if state is TrialState.ABANDONED and row.trial.tid not in retried:
            return True
        if state is TrialState.RUNNING and owner_is_gone(row.owner):
            return True
        if state is TrialState.QUEUED and (row.owner == owner or owner_is_gone(row.owner)):
            return True
    return False


def _existing(storage: StorageLike) -> SQLiteStorage:
    store = as_storage(storage)
    if not store.exists():
        raise StorageError(f"no storage file {str(store.path)!r}")
    return store


def load_study(name: str, storage: StorageLike) -> StoredStudy:
    """The stored study ``name`` as a Study (trials, best, exports, plots); nothing is written.

    Its space is rebuilt from the stored JSON. A running trial whose process has
    ended shows as abandoned.
    """
    store = _existing(storage)
    found = store.read_study(name)
    if found is None:
        raise UnknownNameError("study", name, store.study_names())
    study_id, record, rows = found
    for row in rows:
        if row.trial.state is TrialState.RUNNING and owner_is_gone(row.owner):
            mark_orphan(row)
    space = Space.from_json(record.space)
    return StoredStudy(store, record, space, rows, study_id=study_id, owner=current_owner())


def list_studies(storage: StorageLike) -> list[str]:
    """Names of the studies in ``storage``, sorted."""
    return _existing(storage).study_names()
