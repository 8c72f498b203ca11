"""The hyperopt backends evaluate, trial by trial, the points ``hyperopt.fmin`` evaluates."""

from __future__ import annotations

import functools
import json
import math
import zlib
from typing import Any

import hyperopt
import numpy as np
import pytest
from hyperopt import Trials, anneal, fmin, rand, tpe
from hyperopt import hp as hyperopt_hp

import bbopt
from bbopt import hp as bbopt_hp

ALGOS = {
    "hyperopt.tpe": tpe.suggest,
    "hyperopt.rand": rand.suggest,
    "hyperopt.anneal": anneal.suggest,
}
EVALS = 30


def _plain(value: Any) -> Any:
    """Numbers as floats, tuples as lists: the same text for hyperopt's and bbopt's params."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    return float(value)


def scramble(params: Any) -> float:
    """A deterministic loss in [0, 1) of any configuration (same in every process)."""
    text = json.dumps(_plain(params), sort_keys=True)
    return zlib.crc32(text.encode()) / 2**32


def toy_loss(x: float) -> float:
    return -math.sin(x * x) / x + 0.01 * x * x if x else 0.0


def loss_for(space_name: str) -> Any:
    return toy_loss if space_name == "toy" else scramble


def fmin_points(
    space: Any, algo: Any, seed: int, fn: Any, n: int = EVALS, **kwargs: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Flat points and results hyperopt.fmin evaluates, in order."""
    trials = Trials()
    fmin(
        fn,
        space,
        algo=algo,
        max_evals=n,
        trials=trials,
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
        **kwargs,
    )
    points = [{k: v[0] for k, v in t["misc"]["vals"].items() if v} for t in trials.trials]
    return points, list(trials.results)


def assert_same_points(study: bbopt.Study, expected: list[dict[str, Any]]) -> None:
    got = [t.flat_params for t in study.trials]
    assert len(got) == len(expected)
    for index, (ours, theirs) in enumerate(zip(got, expected, strict=True)):
        assert ours == theirs, f"trial {index} differs"


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("backend", sorted(ALGOS))
@pytest.mark.parametrize("space_name", ["toy", "conditional", "pchoice"])
def test_same_points_as_fmin(space_name: str, backend: str, seed: int, space_pairs: Any) -> None:
    hyperopt_space, bbopt_space = space_pairs[space_name]
    fn = loss_for(space_name)
    expected, results = fmin_points(hyperopt_space, ALGOS[backend], seed, fn)
    study = bbopt.minimize(fn, bbopt_space, backend=backend, max_evals=EVALS, seed=seed)
    assert_same_points(study, expected)
    assert [t.loss for t in study.trials] == [r["loss"] for r in results]
    # the nested params bbopt hands to the objective are hyperopt's space_eval
    for trial, point in zip(study.trials[:5], expected, strict=False):
        assert fn(trial.params) == fn(hyperopt.space_eval(hyperopt_space, point))


def test_a_different_seed_gives_different_points(space_pairs: Any) -> None:
    hyperopt_space, bbopt_space = space_pairs["conditional"]
    expected, _ = fmin_points(hyperopt_space, tpe.suggest, 1, scramble, n=5)
    study = bbopt.minimize(scramble, bbopt_space, backend="hyperopt.tpe", max_evals=5, seed=2)
    assert [t.flat_params for t in study.trials] != expected


def fails(params: Any) -> bool:
    """A deterministic ~30% of configurations fail."""
    return scramble(params) < 0.3


def hyperopt_objective(params: Any) -> dict[str, Any]:
    if fails(params):
        return {"status": "fail"}
    return {"status": "ok", "loss": scramble({"again": params})}


def make_bbopt_objective(mode: str) -> Any:
    def objective(params: Any) -> Any:
        if fails(params):
            if mode == "raise":
                raise RuntimeError("diverged")
            if mode == "fail_dict":
                return {"status": "fail", "note": "diverged"}
            return {"nan": math.nan, "inf": math.inf}[mode]
        return scramble({"again": params})

    return objective


@pytest.mark.parametrize(
    ("space_name", "backend", "mode"),
    [
        ("conditional", "hyperopt.tpe", "raise"),
        ("conditional", "hyperopt.tpe", "nan"),
        ("toy", "hyperopt.tpe", "inf"),
        ("pchoice", "hyperopt.anneal", "fail_dict"),
        ("pchoice", "hyperopt.anneal", "raise"),
        ("conditional", "hyperopt.rand", "nan"),
    ],
)
def test_failed_trials_are_told_as_failures(
    space_name: str, backend: str, mode: str, space_pairs: Any
) -> None:
    hyperopt_space, bbopt_space = space_pairs[space_name]
    expected, results = fmin_points(hyperopt_space, ALGOS[backend], 3, hyperopt_objective)
    study = bbopt.minimize(
        make_bbopt_objective(mode), bbopt_space, backend=backend, max_evals=EVALS, seed=3
    )
    assert_same_points(study, expected)
    statuses = [t.status for t in study.trials]
    assert statuses == [r["status"] for r in results]
    assert 0 < statuses.count("fail") < EVALS
    failed = [t for t in study.trials if t.status == "fail"]
    if mode != "fail_dict":
        assert all(t.error and t.loss is None for t in failed)


