"""The Backend interface: how to search. Two methods, ``ask`` and ``tell``.

A backend sees the search space and the results, never the objective's code, so
any backend runs any objective. Writing one:

.. code-block:: python

    class MyBackend(Backend):
        name = "my.backend"
        description = "one line for `bbopt backends`"

        def ask(self, n=1):
            return [Suggestion(self.new_tid(), self.space.sample_flat(self.rng))
                    for _ in range(n)]

        def tell(self, observation):
            self.note_tid(observation.tid)   # learn from observation.loss here

Register it with ``bbopt.register_backend(MyBackend)`` or the ``bbopt.backends``
entry-point group, and check it with ``bbopt.testing.check_backend``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from bbopt.errors import UnknownOptionError
from bbopt.space import Space
from bbopt.trial import STATUS_OK


@dataclass(frozen=True)
class Suggestion:
    """A point to evaluate: the backend's trial id and flat label -> value (choices as indices)."""

    tid: int
    flat_params: dict[str, Any]


@dataclass(frozen=True)
class Observation:
    """A finished trial told to a backend.

    ``tid`` may be one the backend never issued (warm-start points, a history
    restored from storage); the backend must then add it to what it knows.
    ``suggested`` says the point came from an earlier ``ask`` of an identically
    seeded backend, so a backend may fast-forward its random state on replay.
    """

    tid: int
    flat_params: dict[str, Any]
    loss: float | None
    status: str = STATUS_OK
    suggested: bool = False

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK and self.loss is not None


class Backend(ABC):
    """Base class of all backends: built from a space, a seed and options."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: A resumed serial run ends with the same trials as an uninterrupted one.
    exact_resume: ClassVar[bool] = False
    #: Joins the quick default benchmark run (cheap per suggestion). A backend opts in;
    #: plugins left at the default are benchmarked only when named.
    quick_benchmark: ClassVar[bool] = False

    def __init__(self, space: Space, seed: int | None = None, **options: Any) -> None:
        self.space = space
        self.seed = seed
        self.options = options
        self.rng = np.random.default_rng(seed)
        self._next_tid = 0

    @abstractmethod
    def ask(self, n: int = 1) -> list[Suggestion]:
        """Propose ``n`` points. Points already asked and not yet told are in flight."""

    @abstractmethod
    def tell(self, observation: Observation) -> None:
        """Learn from a finished trial (ok or failed)."""

    def check_options(self, accepted: Iterable[str]) -> None:
        """Fail at construction, naming the accepted ones, on options this backend lacks."""
        accepted = list(accepted)
        unknown = set(self.options) - set(accepted)
        if unknown:
            raise UnknownOptionError(self.name or type(self).__name__, unknown, accepted)

    def new_tid(self) -> int:
        tid = self._next_tid
        self._next_tid += 1
        return tid

    def note_tid(self, tid: int) -> None:
        """Make sure ids issued later do not collide with ``tid``."""
        self._next_tid = max(self._next_tid, tid + 1)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} seed={self.seed}>"
