"""The search-space language: ranges, grids, structure, branches, validation, JSON."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
from conftest import conditional_space
from hypothesis import given, settings
from hypothesis import strategies as st

import bbopt
from bbopt import hp
from bbopt.space import Space, transform

N = 4000


def draws(node: Any, n: int = N, seed: int = 0) -> list[Any]:
    """``n`` independent samples of a single-parameter space, via the public sampler."""
    rng = np.random.default_rng(seed)
    space = Space(node)
    return [space.sample(rng) for _ in range(n)]


# -- ranges and grids of each node type ------------------------------------------------


def test_uniform_covers_exactly_its_interval() -> None:
    values = np.array(draws(hp.uniform("x", -3, 5)))
    assert values.min() >= -3 and values.max() <= 5
    assert values.min() < -2.9 and values.max() > 4.9
    assert values.mean() == pytest.approx(1.0, abs=0.15)


def test_quniform_values_are_the_rounded_grid() -> None:
    values = draws(hp.quniform("x", -1, 1, 0.25))
    steps = sorted({round(v / 0.25) for v in values})
    assert steps == list(range(-4, 5))
    assert all(math.isclose(v, round(v / 0.25) * 0.25, abs_tol=1e-12) for v in values)
    counts = Counter(round(v / 0.25) for v in values)
    # the two ends get half a cell each, inner points a full cell
    assert counts[-4] / N == pytest.approx(1 / 16, abs=0.02)
    assert counts[0] / N == pytest.approx(1 / 8, abs=0.025)


def test_loguniform_bounds_are_in_log_space() -> None:
    values = np.array(draws(hp.loguniform("lr", -3, 2)))
    logs = np.log(values)
    assert logs.min() >= -3 - 1e-12 and logs.max() <= 2 + 1e-12
    assert logs.min() < -2.9 and logs.max() > 1.9
    assert logs.mean() == pytest.approx(-0.5, abs=0.1)  # uniform in log space


def test_qloguniform_rounds_the_exponential() -> None:
    values = draws(hp.qloguniform("x", 0, 3, 2))
    # exp(u) / 2 lies in [0.5, 10.04]: the grid points 2, 4, ..., 20 (exp(3) = 20.09 -> 20)
    assert set(values) == {float(v) for v in range(2, 22, 2)}


def test_normal_moments() -> None:
    values = np.array(draws(hp.normal("x", 3, 2)))
    assert values.mean() == pytest.approx(3, abs=0.15)
    assert values.std() == pytest.approx(2, abs=0.1)


def test_qnormal_is_on_grid_with_the_normal_moments() -> None:
    values = np.array(draws(hp.qnormal("x", 1, 2, 0.5)))
    assert np.allclose(values / 0.5, np.round(values / 0.5))
    assert values.mean() == pytest.approx(1, abs=0.15)
    assert values.std() == pytest.approx(2, abs=0.12)


def test_lognormal_is_positive_and_normal_in_log() -> None:
    values = np.array(draws(hp.lognormal("x", 0.5, 0.3)))
    assert (values > 0).all()
    assert np.log(values).mean() == pytest.approx(0.5, abs=0.03)
    assert np.log(values).std() == pytest.approx(0.3, abs=0.03)


def test_qlognormal_rounds_the_lognormal() -> None:
    values = np.array(draws(hp.qlognormal("x", 1, 0.5, 1)))
    assert np.array_equal(values, np.round(values)) and (values >= 0).all()
    assert np.median(values) in (2.0, 3.0)  # median of exp(N(1, .5)) is e


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (hp.randint("r", 5), set(range(5))),
        (hp.randint("r", 3, 9), set(range(3, 9))),
        (hp.uniformint("r", 1, 7), set(range(1, 8))),
    ],
    ids=["randint-upper", "randint-low-high", "uniformint"],
)
def test_integer_nodes_range_and_type(node: Any, expected: set[int]) -> None:
    values = draws(node, n=2000)
    assert set(values) == expected
    assert all(type(v) is int for v in values)


def test_choice_returns_option_values_uniformly() -> None:
    options = ["a", {"b": 1}, 3.5]
    values = draws(hp.choice("c", options))
    counts = Counter(json.dumps(v) for v in values)
    assert sorted(counts) == sorted(json.dumps(o) for o in options)
    for count in counts.values():
        assert count / N == pytest.approx(1 / 3, abs=0.03)


def test_pchoice_frequencies_follow_probabilities() -> None:
    probabilities = {"rare": 0.05, "some": 0.25, "most": 0.7}
    values = draws(hp.pchoice("p", [(p, name) for name, p in probabilities.items()]), n=8000)
    counts = Counter(values)
    for name, p in probabilities.items():
        assert counts[name] / 8000 == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / 8000))


# -- structure: nesting, constants, transforms --------------------------------------------


def test_nested_containers_and_constants_keep_their_shape() -> None:
    space = {
        "list": [hp.uniform("a", 0, 1), "const", 7],
        "tuple": (hp.randint("b", 3), None),
        "dict": {"inner": {"c": hp.choice("c", [[1, 2], (3, 4)])}, "flag": True},
    }
    config = bbopt.sample(space, seed=4)
    assert isinstance(config["list"], list) and config["list"][1:] == ["const", 7]
    assert isinstance(config["tuple"], tuple) and config["tuple"][1] is None
    assert config["tuple"][0] in range(3)
    assert config["dict"]["flag"] is True
    assert config["dict"]["inner"]["c"] in ([1, 2], (3, 4))
    assert 0 <= config["list"][0] <= 1


def test_transform_power_of_two_batch_size() -> None:
    space = {"batch_size": transform(lambda e: 2**e, hp.quniform("bs", 0, 8, 1))}
    compiled = Space(space)
    assert compiled.labels == ["bs"]  # the flat point holds the exponent
    sizes = {bbopt.sample(space, seed=s)["batch_size"] for s in range(300)}
    assert sizes == {2.0**k for k in range(9)}
    assert compiled.to_params({"bs": 5.0}) == {"batch_size": 32.0}


def test_transform_with_several_and_nested_arguments() -> None:
    node = transform(lambda a, b: a["v"] + b, {"v": hp.uniform("a", 0, 1)}, hp.uniform("b", 10, 11))
    values = draws(node, n=500)
    assert all(10 <= v <= 12 for v in values)
    assert bbopt.space_eval(node, {"a": 0.25, "b": 10.5}) == 10.75


def test_sample_is_reproducible_and_returns_values_not_indices() -> None:
    space = {"c": hp.choice("c", ["x", "y", "z"]), "u": hp.uniform("u", 0, 1)}
    assert bbopt.sample(space, seed=11) == bbopt.sample(space, seed=11)
    assert len({json.dumps(bbopt.sample(space, seed=s)) for s in range(20)}) > 10
    assert all(bbopt.sample(space, seed=s)["c"] in "xyz" for s in range(20))
    assert len({bbopt.sample(space)["u"] for _ in range(5)}) == 5  # no seed: fresh draws


def test_space_eval_maps_indices_to_values() -> None:
    space = {"opt": hp.choice("opt", [{"lr": hp.uniform("lr", 0, 1)}, "none"]), "k": 3}
    assert bbopt.space_eval(space, {"opt": 0, "lr": 0.5}) == {"opt": {"lr": 0.5}, "k": 3}
    assert bbopt.space_eval(space, {"opt": 1}) == {"opt": "none", "k": 3}
    with pytest.raises(KeyError, match="lr"):
        bbopt.space_eval(space, {"opt": 0})


# -- active branches ------------------------------------------------------------------------


def expected_active(flat: dict[str, Any]) -> set[str]:
    """Active labels of ``conditional_space``, written out by hand."""
    active = {"opt", "second", "bs_exp", "n_low", "n_upper", "qn", "nrm", "init"}
    active |= {"ln", "qln", "qlu", "units", "dropout"}
    active |= {"adam_lr"} if flat["opt"] == 0 else {"sgd_lr", "momentum"}
    if flat["second"] == 1:
        active |= {"l2_size", "act"} | ({"inner"} if flat["act"] == 1 else set())
    return active


CONDITIONAL = Space(conditional_space(hp, lambda node: transform(lambda e: 2**e, node)))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_only_the_chosen_branch_labels_are_present(seed: int) -> None:
    flat = CONDITIONAL.sample_flat(np.random.default_rng(seed))
    assert set(flat) == expected_active(flat)
    assert set(CONDITIONAL.active_labels(flat)) == set(flat)
    config = CONDITIONAL.to_params(flat)
    assert config["optimizer"]["name"] == ("adam", "sgd")[flat["opt"]]
    assert ("momentum" in config["optimizer"]) == (flat["opt"] == 1)
    assert config["second_layer"]["include"] == (flat["second"] == 1)
    assert config["batch_size"] == 2 ** flat["bs_exp"]


def test_every_branch_is_reached() -> None:
    rng = np.random.default_rng(0)
    seen = Counter(frozenset(CONDITIONAL.sample_flat(rng)) for _ in range(400))
    assert len(seen) == 6  # 2 optimizers x (no layer, layer with act 0, layer with act 1)


def test_validate_flat_checks_labels_ranges_and_active_set() -> None:
    space = Space({"c": hp.choice("c", [{"a": hp.uniform("a", 0, 1)}, 0]), "r": hp.randint("r", 4)})
    assert space.validate_flat({"c": 1, "r": 3}) == {"c": 1, "r": 3}
    assert space.validate_flat({"c": 1, "r": 3, "a": 0.5}) == {"c": 1, "r": 3}
    with pytest.raises(ValueError, match="unknown parameter label"):
        space.validate_flat({"c": 1, "r": 3, "zz": 1})
    with pytest.raises(ValueError, match=r"'r'.*outside"):
        space.validate_flat({"c": 1, "r": 4})
    with pytest.raises(ValueError, match=r"'c'.*outside"):
        space.validate_flat({"c": 2, "r": 0})
    with pytest.raises(ValueError, match="lacks a value for active label 'a'"):
        space.validate_flat({"c": 0, "r": 0})
    with pytest.raises(ValueError, match="give a choice as the index of its option"):
        space.validate_flat({"c": "a", "r": 0})
    with pytest.raises(ValueError, match=r"'a'.*outside"):
        space.validate_flat({"c": 0, "a": "half", "r": 0})


# -- validation at definition time -------------------------------------------------------


def test_duplicate_label_names_both_places() -> None:
    with pytest.raises(ValueError, match="duplicate label 'x'") as info:
        Space({"a": hp.uniform("x", 0, 1), "b": [hp.choice("c", [0, {"y": hp.normal("x", 0, 1)}])]})
    message = str(info.value)
    assert "space['a']" in message and "space['b'][0]<c=1>['y']" in message


def test_duplicate_label_inside_choice_fails_at_definition() -> None:
    with pytest.raises(ValueError, match="duplicate label 'x'"):
        hp.choice("c", [hp.uniform("x", 0, 1), {"z": hp.uniform("x", 0, 1)}])


def test_choice_label_reused_inside_its_branch_is_a_duplicate() -> None:
    with pytest.raises(ValueError, match="duplicate label 'c'"):
        Space(hp.choice("c", [hp.uniform("c", 0, 1), 1]))


@pytest.mark.parametrize(
    ("build", "pattern"),
    [
        (lambda: hp.uniform("x", 1, 1), "low must be < high"),
        (lambda: hp.quniform("x", 2, 1, 1), "low must be < high"),
        (lambda: hp.loguniform("x", 0, -1), "low must be < high"),
        (lambda: hp.randint("x", 0), "low must be < high"),
        (lambda: hp.randint("x", 5, 5), "low must be < high"),
        (lambda: hp.uniformint("x", 3, 3), "low must be < high"),
        (lambda: hp.uniform("x", 0, math.inf), "high must be a finite number"),
        (lambda: hp.normal("x", 0, 0), "sigma must be"),
        (lambda: hp.lognormal("x", 0, -1), "sigma must be"),
        (lambda: hp.qnormal("x", 0, 1, 0), "q must be"),
        (lambda: hp.quniform("x", 0, 1, -0.5), "q must be"),
        (lambda: hp.qloguniform("x", 0, 1, 0), "q must be"),
        (lambda: hp.qlognormal("x", 0, 1, 0), "q must be"),
        (lambda: hp.choice("x", []), "at least one option"),
        (lambda: hp.pchoice("x", []), "at least one option"),
        (lambda: hp.pchoice("x", [(0.5, "a"), (0.4, "b")]), "sum to 1"),
        (lambda: hp.pchoice("x", [(1.5, "a"), (-0.5, "b")]), ">= 0"),
        (lambda: hp.randint("x", 0.5, 3), "integers"),
        (lambda: hp.uniform("", 0, 1), "non-empty string"),
        (lambda: hp.uniform(7, 0, 1), "non-empty string"),
        (lambda: hp.choice(None, [1]), "non-empty string"),
        (lambda: transform("not callable", hp.uniform("x", 0, 1)), "callable"),
    ],
)
def test_invalid_definitions_raise_clear_value_errors(build: Any, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        build()


# -- property tests: samples inside the support -------------------------------------------

finite = st.floats(-100, 100, allow_nan=False)
width = st.floats(0.01, 50)
quantum = st.floats(0.05, 5)
sigma = st.floats(0.01, 5)


@st.composite
def distributions(draw: Any) -> tuple[str, tuple[float, ...]]:
    kind = draw(
        st.sampled_from(
            [
                "uniform",
                "quniform",
                "loguniform",
                "qloguniform",
                "normal",
                "qnormal",
                "lognormal",
                "qlognormal",
                "randint",
                "uniformint",
            ]
        )
    )
    if kind in ("randint", "uniformint"):
        low = draw(st.integers(-50, 50))
        return kind, (low, low + draw(st.integers(1, 30)))
    if kind in ("loguniform", "qloguniform"):
        low = draw(st.floats(-8, 3))
        args: tuple[float, ...] = (low, low + draw(st.floats(0.01, 3)))
    elif kind in ("uniform", "quniform"):
        low = draw(finite)
        args = (low, low + draw(width))
    else:
        args = (draw(st.floats(-3, 3)), draw(sigma))
    if kind.startswith("q"):
        args = (*args, draw(quantum))
    return kind, args


def on_grid(value: float, q: float) -> bool:
    return math.isclose(value, round(value / q) * q, rel_tol=1e-9, abs_tol=1e-9)


def in_support(kind: str, args: tuple[float, ...], v: Any) -> bool:
    """The support of each node, written independently of ``Distribution.contains``."""
    eps = 1e-9
    if kind == "uniform":
        return args[0] <= v <= args[1]
    if kind == "quniform":
        low, high, q = args
        return on_grid(v, q) and round(low / q) * q - eps <= v <= round(high / q) * q + eps
    if kind == "loguniform":
        return math.exp(args[0]) * (1 - eps) <= v <= math.exp(args[1]) * (1 + eps)
    if kind == "qloguniform":
        low, high, q = args
        lo, hi = round(math.exp(low) / q) * q, round(math.exp(high) / q) * q
        return on_grid(v, q) and lo - eps <= v <= hi + eps
    if kind == "normal":
        return math.isfinite(v)
    if kind == "qnormal":
        return on_grid(v, args[2])
    if kind == "lognormal":
        return v > 0
    if kind == "qlognormal":
        return v >= 0 and on_grid(v, args[2])
    if kind == "randint":
        return type(v) is int and args[0] <= v < args[1]
    return type(v) is int and args[0] <= v <= args[1]  # uniformint


@settings(max_examples=120, deadline=None)
@given(spec=distributions(), seed=st.integers(0, 2**32 - 1))
def test_samples_stay_inside_the_support(spec: tuple[str, tuple[float, ...]], seed: int) -> None:
    kind, args = spec
    node = getattr(hp, kind)("p", *args)
    rng = np.random.default_rng(seed)
    space = Space(node)
    for _ in range(20):
        value = space.sample(rng)
        assert in_support(kind, args, value), (kind, args, value)
        assert node.contains(value)


@pytest.mark.parametrize(
    ("node", "outside"),
    [
        (hp.uniform("x", 0, 1), [-0.01, 1.01]),
        (hp.quniform("x", 0, 4, 2), [1.0, 6.0, -2.0]),
        (hp.loguniform("x", -1, 1), [0.0, -1.0, math.exp(1.01), math.exp(-1.01)]),
        (hp.qloguniform("x", 0, 2, 1), [2.5, 9.0]),
        (hp.qnormal("x", 0, 1, 0.5), [0.3, math.inf]),
        (hp.lognormal("x", 0, 1), [0.0, -1.0]),
        (hp.qlognormal("x", 0, 1, 2), [-2.0, 3.0]),
        (hp.randint("x", 2, 5), [1, 5, 2.5]),
        (hp.uniformint("x", 2, 5), [1, 6, 2.5]),
        (hp.choice("x", ["a", "b"]), [2, -1]),
    ],
)
def test_contains_rejects_values_outside_the_support(node: Any, outside: list[float]) -> None:
    assert not any(node.contains(v) for v in outside)


# -- JSON description -----------------------------------------------------------------------


def test_json_round_trip_keeps_fingerprint_and_samples() -> None:
    tree = {
        **conditional_space(hp, lambda node: transform(math.floor, node)),
        "weights": hp.pchoice("w", [(0.25, 1), (0.75, (2, "two"))]),
    }
    space = Space(tree)
    text = json.dumps(space.to_json())
    again = Space.from_json(json.loads(text))
    assert again.fingerprint() == space.fingerprint()
    assert again.labels == space.labels
    for seed in range(5):
        assert again.sample(seed) == space.sample(seed)


def test_json_of_a_lambda_transform_is_stable_but_not_callable_after_loading() -> None:
    space = Space({"bs": transform(lambda e: 2**e, hp.quniform("bs", 0, 8, 1))})
    again = Space.from_json(json.loads(json.dumps(space.to_json())))
    assert again.fingerprint() == space.fingerprint()
    with pytest.raises(RuntimeError, match="not known to this process"):
        again.to_params({"bs": 3.0})


@pytest.mark.parametrize(
    "changed",
    [
        {"x": hp.uniform("x", 0, 2), "c": hp.choice("c", ["a", "b"])},
        {"y": hp.uniform("y", 0, 1), "c": hp.choice("c", ["a", "b"])},
        {"x": hp.quniform("x", 0, 1, 0.5), "c": hp.choice("c", ["a", "b"])},
        {"x": hp.uniform("x", 0, 1), "c": hp.choice("c", ["a", "b", "d"])},
        {"x": hp.uniform("x", 0, 1), "c": hp.pchoice("c", [(0.5, "a"), (0.5, "b")])},
        {"x": hp.uniform("x", 0, 1), "c": hp.choice("c", ["a", "b"]), "k": 1},
    ],
)
def test_fingerprint_changes_with_the_space(changed: dict[str, Any]) -> None:
    base = Space({"x": hp.uniform("x", 0, 1), "c": hp.choice("c", ["a", "b"])})
    same = Space({"x": hp.uniform("x", 0, 1), "c": hp.choice("c", ["a", "b"])})
    assert base.fingerprint() == same.fingerprint()
    assert Space(changed).fingerprint() != base.fingerprint()


def test_space_eval_refuses_a_choice_index_outside_the_options() -> None:
    space = {"opt": hp.choice("opt", ["a", "b"])}
    assert bbopt.space_eval(space, {"opt": 1}) == {"opt": "b"}
    for index in (2, -1, 0.5):  # -1 picked the last option, 2 was an IndexError
        with pytest.raises(ValueError, match=r"'opt': a choice index must be one of 0\.\.1"):
            bbopt.space_eval(space, {"opt": index})


def test_malformed_pchoice_pairs_and_a_lone_warm_start_point_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"'x': pchoice takes \(probability, option\) pairs"):
        hp.pchoice("x", [1, 2])
    with pytest.raises(TypeError, match="points_to_evaluate is a list of points"):
        bbopt.minimize(lambda p: 0.0, {"x": hp.uniform("x", 0, 1)}, points_to_evaluate={"x": 0.5})
