"""Trial and Result records: what was tried, what came back, when and where.

A :class:`Result` is what one evaluation of an objective returned (a loss, hyperopt's
``"ok"``/``"fail"`` status, extras). A :class:`Trial` is the record of one point of
the search: its one :class:`TrialState`, where it came from (:class:`TrialOrigin`),
its result and its times. Trials are plain data: storages keep them as JSON
(:meth:`Trial.to_dict` / :meth:`Trial.from_dict`).
"""

from __future__ import annotations

import json
import math
import numbers
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

import numpy as np

STATUS_OK = "ok"
STATUS_FAIL = "fail"
"""The statuses an objective may return (hyperopt's ``STATUS_OK`` / ``STATUS_FAIL``)."""


class TrialState(str, Enum):
    """Where a trial is in its life; the one truth about it."""

    QUEUED = "queued"  # waiting to be evaluated (a re-run, or a point queued for workers)
    RUNNING = "running"
    DONE = "done"  # finished with a loss
    FAILED = "failed"  # finished without a usable loss (exception, NaN, status "fail")
    PRUNED = "pruned"  # stopped early by a pruner; its last reported value stands
    ABANDONED = "abandoned"  # its run ended before it finished (crash, interrupt); re-run later

    @property
    def finished(self) -> bool:
        """Done, failed or pruned: the trial has its final outcome."""
        return self in _FINISHED


_FINISHED = frozenset({TrialState.DONE, TrialState.FAILED, TrialState.PRUNED})


class TrialOrigin(str, Enum):
    """Who chose a trial's point."""

    BACKEND = "backend"  # suggested by the backend
    WARM_START = "warm_start"  # given by the user (``points_to_evaluate``)
    RETRY = "retry"  # a re-run of an abandoned backend trial

    def retried(self) -> TrialOrigin:
        """The origin of the re-run of an abandoned trial of this origin: a user's point
        stays the user's; a backend point becomes a retry (still the backend's suggestion,
        so a seeded backend stays on its sequence when it is told)."""
        return self if self is TrialOrigin.WARM_START else TrialOrigin.RETRY


class ResultError(ValueError):
    """An objective returned something bbopt cannot record as a result."""


def to_builtin(value: Any) -> Any:
    """numpy scalars and arrays -> plain Python values, recursively, so records are JSON-able."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_builtin(v) for v in value)
    return value


def _checked_extras(extras: dict[Any, Any]) -> dict[str, Any]:
    """Extras as JSON-able builtins with string keys, or a :class:`ResultError` naming the
    offending key."""
    clean = to_builtin(extras)
    for key in clean:
        if not isinstance(key, str):
            raise ResultError(f"extras keys must be strings, got {key!r} ({type(key).__name__})")
    try:
        json.dumps(clean, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ResultError(f"extras must be JSON-serialisable: {exc}") from None
    return clean


def as_loss(value: Any) -> float:
    """A loss as a float; only real numbers (not bools, not strings) qualify."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ResultError(f"loss must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


@dataclass
class Result:
    """What one evaluation returned: a loss to minimize, a status and free-form extras."""

    loss: float | None
    status: str = STATUS_OK
    extras: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    intermediate: dict[int, float] = field(default_factory=dict)  # step -> reported value
    pruned: bool = False  # stopped by the pruner: ``loss`` is the last reported value

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK and not self.pruned

    @classmethod
    def from_pruned(cls, loss: float | None, intermediate: dict[int, float]) -> Result:
        """A trial the pruner stopped: its last reported value (None if not finite) stands."""
        return cls(loss, STATUS_FAIL, {}, None, dict(intermediate), pruned=True)

    @classmethod
    def from_value(cls, value: Any) -> Result:
        """Normalize what an objective returned: a number, a dict or a Result.

        A NaN or infinite loss, or an ``ok`` result without a loss, becomes a failure;
        a loss that is not a real number, an unknown status or extras that cannot be
        stored raise :class:`ResultError` (the trial fails with that message).
        """
        if isinstance(value, Result):
            loss, status, extras, error = value.loss, value.status, value.extras, value.error
        elif isinstance(value, dict):
            extras = {k: v for k, v in value.items() if k not in ("loss", "status")}
            status, loss = value.get("status", STATUS_OK), value.get("loss")
            error = extras.pop("error", None)
        else:
            loss, status, extras, error = as_loss(value), STATUS_OK, {}, None
        if status not in (STATUS_OK, STATUS_FAIL):
            raise ResultError(f"status must be 'ok' or 'fail', got {status!r}")
        result = cls(
            None if loss is None else as_loss(loss),
            status,
            _checked_extras(extras),
            None if error is None else str(error),
        )
        if result.ok:
            if result.loss is None:
                return cls(None, STATUS_FAIL, result.extras, "objective returned no loss")
            if not math.isfinite(result.loss):
                return cls(None, STATUS_FAIL, result.extras, f"loss is {result.loss}")
        return result

    @classmethod
    def from_exception(cls, exc: BaseException) -> Result:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(None, STATUS_FAIL, {}, text.strip())


