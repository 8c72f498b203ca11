"""The package's structure: no import cycle among bbopt's modules, layers respected."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bbopt"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at module level or inside functions, except those only
    for type checkers."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def _resolve(name: str) -> str | None:
    """The bbopt module ``name`` stands for (a package's ``__init__`` for a package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imported_modules(module: str) -> set[str]:
    """The bbopt modules ``module`` imports, anywhere in its code."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from pkg import sub` imports the submodule when there is one, else a name
            # defined in the module (or package ``__init__``) itself
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        for target in targets:
            resolved = _resolve(target)
            if resolved is not None and resolved != module:
                found.add(resolved)
    return found


GRAPH = {module: imported_modules(module) for module in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_every_module_imports() -> None:
    for module in MODULES:
        importlib.import_module(module)


def test_no_import_cycle_among_bbopt_modules() -> None:
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Lower layers never import higher ones (DESIGN.md's layers, as built).
LAYERS = [
    {"bbopt.errors", "bbopt.registry", "bbopt.trial", "bbopt.space", "bbopt.hp", "bbopt.reporting"}
    | {"bbopt.space.nodes", "bbopt.space.serialize", "bbopt.space.pyll", "bbopt.space.compiled"},
    {"bbopt.storage", "bbopt.storage.base", "bbopt.storage.memory", "bbopt.storage.sqlite"}
    | {"bbopt.storage.records", "bbopt.storage.mongo"},
    {"bbopt.study"},
    {
        "bbopt.backends",
        "bbopt.backends.base",
        "bbopt.objective",
        "bbopt.studies",
        "bbopt.pruners",
        "bbopt.pruners.base",
    },
    {
        "bbopt.execution",
        "bbopt.execution.runner",
        "bbopt.execution.serial",
        "bbopt.execution.pruning",
        "bbopt.execution.channel",
        "bbopt.execution.queue",
        "bbopt.execution.queue_worker",
    },
    {"bbopt.optimize"},
    {"bbopt.cli", "bbopt.worker_cli", "bbopt.hyperopt", "bbopt.hyperopt.search"}
    | {"bbopt.hyperopt.algos"},
]


@pytest.mark.parametrize("level", range(len(LAYERS) - 1))
def test_a_layer_imports_no_higher_layer(level: int) -> None:
    higher = set().union(*LAYERS[level + 1 :])
    for module in LAYERS[level]:
        assert not GRAPH[module] & higher, f"{module} imports {sorted(GRAPH[module] & higher)}"
