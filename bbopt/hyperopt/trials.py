"""hyperopt's ``Trials``, as a view of a bbopt study.

A :class:`Trials` holds a storage (in memory unless it is given one) and, once
``fmin`` ran with it, the :class:`~bbopt.study.Study` that lives there. Everything
hyperopt's ``Trials`` shows is built from the study's trials, in hyperopt's own
format: ``trials.trials`` (one document per trial: ``tid``, ``state``, ``result``,
``misc`` with ``vals`` and ``idxs``, ``book_time``, ...), ``results``, ``losses()``,
``statuses()``, ``best_trial``, ``argmin``, ``vals``, ``idxs``, ``miscs``. Running
``fmin`` again with the same object resumes the study (the storage holds it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import hyperopt.exceptions
from hyperopt.base import (
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
    STATUS_NEW,
)

from bbopt.errors import NoSuccessfulTrialError
from bbopt.storage import InMemoryStorage, StorageError, StorageLike, as_storage
from bbopt.study import Study
from bbopt.trial import Trial, TrialState

_JOB_STATES = {
    TrialState.QUEUED: JOB_STATE_NEW,
    TrialState.RUNNING: JOB_STATE_RUNNING,
    TrialState.DONE: JOB_STATE_DONE,
    TrialState.FAILED: JOB_STATE_DONE,  # hyperopt: done, with status "fail"
    TrialState.PRUNED: JOB_STATE_DONE,
    TrialState.ABANDONED: JOB_STATE_ERROR,  # re-run later; hyperopt hides error jobs
}
_CMD = ("domain_attachment", "FMinIter_Domain")

__all__ = ["AllTrialsFailed", "MongoTrials", "Trials", "hyperopt_document"]


class AllTrialsFailed(hyperopt.exceptions.AllTrialsFailed, NoSuccessfulTrialError):
    """No trial succeeded (hyperopt's ``AllTrialsFailed``, and bbopt's own error)."""


class Trials:
    """hyperopt's ``Trials`` over a bbopt study; ``trials.study`` is that study.

    ``exp_key`` names the study (as it names an experiment in hyperopt's MongoDB);
    ``storage`` (bbopt's: an SQLite path or a Storage) keeps it, in memory by default.
    A MongoDB storage plugs in here, as hyperopt's ``MongoTrials`` does.
    """

    def __init__(
        self,
        exp_key: str | None = None,
        refresh: bool = True,
        *,
        storage: StorageLike | None = None,
    ) -> None:
        self._exp_key = exp_key
        self.storage = InMemoryStorage() if storage is None else as_storage(storage)
        self.study: Study | None = None
        self._docs: dict[int, tuple[Trial, dict[str, Any]]] = {}  # tid -> (trial, its document)

    def __repr__(self) -> str:
        name = self.study.name if self.study is not None else None
        return f"<bbopt.hyperopt.Trials study={name!r}: {len(self)} trials>"

    @property
    def exp_key(self) -> str | None:
        return self._exp_key

    def attach(self, study: Study) -> Trials:
        """Show ``study`` (fmin attaches the study it runs); returns self."""
        if study is not self.study:
            self.study = study
            self._docs.clear()
        return self

    def use_storage(self, storage: StorageLike) -> None:
        """Keep the study in ``storage`` (fmin's ``storage`` / ``trials_save_file``);
        refused once this object holds trials of another storage."""
        store = as_storage(storage)
        if store is self.storage:
            return
        if len(self):
            raise StorageError(
                "this Trials object already holds trials in another storage; give a new "
                "Trials() (or trials=None) with storage / trials_save_file"
            )
        self.storage, self.study = store, None
        self._docs.clear()

    # -- hyperopt's view ----------------------------------------------------------------

    def _shown(self) -> list[Trial]:
        """The study's trials hyperopt would list: all but abandoned ones."""
        if self.study is None:
            return []
        return [t for t in self.study.trials if t.state is not TrialState.ABANDONED]

    def refresh(self) -> None:
        """Read trials other processes wrote to a shared storage."""
        if self.study is not None:
            self.study.refresh()

    @property
    def trials(self) -> list[dict[str, Any]]:
        """One hyperopt document per trial, in id order."""
        return [self._document(t) for t in self._shown()]

    def _document(self, trial: Trial) -> dict[str, Any]:
        cached = self._docs.get(trial.tid)
        if cached is not None and cached[0] is trial:
            return cached[1]
        doc = hyperopt_document(trial, self._labels(), self._exp_key)
        self._docs[trial.tid] = (trial, doc)
        return doc

    def _labels(self) -> list[str]:
        space = self.study.space if self.study is not None else None
        return space.labels if space is not None else []

    def __len__(self) -> int:
        return len(self._shown())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.trials)

    def __getitem__(self, index: Any) -> Any:
        """The document(s) at position ``index`` (hyperopt's Trials is not subscriptable)."""
        return self.trials[index]

    @property
    def tids(self) -> list[int]:
        return [t.tid for t in self._shown()]

    @property
    def specs(self) -> list[Any]:
        return [doc["spec"] for doc in self.trials]

    @property
    def results(self) -> list[dict[str, Any]]:
        return [doc["result"] for doc in self.trials]

    @property
    def miscs(self) -> list[dict[str, Any]]:
        return [doc["misc"] for doc in self.trials]

    @property
    def idxs_vals(self) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
        """Per label, the ids of the trials where it was active and its values there."""
        idxs: dict[str, list[Any]] = {label: [] for label in self._labels()}
        vals: dict[str, list[Any]] = {label: [] for label in self._labels()}
        for misc in self.miscs:
            for label in idxs:
                idxs[label].extend(misc["idxs"][label])
                vals[label].extend(misc["vals"][label])
        return idxs, vals

    @property
    def idxs(self) -> dict[str, list[Any]]:
        return self.idxs_vals[0]

    @property
    def vals(self) -> dict[str, list[Any]]:
        return self.idxs_vals[1]

    def losses(self, bandit: Any = None) -> list[Any]:
        if bandit is None:
            return [r.get("loss") for r in self.results]
        return list(map(bandit.loss, self.results, self.specs))

    def statuses(self, bandit: Any = None) -> list[Any]:
        if bandit is None:
            return [r.get("status") for r in self.results]
        return list(map(bandit.status, self.results, self.specs))

    @property
    def best_trial(self) -> dict[str, Any]:
        """The document of the successful trial with the lowest loss (the first on ties)."""
        if self.study is None or not self.study.ok_trials:
            raise AllTrialsFailed("no trial has status 'ok' with a loss")
        return self._document(self.study.best_trial)

    @property
    def argmin(self) -> dict[str, Any]:
        """The best trial's flat point: label -> value, choices as indices."""
        return {k: v[0] for k, v in self.best_trial["misc"]["vals"].items() if v}


class MongoTrials(Trials):
    """hyperopt's ``MongoTrials``: ``MongoTrials("mongo://host:27017/db/jobs", exp_key=...)``.

    A :class:`Trials` on bbopt's MongoDB storage (database ``db``; the study is named
    ``exp_key``). ``fmin`` with it runs hyperopt's MongoDB mode through bbopt's work
    queue: it stores ``fn`` pickled and keeps ``max_queue_len`` trials waiting, and
    ``bbopt-mongo-worker --mongo=host:27017/db --allow-pickle`` processes run them
    (unpickling runs code from the database: only for databases you trust).
    """

    def __init__(self, arg: str, exp_key: str | None = None, refresh: bool = True) -> None:
        from bbopt.storage.mongo import MongoStorage, hyperopt_url

        super().__init__(exp_key, refresh, storage=MongoStorage(hyperopt_url(arg)))


def hyperopt_document(trial: Trial, labels: list[str], exp_key: str | None) -> dict[str, Any]:
    """A bbopt trial as the document hyperopt's ``Trials`` keeps for it."""
    tid, flat = trial.tid, trial.flat_params
    if trial.finished:  # loss, status and extras, as the objective returned them
        result = {k: v for k, v in trial.result_dict().items() if k != "loss" or v is not None}
    else:
        result = {"status": STATUS_NEW}
    return {
        "state": _JOB_STATES[trial.state],
        "tid": tid,
        "spec": None,
        "result": result,
        "misc": {
            "tid": tid,
            "cmd": _CMD,
            "workdir": None,
            "idxs": {label: [tid] if label in flat else [] for label in labels},
            "vals": {label: [flat[label]] if label in flat else [] for label in labels},
        },
        "exp_key": exp_key,
        "owner": trial.worker,
        "version": 0,
        "book_time": _naive_utc(trial.started_at),
        "refresh_time": _naive_utc(trial.finished_at or trial.started_at),
    }


def _naive_utc(moment: datetime | None) -> datetime | None:
    """hyperopt's timestamps: UTC without a time zone, to the millisecond."""
    if moment is None:
        return None
    moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
