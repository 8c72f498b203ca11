"""Trials and study records as stored text: the JSON both database storages write.

A database storage keeps a few trial fields in their own columns (the columns are
the truth, so they can be queried and changed atomically) and the rest of
:meth:`Trial.to_dict` as one JSON text. Reading checks every field
(:meth:`Trial.from_dict`, :meth:`StudyRecord.from_dict`); stored text is data and
is never evaluated.
"""

from __future__ import annotations

import json
from typing import Any

from bbopt.storage.base import StorageContentError, StudyRecord
from bbopt.trial import Trial, TrialRecordError, to_builtin

#: Trial fields kept in their own columns, not in the JSON record.
TRIAL_COLUMNS = ("tid", "state", "owner", "retry_of")

#: Stored JSON nests no deeper than this. A space as deep as the space language allows
#: nests 201 levels; deeper content is not bbopt's, and would exhaust the recursion of
#: the code that reads it (Python's JSON decoder itself gives up near 1000).
MAX_NESTING = 400


def load_json(text: Any) -> Any:
    """Stored JSON text parsed; ValueError saying why it cannot be read (not JSON, or
    nested deeper than :data:`MAX_NESTING` levels)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(f"nests deeper than {MAX_NESTING} levels") from None
    except (TypeError, ValueError):
        raise ValueError("is not JSON") from None
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ValueError(f"nests deeper than {MAX_NESTING} levels")
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return data


def dumps(value: Any) -> str:
    """JSON text of stored data: numpy scalars as the numbers they are (a choice among
    ``np.arange`` options), other values JSON cannot hold as their repr."""
    return json.dumps(to_builtin(value), default=repr)


def trial_text(trial: Trial) -> str:
    """The JSON record of ``trial`` without its column fields."""
    record = trial.to_dict()
    for column in TRIAL_COLUMNS:
        del record[column]
    return dumps(record)


def parse_trial(columns: dict[str, Any], text: Any) -> Trial:
    """A Trial from its column values and its JSON record; TrialRecordError naming the
    bad field."""
    try:
        data = load_json(text)
    except ValueError as exc:
        raise TrialRecordError("record", str(exc)) from None
    if not isinstance(data, dict):
        raise TrialRecordError("record", "is not an object")
    return Trial.from_dict({**data, **{key: columns.get(key) for key in TRIAL_COLUMNS}})


def parse_study(where: str, name: str, text: Any) -> StudyRecord:
    """A StudyRecord from the JSON text of :meth:`StudyRecord.to_dict`;
    StorageContentError naming ``where`` (the storage), the study and the problem."""
    try:
        data = load_json(text)
    except ValueError as exc:
        raise StorageContentError(f"{where}: study {name!r}: its record {exc}") from None
    try:
        return StudyRecord.from_dict(data)
    except StorageContentError as exc:
        raise StorageContentError(f"{where}: {exc}") from None
