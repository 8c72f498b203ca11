"""One BLAS/OpenMP thread while a model-based backend computes a suggestion.

The model-based backends (SMAC, BoTorch, Optuna's GP, scikit-optimize) factor
matrices of a few hundred rows at most, where extra BLAS and OpenMP threads gain
little alone and cost a lot on a busy machine: on 2 shared cores, a 5-D SMAC GP
suggestion at 35 trials took 12.1 s with the default threads and 2.4 s with one
(docs/backends.md). The limit
holds during the backend's own calls only and is lifted afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def single_threaded() -> Iterator[None]:
    """BLAS, OpenMP and (if loaded) torch limited to one thread inside the block."""
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=1):
        if torch is not None:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch is not None and torch_threads is not None:
                torch.set_num_threads(torch_threads)
