"""Study exports: DataFrame, CSV and JSON hold every trial, with choice values, not indices."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bbopt
from bbopt import hp
from bbopt.space import Space
from bbopt.trial import Trial

SPACE = {
    "optimizer": hp.choice(
        "opt",
        [
            {"name": "adam", "lr": hp.loguniform("adam_lr", -5, 0)},
            {
                "name": "sgd",
                "lr": hp.loguniform("sgd_lr", -5, 0),
                "momentum": hp.uniform("m", 0, 1),
            },
        ],
    ),
    "units": hp.choice("units", [16, 32, 64]),
    "activation": hp.choice("act", ["relu", "tanh"]),
}


def objective(params: dict[str, Any]) -> dict[str, Any]:
    if params["activation"] == "tanh" and params["units"] == 64:
        raise ValueError("tanh with 64 units diverged")
    loss = params["optimizer"]["lr"] + params["units"] / 100
    return {
        "loss": np.float64(loss),
        "status": "ok",
        "train_time": np.float32(0.25),
        "curve": np.array([1.0, 0.5]),
    }


@pytest.fixture(scope="module")
def study() -> bbopt.Study:
    result = bbopt.minimize(objective, SPACE, backend="hyperopt.rand", max_evals=30, seed=2)
    statuses = {t.status for t in result.trials}
    assert statuses == {"ok", "fail"}  # the exports below see both kinds
    return result


def test_dataframe_has_one_row_per_trial_with_values(study: bbopt.Study) -> None:
    frame = study.to_dataframe()
    assert len(frame) == len(study.trials)
    assert list(frame["tid"]) == [t.tid for t in study.trials]
    assert set(frame["params.activation"]) == {"relu", "tanh"}
    assert set(frame["params.units"]) <= {16, 32, 64}
    assert set(frame["params.optimizer.name"]) == {"adam", "sgd"}
    for row, trial in zip(frame.to_dict("records"), study.trials, strict=True):
        assert row["state"] == trial.state.value
        assert row["params.activation"] == trial.params["activation"]
        if trial.ok:
            assert row["loss"] == pytest.approx(trial.loss)
    sgd = frame[frame["params.optimizer.name"] == "sgd"]
    adam = frame[frame["params.optimizer.name"] == "adam"]
    assert sgd["params.optimizer.momentum"].notna().all()
    assert adam["params.optimizer.momentum"].isna().all()  # inactive in that branch
    failed = frame[frame["state"] == "failed"]
    assert (failed["error"] == "ValueError: tanh with 64 units diverged").all()
    assert failed["loss"].isna().all()
    ok = frame[frame["state"] == "done"]
    assert (ok["extras.train_time"] == 0.25).all()
    for column in ("started_at", "finished_at", "duration", "worker", "backend", "seed", "origin"):
        assert frame[column].notna().all(), column


def test_csv_round_trip(study: bbopt.Study, tmp_path: Path) -> None:
    path = study.to_csv(tmp_path / "trials.csv")
    assert path == tmp_path / "trials.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(study.trials)
    assert {"tid", "loss", "state", "params.optimizer.lr", "params.units", "error"} <= set(rows[0])
    for row, trial in zip(rows, study.trials, strict=True):
        assert int(row["tid"]) == trial.tid
        assert row["params.activation"] == trial.params["activation"]
        assert int(row["params.units"]) == trial.params["units"]
        assert row["params.optimizer.name"] in ("adam", "sgd")
        if trial.ok:
            assert float(row["loss"]) == pytest.approx(trial.loss)
            assert json.loads(row["extras.curve"]) == [1.0, 0.5]
        else:
            assert row["loss"] == "" and "diverged" in row["error"]


def test_a_key_with_a_dot_keeps_its_own_column(tmp_path: Path) -> None:
    space = {"a.b": hp.uniform("x", 0, 1), "a": {"b": hp.uniform("y", 2, 3)}}
    study = bbopt.minimize(lambda p: p["a.b"], space, backend="bbopt.random", max_evals=3, seed=0)
    with study.to_csv(tmp_path / "trials.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row, trial in zip(rows, study.trials, strict=True):
        assert float(row['params."a.b"']) == trial.params["a.b"]
        assert float(row["params.a.b"]) == trial.params["a"]["b"]


def test_json_round_trip(study: bbopt.Study, tmp_path: Path) -> None:
    path = study.to_json(tmp_path / "study.json")
    data = json.loads(path.read_text())
    assert data["backend"] == "hyperopt.rand" and data["seed"] == 2
    assert data["objective"] == "objective"
    assert Space.from_json(data["space"]).fingerprint() == study.space.fingerprint()
    assert len(data["trials"]) == len(study.trials)
    for record, trial in zip(data["trials"], study.trials, strict=True):
        assert record["params"]["activation"] in ("relu", "tanh")  # values ...
        assert record["flat_params"]["act"] in (0, 1)  # ... and hyperopt-style indices
        again = Trial.from_dict(record)
        assert again.to_dict() == json.loads(json.dumps(trial.to_dict()))
        assert again.started_at == trial.started_at and again.state == trial.state
        if trial.ok:
            assert record["extras"] == {"train_time": 0.25, "curve": [1.0, 0.5]}
            assert type(record["loss"]) is float
        else:
            assert "ValueError: tanh with 64 units diverged" in record["error"]


def test_results_are_like_hyperopt_trials_results(study: bbopt.Study) -> None:
    results = study.results
    assert len(results) == len(study.trials)
    for result, trial in zip(results, study.trials, strict=True):
        assert result["status"] == trial.status
        if trial.ok:
            assert result == {
                "loss": trial.loss,
                "status": "ok",
                "train_time": 0.25,
                "curve": [1.0, 0.5],
            }
            assert type(result["train_time"]) is float  # numpy scalars became floats
        else:
            assert result["loss"] is None and "diverged" in result["error"]


def test_best_params_use_choice_values(study: bbopt.Study) -> None:
    best = study.best_params
    ok = [t for t in study.trials if t.ok]
    assert study.best_loss == min(t.loss for t in ok)
    assert best["activation"] in ("relu", "tanh") and best["units"] in (16, 32, 64)
    assert best["optimizer"]["name"] in ("adam", "sgd")
    assert math.isclose(study.best_loss, best["optimizer"]["lr"] + best["units"] / 100)


def test_exports_are_strict_json_with_non_finite_values_as_null(tmp_path: Path) -> None:
    def curve(params: dict[str, float]) -> dict[str, Any]:
        bbopt.report(1, math.nan)
        bbopt.report(2, math.inf)
        return {"loss": math.nan, "status": "ok", "spread": [1.0, -math.inf]}

    study = bbopt.minimize(curve, {"x": hp.uniform("x", 0, 1)}, max_evals=1, seed=0)

    def refuse(token: str) -> None:
        raise ValueError(f"not JSON: {token}")

    record = json.loads(study.to_json(tmp_path / "s.json").read_text(), parse_constant=refuse)
    (trial,) = record["trials"]
    assert trial["intermediate"] == {"1": None, "2": None}
    with study.to_csv(tmp_path / "s.csv").open() as f:
        (row,) = csv.DictReader(f)
    assert json.loads(row["intermediate"], parse_constant=refuse) == {"1": None, "2": None}
    assert json.loads(row["extras.spread"], parse_constant=refuse) == [1.0, None]


def test_numpy_choice_options_are_stored_and_exported_as_numbers(tmp_path: Path) -> None:
    space = {"units": hp.choice("units", np.arange(5, 26, 5)), "lr": hp.uniform("lr", 0, 1)}
    storage = tmp_path / "s.db"
    study = bbopt.minimize(
        lambda p: float(p["units"]) * p["lr"], space, max_evals=4, seed=0, storage=storage,
        study="np",
    )  # fmt: skip
    loaded = bbopt.load_study("np", storage)
    assert [t.params for t in loaded.trials] == [t.params for t in study.trials]
    assert all(type(t.params["units"]) is int for t in loaded.trials)  # not "np.int64(5)"
    record = json.loads(study.to_json(tmp_path / "s.json").read_text())
    assert [t["params"]["units"] for t in record["trials"]] == [
        int(t.params["units"]) for t in study.trials
    ]
