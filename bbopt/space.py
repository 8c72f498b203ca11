"""Backend-neutral search spaces: a small tree of frozen dataclasses.

A space is any nesting of dicts, lists, tuples and constants whose leaves may be
labelled distributions (:class:`Uniform`, :class:`Choice`, ...) or
:func:`transform` nodes. :class:`Space` compiles such a tree once: it validates
labels, records which choice branch activates each parameter, and offers
``sample`` (random configuration), ``evaluate`` (flat label -> value mapping to the
nested configuration, like hyperopt's ``space_eval``) and a JSON description.

Flat values follow hyperopt's convention: a choice is stored as the index of the
chosen option; every other parameter as its (quantized) value.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "Choice",
    "Distribution",
    "LogNormal",
    "LogUniform",
    "Normal",
    "PChoice",
    "QLogNormal",
    "QLogUniform",
    "QNormal",
    "QUniform",
    "RandInt",
    "Space",
    "Transform",
    "Uniform",
    "UniformInt",
    "as_space",
    "sample",
    "space_eval",
    "transform",
]

Condition = tuple[tuple[str, int], ...]
"""The (choice label, option index) pairs that must all hold for a parameter to be active."""


def _check_label(label: object) -> None:
    if not isinstance(label, str) or not label:
        raise ValueError(f"a parameter label must be a non-empty string, got {label!r}")


def _check_positive(name: str, value: float, label: str) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{label!r}: {name} must be a finite number > 0, got {value!r}")


def _check_bounds(low: float, high: float, label: str) -> None:
    for name, value in (("low", low), ("high", high)):
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"{label!r}: {name} must be a finite number, got {value!r}")
    if not low < high:
        raise ValueError(f"{label!r}: low must be < high, got low={low!r}, high={high!r}")


def _quantize(value: float, q: float) -> float:
    return float(np.round(value / q) * q)


@dataclass(frozen=True)
class Distribution:
    """A labelled random parameter. Subclasses define ``draw`` and ``contains``."""

    label: str
    kind: ClassVar[str] = ""
    log_scale: ClassVar[bool] = False
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
        _check_bounds(self.low, self.high, self.label)


@dataclass(frozen=True)
class _Gaussian(Distribution):
    mu: float
    sigma: float

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (isinstance(self.mu, (int, float)) and math.isfinite(self.mu)):
            raise ValueError(f"{self.label!r}: mu must be a finite number, got {self.mu!r}")
        _check_positive("sigma", self.sigma, self.label)


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
        _check_positive("q", self.q, self.label)

    def draw(self, rng: np.random.Generator) -> float:
        return _quantize(rng.uniform(self.low, self.high), self.q)

    def contains(self, value: Any) -> bool:
        lo, hi = _quantize(self.low, self.q), _quantize(self.high, self.q)
        return lo - 1e-9 <= value <= hi + 1e-9 and _on_grid(value, self.q)


@dataclass(frozen=True)
class LogUniform(_Bounded):
    """``exp(uniform(low, high))``: bounds are given in log space, as in hyperopt."""

    kind: ClassVar[str] = "loguniform"
    log_scale: ClassVar[bool] = True

    def draw(self, rng: np.random.Generator) -> float:
        return float(np.exp(rng.uniform(self.low, self.high)))

    def contains(self, value: Any) -> bool:
        return value > 0 and self.low - 1e-9 <= math.log(value) <= self.high + 1e-9


@dataclass(frozen=True)
class QLogUniform(_Bounded):
    """``round(exp(uniform(low, high)) / q) * q``."""

    q: float
    kind: ClassVar[str] = "qloguniform"
    log_scale: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive("q", self.q, self.label)

    def draw(self, rng: np.random.Generator) -> float:
        return _quantize(np.exp(rng.uniform(self.low, self.high)), self.q)

    def contains(self, value: Any) -> bool:
        lo = _quantize(math.exp(self.low), self.q)
        hi = _quantize(math.exp(self.high), self.q)
        return lo - 1e-9 <= value <= hi + 1e-9 and _on_grid(value, self.q)


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
        _check_positive("q", self.q, self.label)

    def draw(self, rng: np.random.Generator) -> float:
        return _quantize(rng.normal(self.mu, self.sigma), self.q)

    def contains(self, value: Any) -> bool:
        return math.isfinite(value) and _on_grid(value, self.q)


@dataclass(frozen=True)
class LogNormal(_Gaussian):
    """``exp(normal(mu, sigma))``."""

    kind: ClassVar[str] = "lognormal"
    log_scale: ClassVar[bool] = True

    def draw(self, rng: np.random.Generator) -> float:
        return float(np.exp(rng.normal(self.mu, self.sigma)))

    def contains(self, value: Any) -> bool:
        return value > 0 and math.isfinite(value)


@dataclass(frozen=True)
class QLogNormal(_Gaussian):
    """``round(exp(normal(mu, sigma)) / q) * q``."""

    q: float
    kind: ClassVar[str] = "qlognormal"
    log_scale: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive("q", self.q, self.label)

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
        if int(self.low) != self.low or int(self.high) != self.high:
            raise ValueError(f"{self.label!r}: randint bounds must be integers")

    def draw(self, rng: np.random.Generator) -> int:
        return int(rng.integers(int(self.low), int(self.high)))

    def contains(self, value: Any) -> bool:
        return int(value) == value and self.low <= value < self.high


@dataclass(frozen=True)
class UniformInt(_Bounded):
    """Integer ``round(uniform(low, high))``, both ends included (hyperopt's ``uniformint``)."""

    kind: ClassVar[str] = "uniformint"
    is_integer: ClassVar[bool] = True

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
        Space(self.options)  # duplicate labels inside the branches fail here, at definition

    @property
    def probabilities(self) -> tuple[float, ...]:
        return (1.0 / len(self.options),) * len(self.options)

    def draw(self, rng: np.random.Generator) -> int:
        return int(rng.integers(len(self.options)))

    def contains(self, value: Any) -> bool:
        return int(value) == value and 0 <= value < len(self.options)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "label": self.label,
            "options": [_tree_to_json(o) for o in self.options],
        }


