"""Optional packages of backends: imported when a backend is created, never when it registers."""

from __future__ import annotations

import importlib
from typing import Any

from bbopt.errors import MissingDependencyError


def require(module: str, extra: str, backend: str, package: str | None = None) -> Any:
    """Import ``module`` for ``backend``, or raise MissingDependencyError naming the extra.

    ``package`` is the name pip installs when it differs from the module's
    (``scikit-optimize`` for ``skopt``).
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(package or module, extra, f"the {backend} backend") from None
