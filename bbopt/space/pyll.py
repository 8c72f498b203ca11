"""Spaces built with hyperopt's own ``hp`` and ``scope`` (pyll graphs), as bbopt nodes.

A space holding any hyperopt node is read the way ``hyperopt.fmin`` reads it: the
whole tree goes through ``pyll.as_apply`` first, so the objective receives what
hyperopt would give it (lists become tuples, dict keys come sorted). Then each
node becomes a bbopt node:

- ``hp.uniform`` ... ``hp.qlognormal`` (``float(hyperopt_param(label, dist))``): the
  distribution of the same name; ``hp.randint``: :class:`~bbopt.space.nodes.RandInt`;
  ``hp.uniformint`` and ``scope.int(hp.quniform(label, low, high, 1))`` with integer
  bounds: :class:`~bbopt.space.nodes.UniformInt`;
- ``hp.choice`` / ``hp.pchoice``: :class:`~bbopt.space.nodes.Choice` /
  :class:`~bbopt.space.nodes.PChoice`; dicts and lists: dicts and tuples; literals:
  constants;
- any other function of pyll's ``scope`` (``scope.int``, ``scope.float``, a
  ``@scope.define`` function, arithmetic on expressions such as ``2 ** node``):
  :func:`~bbopt.space.nodes.transform` of that function.

A node that has no bbopt meaning (a random node without a label, a bound that is
itself an expression, ...) is an :class:`UntranslatableNodeError` naming it and
where it is. hyperopt is not imported to find out whether a tree holds pyll nodes
(none can exist before ``hyperopt.pyll`` was imported).
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from typing import Any

from bbopt.space.nodes import (
    MAX_DEPTH,
    NUMERIC_DISTRIBUTIONS,
    Choice,
    Distribution,
    PChoice,
    RandInt,
    Transform,
    UniformInt,
)

#: hyperopt's float-valued random nodes and the bbopt distribution of each; their
#: arguments have the names of the bbopt fields (low, high, q / mu, sigma, q).
_FLOAT_KINDS = (
    "uniform",
    "quniform",
    "loguniform",
    "qloguniform",
    "normal",
    "qnormal",
    "lognormal",
    "qlognormal",
)
FLOAT_DISTRIBUTIONS: dict[str, type[Distribution]] = {
    name: NUMERIC_DISTRIBUTIONS[name] for name in _FLOAT_KINDS
}
RANDOM_NODES = frozenset({*FLOAT_DISTRIBUTIONS, "randint", "categorical"})


class UntranslatableNodeError(ValueError):
    """A node of a hyperopt space that has no equivalent in bbopt's space language."""


def is_pyll(value: Any) -> bool:
    """Whether ``value`` is a node of a hyperopt (pyll) graph."""
    base = sys.modules.get("hyperopt.pyll.base")
    return base is not None and isinstance(value, base.Apply)


def holds_pyll(tree: Any, depth: int = 0) -> bool:
    """Whether ``tree`` is or contains a pyll node (inside containers or bbopt nodes)."""
    if "hyperopt.pyll.base" not in sys.modules or depth > MAX_DEPTH:
        return False
    if is_pyll(tree):
        return True
    if isinstance(tree, Choice):
        children: Any = tree.options
    elif isinstance(tree, Transform):
        children = tree.args
    elif isinstance(tree, dict):
        children = tree.values()
    elif isinstance(tree, (list, tuple)):
        children = tree
    else:
        return False
    return any(holds_pyll(child, depth + 1) for child in children)


def from_pyll(tree: Any) -> Any:
    """``tree`` with every pyll node translated into bbopt nodes (``tree`` itself when it
    holds none)."""
    if not holds_pyll(tree):
        return tree
    return _Translator().value(tree, "space")


