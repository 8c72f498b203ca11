"""Conformance suite for storages: what every Storage must do, checked on the real thing.

Give it a factory that returns a new, empty storage on each call::

    from bbopt.testing import check_storage
    check_storage(lambda: MyStorage(...))          # raises AssertionError naming the check

    from bbopt.testing import StorageUnderTest, parametrize_with_storage_checks

    @parametrize_with_storage_checks([StorageUnderTest(MyStorage, name="mine")])
    def test_my_storage(target, check):
        check(target)

The checks: study records (get or create, names), trial ids 0, 1, 2, ... per study
given by the storage, a limit on a study's trials that holds when writers race,
copies in and out (a storage never changes the caller's objects), every trial field
kept, updates and compare-and-set, reading after an id, one re-run per abandoned
trial, concurrent writers in threads (unique ids, each queued trial claimed once),
blobs beside a study's trials, and a study that runs, resumes and is read back
through ``bbopt.minimize`` and ``bbopt.load_study``.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from bbopt import hp
from bbopt.storage import (
    DuplicateTrialError,
    Storage,
    StorageError,
    StudyFullError,
    StudyRecord,
)
from bbopt.testing._suite import parametrize, run_checks
from bbopt.trial import Trial, TrialOrigin, TrialState

__all__ = [
    "STORAGE_CHECKS",
    "StorageUnderTest",
    "check_storage",
    "parametrize_with_storage_checks",
]


@dataclass(frozen=True)
class StorageUnderTest:
    """A storage to check: ``make()`` returns a new, empty storage each time it is called;
    ``threads`` writers race in the concurrency check."""

    make: Callable[[], Storage]
    name: str = ""
    threads: int = 4

    def __str__(self) -> str:
        return self.name or getattr(self.make, "__name__", "storage")


def _record(name: str, **changes: Any) -> StudyRecord:
    base = StudyRecord(
        name=name,
        objective="check.quadratic",
        backend="bbopt.random",
        backend_options={"option": [1, 2]},
        seed=7,
        f_star=0.0,
        space={"bbopt_space": 1, "tree": {"type": "const", "value": 1}},
        fingerprint="fingerprint-1",
        versions={"python": "3"},
        created_at="2026-01-01T00:00:00+00:00",
    )
    return dataclasses.replace(base, **changes)


def _trial(**changes: Any) -> Trial:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
    base = Trial(
        tid=-1,
        flat_params={"x": 0.25, "c": 1},
        params={"x": 0.25, "c": {"k": [1, "two"]}},
        state=TrialState.DONE,
        loss=1.5,
        extras={"train_time": 0.1, "nested": {"a": [1, 2]}},
        error=None,
        started_at=moment,
        finished_at=moment + timedelta(seconds=2),
        duration=2.0,
        suggest_duration=0.001,
        worker="host:1",
        backend="bbopt.random",
        seed=7,
        origin=TrialOrigin.WARM_START,
        owner="host:1:99",
        retry_of=None,
        intermediate={0: 3.0, 5: 2.0},
        budget=5.0,
        heartbeat_at=moment + timedelta(seconds=1),
    )
    return dataclasses.replace(base, **changes)


def _as_data(trial: Trial) -> Any:
    """What a trial is once stored as JSON (tuples become lists)."""
    return json.loads(json.dumps(trial.to_dict()))


def _new(target: StorageUnderTest, *studies: str) -> Storage:
    storage = target.make()
    for name in studies:
        storage.create_study(_record(name))
    return storage


def check_study_records(target: StorageUnderTest) -> None:
    """Get or create: the first record of a name stays; unknown names give None."""
    storage = target.make()
    assert storage.get_study("b") is None, "an unknown study must read as None"
    first = _record("b")
    assert storage.create_study(first) == first, "create_study must return the stored record"
    again = storage.create_study(_record("b", objective="other", fingerprint="x"))
    assert again == first, "a second create_study of a name must return the first record"
    storage.create_study(_record("a"))
    assert storage.get_study("b") == first
    assert storage.study_names() == ["a", "b"], storage.study_names()


def check_trial_ids(target: StorageUnderTest) -> None:
    """Ids 0, 1, 2, ... per study, chosen by the storage; the caller's trial is untouched."""
    storage = _new(target, "s", "t")
    given = _trial(tid=41)
    ids = [storage.add_trial("s", given) for _ in range(3)]
    assert ids == [0, 1, 2], f"ids in one study: {ids}"
    assert storage.add_trial("t", _trial()) == 0, "each study counts its own ids"
    assert given.tid == 41, "add_trial changed the caller's trial"
    assert [t.tid for t in storage.get_trials("s")] == [0, 1, 2]
    try:
        storage.add_trial("missing", _trial())
    except StorageError:
        pass
    else:
        raise AssertionError("adding a trial to an unknown study must raise StorageError")


