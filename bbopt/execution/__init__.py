"""How trials run: their life (one runner), when to stop, and where they are evaluated.

Serially in this process by default; ``minimize(..., workers=N)`` runs trials in N
spawned local processes, ``executor="dask"`` on a Dask LocalCluster,
``executor="tcp://host:8786"`` on a running Dask scheduler that workers on other
machines joined, ``executor="queue"`` through a shared storage that ``bbopt worker``
processes on any machines pull trials from. Modules:

- :mod:`~bbopt.execution.runner`: a trial's life (start, finish, abandon, tell);
- :mod:`~bbopt.execution.stop`: the stop rules; :mod:`~bbopt.execution.progress`: the bar;
- :mod:`~bbopt.execution.serial`: the serial loop;
- :mod:`~bbopt.execution.plan`: the validated parallel settings and their engine;
- :mod:`~bbopt.execution.loop`: the loop that keeps N trials in flight;
- :mod:`~bbopt.execution.engine`, :mod:`~bbopt.execution.pool`,
  :mod:`~bbopt.execution.dask_engine`: the engines;
- :mod:`~bbopt.execution.worker`: what runs in a worker;
- :mod:`~bbopt.execution.queue`, :mod:`~bbopt.execution.queue_worker`: the work queue's
  driver and its workers.
"""

from bbopt.execution.engine import Engine
from bbopt.execution.loop import run_parallel
from bbopt.execution.plan import Execution
from bbopt.execution.queue import WorkQueue, run_queue
from bbopt.execution.runner import Callback, TrialRunner, worker_name
from bbopt.execution.serial import run_serial
from bbopt.execution.stop import EarlyStop, StopRules, no_progress_loss

__all__ = [
    "Callback",
    "EarlyStop",
    "Engine",
    "Execution",
    "StopRules",
    "TrialRunner",
    "WorkQueue",
    "no_progress_loss",
    "run_parallel",
    "run_queue",
    "run_serial",
    "worker_name",
]
