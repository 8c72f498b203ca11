"""One numeric coordinate per parameter: how foreign optimizers see a bbopt space.

Optuna and scikit-optimize know bounded floats (optionally on a log scale),
bounded integers and categories. Each bbopt distribution maps to one such
coordinate, with ``decode`` (coordinate value -> flat value inside the
distribution's support) and ``encode`` (flat value told from outside, e.g. a
warm-start point -> coordinate value):

=================  =======================================  ==========================
bbopt              coordinate                               decode
=================  =======================================  ==========================
uniform            float [low, high]                        the value
loguniform         float [e^low, e^high], log scale         the value
quniform           int k in [round(low/q), round(high/q)]   k * q (exact grid)
qloguniform        float [e^low, e^high], log scale         round(x / q) * q
(q)(log)normal     float u in [eps, 1 - eps], a quantile    inverse CDF, then exp/round
randint            int [low, high - 1]                      the value
uniformint         int [round(low), round(high)]            the value
loguniformint      int [low, high], log scale               the value
logituniform       float [logit(low), logit(high)]          expit(x), clipped to bounds
choice, pchoice    category 0 .. n-1                        the index
=================  =======================================  ==========================

Unbounded (log)normals become their quantile ``u``: an optimizer that samples
``u`` uniformly draws exactly the normal prior, and the coordinate is bounded as
every foreign optimizer requires. Every decoded value is clipped into the declared
bounds, so rounding in exp/log never steps outside them. Quantiles are clipped to ``[eps, 1 - eps]``
(about +-7 sigma). :func:`unit_to_value` is the exact inverse CDF of every
distribution, used by quasi-random backends.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

from bbopt.space import (
    Choice,
    Distribution,
    LogitUniform,
    LogNormal,
    LogUniform,
    LogUniformInt,
    Normal,
    PChoice,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    RandInt,
    Space,
    Uniform,
    UniformInt,
)
from bbopt.space.nodes import _logit, _quantize

__all__ = ["EPS", "Coordinate", "coordinates", "point_from_unit", "unit_to_value"]

EPS = 1e-12
"""Quantiles of (log)normal parameters are kept in ``[EPS, 1 - EPS]``."""

_UNIFORMS = (Uniform, QUniform, LogUniform, QLogUniform)
_GAUSSIANS = (Normal, QNormal, LogNormal, QLogNormal)
Gaussian = Normal | QNormal | LogNormal | QLogNormal


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _gaussian_ppf(dist: Gaussian, u: float) -> float:
    """Inverse CDF of a (q)(log)normal at quantile ``u``."""
    x = NormalDist(dist.mu, dist.sigma).inv_cdf(_clip(u, EPS, 1 - EPS))
    if dist.scale == "log":
        x = math.exp(x)
    return _quantize(x, dist.q) if isinstance(dist, (QNormal, QLogNormal)) else x


def _gaussian_cdf(dist: Gaussian, value: float) -> float:
    """Quantile of ``value`` under a (q)(log)normal, clipped to ``[EPS, 1 - EPS]``."""
    if dist.scale == "log":
        if value <= 0:
            return EPS
        value = math.log(value)
    return _clip(NormalDist(dist.mu, dist.sigma).cdf(value), EPS, 1 - EPS)


def unit_to_value(dist: Distribution, u: float) -> Any:
    """The value of ``dist`` at quantile ``u`` in [0, 1): its exact inverse CDF."""
    if isinstance(dist, PChoice):
        cumulative = list(itertools.accumulate(dist.weights))
        return min(bisect.bisect_right(cumulative, u), len(dist.options) - 1)
    if isinstance(dist, Choice):
        return min(int(u * len(dist.options)), len(dist.options) - 1)
    if isinstance(dist, RandInt):
        span = int(dist.high) - int(dist.low)
        return int(dist.low) + min(int(u * span), span - 1)
    if isinstance(dist, UniformInt):
        return round(dist.low + u * (dist.high - dist.low))
    if isinstance(dist, LogUniformInt):
        low, high = dist.log_bounds
        return dist.value_of(low + u * (high - low))
    if isinstance(dist, LogitUniform):
        low, high = dist.logit_bounds
        return dist.value_of(low + u * (high - low))
    if isinstance(dist, _UNIFORMS):
        x = dist.low + u * (dist.high - dist.low)
        if dist.scale == "log":
            x = math.exp(x)
        return _quantize(x, dist.q) if isinstance(dist, (QUniform, QLogUniform)) else x
    if isinstance(dist, _GAUSSIANS):
        return _gaussian_ppf(dist, u)
    raise TypeError(f"no inverse CDF for {type(dist).__name__}")


def point_from_unit(space: Space, row: Sequence[float]) -> dict[str, Any]:
    """The flat point of a unit-cube row with one entry per label of ``space`` (in its
    order): each active label's value at its quantile, inactive labels left out."""
    flat: dict[str, Any] = {}
    for u, (label, info) in zip(row, space.params.items(), strict=False):
        if space.is_active(label, flat):
            flat[label] = unit_to_value(info.dist, float(u))
    return flat


