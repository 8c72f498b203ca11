"""Trial and Result records: what was tried, what came back, when and where."""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

import numpy as np

STATUS_OK = "ok"
STATUS_FAIL = "fail"


class TrialState(str, Enum):
    """Where a trial is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    ABANDONED = "abandoned"  # was running when its process died; never finished


def to_builtin(value: Any) -> Any:
    """numpy scalars and arrays -> plain Python values, recursively, so records are JSON-able."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_builtin(v) for v in value)
    return value


@dataclass
class Result:
    """What one evaluation returned: a loss to minimize, a status and free-form extras."""

    loss: float | None
    status: str = STATUS_OK
    extras: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def from_value(cls, value: Any) -> Result:
        """Normalize what an objective returned: a number, a dict or a Result.

        A NaN or infinite loss, or an ``ok`` dict without a loss, becomes a failure.
        """
        if isinstance(value, Result):
            result = value
        elif isinstance(value, dict):
            extras = {k: to_builtin(v) for k, v in value.items() if k not in ("loss", "status")}
            status = value.get("status", STATUS_OK)
            if status not in (STATUS_OK, STATUS_FAIL):
                raise ValueError(f"status must be 'ok' or 'fail', got {status!r}")
            loss = value.get("loss")
            error = extras.pop("error", None)
            result = cls(_as_float(loss), status, extras, None if error is None else str(error))
        else:
            result = cls(_as_float(value))
        if result.status == STATUS_OK:
            if result.loss is None:
                return cls(None, STATUS_FAIL, result.extras, "objective returned no loss")
            if not math.isfinite(result.loss):
                return cls(None, STATUS_FAIL, result.extras, f"loss is {result.loss}")
        return result

    @classmethod
    def from_exception(cls, exc: BaseException) -> Result:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(None, STATUS_FAIL, {}, text.strip())


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"an objective must return a number or a dict with 'loss', got {value!r}"
        ) from None


@dataclass
class Trial:
    """One evaluation of the objective at one point of the space."""

    tid: int
    flat_params: dict[str, Any]
    params: Any = None
    state: TrialState = TrialState.RUNNING
    loss: float | None = None
    status: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration: float | None = None
    worker: str | None = None
    backend: str | None = None
    seed: int | None = None
    origin: str = "backend"  # "backend", "warm_start" or "retry" (a re-run abandoned trial)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def finished(self) -> bool:
        return self.state in (TrialState.DONE, TrialState.FAILED)

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
            "status": self.status,
            "loss": self.loss,
            "params": self.params,
            "flat_params": self.flat_params,
            "extras": self.extras,
            "error": self.error,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration": self.duration,
            "worker": self.worker,
            "backend": self.backend,
            "seed": self.seed,
            "origin": self.origin,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trial:
        return cls(
            tid=int(data["tid"]),
            flat_params=dict(data["flat_params"]),
            params=data.get("params"),
            state=TrialState(data["state"]),
            loss=data.get("loss"),
            status=data.get("status"),
            extras=dict(data.get("extras") or {}),
            error=data.get("error"),
            started_at=_parse_time(data.get("started_at")),
            finished_at=_parse_time(data.get("finished_at")),
            duration=data.get("duration"),
            worker=data.get("worker"),
            backend=data.get("backend"),
            seed=data.get("seed"),
            origin=data.get("origin", "backend"),
        )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
