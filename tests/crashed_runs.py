"""Stored studies as a killed process leaves them: trials still marked running, owned by
a process of this host that has ended (tests import these helpers)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

from bbopt.storage import Storage
from bbopt.trial import Trial, TrialState


def dead_owner() -> str:
    """The owner stamp of a process of this host that has ended."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return f"{socket.gethostname()}:{done.stdout.strip()}:1"


def leave_running(
    storage: Storage, study: str, points: Iterable[dict[str, Any]], backend: str, seed: int
) -> None:
    """Add ``points`` as the trials a killed run had in flight: its backend's
    suggestions, still marked running."""
    owner = dead_owner()
    for point in points:
        trial = Trial(tid=-1, flat_params=point, state=TrialState.RUNNING, owner=owner)
        trial.backend, trial.seed = backend, seed
        storage.add_trial(study, trial)
