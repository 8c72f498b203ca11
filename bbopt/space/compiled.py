"""A compiled search space: parameters found once, flat points to nested configurations.

:class:`Space` compiles any space tree (bbopt's nodes, or a space built with
hyperopt's own ``hp`` and ``scope``, translated by :mod:`bbopt.space.pyll`): it
validates labels, records which choice branch activates each parameter, and offers
sampling, flat point <-> nested configuration, and a JSON description.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bbopt.space.nodes import Choice, Distribution, ParamInfo, Transform, collect_params
from bbopt.space.pyll import from_pyll
from bbopt.space.serialize import tree_from_json, tree_to_json


@dataclass
class Space:
    """A compiled, validated search space. Build it from any space tree.

    Flat points (label -> value, choices as option indices) are what backends
    suggest and storages keep; :meth:`to_params` builds the nested configuration an
    objective receives, and :meth:`to_flat` goes back.
    """

    tree: Any
    params: dict[str, ParamInfo] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.tree, Space):
            self.tree = self.tree.tree
        self.tree = from_pyll(self.tree)
        self.params = collect_params(self.tree)

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
        return self.to_params(self.sample_flat(np.random.default_rng(rng)))

    def to_params(self, flat: Mapping[str, Any]) -> Any:
        """The nested configuration for flat label -> value (choices as indices), with
        transforms applied: what the objective receives (hyperopt's ``space_eval``)."""
        return _to_params(self.tree, flat)

    def to_flat(self, params: Any) -> dict[str, Any]:
        """The flat point of a nested configuration (the inverse of :meth:`to_params`):
        each choice becomes the index of the first option that matches. Values under a
        transform cannot be recovered and raise ValueError, as does anything that does
        not fit the space."""
        flat: dict[str, Any] = {}
        _to_flat(self.tree, params, flat, "params")
        return self.validate_flat(flat)

    def validate_flat(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Check a flat point: every active label present and in range, no unknown label;
        returns it with inactive labels dropped and numbers as plain Python values."""
        known = set(self.params)
        unknown = sorted(set(flat) - known)
        if unknown:
            raise ValueError(f"unknown parameter label(s) {unknown}; the space has {sorted(known)}")
        clean: dict[str, Any] = {}
        for label in self.active_labels(flat):
            if label not in flat:
                raise ValueError(f"point {dict(flat)} lacks a value for active label {label!r}")
            value = flat[label]
            if isinstance(value, np.generic):
                value = value.item()
            dist = self.params[label].dist
            try:
                inside = not isinstance(value, bool) and dist.contains(value)
            except (TypeError, ValueError, OverflowError):  # not a number at all
                inside = False
            if not inside:
                is_choice = isinstance(dist, Choice)
                hint = " (give a choice as the index of its option)" if is_choice else ""
                raise ValueError(
                    f"{label!r}: value {value!r} is outside its {dist.kind} range{hint}"
                )
            clean[label] = int(value) if dist.is_integer or isinstance(dist, Choice) else value
        return clean

    def to_json(self) -> dict[str, Any]:
        return {"bbopt_space": 1, "tree": tree_to_json(self.tree)}

    def fingerprint(self) -> str:
        """A canonical JSON string: equal for equal spaces, used to detect a changed space."""
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json(cls, data: Any) -> Space:
        """A space from :meth:`to_json`'s output: data only. A transform function is
        found only among those that code of this process already put in a space;
        otherwise it stays an :class:`UnresolvedTransform`. Bad content: ValueError."""
        if not isinstance(data, dict) or "tree" not in data:
            raise ValueError("not a bbopt space description")
        try:
            return cls(tree_from_json(data["tree"]))
        except (TypeError, KeyError) as exc:
            raise ValueError(f"bad space description: {exc}") from None


def _to_params(node: Any, flat: Mapping[str, Any]) -> Any:
    if isinstance(node, Distribution):
        try:
            value = flat[node.label]
        except KeyError:
            raise KeyError(f"no value for parameter {node.label!r}") from None
        if isinstance(node, Choice):
            index = int(value)
            if index != value or not 0 <= index < len(node.options):
                raise ValueError(
                    f"{node.label!r}: a choice index must be one of 0..{len(node.options) - 1}, "
                    f"got {value!r}"
                )
            return _to_params(node.options[index], flat)
        return int(value) if node.is_integer else value
    if isinstance(node, Transform):
        return node.fn(*(_to_params(arg, flat) for arg in node.args))
    if isinstance(node, dict):
        return {key: _to_params(value, flat) for key, value in node.items()}
    if isinstance(node, list):
        return [_to_params(value, flat) for value in node]
    if isinstance(node, tuple):
        return tuple(_to_params(value, flat) for value in node)
    return node


def _to_flat(node: Any, value: Any, flat: dict[str, Any], path: str) -> None:
    """Record in ``flat`` the labels that produce ``value`` from ``node``; ValueError if
    ``value`` cannot come from ``node``."""
    if isinstance(node, Choice):
        for index, option in enumerate(node.options):
            attempt = dict(flat)
            try:
                _to_flat(option, value, attempt, path)
            except ValueError:
                continue
            flat.clear()
            flat.update(attempt)
            flat[node.label] = index
            return
        raise ValueError(f"{path}: {value!r:.60} matches no option of choice {node.label!r}")
    if isinstance(node, Distribution):
        flat[node.label] = value
    elif isinstance(node, Transform):
        raise ValueError(f"{path}: the value of a transform cannot be mapped back to its inputs")
    elif isinstance(node, dict):
        if not isinstance(value, dict) or set(value) != set(node):
            raise ValueError(f"{path}: expected a dict with keys {sorted(map(str, node))}")
        for key, item in node.items():
            _to_flat(item, value[key], flat, f"{path}[{key!r}]")
    elif isinstance(node, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(node):
            raise ValueError(f"{path}: expected a sequence of {len(node)} items")
        for index, (item, part) in enumerate(zip(node, value, strict=True)):
            _to_flat(item, part, flat, f"{path}[{index}]")
    elif value != node:
        raise ValueError(f"{path}: expected the constant {node!r:.40}, got {value!r:.40}")


def as_space(space: Any) -> Space:
    """Compile ``space`` unless it already is a :class:`Space`."""
    return space if isinstance(space, Space) else Space(space)


def sample(space: Any, seed: int | np.random.Generator | None = None) -> Any:
    """One random nested configuration of ``space`` (hyperopt's ``pyll.stochastic.sample``)."""
    return as_space(space).sample(seed)


def space_eval(space: Any, flat_values: Mapping[str, Any]) -> Any:
    """Nested configuration from flat label -> value, choices given as indices."""
    return as_space(space).to_params(flat_values)
