"""``bbopt worker`` and ``bbopt-mongo-worker``: queue workers from the command line.

``bbopt worker --storage mongodb://host:27017/db [--study NAME]`` claims queued
trials of the studies a driver runs with ``executor="queue"``, evaluates them and
writes their results (:class:`~bbopt.execution.queue_worker.QueueWorker`).
``bbopt-mongo-worker --mongo=host:27017/db [--exp-key NAME]`` (:func:`bbopt.cli
.mongo_worker_main`) is the same worker under hyperopt-mongo-worker's name and
options.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from typing import Any


def add_worker_arguments(command: argparse.ArgumentParser, hyperopt_names: bool) -> None:
    """The worker's options; ``hyperopt_names`` adds hyperopt-mongo-worker's spellings."""
    where = command.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--storage",
        metavar="ADDRESS",
        help="mongodb://[user@]host:port/db, or an SQLite file (workers on this machine); "
        "a password is best given in BBOPT_MONGO_PASSWORD, not on the command line",
    )
    where.add_argument(
        "--mongo", metavar="HOST:PORT/DB", help="hyperopt's form of a MongoDB address"
    )
    study = ["--study", "--exp-key"] if hyperopt_names else ["--study"]
    command.add_argument(*study, dest="study", metavar="NAME", help="default: every queue study")
    command.add_argument(
        "--allow-pickle",
        action="store_true",
        help="run objectives the driver stored pickled: that runs code from the database, "
        "only for databases you trust",
    )
    command.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="import a module that registers objectives (repeatable)",
    )
    poll = ["--poll", "--poll-interval"] if hyperopt_names else ["--poll"]
    command.add_argument(
        *poll, dest="poll", type=float, default=0.5, metavar="SECONDS", help="default: %(default)s"
    )
    idle = ["--idle-timeout", "--reserve-timeout"] if hyperopt_names else ["--idle-timeout"]
    command.add_argument(
        *idle,
        dest="idle_timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this long without a queued trial (default: never)",
    )
    most = ["--stop-after", "--max-jobs"] if hyperopt_names else ["--stop-after"]
    command.add_argument(
        *most, dest="max_trials", type=int, default=None, metavar="N", help="stop after N trials"
    )
    command.add_argument("--quiet", action="store_true", help="log only warnings")


def add_worker_command(commands: Any) -> None:
    """``bbopt worker``, for the ``bbopt`` command's subcommands."""
    command = commands.add_parser(
        "worker",
        help="run queued trials of a shared storage (executor='queue')",
        description="Claim queued trials of studies whose driver runs with "
        "executor='queue', evaluate them and write their results; start any number, "
        "on any machine. Ctrl-C or SIGTERM gives the running trial back to the queue.",
    )
    add_worker_arguments(command, hyperopt_names=False)
    command.set_defaults(handler=run_worker)


def run_worker(args: argparse.Namespace) -> int:
    """Run one worker from parsed arguments until it stops; returns the exit code."""
    from bbopt.execution.queue_worker import QueueWorker
    from bbopt.storage import as_storage
    from bbopt.storage.mongo import hyperopt_url

    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="bbopt worker: %(message)s",
        stream=sys.stderr,
    )
    sys.path.insert(0, os.getcwd())  # --import finds modules of the current folder
    for module in args.modules:
        importlib.import_module(module)
    address = args.storage if args.storage is not None else hyperopt_url(args.mongo)
    storage = as_storage(address)
    worker = QueueWorker(
        storage,
        args.study,
        allow_pickle=args.allow_pickle,
        poll=args.poll,
        idle_timeout=args.idle_timeout,
        max_trials=args.max_trials,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    logging.getLogger("bbopt.worker").info("%s on %r", worker.name, storage)
    try:
        worker.run()
    except KeyboardInterrupt:
        logging.getLogger("bbopt.worker").info("stopped after %d trials", worker.evaluated)
    finally:
        storage.close()
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
