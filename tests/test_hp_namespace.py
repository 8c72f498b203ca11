"""bbopt.hp mirrors hyperopt.hp: same names, argument order, distributions and space_eval."""

from __future__ import annotations

from collections import Counter
from typing import Any

import hyperopt
import numpy as np
import pytest
from hyperopt import hp as hyperopt_hp
from hyperopt.pyll import stochastic
from scipy import stats

import bbopt
from bbopt import hp
from bbopt.space import Space

HYPEROPT_NAMES = sorted(n for n in dir(hyperopt_hp) if not n.startswith("_"))


def test_every_hyperopt_constructor_exists() -> None:
    assert HYPEROPT_NAMES  # hyperopt.hp exports its constructors
    missing = [name for name in HYPEROPT_NAMES if not callable(getattr(hp, name, None))]
    assert missing == []


def test_keyword_arguments_use_hyperopt_names() -> None:
    node = hp.qnormal(label="x", mu=1.0, sigma=2.0, q=0.5)
    assert (node.mu, node.sigma, node.q) == (1.0, 2.0, 0.5)
    assert hp.uniform("u", low=-1, high=2).high == 2
    assert hp.choice("c", options=["a", "b"]).options == ("a", "b")
    assert hp.pchoice("p", p_options=[(0.3, "a"), (0.7, "b")]).probabilities == (0.3, 0.7)


# One node per constructor, called positionally exactly as in hyperopt.
NODES: dict[str, tuple[Any, ...]] = {
    "uniform": (-2, 3),
    "quniform": (0, 10, 2.5),
    "loguniform": (-4, 1),
    "qloguniform": (0, 3, 1.5),
    "normal": (1, 2),
    "qnormal": (0, 3, 1),
    "lognormal": (0, 0.5),
    "qlognormal": (1, 0.5, 1),
    "randint": (7,),
    "uniformint": (2, 6),
    "choice": (["a", "b", "c"],),
    "pchoice": ([(0.1, "a"), (0.3, "b"), (0.6, "c")],),
}
DISCRETE = {"quniform", "qloguniform", "qnormal", "qlognormal", "randint", "uniformint"}
DISCRETE |= {"choice", "pchoice"}
DRAWS = 600


@pytest.fixture(scope="module")
def both_samples() -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """DRAWS samples of every node from hyperopt's sampler and from bbopt's."""
    hyperopt_space = {name: getattr(hyperopt_hp, name)(name, *a) for name, a in NODES.items()}
    bbopt_space = {name: getattr(hp, name)(name, *a) for name, a in NODES.items()}
    rng = np.random.default_rng(1)
    ours = [bbopt.sample(bbopt_space, rng) for _ in range(DRAWS)]
    theirs = [stochastic.sample(hyperopt_space, rng) for _ in range(DRAWS)]
    return (
        {name: [s[name] for s in theirs] for name in NODES},
        {name: [s[name] for s in ours] for name in NODES},
    )


def test_assertions_below_can_fail() -> None:
    """The comparison rejects a wrong range: loguniform read with linear bounds."""
    rng = np.random.default_rng(0)
    theirs = [stochastic.sample(hyperopt_hp.loguniform("x", 0, 1), rng) for _ in range(DRAWS)]
    wrong = [bbopt.sample(hp.uniform("x", 0, 1), rng) for _ in range(DRAWS)]
    assert stats.ks_2samp(theirs, wrong).pvalue < 1e-6


@pytest.mark.parametrize("name", sorted(NODES))
def test_same_distribution_as_hyperopt(name: str, both_samples: Any) -> None:
    theirs, ours = both_samples[0][name], both_samples[1][name]
    if name in DISCRETE:
        if name not in ("qnormal", "qlognormal"):  # bounded: same support, exactly
            assert set(ours) == set(theirs)
        values = sorted(set(ours) | set(theirs))
        table = [[Counter(sample)[v] for v in values] for sample in (theirs, ours)]
        # pool rare cells so the chi-square approximation holds
        table = np.array(table)
        common = table.sum(axis=0) >= 10
        pooled = np.column_stack([table[:, common], table[:, ~common].sum(axis=1)])
        pooled = pooled[:, pooled.sum(axis=0) > 0]
        assert stats.chi2_contingency(pooled).pvalue > 1e-3
    else:
        assert stats.ks_2samp(theirs, ours).pvalue > 1e-3


def _lists(value: Any) -> Any:
    """hyperopt's space_eval turns lists into tuples; compare shapes modulo that."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value


@pytest.mark.parametrize("name", ["toy", "conditional", "pchoice"])
def test_space_eval_matches_hyperopt(name: str, space_pairs: Any) -> None:
    hyperopt_space, bbopt_space = space_pairs[name]
    compiled = Space(bbopt_space)
    rng = np.random.default_rng(5)
    for _ in range(40):
        flat = compiled.sample_flat(rng)
        ours = bbopt.space_eval(bbopt_space, flat)
        assert _lists(ours) == _lists(hyperopt.space_eval(hyperopt_space, flat))


def test_space_eval_keeps_lists_and_integer_types(space_pairs: Any) -> None:
    bbopt_space = space_pairs["conditional"][1]
    config = bbopt.sample(bbopt_space, seed=2)
    assert isinstance(config["layers"], list) and isinstance(config["pair"], tuple)
    assert all(type(v) is int for v in config["layers"])
    assert type(config["units"]) is int
