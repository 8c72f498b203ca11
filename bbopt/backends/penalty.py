"""Failed trials for optimizers that have no failed state: told as the worst loss seen.

scikit-optimize's and SMAC's models need a number for every point they are told. A
failure is told with the worst ok loss so far (it is ranked with the worst point,
and the loss scale stays the one of real results). Failures before the first ok
loss wait and are told with that first loss, since there is no scale to borrow yet.
"""

from __future__ import annotations

from typing import Generic, TypeVar

Point = TypeVar("Point")


class FailurePenalty(Generic[Point]):
    """Which (point, loss) pairs to tell now; ``worst`` is the worst ok loss so far."""

    def __init__(self) -> None:
        self.worst: float | None = None
        self._waiting: list[Point] = []

    def resolve(self, point: Point, loss: float | None) -> list[tuple[Point, float]]:
        """``point`` with its ``loss`` (None for a failure) and any failures released by it."""
        if loss is not None:
            self.worst = loss if self.worst is None else max(self.worst, loss)
            released, self._waiting = self._waiting, []
            return [(point, loss)] + [(waiting, self.worst) for waiting in released]
        if self.worst is None:
            self._waiting.append(point)
            return []
        return [(point, self.worst)]
