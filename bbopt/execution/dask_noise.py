"""Logging filters for two tracebacks Dask logs when bbopt stops a run it was told to
stop (Ctrl-C, or a trial killed on timeout): races inside ``distributed`` whose error
is expected there, printed on the user's terminal as if something had failed.

* The driver: a trial's task finishes as bbopt cancels it; the Client's executor view
  then fails to gather it and Tornado logs the ``FutureCancelledError`` of that key.
* A worker: as its LocalCluster closes it, the heartbeat in flight finds the worker's
  connection pool closing and logs "Failed to communicate with scheduler".

Each filter drops only that record, and only in that situation; every other record of
those loggers passes.
"""

from __future__ import annotations

import logging
from typing import Any

TRIAL_KEY_PREFIX = "bbopt-trial-"


class CancelledTrialNoise(logging.Filter):
    """Drops Tornado's error about a bbopt trial's future that bbopt cancelled."""

    def filter(self, record: logging.LogRecord) -> bool:
        from distributed.client import FutureCancelledError

        error = record.exc_info[1] if record.exc_info else None
        ours = isinstance(error, FutureCancelledError)
        return not (ours and str(error.key).startswith(TRIAL_KEY_PREFIX))  # type: ignore[union-attr]


class ClosingHeartbeatNoise(logging.Filter):
    """Drops the heartbeat error of a worker that is closing (the scheduler it beats
    to is going away with it)."""

    def __init__(self, worker: Any) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        from distributed.core import Status

        closing = self.worker.status in (Status.closing, Status.closing_gracefully, Status.closed)
        return not (closing and record.getMessage().startswith("Failed to communicate"))


def quiet_cancelled_trials() -> None:
    """Install :class:`CancelledTrialNoise` on Tornado's logger, once per process."""
    logger = logging.getLogger("tornado.application")
    if not any(isinstance(f, CancelledTrialNoise) for f in logger.filters):
        logger.addFilter(CancelledTrialNoise())


def quiet_closing_heartbeat(worker: Any) -> None:
    """Install :class:`ClosingHeartbeatNoise` for ``worker`` on its logger."""
    logger = logging.getLogger("distributed.worker")
    if not any(isinstance(f, ClosingHeartbeatNoise) for f in logger.filters):
        logger.addFilter(ClosingHeartbeatNoise(worker))
