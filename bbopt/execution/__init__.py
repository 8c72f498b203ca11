"""Where trials run: serially (the default), in local worker processes, or on Dask.

``minimize(..., workers=N)`` runs trials in N spawned local processes,
``executor="dask"`` on a Dask LocalCluster, ``executor="tcp://host:8786"`` on a
running Dask scheduler that workers on other machines joined. Modules:

- :mod:`~bbopt.execution.plan`: the validated settings and which engine they open;
- :mod:`~bbopt.execution.loop`: the loop that keeps N trials in flight;
- :mod:`~bbopt.execution.engine`, :mod:`~bbopt.execution.pool`,
  :mod:`~bbopt.execution.dask_engine`: the engines;
- :mod:`~bbopt.execution.worker`: what runs in a worker.
"""

from bbopt.execution.engine import Engine
from bbopt.execution.loop import run_parallel
from bbopt.execution.plan import Execution

__all__ = ["Engine", "Execution", "run_parallel"]
