"""Reading stored studies: :func:`load_study` and :func:`list_studies`.

A storage is data. Loading a study never imports, calls or evaluates anything its
content names: the stored space is compared with a live one (its fingerprint),
never turned into code. Nested parameters that were not stored (trials that never
finished) are rebuilt only with the space of an objective the caller supplies or
that is registered under the stored name and matches.
"""

from __future__ import annotations

from typing import Any

from bbopt.errors import UnknownNameError
from bbopt.objective import Objective, get_objective
from bbopt.space import Space, as_space
from bbopt.storage import StorageError, StorageLike, StudyRecord, existing_storage
from bbopt.study import Study


def load_study(name: str, storage: StorageLike, objective: Any = None) -> Study:
    """The stored study ``name`` as a Study (trials, best, exports, plots); nothing is
    written.

    ``objective`` (an Objective, a registered objective's name, or a space) gives the
    live space; it must match the stored one. Without it, the objective registered
    under the stored name is used if its space matches, else the study has no space
    (``study.space is None``) and unfinished trials show their flat points. A running
    trial whose process has ended shows as abandoned.
    """
    store = existing_storage(storage)
    try:
        record = store.get_study(name)
        if record is None:
            raise UnknownNameError("study", name, store.study_names())
        study = Study(
            name,
            _live_space(record, objective),
            objective=record.objective,
            backend=record.backend,
            backend_options=record.backend_options,
            seed=record.seed,
            storage=store,
        )
        study.attach(record)
    except BaseException:
        if store is not storage:  # opened here: leave nothing open behind an error
            store.close()
        raise
    study.show_orphans_as_abandoned()
    return study


def _live_space(record: StudyRecord, objective: Any) -> Space | None:
    """The caller's (or else the registered) objective's space if it matches ``record``."""
    given = objective is not None
    if not given:
        try:
            objective = get_objective(record.objective)
        except UnknownNameError:
            return None
    elif isinstance(objective, str):
        objective = get_objective(objective)
    space = as_space(objective.space if isinstance(objective, Objective) else objective)
    if space.fingerprint() == record.fingerprint:
        return space
    if given:
        raise StorageError(
            f"study {record.name!r} was stored with another search space than the one given"
        )
    return None


def list_studies(storage: StorageLike) -> list[str]:
    """Names of the studies in ``storage``, sorted."""
    return existing_storage(storage).study_names()
