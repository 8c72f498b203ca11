"""The Backend interface: how to search. Two methods, ``ask`` and ``tell``.

A backend sees the search space and the results, never the objective's code, so
any backend runs any objective. Trial ids belong to the framework: a backend
hands out :class:`Suggestion` objects and is told :class:`Observation` objects
that carry the very suggestion they answer (or none, for points it did not
suggest). Writing one:

.. code-block:: python

    from bbopt.backends import Backend, Suggestion

    class MyRandomSearch(Backend):
        name = "my.random"
        description = "random points from the space's own distributions"
        learns = False  # it does not use losses, so it cannot beat random search

        def ask(self, n=1):
            return [Suggestion(self.space.sample_flat(self.rng)) for _ in range(n)]

        def tell(self, observation):
            pass  # a learning backend uses observation.loss and observation.state

Register it with ``bbopt.register_backend(MyRandomSearch)`` or the ``bbopt.backends``
entry-point group, and check it with ``bbopt.testing.check_backend(MyRandomSearch)``.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from bbopt.errors import EmptySpaceError, SeedError, UnknownOptionError
from bbopt.objective import Fidelity
from bbopt.space import Space
from bbopt.trial import TrialState


@dataclass(frozen=True, eq=False)
class Suggestion:
    """A point to evaluate: flat label -> value (choices as option indices).

    ``handle`` is the backend's own, for the backend alone (e.g. the library trial
    object the point came from); the framework passes the suggestion back untouched
    in the :class:`Observation` that answers it. ``budget`` (multi-fidelity backends)
    is how much of the objective's fidelity to spend (epochs, ...); the objective
    reads it with ``bbopt.budget()``; None means all of it.
    """

    flat_params: dict[str, Any]
    handle: Any = None
    budget: float | None = None  # a multi-fidelity backend's budget, on the fidelity's scale


@dataclass(frozen=True)
class Observation:
    """A finished trial told to a backend.

    ``suggestion`` is the :class:`Suggestion` (the same object) that this backend's
    ``ask`` returned for the point, or None for a point it did not suggest (a warm
    start, another process's trial, a history restored from storage): the backend
    must then add the point to what it knows. ``replayed`` says such a point was
    suggested by an identically seeded run of this backend before (a resumed study),
    so a backend may advance its random state by one suggestion to stay on its
    sequence. ``state`` is DONE (``loss`` is the result), FAILED (no loss) or PRUNED
    (``loss`` is the last value the trial reported before it was stopped, None if that
    was not finite). ``budget`` is the fidelity the loss was reached at: the step of a
    pruned trial's last report, a done trial's suggested budget; None for all of it.
    """

    flat_params: dict[str, Any]
    loss: float | None
    state: TrialState = TrialState.DONE
    suggestion: Suggestion | None = None
    replayed: bool = False
    budget: float | None = None

    def __post_init__(self) -> None:
        if not self.state.finished:
            raise ValueError(f"only finished trials are told, not {self.state.value} ones")

    @property
    def ok(self) -> bool:
        """A finished trial with its loss."""
        return self.state is TrialState.DONE and self.loss is not None

    @property
    def has_loss(self) -> bool:
        """Done with its loss, or pruned with the (finite) last value it reported: a
        pessimistic estimate of the loss it would have reached, which backends without a
        pruned state learn from like a loss."""
        return self.loss is not None and self.state in (TrialState.DONE, TrialState.PRUNED)


class Backend(ABC):
    """Base class of all backends: built from a space, a seed and options."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: Uses losses to choose points (so it should beat random search; checked).
    learns: ClassVar[bool] = True
    #: Learns from pruned trials (their last reported value) too (checked).
    learns_from_pruned: ClassVar[bool] = True
    #: A resumed serial run ends with the same trials as an uninterrupted one.
    exact_resume: ClassVar[bool] = False
    #: Joins the quick default benchmark run (cheap per suggestion). A backend opts in;
    #: plugins left at the default are benchmarked only when named.
    quick_benchmark: ClassVar[bool] = False
    #: Chooses a budget with each point (``Suggestion.budget``).
    multi_fidelity: ClassVar[bool] = False
    #: The objective's fidelity, if it declares one (set by ``minimize``).
    fidelity: Fidelity | None = None
    #: The option that sizes the search to the run's evaluation budget (Nevergrad's
    #: ``budget``): ``minimize`` sets it to ``max_evals`` unless the options give it.
    budget_option: ClassVar[str | None] = None

    def __init__(self, space: Space, seed: int | None = None, **options: Any) -> None:
        check_seed(seed)
        self.space = space
        self.seed = seed
        self.options = options
        self.rng = np.random.default_rng(seed)

    @abstractmethod
    def ask(self, n: int = 1) -> list[Suggestion]:
        """Propose ``n`` points. Points asked and not yet told are in flight."""

    @abstractmethod
    def tell(self, observation: Observation) -> None:
        """Learn from a finished trial (done, failed or pruned)."""

    def check_fidelity(self) -> None:
        """Raise :class:`~bbopt.errors.OptionValueError` if this backend cannot run with
        its :attr:`fidelity` (``minimize`` calls it once that is set, before any trial, so
        a bad combination fails before the run starts). Nothing to check by default."""
        return None

    def close(self) -> None:
        """Release what the backend holds while it runs (threads, processes), so that it
        never keeps the interpreter from exiting. ``minimize`` calls it when a run ends,
        for a backend it created from a name or class; code that made an instance itself
        calls it when done asking. The backend is not asked again after it. Nothing to
        release by default."""
        return None

    def check_options(self, accepted: Iterable[str]) -> None:
        """Fail at construction, naming the accepted ones, on options this backend lacks."""
        accepted = list(accepted)
        unknown = set(self.options) - set(accepted)
        if unknown:
            raise UnknownOptionError(self.name or type(self).__name__, unknown, accepted)

    def require_parameters(self) -> None:
        """Fail at construction on a space without parameters (for libraries that need
        at least one dimension)."""
        if not self.space.params:
            raise EmptySpaceError(f"{self.name} needs a space with at least one parameter")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} seed={self.seed}>"


#: Seeds are at most this (numpy's legacy seeding, which Optuna and scikit-optimize use).
MAX_SEED = 2**32 - 1


def check_seed(seed: Any) -> None:
    """A SeedError unless ``seed`` is None or an integer in [0, MAX_SEED]: every backend
    takes those, and a larger one would fail only in some libraries, at the first ask."""
    if seed is None:
        return
    whole = isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
    if not whole or not 0 <= int(seed) <= MAX_SEED:
        raise SeedError(f"a seed must be an integer in [0, 2**32 - 1], got {seed!r}")
