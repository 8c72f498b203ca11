"""The nodes of a search space: labelled distributions, choices and transforms.

Nodes are frozen dataclasses that validate themselves when built. A tree of them
(nested in dicts, lists, tuples, with constants) is a space; :func:`collect_params`
walks a tree once to find its parameters, the branch that activates each, and
duplicate labels. :class:`~bbopt.space.compiled.Space` compiles a tree for use.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

Condition = tuple[tuple[str, int], ...]
"""The (choice label, option index) pairs that must all hold for a parameter to be active."""


MAX_DEPTH = 100
"""Spaces nest at most this deep (dicts, lists, choices and transforms all count)."""

_INT64 = 2**63


def _check_label(label: object) -> None:
    if not isinstance(label, str) or not label:
        raise ValueError(f"a parameter label must be a non-empty string, got {label!r}")


def _real(name: str, value: Any, label: str) -> float | int:
    """``value`` as a plain finite Python number (numpy numbers accepted), else ValueError."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{label!r}: {name} must be a real number, got {value!r}")
    if not isinstance(value, int):
        value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{label!r}: {name} must be a finite number, got {value!r}")
    return value


def _set_real(node: Any, name: str) -> float | int:
    """Normalize the numeric field ``name`` of a frozen node in place; return it."""
    value = _real(name, getattr(node, name), node.label)
    object.__setattr__(node, name, value)
    return value


def _check_positive(node: Any, name: str) -> None:
    if not _set_real(node, name) > 0:
        raise ValueError(f"{node.label!r}: {name} must be > 0, got {getattr(node, name)!r}")


def _check_bounds(node: Any) -> None:
    low, high = _set_real(node, "low"), _set_real(node, "high")
    if not low < high:
        raise ValueError(f"{node.label!r}: low must be < high, got low={low!r}, high={high!r}")
    if not math.isfinite(float(high) - float(low)):
        raise ValueError(f"{node.label!r}: the range [{low!r}, {high!r}] is too wide to sample")


def _check_exp(node: Any, *logs: float) -> None:
    """Log-scale bounds must stay finite and positive once exponentiated."""
    for value in logs:
        if not -700 < value < 700:
            raise ValueError(
                f"{node.label!r}: exp({value!r}) is not a usable number; the bounds of "
                f"{node.kind} are logarithms (e.g. math.log(1000) for 1000)"
            )


def _check_int64(node: Any, *values: float) -> None:
    for value in values:
        if not -_INT64 <= value < _INT64:
            raise ValueError(f"{node.label!r}: integer bounds must fit in 64 bits, got {value!r}")


def _check_integer_bounds(node: Any) -> None:
    """Integer parameters take integer bounds: backends would round others differently."""
    if int(node.low) != node.low or int(node.high) != node.high:
        raise ValueError(
            f"{node.label!r}: {node.kind} bounds must be integers, got low={node.low!r}, "
            f"high={node.high!r} (quniform makes a grid between other bounds)"
        )
    _check_int64(node, node.low, node.high)


def _quantize(value: float, q: float) -> float:
    return float(np.round(value / q) * q)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


