"""The run's progress bar (tqdm), and the warning that a run was interrupted."""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

from bbopt.study import Study


class Progress:
    """The run's progress bar (when enabled or stderr is a terminal): one step per finished
    trial, showing the best loss so far."""

    def __init__(self, enabled: bool | None, total: int, initial: int, desc: str) -> None:
        self.bar: Any = None
        if enabled if enabled is not None else sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, initial=initial, desc=desc, unit="trial", dynamic_ncols=True
            )

    def step(self, best_loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if math.isfinite(best_loss):
                self.bar.set_postfix(best=f"{best_loss:.6g}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def warn_interrupted(study: Study) -> None:
    """Tell the user a run stopped on Ctrl-C; the finished trials are kept."""
    warnings.warn(
        f"study {study.name!r} interrupted after {len(study.finished_trials)} finished trials",
        RuntimeWarning,
        stacklevel=4,
    )