@dataclass(frozen=True)
class Coordinate:
    """A parameter as a bounded float, int or category; see the module docstring."""

    dist: Distribution
    kind: Literal["float", "int", "categorical"]
    low: float
    high: float
    log: bool = False

    @property
    def is_quantile(self) -> bool:
        """The coordinate is the quantile of a (log)normal, not the value itself."""
        return isinstance(self.dist, _GAUSSIANS)

    def decode(self, raw: Any) -> Any:
        """The flat value (inside the distribution's support) for coordinate value ``raw``."""
        dist = self.dist
        if self.kind != "float":
            k = int(raw)
            return _quantize(k * dist.q, dist.q) if isinstance(dist, QUniform) else k
        x = _clip(float(raw), self.low, self.high)
        if isinstance(dist, _GAUSSIANS):
            return _gaussian_ppf(dist, x)
        if isinstance(dist, LogitUniform):
            return dist.value_of(x)
        return _quantize(x, dist.q) if isinstance(dist, QLogUniform) else x

    def encode(self, value: Any) -> Any:
        """The coordinate value standing for flat value ``value`` (clipped into bounds)."""
        dist = self.dist
        if self.kind == "categorical":
            return int(value)
        if self.kind == "int":
            k = round(value / dist.q) if isinstance(dist, QUniform) else int(value)
            return int(_clip(k, self.low, self.high))
        if isinstance(dist, _GAUSSIANS):
            return _gaussian_cdf(dist, float(value))
        if isinstance(dist, LogitUniform):
            value = _logit(_clip(float(value), dist.low, dist.high))
        return _clip(float(value), self.low, self.high)


def _coordinate(dist: Distribution) -> Coordinate:
    if isinstance(dist, Choice):
        return Coordinate(dist, "categorical", 0, len(dist.options) - 1)
    if isinstance(dist, RandInt):
        return Coordinate(dist, "int", int(dist.low), int(dist.high) - 1)
    if isinstance(dist, UniformInt):
        return Coordinate(dist, "int", round(dist.low), round(dist.high))
    if isinstance(dist, LogUniformInt):
        return Coordinate(dist, "int", int(dist.low), int(dist.high), log=True)
    if isinstance(dist, LogitUniform):
        return Coordinate(dist, "float", *dist.logit_bounds)
    if isinstance(dist, QUniform):
        return Coordinate(dist, "int", round(dist.low / dist.q), round(dist.high / dist.q))
    if isinstance(dist, (LogUniform, QLogUniform)):
        return Coordinate(dist, "float", math.exp(dist.low), math.exp(dist.high), log=True)
    if isinstance(dist, Uniform):
        return Coordinate(dist, "float", dist.low, dist.high)
    if isinstance(dist, _GAUSSIANS):
        return Coordinate(dist, "float", EPS, 1 - EPS)
    raise TypeError(f"no coordinate for {type(dist).__name__}")


def coordinates(space: Space) -> dict[str, Coordinate]:
    """One coordinate per label of ``space``, in the space's (tree) order."""
    return {label: _coordinate(info.dist) for label, info in space.params.items()}