@dataclass(frozen=True)
class Distribution:
    """A labelled random parameter. Subclasses define ``draw`` and ``contains``.

    ``scale`` says how values are best looked at and searched: ``"linear"``,
    ``"log"`` or ``"logit"`` (for values in (0, 1) that matter near 0 and 1).
    """

    label: str
    kind: ClassVar[str] = ""
    scale: ClassVar[str] = "linear"
    is_integer: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_label(self.label)

    def draw(self, rng: np.random.Generator) -> Any:
        """Draw one flat value."""
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        """Whether ``value`` can be produced by this distribution."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.kind}
        for f in fields(self):
            data[f.name] = getattr(self, f.name)
        return data


@dataclass(frozen=True)
class _Bounded(Distribution):
    low: float
    high: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_bounds(self)


@dataclass(frozen=True)
class _Gaussian(Distribution):
    mu: float
    sigma: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _set_real(self, "mu")
        _check_positive(self, "sigma")
        low, high = self.mu - 10 * self.sigma, self.mu + 10 * self.sigma
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"{self.label!r}: mu and sigma are too large to sample")
        if self.scale == "log":
            _check_exp(self, low, high)


def _on_grid(value: float, q: float) -> bool:
    return math.isclose(value / q, round(value / q), rel_tol=0, abs_tol=1e-9)


@dataclass(frozen=True)
class Uniform(_Bounded):
    """Uniform on [low, high]."""

    kind: ClassVar[str] = "uniform"

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def contains(self, value: Any) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class QUniform(_Bounded):
    """``round(uniform(low, high) / q) * q``."""

    q: float
    kind: ClassVar[str] = "quniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive(self, "q")

    def draw(self, rng: np.random.Generator) -> float:
        return _quantize(rng.uniform(self.low, self.high), self.q)

    def contains(self, value: Any) -> bool:
        lo, hi = _quantize(self.low, self.q), _quantize(self.high, self.q)
        return lo - 1e-9 <= value <= hi + 1e-9 and _on_grid(value, self.q)


@dataclass(frozen=True)
class LogUniform(_Bounded):
    """``exp(uniform(low, high))``: bounds are given in log space, as in hyperopt."""

    kind: ClassVar[str] = "loguniform"
    scale: ClassVar[str] = "log"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_exp(self, self.low, self.high)

    def draw(self, rng: np.random.Generator) -> float:
        return float(np.exp(rng.uniform(self.low, self.high)))

    def contains(self, value: Any) -> bool:
        return value > 0 and self.low - 1e-9 <= math.log(value) <= self.high + 1e-9


@dataclass(frozen=True)
class QLogUniform(_Bounded):
    """``round(exp(uniform(low, high)) / q) * q``."""

    q: float
    kind: ClassVar[str] = "qloguniform"
    scale: ClassVar[str] = "log"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive(self, "q")
        _check_exp(self, self.low, self.high)

    def draw(self, rng: np.random.Generator) -> float:
        return _quantize(np.exp(rng.uniform(self.low, self.high)), self.q)

    def contains(self, value: Any) -> bool:
        lo = _quantize(math.exp(self.low), self.q)
        hi = _quantize(math.exp(self.high), self.q)
        return lo - 1e-9 <= value <= hi + 1e-9 and _on_grid(value, self.q)


@dataclass(frozen=True)
class LogUniformInt(_Bounded):
    """An integer in [low, high] (both included, ``low >= 1``) spread evenly on a log
    scale: ``round(exp(uniform(log(low - 0.5), log(high + 0.5))))``, Optuna's
    ``suggest_int(log=True)``. Unlike :class:`LogUniform`, the bounds are the integers
    themselves, not logarithms."""

    kind: ClassVar[str] = "loguniformint"
    scale: ClassVar[str] = "log"
    is_integer: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_integer_bounds(self)
        if self.low < 1:
            raise ValueError(f"{self.label!r}: loguniformint bounds must be integers >= 1")

    @property
    def log_bounds(self) -> tuple[float, float]:
        """The log-scale interval whose rounding gives each integer its share."""
        return math.log(self.low - 0.5), math.log(self.high + 0.5)

    def value_of(self, log_value: float) -> int:
        """The integer a point of :attr:`log_bounds` stands for, inside [low, high]."""
        rounded = round(math.exp(log_value))
        return int(min(max(rounded, self.low), self.high))

    def draw(self, rng: np.random.Generator) -> int:
        return self.value_of(float(rng.uniform(*self.log_bounds)))

    def contains(self, value: Any) -> bool:
        return int(value) == value and self.low <= value <= self.high


@dataclass(frozen=True)
class LogitUniform(_Bounded):
    """A value in (0, 1) uniform on the logit scale between ``logit(low)`` and
    ``logit(high)``: for fractions and probabilities that matter near 0 or 1. The
    bounds are the values themselves, ``0 < low < high < 1``."""

    kind: ClassVar[str] = "logituniform"
    scale: ClassVar[str] = "logit"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.low < self.high < 1:
            raise ValueError(f"{self.label!r}: logituniform bounds must lie in (0, 1)")

    @property
    def logit_bounds(self) -> tuple[float, float]:
        return _logit(self.low), _logit(self.high)

    def value_of(self, logit_value: float) -> float:
        """The value a point of :attr:`logit_bounds` stands for, inside [low, high]."""
        return min(max(_expit(logit_value), self.low), self.high)

    def draw(self, rng: np.random.Generator) -> float:
        return self.value_of(float(rng.uniform(*self.logit_bounds)))

    def contains(self, value: Any) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Normal(_Gaussian):
    """Normal with mean ``mu`` and standard deviation ``sigma``."""

    kind: ClassVar[str] = "normal"

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.normal(self.mu, self.sigma))

    def contains(self, value: Any) -> bool:
        return math.isfinite(value)


@dataclass(frozen=True)
class QNormal(_Gaussian):
    """``round(normal(mu, sigma) / q) * q``."""

    q: float
    kind: ClassVar[str] = "qnormal"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive(self, "q")

    def draw(self, rng: np.random.Generator) -> float:
        return _quantize(rng.normal(self.mu, self.sigma), self.q)

    def contains(self, value: Any) -> bool:
        return math.isfinite(value) and _on_grid(value, self.q)


@dataclass(frozen=True)
class LogNormal(_Gaussian):
    """``exp(normal(mu, sigma))``."""

    kind: ClassVar[str] = "lognormal"
    scale: ClassVar[str] = "log"

    def draw(self, rng: np.random.Generator) -> float:
        return float(np.exp(rng.normal(self.mu, self.sigma)))

    def contains(self, value: Any) -> bool:
        return value > 0 and math.isfinite(value)


@dataclass(frozen=True)
class QLogNormal(_Gaussian):
    """``round(exp(normal(mu, sigma)) / q) * q``."""

    q: float
    kind: ClassVar[str] = "qlognormal"
    scale: ClassVar[str] = "log"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive(self, "q")

    def draw(self, rng: np.random.Generator) -> float:
        return _quantize(np.exp(rng.normal(self.mu, self.sigma)), self.q)

    def contains(self, value: Any) -> bool:
        return value >= 0 and math.isfinite(value) and _on_grid(value, self.q)


@dataclass(frozen=True)
class RandInt(_Bounded):
    """Integer uniform on ``[low, high)`` (``high`` excluded, like ``numpy.integers``)."""

    kind: ClassVar[str] = "randint"
    is_integer: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_integer_bounds(self)

    def draw(self, rng: np.random.Generator) -> int:
        return int(rng.integers(int(self.low), int(self.high)))

    def contains(self, value: Any) -> bool:
        return int(value) == value and self.low <= value < self.high


@dataclass(frozen=True)
class UniformInt(_Bounded):
    """Integer ``round(uniform(low, high))``, both ends included (hyperopt's ``uniformint``)."""

    kind: ClassVar[str] = "uniformint"
    is_integer: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_integer_bounds(self)

    def draw(self, rng: np.random.Generator) -> int:
        return int(np.round(rng.uniform(self.low, self.high)))

    def contains(self, value: Any) -> bool:
        return int(value) == value and round(self.low) <= value <= round(self.high)


@dataclass(frozen=True)
class Choice(Distribution):
    """One of ``options``; each option may itself hold a sub-space (a conditional branch)."""

    options: tuple[Any, ...] = ()
    kind: ClassVar[str] = "choice"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.options, tuple):
            object.__setattr__(self, "options", tuple(self.options))
        if not self.options:
            raise ValueError(f"{self.label!r}: a choice needs at least one option")
        collect_params(self.options)  # duplicate labels in the branches fail here

    @property
    def probabilities(self) -> tuple[float, ...]:
        return (1.0 / len(self.options),) * len(self.options)

    def draw(self, rng: np.random.Generator) -> int:
        return int(rng.integers(len(self.options)))

    def contains(self, value: Any) -> bool:
        return int(value) == value and 0 <= value < len(self.options)