class _Translator:
    def __init__(self) -> None:
        from hyperopt import pyll

        self.pyll = pyll
        self.impls: dict[str, Any] = pyll.scope._impls

    def value(self, value: Any, path: str) -> Any:
        """A Python value that may hold pyll nodes (the user's tree, or a literal)."""
        if not holds_pyll(value):
            return value
        if isinstance(value, Choice):
            options = tuple(
                self.value(o, f"{path}<{value.label}={i}>") for i, o in enumerate(value.options)
            )
            if isinstance(value, PChoice):
                return PChoice(value.label, options, value.weights)
            return Choice(value.label, options)
        if isinstance(value, Transform):
            args = (self.value(a, f"{path}.transform[{i}]") for i, a in enumerate(value.args))
            return Transform(value.fn, tuple(args))
        return self.node(self.pyll.as_apply(value), path)

    def node(self, node: Any, path: str) -> Any:
        name = node.name
        if name == "literal":
            return self.value(node.obj, path)
        if name == "dict":
            items = dict(self.node(node.pos_args[0], path)) if node.pos_args else {}
            items.update((k, self.node(v, f"{path}[{k!r}]")) for k, v in node.named_args)
            return items
        if name == "pos_args":
            return tuple(self.node(a, f"{path}[{i}]") for i, a in enumerate(node.pos_args))
        if name == "switch":
            return self.switch(node, path)
        if name in ("float", "int", "hyperopt_param"):
            param = self.parameter(node, path)
            if param is not None:
                return param
        if name in RANDOM_NODES:
            raise UntranslatableNodeError(
                f"the random node {name!r} at {path} has no label: build it with hp.* (label, ...)"
            )
        if name == "hyperopt_param":
            raise UntranslatableNodeError(
                f"hyperopt parameter {self.label(node)!r} at {path} draws from "
                f"{node.arg['obj'].name!r}, which bbopt does not know"
            )
        return self.function(node, path)

    def parameter(self, node: Any, path: str) -> Distribution | None:
        """The distribution of ``hyperopt_param(label, dist)``, ``float(...)`` of a float one,
        ``int(...)`` of a randint or of a unit-step quniform; None for other nodes."""
        inner = node.pos_args[0] if node.name in ("float", "int") and node.pos_args else node
        if node.name == "int" and inner.name == "float" and inner.pos_args:
            inner = inner.pos_args[0]
        if inner.name != "hyperopt_param":
            return None
        label, dist = self.label(inner), inner.arg["obj"]
        kind = dist.name
        if kind in FLOAT_DISTRIBUTIONS and node.name != "int":
            cls = FLOAT_DISTRIBUTIONS[kind]
            values = {f: self.constant(dist, f, label, path) for f in _fields(cls)}
            return self.build(cls, path, label, **values)
        if kind == "quniform" and node.name == "int":
            low, high, q = (self.constant(dist, f, label, path) for f in ("low", "high", "q"))
            if q == 1 and all(float(b).is_integer() for b in (low, high)):
                return self.build(UniformInt, path, label, low=low, high=high)
            return None  # int() of another quniform: a transform of it
        if kind == "randint" and node.name != "float":
            low = self.constant(dist, "low", label, path)
            high = self.constant(dist, "high", label, path, missing=None)
            low, high = (0, low) if high is None else (low, high)
            return self.build(RandInt, path, label, low=low, high=high)
        if kind == "categorical" and node.name == "hyperopt_param":
            weights = tuple(self.constant(dist, "p", label, path))
            return self.build(
                PChoice, path, label, options=tuple(range(len(weights))), weights=weights
            )
        return None

    def switch(self, node: Any, path: str) -> Choice:
        """``hp.choice`` / ``hp.pchoice``: a switch on a labelled randint / categorical."""
        index, raw_options = node.pos_args[0], node.pos_args[1:]
        kind = index.arg["obj"].name if index.name == "hyperopt_param" else None
        if kind not in ("randint", "categorical"):
            raise UntranslatableNodeError(
                f"the switch at {path} does not choose on a labelled randint or categorical "
                "(build it with hp.choice or hp.pchoice)"
            )
        label = self.label(index)
        options = tuple(self.node(o, f"{path}<{label}={i}>") for i, o in enumerate(raw_options))
        dist = index.arg["obj"]
        if kind == "categorical":
            weights = tuple(self.constant(dist, "p", label, path))
            return self.build(PChoice, path, label, options=options, weights=weights)
        low = self.constant(dist, "low", label, path)
        high = self.constant(dist, "high", label, path, missing=None)
        if (high is not None and low != 0) or (high if high is not None else low) != len(options):
            raise UntranslatableNodeError(
                f"the choice {label!r} at {path} draws its index from a randint that does "
                f"not span its {len(options)} options"
            )
        return self.build(Choice, path, label, options=options)

    def function(self, node: Any, path: str) -> Transform:
        """A node computing a function of its inputs (``scope.int``, a ``@scope.define``
        function, arithmetic): a transform of that function."""
        fn = self.impls.get(node.name)
        if fn is None:
            raise UntranslatableNodeError(
                f"hyperopt node {node.name!r} at {path} is not defined in pyll's scope"
            )
        where = f"{path}.{node.name}"
        args = [self.node(a, f"{where}[{i}]") for i, a in enumerate(node.pos_args)]
        named = {k: self.node(v, f"{where}[{k!r}]") for k, v in node.named_args}
        if named:
            args = self.positional(fn, node.name, args, named, path)
        return Transform(fn, tuple(args))

    @staticmethod
    def positional(
        fn: Any, name: str, args: list[Any], named: dict[str, Any], path: str
    ) -> list[Any]:
        """Keyword arguments of a pyll call bound to positions (a transform passes its
        arguments by position)."""
        try:
            bound = inspect.signature(fn).bind(*args, **named)
        except (TypeError, ValueError) as exc:
            raise UntranslatableNodeError(
                f"cannot pass the keyword arguments {sorted(named)} of hyperopt node "
                f"{name!r} at {path}: {exc}"
            ) from None
        if bound.kwargs:
            raise UntranslatableNodeError(
                f"hyperopt node {name!r} at {path} passes keyword-only arguments "
                f"{sorted(bound.kwargs)}; bbopt transforms take positional arguments"
            )
        return list(bound.args)

    def label(self, param: Any) -> str:
        label = param.arg["label"]
        return label.obj if label.name == "literal" else repr(label)

    def constant(
        self, dist: Any, field: str, label: str, path: str, missing: Any = inspect.Parameter.empty
    ) -> Any:
        """The constant argument ``field`` of the random node ``dist``."""
        arg = dist.arg.get(field, self.pyll.base.MissingArgument)
        if arg is self.pyll.base.MissingArgument:
            if missing is not inspect.Parameter.empty:
                return missing
            raise UntranslatableNodeError(
                f"hyperopt parameter {label!r} at {path} lacks its {field!r} argument"
            )
        if arg.name == "literal":
            return arg.obj
        if arg.name == "pos_args" and all(a.name == "literal" for a in arg.pos_args):
            return tuple(a.obj for a in arg.pos_args)
        raise UntranslatableNodeError(
            f"the {field!r} of hyperopt parameter {label!r} at {path} is an expression "
            f"({arg.name!r}); bbopt needs constant arguments"
        )

    @staticmethod
    def build(cls: type[Distribution], path: str, label: str, **values: Any) -> Any:
        try:
            return cls(label, **values)
        except (TypeError, ValueError) as exc:
            raise UntranslatableNodeError(
                f"hyperopt parameter {label!r} at {path}: {exc}"
            ) from None


def _fields(cls: type[Distribution]) -> list[str]:
    """The numeric fields of a distribution class after its label (low, high, q, ...)."""
    return [f.name for f in dataclasses.fields(cls) if f.name != "label"]
