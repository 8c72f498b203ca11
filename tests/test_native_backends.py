"""bbopt.random and bbopt.sobol: dependency-free baselines on the space language."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import bbopt
from bbopt import hp
from bbopt.backends import Observation, create_backend
from bbopt.errors import UnknownOptionError
from bbopt.space import Space


def _asked(name: str, space: Space, seed: int, n: int) -> list[dict]:
    backend = create_backend(name, space, seed)
    return [s.flat_params for s in backend.ask(n)]


def test_random_draws_the_space_own_distributions() -> None:
    space = Space({"x": hp.normal("x", 0, 1), "c": hp.pchoice("c", [(0.3, 1), (0.7, 2)])})
    rng = np.random.default_rng(11)
    assert _asked("bbopt.random", space, 11, 20) == [space.sample_flat(rng) for _ in range(20)]


def test_sobol_points_fill_every_bin_once() -> None:
    # the first 2^m points of a scrambled Sobol' sequence are a (0, m, 2)-net
    space = Space({"x": hp.uniform("x", -10, 10), "y": hp.uniform("y", 0, 1)})
    points = _asked("bbopt.sobol", space, 0, 16)
    bins_x = Counter(int((p["x"] + 10) / 20 * 16) for p in points)
    assert sorted(bins_x.values()) == [1] * 16
    cells = Counter((int((p["x"] + 10) / 20 * 4), int(p["y"] * 4)) for p in points)
    assert sorted(cells.values()) == [1] * 16
    # random search leaves bins empty
    randoms = _asked("bbopt.random", space, 0, 16)
    assert len({int((p["x"] + 10) / 20 * 16) for p in randoms}) < 16


def test_sobol_balances_branches_and_honours_weights() -> None:
    space = Space(
        {
            "model": hp.choice("model", [{"a": hp.uniform("a", 0, 1)}, {"b": hp.randint("b", 4)}]),
            "w": hp.pchoice("w", [(0.25, "rare"), (0.75, "common")]),
        }
    )
    points = _asked("bbopt.sobol", space, 5, 64)
    assert Counter(p["model"] for p in points) == {0: 32, 1: 32}
    assert Counter(p["w"] for p in points) == {0: 16, 1: 48}
    # each branch still covers its own parameter evenly
    assert Counter(p["b"] for p in points if p["model"] == 1) == {0: 8, 1: 8, 2: 8, 3: 8}


@pytest.mark.parametrize("name", ["bbopt.random", "bbopt.sobol"])
def test_replayed_history_continues_the_sequence(name: str) -> None:
    space = Space(
        {"x": hp.uniform("x", 0, 1), "c": hp.choice("c", [0, {"y": hp.normal("y", 0, 1)}])}
    )
    first = _asked(name, space, 4, 10)
    resumed = create_backend(name, space, 4)
    for flat in first[:6]:
        resumed.tell(Observation(flat, 0.0, replayed=True))
    assert [s.flat_params for s in resumed.ask(4)] == first[6:]
    # a warm-start point (not suggested) does not move the sequence
    fresh = create_backend(name, space, 4)
    fresh.tell(Observation(first[3], 0.0))
    assert [s.flat_params for s in fresh.ask(2)] == first[:2]


@pytest.mark.parametrize("name", ["bbopt.random", "bbopt.sobol"])
def test_runs_an_objective_and_rejects_options(name: str) -> None:
    study = bbopt.minimize("toy.sin", backend=name, max_evals=32, seed=0)
    assert len(study.trials) == 32
    assert -0.84 < study.best_loss < -0.3
    with pytest.raises(UnknownOptionError, match="n_startup"):
        create_backend(name, hp.uniform("x", 0, 1), 0, {"n_startup": 3})