@dataclass(frozen=True)
class PChoice(Choice):
    """A choice with given probabilities (which must sum to 1)."""

    weights: tuple[float, ...] = ()
    kind: ClassVar[str] = "pchoice"

    def __post_init__(self) -> None:
        super().__post_init__()
        weights = tuple(_real("probability", p, self.label) for p in self.weights)
        object.__setattr__(self, "weights", tuple(float(p) for p in weights))
        if len(self.weights) != len(self.options):
            raise ValueError(f"{self.label!r}: one probability per option is needed")
        if any(p < 0 for p in self.weights):
            raise ValueError(f"{self.label!r}: probabilities must be >= 0, got {self.weights}")
        if not math.isclose(sum(self.weights), 1.0, abs_tol=1e-6):
            raise ValueError(
                f"{self.label!r}: probabilities must sum to 1, they sum to {sum(self.weights)}"
            )

    @property
    def probabilities(self) -> tuple[float, ...]:
        return self.weights

    def draw(self, rng: np.random.Generator) -> int:
        return int(rng.choice(len(self.options), p=np.asarray(self.weights)))


NUMERIC_DISTRIBUTIONS: dict[str, type[Distribution]] = {
    cls.kind: cls
    for cls in (
        Uniform,
        QUniform,
        LogUniform,
        QLogUniform,
        LogUniformInt,
        LogitUniform,
        Normal,
        QNormal,
        LogNormal,
        QLogNormal,
        RandInt,
        UniformInt,
    )
}
"""Every distribution but the choices, by its ``kind`` (hyperopt's name where it has one)."""


