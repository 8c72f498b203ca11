"""Shared fixtures: equivalent hyperopt/bbopt spaces and clean registries."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bbopt import hp as bbopt_hp
from bbopt.backends import registry as backend_registry
from bbopt.objective import registry as objective_registry
from bbopt.space import transform
from bbopt.testing.servers import LocalMongo, available_servers


def conditional_space(hp: Any, power_of_two: Callable[[Any], Any]) -> dict[str, Any]:
    """The tutorial's conditional space plus every node type, written once for either ``hp``.

    bbopt's ``hp`` has hyperopt's names and argument order, so the same code builds
    both; only the user transform is spelled differently (``2 ** node`` in hyperopt).
    """
    return {
        "optimizer": hp.choice(
            "opt",
            [
                {"name": "adam", "lr": hp.loguniform("adam_lr", -10, 0)},
                {
                    "name": "sgd",
                    "lr": hp.loguniform("sgd_lr", -10, 0),
                    "momentum": hp.uniform("momentum", 0, 1),
                },
            ],
        ),
        "second_layer": hp.choice(
            "second",
            [
                {"include": False},
                {
                    "include": True,
                    "size": hp.choice("l2_size", [5, 10, 15]),
                    "act": hp.choice("act", ["relu", hp.choice("inner", ["tanh", "sigmoid"])]),
                },
            ],
        ),
        "batch_size": power_of_two(hp.quniform("bs_exp", 0, 8, 1)),
        "layers": [hp.randint("n_low", 3, 9), hp.randint("n_upper", 4)],
        "pair": (hp.qnormal("qn", 0, 2, 0.5), hp.normal("nrm", 0, 1)),
        "init": hp.pchoice("init", [(0.2, "glorot"), (0.8, "he")]),
        "lognormals": {
            "ln": hp.lognormal("ln", 0, 1),
            "qln": hp.qlognormal("qln", 1, 1, 1),
        },
        "qlu": hp.qloguniform("qlu", 0, 3, 2),
        "units": hp.uniformint("units", 1, 7),
        "dropout": hp.quniform("dropout", 0, 0.5, 0.1),
        "constant": "fixed",
    }


def pchoice_space(hp: Any) -> dict[str, Any]:
    """A space led by a weighted choice whose branches hold their own parameters."""
    return {
        "model": hp.pchoice(
            "model",
            [
                (0.1, {"kind": "linear", "alpha": hp.loguniform("alpha", -5, 1)}),
                (0.6, {"kind": "tree", "depth": hp.randint("depth", 1, 12)}),
                (0.3, {"kind": "knn", "k": hp.quniform("k", 1, 30, 1)}),
            ],
        ),
        "scale": hp.uniform("scale", -2, 2),
    }


@pytest.fixture(scope="session")
def space_pairs() -> dict[str, tuple[Any, Any]]:
    """Equivalent (hyperopt space, bbopt space) pairs by name."""
    from hyperopt import hp as hyperopt_hp

    return {
        "toy": (hyperopt_hp.uniform("x", -10, 10), bbopt_hp.uniform("x", -10, 10)),
        "conditional": (
            conditional_space(hyperopt_hp, lambda node: 2**node),
            conditional_space(bbopt_hp, lambda node: transform(lambda e: 2**e, node)),
        ),
        "pchoice": (pchoice_space(hyperopt_hp), pchoice_space(bbopt_hp)),
    }


@pytest.fixture
def clean_registries() -> Iterator[None]:
    """Undo registrations made by a test, so tests do not leak names into each other."""
    objective_registry.names()  # load built-ins first so they survive the restore
    backend_registry.names()
    saved = dict(objective_registry._items), dict(backend_registry._items)
    yield
    objective_registry._items.clear()
    objective_registry._items.update(saved[0])
    backend_registry._items.clear()
    backend_registry._items.update(saved[1])


@pytest.fixture(scope="session", params=available_servers() or ["nx-27017"])
def mongo_server(request: pytest.FixtureRequest) -> Iterator[LocalMongo]:
    """A MongoDB wire-protocol server on 127.0.0.1 for the whole session: nx-27017, and a
    real ``mongod`` too when one is on PATH (tests using it run once per server)."""
    pytest.importorskip("pymongo")
    try:
        server = LocalMongo(request.param).start()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def mongo_url(mongo_server: LocalMongo) -> str:
    """The address of a new, empty database on the session's server."""
    return mongo_server.url(f"test_{uuid.uuid4().hex[:12]}")


_TESTS = Path(__file__).parent


@pytest.fixture
def queue_objectives() -> Iterator[Any]:
    """tests/queue_objectives.py's objectives, registered for one test."""
    import queue_objectives

    queue_objectives.register()
    yield queue_objectives
    for objective in queue_objectives.OBJECTIVES:
        objective_registry._items.pop(objective.name, None)


_LAUNCH = "import sys, queue_objectives; from bbopt.cli import main; sys.exit(main(sys.argv[1:]))"


def start_bbopt(*args: str, **env: str) -> subprocess.Popen[str]:
    """``bbopt ARGS`` in a new process that has imported tests/queue_objectives.py first
    (so its objectives are registered), with ``env`` added to its environment."""
    path = os.pathsep.join(filter(None, [str(_TESTS), os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-c", _LAUNCH, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": path, **env},
    )


@pytest.fixture
def bbopt_process() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts ``bbopt`` processes (see :func:`start_bbopt`) and kills those still running
    when the test ends."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, **env: str) -> subprocess.Popen[str]:
        started.append(start_bbopt(*args, **env))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()
