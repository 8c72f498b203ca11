"""Library versions recorded with a study, so a result can be traced to what made it."""

from __future__ import annotations

import functools
import platform
from importlib import metadata


def library_versions(*modules: str) -> dict[str, str]:
    """Versions of Python, bbopt and the distributions that provide ``modules`` (import
    names such as ``"hyperopt"`` or ``"optuna"``), from installed package metadata."""
    return dict(_versions(modules))


@functools.lru_cache(maxsize=64)
def _versions(modules: tuple[str, ...]) -> dict[str, str]:
    """Looked up once per process: reading package metadata can take 0.2 s."""
    versions = {"python": platform.python_version()}
    for name in dict.fromkeys(("bbopt", *modules)):
        try:
            versions[name] = metadata.version(name)
            continue
        except metadata.PackageNotFoundError:
            pass
        for dist in metadata.packages_distributions().get(name, []):  # import name != dist name
            versions[dist] = metadata.version(dist)
    return versions