def function_name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


_TRANSFORMS: dict[str, Callable[..., Any]] = {}
"""Transform functions by ``module:qualname``, filled by :class:`Transform` itself (code
that built a space in this process), never by a name read from a file."""


@dataclass(frozen=True)
class Transform:
    """A user function applied to the values of ``args`` (sub-spaces) when evaluated."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ValueError(f"transform needs a callable, got {self.fn!r}")
        collect_params(self.args)
        name = function_name(self.fn)
        if not isinstance(self.fn, UnresolvedTransform) and "<" not in name:
            _TRANSFORMS.setdefault(name, self.fn)


def transform(fn: Callable[..., Any], *args: Any) -> Transform:
    """Apply ``fn`` to the values of ``args``: ``transform(lambda e: 2**e, hp.quniform(...))``."""
    return Transform(fn, tuple(args))


class UnresolvedTransform:
    """Stands for a transform function of a stored space that no code of this process
    defined: nothing named in a file is ever imported or called."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.__module__, _, self.__qualname__ = name.partition(":")

    def __call__(self, *args: Any) -> Any:
        raise RuntimeError(
            f"transform function {self.name} of a stored space is not known to this process "
            "(bbopt never imports functions named in a file); give the objective's space"
        )


@dataclass(frozen=True)
class ParamInfo:
    """Where a parameter lives: its distribution, path in the tree and activation condition."""

    dist: Distribution
    path: str
    condition: Condition


def collect_params(tree: Any) -> dict[str, ParamInfo]:
    """The parameters of ``tree`` by label, in tree order; ValueError naming both places
    for a label used twice."""
    params: dict[str, ParamInfo] = {}
    for info in _walk(tree, "space", (), 0):
        previous = params.get(info.dist.label)
        if previous is not None:
            raise ValueError(
                f"duplicate label {info.dist.label!r}: used at {previous.path} and at {info.path}"
            )
        params[info.dist.label] = info
    return params


def _walk(node: Any, path: str, condition: Condition, depth: int) -> Iterator[ParamInfo]:
    if depth > MAX_DEPTH:
        raise ValueError(f"the space nests deeper than {MAX_DEPTH} levels (at {path[:80]}...)")
    depth += 1
    if isinstance(node, Choice):
        yield ParamInfo(node, path, condition)
        for index, option in enumerate(node.options):
            branch = (*condition, (node.label, index))
            yield from _walk(option, f"{path}<{node.label}={index}>", branch, depth)
    elif isinstance(node, Distribution):
        yield ParamInfo(node, path, condition)
    elif isinstance(node, Transform):
        for index, arg in enumerate(node.args):
            yield from _walk(arg, f"{path}.transform[{index}]", condition, depth)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}[{key!r}]", condition, depth)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]", condition, depth)
