"""A Study: the trials of one optimization, kept in a storage, with its best and exports.

A study reads and writes its trials through a :class:`~bbopt.storage.Storage`
(in memory by default, SQLite for anything that must survive a crash) and keeps a
copy of them for reading. The storage gives trial ids; several processes may
share one study (:meth:`Study.refresh` brings in what the others did).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bbopt.errors import MissingDependencyError, NoSuccessfulTrialError
from bbopt.space import Distribution, Space
from bbopt.storage import (
    DuplicateTrialError,
    InMemoryStorage,
    Storage,
    StorageContentError,
    StorageError,
    StudyRecord,
)
from bbopt.storage.owners import current_owner, owner_is_gone
from bbopt.trial import Trial, TrialState

if TYPE_CHECKING:
    import pandas

#: Trials that count toward no limit: abandoned ones (re-run later) and queued re-runs.
NOT_STARTED = frozenset({TrialState.ABANDONED, TrialState.QUEUED})


class Study:
    """Trials plus what is needed to read them: the space, objective and backend names.

    ``backend``, ``backend_options`` and ``seed`` are those of the run that writes the
    study now (each new trial records them); :attr:`record` is the study as stored,
    with the settings it was created with.
    """

    def __init__(
        self,
        name: str,
        space: Space | None,
        *,
        objective: str = "",
        backend: str = "",
        backend_options: dict[str, Any] | None = None,
        seed: int | None = None,
        f_star: float | None = None,
        storage: Storage | None = None,
        versions: dict[str, str] | None = None,
    ) -> None:
        self.storage = storage if storage is not None else InMemoryStorage()
        self.space = space
        self.backend_name = backend
        self.backend_options = dict(backend_options or {})
        self.seed = seed
        self.owner = current_owner()
        self.record = StudyRecord(
            name=name,
            objective=objective,
            backend=backend,
            backend_options=dict(self.backend_options),
            seed=seed,
            f_star=f_star,
            space=space.to_json() if space is not None else {},
            fingerprint=space.fingerprint() if space is not None else "",
            versions=dict(versions or {}),
        )
        self.stop_reason: str | None = None  # why the last run stopped (set by the loop)
        self._slots: list[Trial | None] = []  # trial ``tid`` at index ``tid``
        self._holes = 0  # empty slots: ids a storage skipped, or others' trials not read yet
        self._settled = 0  # every trial below this id is settled (see :func:`_settled`)
        self._stored = False  # the record is in the storage (written with the first trial)

    @classmethod
    def open(cls, storage: Storage, wanted: Study) -> Study:
        """``wanted`` (a new study's name, space and run settings) on ``storage``: the stored
        study of that name, resumed, or ``wanted`` itself, stored with its first trial.

        Reopening checks the objective and space against the stored record, abandons
        running trials whose process has ended and queues one re-run of every
        abandoned trial; nothing is written if the study does not match.
        """
        wanted.storage = storage
        stored = storage.get_study(wanted.name)
        if stored is None:
            return wanted
        problem = stored.mismatch(wanted.record)
        if problem:
            raise StorageError(problem)
        wanted.attach(stored)
        wanted.recover()
        return wanted

    def attach(self, stored: StudyRecord) -> None:
        """Bind this study to its stored record and read its trials."""
        self.record = stored
        self._stored = True
        self.refresh()

    def __repr__(self) -> str:
        return (
            f"<Study {self.name!r}: {len(self)} trials, "
            f"objective={self.objective_name!r}, backend={self.backend_name!r}>"
        )

    # -- what the study is -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def objective_name(self) -> str:
        return self.record.objective

    @property
    def f_star(self) -> float | None:
        return self.record.f_star

    @property
    def versions(self) -> dict[str, str]:
        """bbopt, Python and backend library versions of the run that created the study."""
        return dict(self.record.versions)

    # -- trials ------------------------------------------------------------------------

    @property
    def trials(self) -> list[Trial]:
        """Every trial, in id order (read it, do not change the list)."""
        if self._holes:
            return [t for t in self._slots if t is not None]
        return self._slots  # type: ignore[return-value]  # no None without holes

    def trial(self, tid: int) -> Trial | None:
        """The trial with id ``tid``, if this study has read it."""
        return self._slots[tid] if 0 <= tid < len(self._slots) else None

    def __len__(self) -> int:
        return len(self._slots) - self._holes

    def __iter__(self) -> Iterator[Trial]:
        return iter(self.trials)

    def _keep(self, trial: Trial) -> None:
        tid = trial.tid
        if tid >= len(self._slots):
            self._holes += tid - len(self._slots)
            self._slots.extend([None] * (tid - len(self._slots)))
            self._slots.append(trial)
            return
        if self._slots[tid] is None:
            self._holes -= 1
        self._slots[tid] = trial

    def store(self) -> None:
        """Write the study's record to its storage, unless it is there (the first trial
        does it otherwise)."""
        if not self._stored:
            if not self.record.created_at:  # the time it is first stored
                self.record.created_at = datetime.now(timezone.utc).isoformat()
            self.attach(self.storage.create_study(self.record))

    def add_trial(self, trial: Trial, *, limit: int | None = None) -> Trial:
        """Store ``trial`` as a new trial of this study and give it the id the storage chose
        (with ``limit``: only while the study holds fewer trials that are not re-runs, else
        :class:`~bbopt.storage.StudyFullError`)."""
        self.store()
        trial.tid = self.storage.add_trial(self.name, trial, limit=limit)
        gap = trial.tid > len(self._slots)  # others added trials meanwhile
        self._keep(trial)
        if gap and self.storage.shared:
            self.refresh()
        return trial

    def update_trial(self, trial: Trial, *, expected_state: TrialState | None = None) -> bool:
        """Store the new state of ``trial`` (only if the stored trial is in
        ``expected_state``, when given); returns whether it was stored."""
        written = self.storage.update_trial(self.name, trial, expected_state=expected_state)
        if written:
            self._keep(trial)
        return written

    def refresh(self) -> list[Trial]:
        """Read what other processes changed: new trials, new states (or heartbeats, see
        :mod:`bbopt.execution.queue`) of the trials not finished here, and the reports of
        other processes' running trials (so that a pruner here sees how they are doing).
        Returns the trials that are new or changed."""
        if not self._stored:
            return []
        changed = []
        labels = set(self.space.params) if self.space is not None else None
        for trial in self.storage.get_trials(self.name, after=self._first_unsettled() - 1):
            if labels is not None:
                self._check_labels(trial, labels)
            known = self.trial(trial.tid)
            if (
                known is None
                or known.state is not trial.state
                or known.heartbeat_at != trial.heartbeat_at
                or self._reported_elsewhere(known, trial)
            ):
                self._keep(trial)
                changed.append(trial)
        return changed

    def _check_labels(self, stored: Trial, labels: set[str]) -> None:
        """A StorageContentError if a stored trial has a label outside ``labels``, the live
        space's (the stored space matched it, so bbopt did not write that point)."""
        unknown = sorted(set(stored.flat_params) - labels)
        if unknown:
            raise StorageContentError(
                f"study {self.name!r}, trial {stored.tid}: field 'flat_params' has label(s) "
                f"{unknown} that its space does not have"
            )

    def _reported_elsewhere(self, known: Trial, stored: Trial) -> bool:
        """A trial running in another process whose stored reports are new to this one
        (this process's own running trials have their latest reports in memory)."""
        return (
            stored.state is TrialState.RUNNING
            and stored.owner != self.owner
            and stored.intermediate != known.intermediate
        )

    def recover(self) -> None:
        """Abandon running trials whose process has ended and queue one re-run of every
        abandoned trial not re-run yet (the queued re-runs go first when the study runs)."""
        for trial in list(self.trials):
            if trial.state is TrialState.RUNNING and owner_is_gone(trial.owner):
                abandoned = dataclasses.replace(
                    trial,
                    state=TrialState.ABANDONED,
                    error=_orphan_error(trial),
                    finished_at=datetime.now(timezone.utc),
                )
                self.update_trial(abandoned, expected_state=TrialState.RUNNING)
        rerun = {t.retry_of for t in self.trials if t.retry_of is not None}
        for trial in list(self.trials):
            if trial.state is TrialState.ABANDONED and trial.tid not in rerun:
                self.queue_rerun(trial)

    def queue_rerun(self, abandoned: Trial) -> Trial | None:
        """Queue the one re-run of ``abandoned`` (its point, evaluated again before new
        ones); None when another process queued it first."""
        queued = Trial(
            tid=-1,
            flat_params=abandoned.flat_params,
            state=TrialState.QUEUED,
            backend=abandoned.backend,
            seed=abandoned.seed,
            origin=abandoned.origin.retried(),
            owner=self.owner,
            retry_of=abandoned.tid,
            budget=abandoned.budget,
        )
        try:
            return self.add_trial(queued)
        except DuplicateTrialError:
            self.refresh()
            return None

    def show_orphans_as_abandoned(self) -> None:
        """Show running trials whose process has ended as abandoned, in this copy only
        (a reader writes nothing; :meth:`recover` stores it when the study runs again)."""
        for trial in self.trials:
            if trial.state is TrialState.RUNNING and owner_is_gone(trial.owner):
                trial.state = TrialState.ABANDONED
                trial.error = _orphan_error(trial)

    def _first_unsettled(self) -> int:
        """The lowest id whose trial may still change (every trial below is settled)."""
        start = self._settled
        while start < len(self._slots) and _settled(self._slots[start]):
            start += 1
        self._settled = start
        return start

    @property
    def active_trials(self) -> list[Trial]:
        """Queued and running trials, in id order."""
        return [
            t
            for t in self._slots[self._first_unsettled() :]
            if t is not None and t.state in (TrialState.QUEUED, TrialState.RUNNING)
        ]

    @property
    def queued_trials(self) -> list[Trial]:
        """Trials waiting to be evaluated (re-runs of abandoned trials, points queued for
        queue workers), in id order."""
        return [t for t in self.active_trials if t.state is TrialState.QUEUED]

    @property
    def finished_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.finished]

    @property
    def ok_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.ok and t.loss is not None]

    def count_started(self) -> int:
        """Trials that count toward ``max_evals``: all but abandoned and queued ones."""
        return sum(t.state not in NOT_STARTED for t in self.trials)

    @property
    def results(self) -> list[dict[str, Any]]:
        """One dict per finished trial, like hyperopt's ``trials.results``."""
        return [t.result_dict() for t in self.finished_trials]

    @property
    def losses(self) -> list[float | None]:
        return [t.loss for t in self.finished_trials]

    @property
    def best_trial(self) -> Trial:
        """The successful trial with the lowest loss (the earliest one on ties)."""
        ok = self.ok_trials
        if not ok:
            raise NoSuccessfulTrialError(self._no_success_message())
        return min(ok, key=lambda t: (t.loss, t.tid))

    @property
    def best_params(self) -> Any:
        """Parameters of the best trial (choice values, never indices).

        The nested configuration; a space that is one bare parameter gives
        ``{label: value}``, like hyperopt's ``fmin`` result.
        """
        return self.named_params(self.best_trial.params)

    def named_params(self, params: Any) -> Any:
        """``params`` as users see them: ``{label: value}`` when the whole space is one
        bare parameter, else the nested configuration unchanged."""
        if self.space is not None and isinstance(self.space.tree, Distribution):
            return {self.space.tree.label: params}
        return params

    def described_space(self) -> Space:
        """The live space, else the stored description of it as an inert Space (data only:
        its transforms are never imported or called); StorageContentError if the stored
        description is not one."""
        if self.space is not None:
            return self.space
        try:
            return Space.from_json(self.record.space)
        except ValueError as exc:
            raise StorageContentError(f"study {self.name!r}: field 'space': {exc}") from None

    def shown_params(self, trial: Trial) -> Any:
        """A trial's parameters for display: the stored nested ones when it has them, else
        built from its flat point with the live objective's space, else the flat point."""
        if trial.params is not None:
            return self.named_params(trial.params)
        if self.space is not None:
            try:
                return self.named_params(self.space.to_params(trial.flat_params))
            except Exception:  # a transform that fails on this point
                pass
        return trial.flat_params

    @property
    def best_loss(self) -> float:
        loss = self.best_trial.loss
        assert loss is not None
        return loss

    def best_so_far(self) -> list[float | None]:
        """Best loss after each finished trial, in trial order (None before the first success)."""
        best: float | None = None
        curve: list[float | None] = []
        for trial in self.finished_trials:
            if trial.ok and trial.loss is not None and (best is None or trial.loss < best):
                best = trial.loss
            curve.append(best)
        return curve

    def count_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for trial in self.trials:
            counts[trial.state.value] = counts.get(trial.state.value, 0) + 1
        return counts

    def _no_success_message(self) -> str:
        if not self.trials:
            return f"study {self.name!r} has no trials yet"
        counts = sorted(self.count_by_state().items())
        states = ", ".join(f"{n} {state}" for state, n in counts)
        message = f"no trial of study {self.name!r} succeeded ({states})"
        failed = [t for t in self.trials if t.state is TrialState.FAILED]
        first_error = (failed[0].error or "no error text").strip().splitlines() if failed else []
        return f"{message}; first error: {first_error[-1]}" if first_error else message

    # -- export -------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows for tables: one per trial, parameters as ``params.<path>`` columns; a
        trial's reports as ``last_step`` and ``intermediate`` (JSON: step -> value)."""
        return [_row(t, self.shown_params(t)) for t in self.trials]

    def intermediate_rows(self) -> list[dict[str, Any]]:
        """The learning curves in long form: one row (tid, state, step, value) per report."""
        return [
            {"tid": t.tid, "state": t.state.value, "step": step, "value": value}
            for t in self.trials
            for step, value in t.intermediate.items()
        ]

    def intermediate_dataframe(self) -> pandas.DataFrame:
        """:meth:`intermediate_rows` as a pandas DataFrame."""
        pandas = _pandas("Study.intermediate_dataframe")
        return pandas.DataFrame(self.intermediate_rows(), columns=["tid", "state", "step", "value"])

    def to_dataframe(self) -> pandas.DataFrame:
        return _pandas("Study.to_dataframe").DataFrame(self.rows())

    def to_csv(self, path: str | Path, *, intermediate: bool = False) -> Path:
        """One row per trial; with ``intermediate``, one per report
        (:meth:`intermediate_rows`)."""
        rows = self.intermediate_rows() if intermediate else self.rows()
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        path = Path(path)
        columns = columns or (["tid", "state", "step", "value"] if intermediate else [])
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        return path

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "objective": self.objective_name,
            "backend": self.backend_name,
            "backend_options": self.backend_options,
            "seed": self.seed,
            "f_star": self.f_star,
            "space": self.record.space,
            "trials": [t.to_dict() for t in self.trials],
        }

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(export_json(self.to_dict(), indent=1))
        return path

    # -- plots (matplotlib is imported only here) ---------------------------------

    def plot_history(self, path: str | Path | None = None) -> Any:
        """Loss per trial with the best-so-far line; saved as PNG when ``path`` is given."""
        from bbopt import plots

        return plots.plot_history(self, path)

    def plot_params(self, path: str | Path | None = None) -> Any:
        """Loss against each parameter (only trials where it was active)."""
        from bbopt import plots

        return plots.plot_params(self, path)

    def plot_intermediate(self, path: str | Path | None = None) -> Any:
        """The learning curves (reported value against step), pruned trials marked."""
        from bbopt import plots

        return plots.plot_intermediate(self, path)


