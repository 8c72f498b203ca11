"""Multi-fidelity backends on Hyperband's budgets: the options they share, their range."""

from __future__ import annotations

from typing import Any, ClassVar

from bbopt.backends.base import Backend
from bbopt.errors import OptionValueError
from bbopt.option_checks import check_integer
from bbopt.space import Space


class HyperbandBackend(Backend):
    """Base of the backends that choose budgets like Hyperband: options ``min_budget`` and
    ``max_budget`` (default: the objective's fidelity, which ``minimize`` sets on the
    backend after creating it, so read :meth:`budgets` only when asked for points) and
    ``eta`` (the factor between budgets, an integer >= 2)."""

    multi_fidelity: ClassVar[bool] = True
    quick_benchmark: ClassVar[bool] = False  # its budgets need an objective with a fidelity

    def __init__(
        self,
        space: Space,
        seed: int | None = None,
        *,
        min_budget: float | None = None,
        max_budget: float | None = None,
        eta: int = 3,
        **options: Any,
    ) -> None:
        super().__init__(space, seed, **options)
        self.min_budget, self.max_budget = min_budget, max_budget
        self.eta = check_integer("eta", eta, 2)

    def check_fidelity(self) -> None:
        self.budgets()

    def budgets(self) -> tuple[float, float]:
        """(min, max) budget: the options where given, else the fidelity's min and max."""
        fidelity = self.fidelity
        low = self.min_budget if self.min_budget is not None else getattr(fidelity, "min", None)
        high = self.max_budget if self.max_budget is not None else getattr(fidelity, "max", None)
        if low is None or high is None:
            raise OptionValueError(
                f"{self.name} needs budgets: an objective that declares a fidelity, or the "
                "options min_budget and max_budget"
            )
        if not 0 < low < high:
            raise OptionValueError(
                f"{self.name} needs 0 < min_budget < max_budget, got {low}, {high}"
            )
        if fidelity is not None and not fidelity.min <= low < high <= fidelity.max:
            raise OptionValueError(  # the objective would run other budgets than recorded
                f"{self.name}: min_budget and max_budget ({low:g}, {high:g}) must lie in the "
                f"objective's fidelity, {fidelity.name} {fidelity.min:g} to {fidelity.max:g}"
            )
        return float(low), float(high)
