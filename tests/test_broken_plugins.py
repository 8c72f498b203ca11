"""A plugin backend or pruner that breaks its contract ends the run with an error naming
it, before anything it got wrong is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import bbopt
from bbopt import hp
from bbopt.backends import Backend, Observation, Suggestion
from bbopt.errors import BackendError, PrunerError
from bbopt.pruners import Pruner
from bbopt.trial import TrialState

SPACE = {"x": hp.uniform("x", -5, 5), "k": hp.randint("k", 0, 5)}


class Broken(Backend):
    """Random points, spoiled as ``mode`` says."""

    name = "test.broken"
    mode: ClassVar[str] = ""

    def ask(self, n: int = 1) -> list[Any]:
        point = self.space.sample_flat(self.rng)
        spoil = {
            "outside": {"x": 100.0},
            "float_int": {"k": 2.5},
            "str": {"k": "3"},
            "nan": {"x": float("nan")},
            "extra": {"typo": 1.0},
        }
        if self.mode in spoil:
            point.update(spoil[self.mode])
        if self.mode == "missing":
            del point["x"]
        if self.mode == "raise":
            raise RuntimeError("boom in ask")
        if self.mode == "dicts":
            return [point] * n
        if self.mode == "too_many":
            return [Suggestion(point)] * (n + 1)
        return [Suggestion(point) for _ in range(n)]

    def tell(self, observation: Observation) -> None:
        if self.mode == "raise_in_tell":
            raise RuntimeError("boom in tell")


def broken(mode: str) -> type[Backend]:
    return type(f"Broken_{mode}", (Broken,), {"mode": mode})


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("outside", "suggested a point outside the space: 'x': value 100.0 is outside"),
        ("float_int", "'k': value 2.5 is outside its randint range"),
        ("str", "'k': value '3' is outside"),
        ("nan", "'x': value nan is outside"),
        ("extra", r"unknown parameter label\(s\) \['typo'\]"),
        ("missing", "lacks a value for active label 'x'"),
        ("dicts", "not a Suggestion"),
        ("too_many", r"ask\(1\) returned .*not a list of one Suggestion"),
        ("raise", "failed in ask: RuntimeError\\('boom in ask'\\)"),
        ("raise_in_tell", "failed in tell: RuntimeError\\('boom in tell'\\)"),
    ],
)
def test_a_backend_breaking_its_contract_is_an_error_naming_it(
    mode: str, message: str, tmp_path: Path
) -> None:
    storage = tmp_path / "studies.db"
    with pytest.raises(BackendError, match=r"backend 'test\.broken'") as raised:
        bbopt.minimize(
            lambda p: p["x"], SPACE, backend=broken(mode), max_evals=3, seed=0, storage=storage
        )
    assert raised.match(message)
    # what was stored reads back, and holds nothing the backend got wrong
    trials = bbopt.load_study("<lambda>", storage).trials if storage.exists() else []
    assert [t.state for t in trials] == ([TrialState.DONE] if mode == "raise_in_tell" else [])


def test_the_labels_of_a_branch_not_taken_are_dropped_before_the_point_is_stored() -> None:
    class Padding(Backend):
        name = "test.padding"

        def ask(self, n: int = 1) -> list[Suggestion]:
            point = {"c": 0, "a": float(self.rng.uniform()), "b": np.float64(0.5)}
            return [Suggestion(point)]  # branch 0 has no 'b'

        def tell(self, observation: Observation) -> None:
            pass

    space = hp.choice("c", [{"a": hp.uniform("a", 0, 1)}, {"b": hp.uniform("b", 0, 1)}])
    study = bbopt.minimize(lambda p: p["a"], space, backend=Padding, max_evals=3, seed=0)
    assert [set(t.flat_params) for t in study.trials] == [{"a", "c"}] * 3
    assert all(t.state is TrialState.DONE for t in study.trials)


def curve(params: dict[str, float]) -> float:
    for step in range(1, 6):
        bbopt.report(step, params["x"] + 1 / step)
    return params["x"]


class Answering(Pruner):
    name = "test.answering"
    answer: ClassVar[Any] = False

    def prune(self, trials: Any, trial: Any) -> Any:
        if self.answer == "raise":
            raise TypeError("can't multiply sequence by non-int of type 'float'")
        return self.answer


def answering(answer: Any) -> type[Pruner]:
    return type("AnsweringThis", (Answering,), {"answer": answer})


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("raise", "failed: TypeError"),
        ("no", "answered 'no', not True or False"),
        (None, "answered None, not True or False"),
    ],
)
def test_a_pruner_failing_or_answering_a_non_bool_ends_the_run_serial_and_parallel(
    answer: Any, message: str, workers: int
) -> None:
    space = {"x": hp.uniform("x", 0, 1)}
    with pytest.raises(PrunerError, match=f"pruner 'test.answering' {message}"):
        bbopt.minimize(
            curve, space, backend="bbopt.random", max_evals=6, seed=0,
            pruner=answering(answer), workers=workers,
        )  # fmt: skip


def test_a_numpy_bool_is_an_answer() -> None:
    space = {"x": hp.uniform("x", 0, 1)}
    study = bbopt.minimize(
        curve, space, backend="bbopt.random", max_evals=4, seed=0, pruner=answering(np.True_)
    )
    assert study.count_by_state() == {"pruned": 4}


class Unstartable(Backend):
    """A plugin whose constructor breaks (its library missing a file, say)."""

    name = "test.unstartable"
    failure: ClassVar[Exception] = RuntimeError("no model file")

    def __init__(self, space: Any, seed: int | None = None) -> None:
        raise self.failure

    def ask(self, n: int = 1) -> list[Suggestion]:
        raise AssertionError("never asked")

    def tell(self, observation: Observation) -> None:
        raise AssertionError("never told")


@pytest.mark.parametrize(  # a ValueError given no options is not about options either
    "failure", [RuntimeError("no model file"), ValueError("no model file")]
)
def test_a_backend_failing_to_start_is_one_error_line_naming_it(
    failure: Exception,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bbopt.backends import registry
    from bbopt.cli import main

    monkeypatch.setattr(Unstartable, "failure", failure)
    with pytest.raises(BackendError, match=r"backend 'test\.unstartable' failed to start"):
        bbopt.minimize(lambda p: p["x"], SPACE, backend=Unstartable, max_evals=2, seed=0)
    monkeypatch.setitem(registry._items, Unstartable.name, Unstartable)  # by name, this test only
    storage = tmp_path / "s.db"
    argv = ["run", "toy.sin", "--backend", "test.unstartable", "--max-evals", "2"]
    assert main([*argv, "--storage", str(storage)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"bbopt: error: backend 'test.unstartable' failed to start: {failure!r}"]


class UnstartablePruner(Pruner):
    name = "test.unstartable-pruner"

    def __init__(self) -> None:
        raise KeyError("rung table")

    def prune(self, trials: Any, trial: Any) -> bool:
        raise AssertionError("never asked")


def test_a_pruner_failing_to_start_is_an_error_naming_it() -> None:
    with pytest.raises(
        PrunerError, match=r"pruner 'test\.unstartable-pruner' failed to start: KeyError"
    ):
        bbopt.minimize(
            curve, {"x": hp.uniform("x", 0, 1)}, max_evals=2, seed=0, pruner=UnstartablePruner
        )
