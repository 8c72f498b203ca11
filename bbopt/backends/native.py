"""Dependency-free baselines written on the space language itself.

``bbopt.random`` draws every point from the space's own distributions
(``Space.sample_flat``); ``bbopt.sobol`` walks a scrambled Sobol' sequence
(``scipy.stats.qmc``) and maps each unit-cube coordinate to its parameter by
the parameter's inverse CDF. Every label owns one coordinate, conditional ones
included; a point uses the coordinates of its active labels only, so the
active sub-space is still covered evenly. Neither learns from losses.

Both resume exactly: a replayed observation (``replayed=True``) advances the
random state by the one point it stands for.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from typing import Any

from bbopt.backends import register_backend
from bbopt.backends.base import Backend, Observation, Suggestion
from bbopt.backends.coordinates import point_from_unit
from bbopt.space import Space


class _Sampler(Backend):
    """A backend whose points do not depend on losses: only the draw differs."""

    exact_resume = True
    quick_benchmark = True
    learns = False

    def __init__(self, space: Space, seed: int | None = None, **options: Any) -> None:
        super().__init__(space, seed, **options)
        self.check_options(())

    @abstractmethod
    def _draw(self, n: int) -> list[dict[str, Any]]:
        """``n`` new flat points."""

    def ask(self, n: int = 1) -> list[Suggestion]:
        return [Suggestion(flat) for flat in self._draw(n)]

    def tell(self, observation: Observation) -> None:
        if observation.replayed:  # replay of an earlier run: skip the point it stands for
            self._draw(1)


@register_backend
class RandomSearch(_Sampler):
    name = "bbopt.random"
    description = "random search with the space's own distributions (no dependencies)"

    def _draw(self, n: int) -> list[dict[str, Any]]:
        return [self.space.sample_flat(self.rng) for _ in range(n)]


@register_backend
class SobolSearch(_Sampler):
    name = "bbopt.sobol"
    description = "scrambled Sobol' quasi-random sequence mapped by inverse CDFs (scipy)"

    def __init__(self, space: Space, seed: int | None = None, **options: Any) -> None:
        super().__init__(space, seed, **options)
        from scipy.stats import qmc

        self._engine = qmc.Sobol(max(1, len(space.params)), scramble=True, seed=seed)

    def _draw(self, n: int) -> list[dict[str, Any]]:
        with warnings.catch_warnings():
            # Sobol' balance is best at powers of two; a search takes points one by one.
            warnings.filterwarnings("ignore", message=".*balance properties.*")
            rows = self._engine.random(n)
        return [point_from_unit(self.space, row) for row in rows]
