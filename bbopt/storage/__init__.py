"""Where studies live: in memory by default, or in an SQLite file that survives crashes.

``bbopt.minimize(..., storage="studies.db", study="wine-tpe")`` keeps the study in
a file (standard library ``sqlite3``); running it again resumes it.
:func:`load_study` and :func:`list_studies` read what is stored.
"""

from bbopt.storage.sqlite import SQLiteStorage, StorageError
from bbopt.storage.stored import (
    StorageLike,
    StoredStudy,
    as_storage,
    list_studies,
    load_study,
    open_study,
)

__all__ = [
    "SQLiteStorage",
    "StorageError",
    "StorageLike",
    "StoredStudy",
    "as_storage",
    "list_studies",
    "load_study",
    "open_study",
]