def check_every_field_kept(target: StorageUnderTest) -> None:
    """Every field of a trial comes back as it was stored (as JSON values)."""
    storage = _new(target, "s")
    kept = [_trial(), _trial(state=TrialState.QUEUED, loss=None, retry_of=0, intermediate={})]
    for trial in kept:
        trial.tid = storage.add_trial("s", trial)
    for stored, original in zip(storage.get_trials("s"), kept, strict=True):
        assert _as_data(stored) == _as_data(original), f"{_as_data(stored)} != {_as_data(original)}"
        assert stored.started_at == original.started_at, "times must keep their time zone"


def check_copies(target: StorageUnderTest) -> None:
    """A storage keeps copies: changing a trial given or returned changes nothing stored."""
    storage = _new(target, "s")
    given = _trial()
    storage.add_trial("s", given)
    given.extras["train_time"] = 99
    given.intermediate[9] = 9.0
    (read,) = storage.get_trials("s")
    read.params["c"]["k"].append("three")
    read.flat_params["x"] = 9.0
    (again,) = storage.get_trials("s")
    assert _as_data(again) == _as_data(_trial(tid=0)), "a stored trial changed from outside"


def check_updates(target: StorageUnderTest) -> None:
    """Updates replace a trial; with ``expected_state`` only from that state (compare-and-set)."""
    storage = _new(target, "s")
    trial = _trial(state=TrialState.RUNNING, loss=None)
    trial.tid = storage.add_trial("s", trial)
    done = dataclasses.replace(trial, state=TrialState.DONE, loss=0.5)
    assert storage.update_trial("s", done, expected_state=TrialState.RUNNING)
    late = dataclasses.replace(trial, state=TrialState.FAILED, error="late")
    assert not storage.update_trial("s", late, expected_state=TrialState.RUNNING), (
        "a compare-and-set from a state the trial left must not write"
    )
    (stored,) = storage.get_trials("s")
    assert (stored.state, stored.loss) == (TrialState.DONE, 0.5), (stored.state, stored.loss)
    assert storage.update_trial("s", late), "an update without expected_state must write"
    assert storage.get_trials("s")[0].state is TrialState.FAILED
    try:
        storage.update_trial("s", dataclasses.replace(trial, tid=5))
    except StorageError:
        pass
    else:
        raise AssertionError("updating an unknown trial must raise StorageError")


def check_reading_after(target: StorageUnderTest) -> None:
    """``get_trials(after=k)`` gives the trials above id k, in id order."""
    storage = _new(target, "s")
    for value in range(5):
        storage.add_trial("s", _trial(loss=float(value)))
    assert [t.tid for t in storage.get_trials("s", after=2)] == [3, 4]
    assert [t.loss for t in storage.get_trials("s", after=-1)] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert storage.get_trials("s", after=4) == []


def check_one_rerun_per_trial(target: StorageUnderTest) -> None:
    """A second re-run of the same abandoned trial raises DuplicateTrialError."""
    storage = _new(target, "s")
    storage.add_trial("s", _trial(state=TrialState.ABANDONED))
    storage.add_trial("s", _trial(state=TrialState.QUEUED, retry_of=0))
    try:
        storage.add_trial("s", _trial(state=TrialState.QUEUED, retry_of=0))
    except DuplicateTrialError:
        pass
    else:
        raise AssertionError("a second re-run of trial 0 must raise DuplicateTrialError")
    assert len(storage.get_trials("s")) == 2, "the refused re-run must not be stored"


