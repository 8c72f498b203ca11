"""Space trees as JSON data and back: what storages keep and compare (never code)."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from bbopt.space.nodes import (
    _TRANSFORMS,
    MAX_DEPTH,
    NUMERIC_DISTRIBUTIONS,
    Choice,
    Distribution,
    PChoice,
    Transform,
    UnresolvedTransform,
    function_name,
)


def tree_to_json(node: Any) -> Any:
    """A space tree as plain JSON data (functions by ``module:qualname``, odd constants by
    their ``repr``)."""
    if isinstance(node, Choice):
        options = [tree_to_json(o) for o in node.options]
        data: dict[str, Any] = {"type": node.kind, "label": node.label, "options": options}
        if isinstance(node, PChoice):
            data["weights"] = list(node.weights)
        return data
    if isinstance(node, Distribution):
        return node.to_json()
    if isinstance(node, Transform):
        return {
            "type": "transform",
            "fn": function_name(node.fn),
            "args": [tree_to_json(a) for a in node.args],
        }
    if isinstance(node, dict):
        return {"type": "dict", "items": {str(k): tree_to_json(v) for k, v in node.items()}}
    if isinstance(node, (list, tuple)):
        return {"type": type(node).__name__, "items": [tree_to_json(v) for v in node]}
    try:
        json.dumps(node)
    except TypeError:
        return {"type": "const", "repr": repr(node)}
    return {"type": "const", "value": node}


def tree_from_json(data: Any, depth: int = 0) -> Any:
    """The tree :func:`tree_to_json` described: data only, nothing imported or called (a
    transform function not defined by code of this process stays unresolved)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"the space nests deeper than {MAX_DEPTH} levels")
    if not isinstance(data, dict):
        raise ValueError(f"a space node must be an object, got {data!r:.60}")
    kind = data.get("type")
    if kind in NUMERIC_DISTRIBUTIONS:
        cls = NUMERIC_DISTRIBUTIONS[kind]
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k != "type"}
        if set(values) != names:
            raise ValueError(f"a {kind} node needs the fields {sorted(names)}")
        return cls(**values)
    if kind in ("choice", "pchoice"):
        label, options = data.get("label"), data.get("options")
        if not isinstance(options, list):
            raise ValueError(f"choice {label!r} has no list of options")
        branches = tuple(tree_from_json(o, depth + 1) for o in options)
        if kind == "choice":
            return Choice(label, branches)  # type: ignore[arg-type]
        weights = data.get("weights")
        if not isinstance(weights, list):
            raise ValueError(f"pchoice {label!r} has no list of weights")
        return PChoice(label, branches, tuple(weights))  # type: ignore[arg-type]
    if kind == "transform":
        name, args = data.get("fn"), data.get("args")
        if not isinstance(name, str) or not isinstance(args, list):
            raise ValueError("a transform node needs a function name and a list of args")
        fn = _TRANSFORMS.get(name) or UnresolvedTransform(name)
        return Transform(fn, tuple(tree_from_json(a, depth + 1) for a in args))
    items = data.get("items")
    if kind == "dict" and isinstance(items, dict):
        return {k: tree_from_json(v, depth + 1) for k, v in items.items()}
    if kind in ("list", "tuple") and isinstance(items, list):
        nodes = [tree_from_json(v, depth + 1) for v in items]
        return nodes if kind == "list" else tuple(nodes)
    if kind == "const":
        return data.get("value", data.get("repr"))
    raise ValueError(f"unknown space node {kind!r:.40}")