@dataclass(frozen=True)
class PChoice(Choice):
    """A choice with given probabilities (which must sum to 1)."""

    weights: tuple[float, ...] = ()
    kind: ClassVar[str] = "pchoice"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "weights", tuple(float(p) for p in self.weights))
        if len(self.weights) != len(self.options):
            raise ValueError(f"{self.label!r}: one probability per option is needed")
        if any(not math.isfinite(p) or p < 0 for p in self.weights):
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

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "weights": list(self.weights)}


def _function_name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


@dataclass(frozen=True)
class Transform:
    """A user function applied to the values of ``args`` (sub-spaces) when evaluated."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ValueError(f"transform needs a callable, got {self.fn!r}")
        Space(self.args)


def transform(fn: Callable[..., Any], *args: Any) -> Transform:
    """Apply ``fn`` to the values of ``args``: ``transform(lambda e: 2**e, hp.quniform(...))``."""
    return Transform(fn, tuple(args))


class _UnresolvedFunction:
    """Stands for a transform function that could not be imported from a stored space."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any) -> Any:
        raise RuntimeError(f"transform function {self.name} is not importable here")


def _tree_to_json(node: Any) -> Any:
    if isinstance(node, Distribution):
        return node.to_json()
    if isinstance(node, Transform):
        fn = node.fn
        name = fn.name if isinstance(fn, _UnresolvedFunction) else _function_name(fn)
        return {"type": "transform", "fn": name, "args": [_tree_to_json(a) for a in node.args]}
    if isinstance(node, dict):
        return {"type": "dict", "items": {str(k): _tree_to_json(v) for k, v in node.items()}}
    if isinstance(node, (list, tuple)):
        return {"type": type(node).__name__, "items": [_tree_to_json(v) for v in node]}
    try:
        json.dumps(node)
    except TypeError:
        return {"type": "const", "repr": repr(node)}
    return {"type": "const", "value": node}


_DISTRIBUTIONS: dict[str, type[Distribution]] = {
    cls.kind: cls
    for cls in (
        Uniform,
        QUniform,
        LogUniform,
        QLogUniform,
        Normal,
        QNormal,
        LogNormal,
        QLogNormal,
        RandInt,
        UniformInt,
    )
}


def _resolve_function(name: str) -> Callable[..., Any]:
    module_name, _, qualname = name.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError):
        return _UnresolvedFunction(name)
    return obj if callable(obj) else _UnresolvedFunction(name)