def _in_threads(count: int, work: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            work(index)
        except BaseException as exc:  # reported below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def check_concurrent_writers(target: StorageUnderTest) -> None:
    """Writers in threads: every trial kept under a unique id; each queued trial is
    claimed by exactly one of the racing claimers."""
    storage = _new(target, "s")
    per_thread = 10
    ids: list[int] = []

    def add(index: int) -> None:
        for _ in range(per_thread):
            ids.append(storage.add_trial("s", _trial(state=TrialState.QUEUED, worker=str(index))))

    _in_threads(target.threads, add)
    expected = list(range(target.threads * per_thread))
    assert sorted(ids) == expected, f"ids given: {sorted(ids)}"
    claims: list[tuple[int, int]] = []

    def claim(index: int) -> None:
        for queued in storage.get_trials("s"):
            running = dataclasses.replace(queued, state=TrialState.RUNNING, owner=str(index))
            if storage.update_trial("s", running, expected_state=TrialState.QUEUED):
                claims.append((queued.tid, index))

    _in_threads(target.threads, claim)
    claimed = sorted(tid for tid, _ in claims)
    assert claimed == expected, f"claimed: {claimed}"
    owners = {t.tid: t.owner for t in storage.get_trials("s")}
    assert all(owners[tid] == str(index) for tid, index in claims), "a claim was overwritten"


def check_trial_limit(target: StorageUnderTest) -> None:
    """``add_trial(limit=n)`` keeps at most n trials that are not re-runs, also when
    writers race; re-runs are not limited."""
    storage = _new(target, "s", "race")
    for _ in range(3):
        storage.add_trial("s", _trial(), limit=3)
    try:
        storage.add_trial("s", _trial(), limit=3)
    except StudyFullError:
        pass
    else:
        raise AssertionError("a 4th trial with limit=3 must raise StudyFullError")
    rerun = storage.add_trial("s", _trial(state=TrialState.QUEUED, retry_of=0), limit=3)
    assert rerun == 3, f"a re-run is not limited (got id {rerun})"
    assert storage.add_trial("s", _trial()) == 4, "without limit a trial is always stored"
    limit, refused = target.threads * 3, []

    def add(index: int) -> None:
        for _ in range(6):
            try:
                storage.add_trial("race", _trial(worker=str(index)), limit=limit)
            except StudyFullError:
                refused.append(index)

    _in_threads(target.threads, add)
    stored = storage.get_trials("race")
    assert len(stored) == limit, f"{len(stored)} trials stored with limit {limit}"
    assert len(refused) == target.threads * 6 - limit, f"{len(refused)} refused"


def check_blobs(target: StorageUnderTest) -> None:
    """Blobs per study and key come back byte for byte and are replaced by a second put;
    a storage that keeps none refuses with StorageError and reads None."""
    storage = _new(target, "s", "t")
    data = bytes(range(256)) * 4
    try:
        storage.put_blob("s", "objective", data)
    except StorageError:
        assert storage.get_blob("s", "objective") is None, "a refused blob must not be kept"
        return
    storage.put_blob("s", "settings", b"{}")
    storage.put_blob("s", "settings", b'{"v": 2}')
    assert storage.get_blob("s", "objective") == data, "a blob must come back byte for byte"
    assert storage.get_blob("s", "settings") == b'{"v": 2}', "a second put must replace"
    assert storage.get_blob("t", "objective") is None, "blobs belong to one study"
    assert storage.get_blob("s", "missing") is None
    assert storage.get_blob("missing", "objective") is None, "an unknown study has no blobs"
    try:
        storage.put_blob("missing", "objective", data)
    except StorageError:
        pass
    else:
        raise AssertionError("a blob for an unknown study must raise StorageError")


def _quadratic(params: dict[str, float]) -> float:
    return (params["x"] - 1) ** 2


def check_runs_a_study(target: StorageUnderTest) -> None:
    """``minimize`` runs on the storage, resumes a study to the trials of one longer run,
    and ``load_study`` reads it back."""
    import bbopt

    space = {"x": hp.uniform("x", -5, 5)}
    storage = target.make()
    settings: dict[str, Any] = {"backend": "hyperopt.rand", "seed": 3, "progress": False}
    bbopt.minimize(_quadratic, space, max_evals=4, storage=storage, study="run", **settings)
    resumed = bbopt.minimize(
        _quadratic, space, max_evals=7, storage=storage, study="run", **settings
    )
    single = bbopt.minimize(_quadratic, space, max_evals=7, **settings)
    assert [t.tid for t in resumed.trials] == list(range(7))
    assert [t.flat_params for t in resumed.trials] == [t.flat_params for t in single.trials], (
        "a resumed study must continue as one longer run (hyperopt.rand resumes exactly)"
    )
    loaded = bbopt.load_study("run", storage, objective=space)
    assert [_as_data(t) for t in loaded.trials] == [_as_data(t) for t in resumed.trials]
    assert loaded.best_loss == single.best_loss


STORAGE_CHECKS: tuple[Callable[[StorageUnderTest], None], ...] = (
    check_study_records,
    check_trial_ids,
    check_every_field_kept,
    check_copies,
    check_updates,
    check_reading_after,
    check_one_rerun_per_trial,
    check_concurrent_writers,
    check_trial_limit,
    check_blobs,
    check_runs_a_study,
)
"""Every storage check, each a function of a :class:`StorageUnderTest`."""


def _as_target(storage: StorageUnderTest | Callable[[], Storage]) -> StorageUnderTest:
    return storage if isinstance(storage, StorageUnderTest) else StorageUnderTest(storage)


def check_storage(storage: StorageUnderTest | Callable[[], Storage]) -> None:
    """Run every storage check; ``storage`` makes a new, empty storage per call.

    Raises ``AssertionError`` naming the first check that failed or raised.
    """
    run_checks(_as_target(storage), STORAGE_CHECKS)


def parametrize_with_storage_checks(
    storages: list[StorageUnderTest | Callable[[], Storage]],
) -> Any:
    """A ``pytest.mark.parametrize`` over (target, check) pairs: one test per check."""
    return parametrize([_as_target(s) for s in storages], STORAGE_CHECKS)
