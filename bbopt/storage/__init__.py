"""Where studies live: in memory by default, in an SQLite file that survives crashes, or
in a MongoDB database that processes on many machines share.

``bbopt.minimize(..., storage="studies.db", study="wine-tpe")`` keeps the study in
a file (standard library ``sqlite3``); running it again resumes it.
``storage="mongodb://host:27017/db"`` keeps it in MongoDB (the ``mongo`` extra).
Any object implementing :class:`Storage` works too (``bbopt.testing.check_storage``
checks one).
"""

from __future__ import annotations

import os

from bbopt.storage.base import (
    DuplicateTrialError,
    Storage,
    StorageContentError,
    StorageError,
    StudyFullError,
    StudyRecord,
)
from bbopt.storage.memory import InMemoryStorage
from bbopt.storage.mongo import MongoStorage, is_mongo_url
from bbopt.storage.sqlite import SQLiteStorage

StorageLike = str | os.PathLike[str] | Storage

__all__ = [
    "DuplicateTrialError",
    "InMemoryStorage",
    "MongoStorage",
    "SQLiteStorage",
    "Storage",
    "StorageContentError",
    "StorageError",
    "StorageLike",
    "StudyFullError",
    "StudyRecord",
    "as_storage",
    "existing_storage",
]


def as_storage(storage: StorageLike) -> Storage:
    """A storage object from a ``mongodb://`` address, a path (an SQLite file) or a storage
    object."""
    if isinstance(storage, Storage):
        return storage
    if is_mongo_url(storage):
        assert isinstance(storage, str)
        return MongoStorage(storage)
    if isinstance(storage, (str, os.PathLike)):
        return SQLiteStorage(storage)
    raise TypeError(
        f"storage must be a file path, a mongodb:// address or a bbopt Storage, got {storage!r}"
    )


def existing_storage(storage: StorageLike) -> Storage:
    """:func:`as_storage` for reading: a path must name an existing file."""
    store = as_storage(storage)
    if isinstance(store, SQLiteStorage) and not store.exists():
        raise StorageError(f"no storage file {str(store.path)!r}")
    return store
