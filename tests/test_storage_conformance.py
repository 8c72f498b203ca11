"""Every storage bbopt ships passes bbopt's storage conformance suite (bbopt.testing)."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import pytest

from bbopt.storage import InMemoryStorage, MongoStorage, SQLiteStorage, Storage
from bbopt.testing import StorageUnderTest, check_storage, parametrize_with_storage_checks
from bbopt.testing.servers import LocalMongo


def sqlite_in(folder: Path) -> StorageUnderTest:
    count = itertools.count()
    return StorageUnderTest(lambda: SQLiteStorage(folder / f"s{next(count)}.db"), name="sqlite")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("storages")


@parametrize_with_storage_checks([StorageUnderTest(InMemoryStorage, name="memory")])
def test_memory_storage(target: StorageUnderTest, check: Any) -> None:
    check(target)


def test_sqlite_storage(folder: Path) -> None:
    check_storage(sqlite_in(folder))


def test_mongo_storage(mongo_server: LocalMongo) -> None:
    """On the session's nx-27017 (and mongod, when installed): a new database per storage."""
    prefix = f"conformance_{uuid.uuid4().hex[:8]}"
    count = itertools.count()
    check_storage(
        StorageUnderTest(
            lambda: MongoStorage(mongo_server.url(f"{prefix}_{next(count)}"), timeout=10),
            name="mongo",
        )
    )


class ForgetsUpdates(InMemoryStorage):
    """A broken storage: compare-and-set always says yes."""

    def update_trial(self, study: str, trial: Any, *, expected_state: Any = None) -> bool:
        super().update_trial(study, trial)
        return True


class SharesObjects(InMemoryStorage):
    """A broken storage: hands out the objects it keeps."""

    def get_trials(self, study: str, *, after: int = -1) -> list[Any]:
        return self._study_trials(study)[after + 1 :]


@pytest.mark.parametrize(
    ("broken", "failing_check"),
    [(ForgetsUpdates, "check_updates"), (SharesObjects, "check_copies")],
)
def test_a_broken_storage_fails_its_check(broken: type[Storage], failing_check: str) -> None:
    with pytest.raises(AssertionError, match=rf"{failing_check} failed"):
        check_storage(broken)