def _pandas(what: str) -> Any:
    try:
        import pandas
    except ImportError:
        raise MissingDependencyError("pandas", "export", what) from None
    return pandas


def _orphan_error(trial: Trial) -> str:
    return f"abandoned: process {trial.owner} ended while running it"


def _settled(trial: Trial | None) -> bool:
    """Finished or abandoned: a trial whose record no process changes any more."""
    return trial is not None and (trial.finished or trial.state is TrialState.ABANDONED)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """``value``'s leaves as ``out[prefix.path]``; a key holding a dot is quoted
    (``params."a.b"``), so that it keeps a column apart from ``{"a": {"b": ...}}``."""
    if isinstance(value, dict):
        for key, item in value.items():
            part = json.dumps(key) if isinstance(key, str) and "." in key else key
            _flatten(f"{prefix}.{part}", item, out)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _flatten(f"{prefix}.{index}", item, out)
    else:
        out[prefix] = value


def export_json(value: Any, indent: int | None = None) -> str:
    """``value`` as strict JSON, every NaN or infinite float written as null: exports are
    read by other tools, and ``NaN``/``Infinity`` are not JSON (JavaScript's
    ``JSON.parse`` refuses them). Values JSON has no type for are written as their repr."""
    return json.dumps(_finite_or_none(value), indent=indent, default=repr, allow_nan=False)


def _finite_or_none(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars as Python numbers, non-finite ones None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    return value


def _row(trial: Trial, params: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"tid": trial.tid, "state": trial.state.value, "loss": trial.loss}
    _flatten("params", params, row)
    for key, value in trial.extras.items():
        row[f"extras.{key}"] = value if not isinstance(value, (dict, list)) else export_json(value)
    row.update(
        {
            "error": (trial.error or "").strip().splitlines()[-1] if trial.error else None,
            "started_at": trial.started_at.isoformat() if trial.started_at else None,
            "finished_at": trial.finished_at.isoformat() if trial.finished_at else None,
            "duration": trial.duration,
            "worker": trial.worker,
            "backend": trial.backend,
            "seed": trial.seed,
            "origin": trial.origin.value,
            "budget": trial.budget,
            "last_step": next(reversed(trial.intermediate)) if trial.intermediate else None,
            "intermediate": export_json(trial.intermediate) if trial.intermediate else None,
        }
    )
    return row
