"""Conformance suites that third parties run on their own backends and storages.

Like scikit-learn's ``check_estimator``: :func:`check_backend` for a Backend,
:func:`check_storage` for a Storage, :func:`check_pruner` for a Pruner; each also comes
as one pytest test per check (:func:`parametrize_with_checks`,
:func:`parametrize_with_storage_checks`, :func:`parametrize_with_pruner_checks`).
"""

from bbopt.testing.backends import (
    CHECKS,
    BackendUnderTest,
    check_backend,
    conditional_space,
    every_node_space,
    parametrize_with_checks,
)
from bbopt.testing.pruners import (
    PRUNER_CHECKS,
    PrunerUnderTest,
    check_pruner,
    parametrize_with_pruner_checks,
)
from bbopt.testing.storages import (
    STORAGE_CHECKS,
    StorageUnderTest,
    check_storage,
    parametrize_with_storage_checks,
)

__all__ = [
    "CHECKS",
    "PRUNER_CHECKS",
    "STORAGE_CHECKS",
    "BackendUnderTest",
    "PrunerUnderTest",
    "StorageUnderTest",
    "check_backend",
    "check_pruner",
    "check_storage",
    "conditional_space",
    "every_node_space",
    "parametrize_with_checks",
    "parametrize_with_pruner_checks",
    "parametrize_with_storage_checks",
]
