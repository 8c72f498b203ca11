"""fmin's ``algo`` and ``rstate`` as a bbopt backend.

``tpe.suggest``, ``rand.suggest`` and ``anneal.suggest`` (hyperopt's own functions,
or ``partial``\\ s of them with options) become the ``hyperopt.*`` backends with
those options; a name such as ``"optuna.tpe"``, a Backend class or an instance is
used as it is. The hyperopt backends draw their suggest seeds from ``rstate``
exactly as ``hyperopt.fmin`` does, so a serial run evaluates fmin's points.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
from hyperopt import anneal, rand, tpe

from bbopt.backends import Backend, create_backend, get_backend
from bbopt.backends.hyperopt import HyperoptBackend
from bbopt.optimize import SEED_BOUND, draw_seed
from bbopt.space import Space

SUGGEST_BACKENDS = {
    tpe.suggest: "hyperopt.tpe",
    rand.suggest: "hyperopt.rand",
    anneal.suggest: "hyperopt.anneal",
}
"""hyperopt's suggest functions and the bbopt backend that runs each."""

Algo = Any
"""What fmin accepts as ``algo``: a suggest function, a partial of one, a backend name,
a Backend class or instance, or None (TPE)."""


def backend_of(algo: Algo) -> tuple[str | Backend | type[Backend], dict[str, Any]]:
    """The bbopt backend (and its options) that runs ``algo``."""
    if algo is None:
        return "hyperopt.tpe", {}
    if isinstance(algo, (str, Backend)) or (isinstance(algo, type) and issubclass(algo, Backend)):
        return algo, {}
    function, options = algo, {}
    if isinstance(algo, functools.partial):
        if algo.args:
            raise ValueError(
                f"algo {_name(algo.func)} is given positional arguments {algo.args!r}: "
                "pass its options by keyword, e.g. partial(tpe.suggest, n_startup_jobs=10)"
            )
        function, options = algo.func, dict(algo.keywords)
    try:
        name = SUGGEST_BACKENDS.get(function)
    except TypeError:  # not hashable: certainly not a suggest function
        name = None
    if name is None:
        raise ValueError(
            f"algo {_name(function)} has no bbopt backend: use tpe.suggest, rand.suggest or "
            "anneal.suggest (or a partial of one), a backend name such as 'optuna.tpe' "
            "(see bbopt.list_backends()), or a bbopt Backend"
        )
    return name, options


def _name(function: Any) -> str:
    module, qualname = (
        getattr(function, "__module__", None),
        getattr(function, "__qualname__", None),
    )
    return f"{module}.{qualname}" if module and qualname else repr(function)


def fmin_backend(algo: Algo, space: Space, rstate: Any, max_evals: int | None = None) -> Backend:
    """The backend for one fmin run: ``algo`` seeded from ``rstate`` as hyperopt does.

    ``rstate`` is a ``numpy.random.Generator`` (its draws give the suggest seeds, and
    it is left advanced as fmin leaves it), an int seed, or None: hyperopt's
    ``HYPEROPT_FMIN_SEED`` environment variable, else a seed drawn and recorded.
    Backends outside hyperopt get one seed drawn from a Generator ``rstate``, and
    ``max_evals`` as their budget where they take one (Nevergrad's, SMAC's), as
    ``minimize`` gives it.
    """
    backend, options = backend_of(algo)
    if isinstance(backend, Backend):
        return backend
    cls = get_backend(backend) if isinstance(backend, str) else backend
    seed, rng = _seed_and_generator(rstate)
    if issubclass(cls, HyperoptBackend):
        made = create_backend(cls, space, seed, options)
        assert isinstance(made, HyperoptBackend)
        made.follow_rstate(rng)
        return made
    return create_backend(
        cls,
        space,
        int(rng.integers(SEED_BOUND)) if seed is None else seed,
        options,
        max_evals=max_evals,
    )


def _seed_and_generator(rstate: Any) -> tuple[int | None, np.random.Generator]:
    """The seed to record (None for a caller's Generator) and the generator to draw from."""
    if rstate is None:
        env = os.environ.get("HYPEROPT_FMIN_SEED", "")
        rstate = int(env) if env else draw_seed()
    if isinstance(rstate, np.random.Generator):
        return None, rstate
    if isinstance(rstate, (int, np.integer)) and not isinstance(rstate, bool):
        return int(rstate), np.random.default_rng(int(rstate))
    raise TypeError(
        f"rstate must be a numpy.random.Generator (np.random.default_rng(seed)) or an int "
        f"seed, got {rstate!r}"
    )
