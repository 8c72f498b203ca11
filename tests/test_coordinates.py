"""Inverse CDFs and coordinate encodings of every distribution (bbopt.backends.coordinates)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from bbopt import hp
from bbopt.backends.coordinates import EPS, coordinates, unit_to_value
from bbopt.space import Space
from bbopt.testing import every_node_space

SPACE = Space(every_node_space())
GRID = (np.arange(4000) + 0.5) / 4000


@pytest.mark.parametrize("label", SPACE.labels)
def test_inverse_cdf_matches_the_distribution(label: str) -> None:
    dist = SPACE.distribution(label)
    mapped = np.array([unit_to_value(dist, u) for u in GRID], dtype=float)
    rng = np.random.default_rng(0)
    drawn = np.array([dist.draw(rng) for _ in range(4000)], dtype=float)
    # a grid of quantiles and random draws of one distribution are alike
    assert stats.ks_2samp(mapped, drawn, method="asymp").pvalue > 0.001
    assert all(dist.contains(unit_to_value(dist, u)) for u in (0.0, 1e-300, 0.5, 1 - 1e-16))


def test_discrete_inverse_cdfs_give_exact_frequencies() -> None:
    grid = (np.arange(1200) + 0.5) / 1200
    randint = Counter(unit_to_value(hp.randint("r", 3, 9), u) for u in grid)
    assert randint == {k: 200 for k in range(3, 9)}
    # uniformint rounds a uniform: its two end values have half the weight
    uniformint = Counter(unit_to_value(hp.uniformint("i", 1, 7), u) for u in grid)
    assert uniformint == {1: 100, 2: 200, 3: 200, 4: 200, 5: 200, 6: 200, 7: 100}
    pchoice = hp.pchoice("p", [(0.25, "a"), (0.5, "b"), (0.25, "c")])
    assert Counter(unit_to_value(pchoice, u) for u in grid) == {0: 300, 1: 600, 2: 300}


def test_normal_quantiles() -> None:
    normal = hp.normal("n", 1, 2)
    assert unit_to_value(normal, 0.5) == pytest.approx(1)
    assert unit_to_value(normal, stats.norm.cdf(1)) == pytest.approx(3)
    assert unit_to_value(hp.lognormal("l", 0, 1), 0.5) == pytest.approx(1)
    # quantiles 0 and 1 stay finite: clipped to [EPS, 1 - EPS]
    assert unit_to_value(normal, 0.0) == pytest.approx(1 + 2 * stats.norm.ppf(EPS))


@pytest.mark.parametrize("seed", range(5))
def test_encode_then_decode_gives_the_value_back(seed: int) -> None:
    coords = coordinates(SPACE)
    for _ in range(40):
        for label, value in SPACE.sample_flat(np.random.default_rng(seed)).items():
            raw = coords[label].encode(value)
            assert coords[label].low <= raw <= coords[label].high
            assert math.isclose(coords[label].decode(raw), value, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("label", SPACE.labels)
def test_coordinate_bounds_decode_inside_the_support(label: str) -> None:
    coord = coordinates(SPACE)[label]
    dist = SPACE.distribution(label)
    assert dist.contains(coord.decode(coord.low))
    assert dist.contains(coord.decode(coord.high))


def test_coordinate_kinds() -> None:
    coords = coordinates(SPACE)
    assert (coords["qu"].kind, coords["qu"].low, coords["qu"].high) == ("int", 1, 15)
    assert coords["qu"].decode(3) == 1.5
    assert (coords["lu"].kind, coords["lu"].log) == ("float", True)
    assert coords["lu"].low == pytest.approx(math.exp(-6))
    assert (coords["n"].kind, coords["n"].low, coords["n"].high) == ("float", EPS, 1 - EPS)
    assert (coords["ri"].low, coords["ri"].high) == (3, 8)  # randint's high is excluded
    assert (coords["c"].kind, coords["c"].high) == ("categorical", 2)
