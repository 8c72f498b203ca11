"""hyperopt-style constructors: same names and argument order as ``hyperopt.hp``.

Porting tutorial code is a change of import: ``from bbopt import hp``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bbopt.space import (
    Choice,
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
    Uniform,
    UniformInt,
)

__all__ = [
    "choice",
    "logituniform",
    "lognormal",
    "loguniform",
    "loguniformint",
    "normal",
    "pchoice",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "randint",
    "uniform",
    "uniformint",
]


def uniform(label: str, low: float, high: float) -> Uniform:
    return Uniform(label, low, high)


def quniform(label: str, low: float, high: float, q: float) -> QUniform:
    return QUniform(label, low, high, q)


def loguniform(label: str, low: float, high: float) -> LogUniform:
    """``exp(uniform(low, high))``: ``low`` and ``high`` are logarithms."""
    return LogUniform(label, low, high)


def loguniformint(label: str, low: int, high: int) -> LogUniformInt:
    """An integer in [low, high] (``low >= 1``), evenly spread on a log scale (Optuna's
    ``suggest_int(log=True)``). Not in hyperopt; unlike ``loguniform`` the bounds are
    the integers themselves, not logarithms."""
    return LogUniformInt(label, low, high)


def logituniform(label: str, low: float, high: float) -> LogitUniform:
    """A value in (0, 1), uniform on the logit scale between ``low`` and ``high`` (for
    fractions that matter near 0 or 1). Not in hyperopt; the bounds are the values
    themselves, ``0 < low < high < 1``."""
    return LogitUniform(label, low, high)


def qloguniform(label: str, low: float, high: float, q: float) -> QLogUniform:
    return QLogUniform(label, low, high, q)


def normal(label: str, mu: float, sigma: float) -> Normal:
    return Normal(label, mu, sigma)


def qnormal(label: str, mu: float, sigma: float, q: float) -> QNormal:
    return QNormal(label, mu, sigma, q)


def lognormal(label: str, mu: float, sigma: float) -> LogNormal:
    return LogNormal(label, mu, sigma)


def qlognormal(label: str, mu: float, sigma: float, q: float) -> QLogNormal:
    return QLogNormal(label, mu, sigma, q)


def randint(label: str, low: int, high: int | None = None) -> RandInt:
    """An int in [0, upper) for ``randint(label, upper)``, in [low, high) with two bounds."""
    return RandInt(label, 0, low) if high is None else RandInt(label, low, high)


def uniformint(label: str, low: int, high: int) -> UniformInt:
    """An integer in [low, high], both ends included."""
    return UniformInt(label, low, high)


def choice(label: str, options: Sequence[Any]) -> Choice:
    return Choice(label, tuple(options))


def pchoice(label: str, p_options: Sequence[tuple[float, Any]]) -> PChoice:
    """``p_options`` is a list of (probability, option) pairs, as in hyperopt."""
    pairs = list(p_options)
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"{label!r}: pchoice takes (probability, option) pairs, got {pair!r}")
    return PChoice(label, tuple(o for _, o in pairs), tuple(p for p, _ in pairs))
