"""In-memory storage: the default for a study that need not outlive its process."""

from __future__ import annotations

import copy
import threading
from typing import Any

from bbopt.storage.base import (
    DuplicateTrialError,
    Storage,
    StorageError,
    StudyFullError,
    StudyRecord,
)
from bbopt.trial import Trial, TrialState


class InMemoryStorage(Storage):
    """Studies in this process's memory, safe to share between its threads."""

    def __init__(self) -> None:
        self._records: dict[str, StudyRecord] = {}
        self._trials: dict[str, list[Trial]] = {}
        self._reruns: dict[str, set[int]] = {}
        self._blobs: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"InMemoryStorage({len(self._records)} studies)"

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its lock (a study in memory can be saved with ``pickle``)."""
        with self._lock:
            return copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "_lock"})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def create_study(self, record: StudyRecord) -> StudyRecord:
        with self._lock:
            if record.name not in self._records:
                self._records[record.name] = copy.deepcopy(record)
                self._trials[record.name] = []
                self._reruns[record.name] = set()
            return copy.deepcopy(self._records[record.name])

    def get_study(self, name: str) -> StudyRecord | None:
        with self._lock:
            record = self._records.get(name)
            return None if record is None else copy.deepcopy(record)

    def study_names(self) -> list[str]:
        with self._lock:
            return sorted(self._records)

    def _study_trials(self, study: str) -> list[Trial]:
        try:
            return self._trials[study]
        except KeyError:
            raise StorageError(f"no study {study!r} in this storage") from None

    def add_trial(self, study: str, trial: Trial, *, limit: int | None = None) -> int:
        with self._lock:
            trials = self._study_trials(study)
            fresh = len(trials) - len(self._reruns[study])  # trials that are not re-runs
            if limit is not None and trial.retry_of is None and fresh >= limit:
                raise StudyFullError(f"study {study!r} holds its {limit} trials")
            if trial.retry_of is not None:
                if trial.retry_of in self._reruns[study]:
                    raise DuplicateTrialError(
                        f"study {study!r}: trial {trial.retry_of} already has a re-run"
                    )
                self._reruns[study].add(trial.retry_of)
            stored = _copy(trial)
            stored.tid = len(trials)
            trials.append(stored)
            return stored.tid

    def update_trial(
        self, study: str, trial: Trial, *, expected_state: TrialState | None = None
    ) -> bool:
        with self._lock:
            trials = self._study_trials(study)
            if not 0 <= trial.tid < len(trials):
                raise StorageError(f"study {study!r} has no trial {trial.tid}")
            if expected_state is not None and trials[trial.tid].state is not expected_state:
                return False
            trials[trial.tid] = _copy(trial)
            return True

    def get_trials(self, study: str, *, after: int = -1) -> list[Trial]:
        with self._lock:
            return [_copy(t) for t in self._study_trials(study)[max(after + 1, 0) :]]

    def put_blob(self, study: str, key: str, data: bytes) -> None:
        with self._lock:
            self._study_trials(study)
            self._blobs[study, key] = bytes(data)

    def get_blob(self, study: str, key: str) -> bytes | None:
        with self._lock:
            return self._blobs.get((study, key))


def _copy(trial: Trial) -> Trial:
    """A copy sharing nothing mutable with ``trial`` (params, extras, reports); much
    cheaper than ``copy.deepcopy`` since a trial's fields are JSON-like data."""
    clone = copy.copy(trial)
    clone.flat_params = dict(trial.flat_params)
    clone.intermediate = dict(trial.intermediate)
    clone.extras = _copy_data(trial.extras)
    clone.params = _copy_data(trial.params)
    return clone


def _copy_data(value: Any) -> Any:
    """A copy of nested dicts, lists and tuples; other values are shared (immutable ones in
    practice: numbers, strings, None)."""
    if isinstance(value, dict):
        return {key: _copy_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_data(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_copy_data(item) for item in value)
    return value