@pytest.mark.parametrize(
    ("backend", "options"),
    [
        ("hyperopt.tpe", {"n_startup_jobs": 5, "gamma": 0.5}),
        ("hyperopt.tpe", {"n_EI_candidates": 6, "prior_weight": 0.5, "n_startup_jobs": 8}),
        ("hyperopt.anneal", {"avg_best_idx": 1.0, "shrink_coef": 0.3}),
    ],
)
@pytest.mark.parametrize("space_name", ["toy", "conditional"])
def test_backend_options_reach_hyperopt(
    space_name: str, backend: str, options: dict[str, Any], space_pairs: Any
) -> None:
    hyperopt_space, bbopt_space = space_pairs[space_name]
    fn = loss_for(space_name)
    algo = functools.partial(ALGOS[backend], **options)
    expected, _ = fmin_points(hyperopt_space, algo, 4, fn, n=24)
    study = bbopt.minimize(
        fn, bbopt_space, backend=backend, backend_options=options, max_evals=24, seed=4
    )
    assert_same_points(study, expected)
    default, _ = fmin_points(hyperopt_space, ALGOS[backend], 4, fn, n=12)
    assert default != expected[:12]  # the options change what hyperopt suggests


FLAT = tuple(
    {"c": hp.choice("c", ["a", "b", "c"]), "n": hp.randint("n", 6), "y": hp.uniform("y", -2, 2)}
    for hp in (hyperopt_hp, bbopt_hp)
)


@pytest.mark.parametrize(
    ("backend", "options"), [("hyperopt.tpe", {"n_startup_jobs": 6}), ("hyperopt.anneal", {})]
)
@pytest.mark.parametrize(
    ("space_name", "points"),
    [
        ("toy", [{"x": 1.0}, {"x": -3.5}, {"x": 9.0}]),
        ("flat", [{"c": 2, "n": 4, "y": 0.5}, {"c": 0, "n": 1, "y": -1.0}]),
    ],
)
def test_warm_start_matches_fmin_points_to_evaluate(
    space_name: str,
    points: list[dict[str, Any]],
    backend: str,
    options: dict[str, Any],
    space_pairs: Any,
) -> None:
    # hyperopt's points_to_evaluate needs every label of the space (it fails on a
    # conditional space), so the warm-start comparison uses spaces without branches.
    hyperopt_space, bbopt_space = space_pairs[space_name] if space_name == "toy" else FLAT
    fn = loss_for(space_name)
    # fmin builds its own Trials for points_to_evaluate: record what it evaluates. fmin
    # evaluates max_evals points beyond the warm start; bbopt counts them in max_evals.
    evaluated: list[Any] = []

    def recording(params: Any) -> float:
        evaluated.append(_plain(params))
        return fn(params)

    fmin(
        recording,
        hyperopt_space,
        algo=functools.partial(ALGOS[backend], **options),
        max_evals=EVALS - len(points),
        points_to_evaluate=points,
        rstate=np.random.default_rng(5),
        show_progressbar=False,
    )
    study = bbopt.minimize(
        fn,
        bbopt_space,
        backend=backend,
        backend_options=options,
        max_evals=EVALS,
        seed=5,
        points_to_evaluate=points,
    )
    assert [t.origin for t in study.trials[: len(points)]] == ["warm_start"] * len(points)
    assert [t.flat_params for t in study.trials[: len(points)]] == points
    assert [_plain(t.params) for t in study.trials] == evaluated


def test_ctrl_c_inside_hyperopts_document_check_waits_for_it_without_its_banner(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With bson installed, hyperopt checks each trial document by encoding it and prints
    a "CAN'T ENCODE" banner for any exception on the way, a Ctrl-C's too."""
    import signal

    bson = pytest.importorskip("bson")
    from bbopt.backends import create_backend

    encode = bson.BSON.encode

    def ctrl_c_while_encoding(*args: Any, **kwargs: Any) -> Any:
        signal.raise_signal(signal.SIGINT)  # as a terminal's Ctrl-C landing here
        return encode(*args, **kwargs)

    backend = create_backend("hyperopt.tpe", bbopt.Space({"x": bbopt_hp.uniform("x", 0, 1)}), 0)
    monkeypatch.setattr(bson.BSON, "encode", staticmethod(ctrl_c_while_encoding))
    with pytest.raises(KeyboardInterrupt):
        backend.ask()
    assert "CAN'T ENCODE" not in capsys.readouterr().out
    assert len(backend._trials._dynamic_trials) == 1  # the document went in whole