@dataclass
class Trial:
    """One evaluation of the objective at one point of the space.

    ``owner`` names the process running (or holding, when queued) the trial, so a
    trial whose process died can be told from one still running; ``heartbeat_at`` is
    when a queue worker running it last said it was alive; ``retry_of`` is the id of
    the abandoned trial this one re-runs.
    """

    tid: int
    flat_params: dict[str, Any]
    params: Any = None
    state: TrialState = TrialState.RUNNING
    loss: float | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration: float | None = None
    suggest_duration: float | None = None  # backend seconds: ask + the tells since the last ask
    worker: str | None = None
    backend: str | None = None
    seed: int | None = None
    origin: TrialOrigin = TrialOrigin.BACKEND
    owner: str | None = None
    retry_of: int | None = None
    intermediate: dict[int, float] = field(default_factory=dict)  # step -> reported value
    budget: float | None = None  # the fidelity a multi-fidelity backend chose (None: all)
    heartbeat_at: datetime | None = None

    @property
    def ok(self) -> bool:
        """Finished with a loss (state DONE)."""
        return self.state is TrialState.DONE

    @property
    def finished(self) -> bool:
        return self.state.finished

    @property
    def status(self) -> str:
        """hyperopt's status string for this trial's result: ``"ok"`` when done."""
        return STATUS_OK if self.ok else STATUS_FAIL

    def result_dict(self) -> dict[str, Any]:
        """hyperopt's ``trials.results`` entry: loss, status and the extras."""
        out: dict[str, Any] = {"loss": self.loss, "status": self.status}
        out.update(self.extras)
        if self.error is not None:
            out["error"] = self.error
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "tid": self.tid,
            "state": self.state.value,
            "loss": self.loss,
            "params": self.params,
            "flat_params": self.flat_params,
            "extras": self.extras,
            "error": self.error,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration": self.duration,
            "suggest_duration": self.suggest_duration,
            "worker": self.worker,
            "backend": self.backend,
            "seed": self.seed,
            "origin": self.origin.value,
            "owner": self.owner,
            "retry_of": self.retry_of,
            "intermediate": {str(step): value for step, value in self.intermediate.items()},
            "budget": self.budget,
            "heartbeat_at": _iso(self.heartbeat_at),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Trial:
        """A Trial from :meth:`to_dict`'s output, checking every field.

        Raises :class:`TrialRecordError` naming the first bad field.
        """
        if not isinstance(data, dict):
            raise TrialRecordError("record", f"is not an object: {type(data).__name__}")
        reader = _FieldReader(data)
        trial = cls(
            tid=reader.get("tid", _integer, required=True),
            flat_params=reader.get("flat_params", _flat, required=True),
            params=data.get("params"),
            state=reader.get("state", TrialState, required=True),
            loss=reader.get("loss", _number),
            extras=reader.get("extras", _object) or {},
            error=reader.get("error", _text),
            started_at=reader.get("started_at", _moment),
            finished_at=reader.get("finished_at", _moment),
            duration=reader.get("duration", _number),
            suggest_duration=reader.get("suggest_duration", _number),
            worker=reader.get("worker", _text),
            backend=reader.get("backend", _text),
            seed=reader.get("seed", _integer),
            origin=reader.get("origin", TrialOrigin) or TrialOrigin.BACKEND,
            owner=reader.get("owner", _text),
            retry_of=reader.get("retry_of", _integer),
            intermediate=reader.get("intermediate", _steps) or {},
            budget=reader.get("budget", _number),
            heartbeat_at=reader.get("heartbeat_at", _moment),
        )
        done = trial.state is TrialState.DONE  # bbopt records a NaN or inf loss as failed
        if done and trial.loss is not None and not math.isfinite(trial.loss):
            raise TrialRecordError("loss", f"of a done trial is {trial.loss}")
        return trial


class TrialRecordError(ValueError):
    """A stored trial record with a field that is missing or of the wrong kind."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"field {field_name!r} {problem}")
        self.field = field_name


class _FieldReader:
    """Reads one field at a time, turning conversion errors into :class:`TrialRecordError`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def get(self, name: str, convert: Any, required: bool = False) -> Any:
        if name not in self.data or self.data[name] is None:
            if required:
                raise TrialRecordError(name, "is missing")
            return None
        value = self.data[name]
        try:
            return convert(value)
        except (TypeError, ValueError, OverflowError):
            raise TrialRecordError(name, f"has a bad value: {value!r:.80}") from None


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(value)
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(value)
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(value)
    return dict(value)


def _flat(value: Any) -> dict[str, Any]:
    flat = _object(value)
    for label, item in flat.items():
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise TypeError(f"{label}={item!r}")
    return flat


def _moment(value: Any) -> datetime:
    return datetime.fromisoformat(_text(value))


def _steps(value: Any) -> dict[int, float]:
    return {int(step): _number(item) for step, item in _object(value).items()}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
