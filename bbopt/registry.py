"""Name -> item registries filled by decorators, built-in modules and entry points."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from bbopt.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Items by name. Built-in modules and entry points are loaded on first lookup or registration,
    so that ``import bbopt`` stays light."""

    def __init__(
        self,
        kind: str,
        group: str,
        builtin_modules: Iterable[str],
        from_entry_point: Callable[[EntryPoint, object], list[tuple[str, T]]],
    ) -> None:
        self.kind = kind
        self.group = group
        self._builtin_modules = tuple(builtin_modules)
        self._from_entry_point = from_entry_point
        self._items: dict[str, T] = {}
        self._loaded = False
        self._loading = False

    def register(self, name: str, item: T, *, replace: bool = False) -> T:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} names must be non-empty strings, got {name!r}")
        if not replace:
            self.load()  # built-in and plugin names are taken first
        if not replace and name in self._items and self._items[name] is not item:
            raise ValueError(f"{self.kind} {name!r} is already registered (pass replace=True)")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        self.load()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items) from None

    def names(self) -> list[str]:
        self.load()
        return sorted(self._items)

    def load(self) -> None:
        """Import the built-in modules, then the entry points (once; a failed built-in
        import is raised again on the next call)."""
        if self._loaded or self._loading:  # built-in modules register while loading
            return
        self._loading = True
        try:
            for module in self._builtin_modules:
                importlib.import_module(module)
        finally:
            self._loading = False
        self._loaded = True
        for entry_point in entry_points(group=self.group):
            try:
                loaded = entry_point.load()
                pairs = self._from_entry_point(entry_point, loaded)
            except Exception as exc:  # a broken plugin must not break bbopt
                warnings.warn(
                    f"could not load {self.kind} entry point {entry_point.name!r} "
                    f"({entry_point.value}): {exc}",
                    RuntimeWarning,
                    stacklevel=3,
                )
                continue
            for name, item in pairs:
                self._add_plugin(entry_point, name, item)

    def _add_plugin(self, entry_point: EntryPoint, name: str, item: T) -> None:
        """Register an entry point's item, unless its name is taken (a built-in's, or an
        earlier plugin's): then a warning names both, and the first keeps the name."""
        taken = self._items.get(name)
        if taken is not None and taken is not item:
            warnings.warn(
                f"{self.kind} entry point {entry_point.name!r} ({entry_point.value}) is "
                f"skipped: {name!r} is already {_where(taken)}'s",
                RuntimeWarning,
                stacklevel=4,
            )
            return
        self.register(name, item, replace=True)


def _where(item: object) -> str:
    """The module an item comes from, for messages."""
    module = getattr(item, "__module__", None) or type(item).__module__
    return str(module)


C = TypeVar("C", bound=type)


class ClassRegistry(Registry[C]):
    """A registry of subclasses of ``base`` (backends, pruners) named by their ``name``
    class attribute; entry points name the class itself."""

    def __init__(self, kind: str, group: str, builtin_modules: Iterable[str], base: type) -> None:
        super().__init__(kind, group, builtin_modules, self._classes_from_entry_point)
        self.base = base

    def _check(self, cls: object, what: str) -> C:
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"{what} needs a {self.base.__name__} subclass, got {cls!r}")
        return cls  # type: ignore[return-value]  # checked just above

    def _classes_from_entry_point(
        self, entry_point: EntryPoint, loaded: object
    ) -> list[tuple[str, C]]:
        cls = self._check(loaded, f"entry point {entry_point.name!r}")
        return [(getattr(cls, "name", "") or entry_point.name, cls)]

    def register_class(self, cls: object, name: str | None = None, *, replace: bool = False) -> C:
        """Register ``cls`` under ``name`` (default: its ``name`` attribute); returns it."""
        checked = self._check(cls, f"register_{self.kind}")
        self.register(name or str(getattr(checked, "name", "")), checked, replace=replace)
        return checked