def _tree_from_json(data: Any) -> Any:
    kind = data["type"]
    if kind in _DISTRIBUTIONS:
        return _DISTRIBUTIONS[kind](**{k: v for k, v in data.items() if k != "type"})
    if kind == "choice":
        return Choice(data["label"], tuple(_tree_from_json(o) for o in data["options"]))
    if kind == "pchoice":
        options = tuple(_tree_from_json(o) for o in data["options"])
        return PChoice(data["label"], options, tuple(data["weights"]))
    if kind == "transform":
        args = tuple(_tree_from_json(a) for a in data["args"])
        return Transform(_resolve_function(data["fn"]), args)
    if kind == "dict":
        return {k: _tree_from_json(v) for k, v in data["items"].items()}
    if kind in ("list", "tuple"):
        items = [_tree_from_json(v) for v in data["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "const":
        return data.get("value", data.get("repr"))
    raise ValueError(f"unknown space node type {kind!r}")


@dataclass(frozen=True)
class ParamInfo:
    """Where a parameter lives: its distribution, path in the tree and activation condition."""

    dist: Distribution
    path: str
    condition: Condition


@dataclass
class Space:
    """A compiled, validated search space. Build it from any space tree."""

    tree: Any
    params: dict[str, ParamInfo] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.tree, Space):
            self.tree = self.tree.tree
        self.params = {}
        for info in _walk(self.tree, "space", ()):
            previous = self.params.get(info.dist.label)
            if previous is not None:
                raise ValueError(
                    f"duplicate label {info.dist.label!r}: used at {previous.path} "
                    f"and at {info.path}"
                )
            self.params[info.dist.label] = info

    @property
    def labels(self) -> list[str]:
        return list(self.params)

    def distribution(self, label: str) -> Distribution:
        return self.params[label].dist

    def is_active(self, label: str, flat: Mapping[str, Any]) -> bool:
        """Whether ``label`` takes part in the configuration described by ``flat``."""
        return all(flat.get(c) == i for c, i in self.params[label].condition)

    def active_labels(self, flat: Mapping[str, Any]) -> list[str]:
        return [label for label in self.params if self.is_active(label, flat)]

    def sample_flat(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw values for the active parameters only, in tree order."""
        flat: dict[str, Any] = {}
        for label, info in self.params.items():
            if all(flat.get(c) == i for c, i in info.condition):
                flat[label] = info.dist.draw(rng)
        return flat

    def sample(self, rng: np.random.Generator | int | None = None) -> Any:
        """Draw one nested configuration."""
        return self.evaluate(self.sample_flat(np.random.default_rng(rng)))

    def evaluate(self, flat: Mapping[str, Any]) -> Any:
        """Nested configuration for flat label -> value (choices as indices)."""
        return _evaluate(self.tree, flat)

    def validate_flat(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Check a user-given flat point: every active label present, in range; no extras."""
        known = set(self.params)
        unknown = sorted(set(flat) - known)
        if unknown:
            raise ValueError(f"unknown parameter label(s) {unknown}; the space has {sorted(known)}")
        clean: dict[str, Any] = {}
        for label in self.active_labels(flat):
            if label not in flat:
                raise ValueError(f"point {dict(flat)} lacks a value for active label {label!r}")
            value = flat[label]
            dist = self.params[label].dist
            try:
                inside = dist.contains(value)
            except (TypeError, ValueError):  # not a number at all
                inside = False
            if not inside:
                is_choice = isinstance(dist, Choice)
                hint = " (give a choice as the index of its option)" if is_choice else ""
                raise ValueError(
                    f"{label!r}: value {value!r} is outside its {dist.kind} range{hint}"
                )
            clean[label] = value
        return clean

    def to_json(self) -> dict[str, Any]:
        return {"bbopt_space": 1, "tree": _tree_to_json(self.tree)}

    def fingerprint(self) -> str:
        """A canonical JSON string: equal for equal spaces, used to detect a changed space."""
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Space:
        return cls(_tree_from_json(data["tree"]))


def _walk(node: Any, path: str, condition: Condition) -> Iterator[ParamInfo]:
    if isinstance(node, Choice):
        yield ParamInfo(node, path, condition)
        for index, option in enumerate(node.options):
            branch = (*condition, (node.label, index))
            yield from _walk(option, f"{path}<{node.label}={index}>", branch)
    elif isinstance(node, Distribution):
        yield ParamInfo(node, path, condition)
    elif isinstance(node, Transform):
        for index, arg in enumerate(node.args):
            yield from _walk(arg, f"{path}.transform[{index}]", condition)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}[{key!r}]", condition)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]", condition)


def _evaluate(node: Any, flat: Mapping[str, Any]) -> Any:
    if isinstance(node, Distribution):
        try:
            value = flat[node.label]
        except KeyError:
            raise KeyError(f"no value for parameter {node.label!r}") from None
        if isinstance(node, Choice):
            return _evaluate(node.options[int(value)], flat)
        return int(value) if node.is_integer else value
    if isinstance(node, Transform):
        return node.fn(*(_evaluate(arg, flat) for arg in node.args))
    if isinstance(node, dict):
        return {key: _evaluate(value, flat) for key, value in node.items()}
    if isinstance(node, list):
        return [_evaluate(value, flat) for value in node]
    if isinstance(node, tuple):
        return tuple(_evaluate(value, flat) for value in node)
    return node


def as_space(space: Any) -> Space:
    """Compile ``space`` unless it already is a :class:`Space`."""
    return space if isinstance(space, Space) else Space(space)


def sample(space: Any, seed: int | np.random.Generator | None = None) -> Any:
    """One random nested configuration of ``space`` (hyperopt's ``pyll.stochastic.sample``)."""
    return as_space(space).sample(seed)


def space_eval(space: Any, flat_values: Mapping[str, Any]) -> Any:
    """Nested configuration from flat label -> value, choices given as indices."""
    return as_space(space).evaluate(flat_values)
