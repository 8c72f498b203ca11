"""The MongoDB storage beyond the conformance suite: addresses, credentials that never show,
stored content checked as data, several processes on one study, the command line."""

from __future__ import annotations

import json
import logging
import pickle
import re
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import bbopt
from bbopt import hp
from bbopt.backends import Observation
from bbopt.backends.native import RandomSearch
from bbopt.cli import main
from bbopt.execution import worker_name
from bbopt.space import as_space
from bbopt.storage import MongoStorage, StorageContentError, StorageError, as_storage
from bbopt.storage.mongo import TRIALS, display_address, hyperopt_url
from bbopt.testing.servers import LocalMongo, free_port

SECRET = "s3cret-Pa55"
USER = "alice-db"

pytest.importorskip("pymongo")


def quadratic(params: dict[str, float]) -> float:
    return (params["x"] - 1) ** 2


SPACE = {"x": hp.uniform("x", -5, 5)}


def test_addresses_choose_the_storage_and_show_no_credentials() -> None:
    url = f"mongodb://{USER}:{SECRET}@db.example:27017/lab?authSource=admin&tls=true"
    storage = as_storage(url)
    assert isinstance(storage, MongoStorage)
    assert storage.database == "lab"
    assert repr(storage) == "MongoStorage('mongodb://db.example:27017/lab')"
    assert display_address(url) == "mongodb://db.example:27017/lab"
    assert MongoStorage("mongodb://h1:1,h2:2").address == "mongodb://h1:1,h2:2/bbopt"
    assert SECRET not in repr(pickle.loads(pickle.dumps(storage)).__dict__.get("address"))


def test_bad_addresses_are_clear_errors() -> None:
    with pytest.raises(StorageError, match=r"bad MongoDB database name 'a\.b'"):
        MongoStorage(f"mongodb://{USER}:{SECRET}@host/a.b")
    with pytest.raises(StorageError, match="names no host") as error:
        MongoStorage(f"mongodb://{USER}:{SECRET}@/db")
    assert SECRET not in str(error.value) and USER not in str(error.value)


def test_hyperopt_addresses() -> None:
    assert hyperopt_url("mongo://host:1234/tutorial/jobs") == "mongodb://host:1234/tutorial"
    assert hyperopt_url("host:1234/tutorial") == "mongodb://host:1234/tutorial"
    with pytest.raises(ValueError, match="host:27017/db"):
        hyperopt_url("host:1234")


def _texts(error: BaseException) -> str:
    """Everything an error shows: message, repr, the whole traceback with its context."""
    return "".join(traceback.format_exception(error)) + repr(error) + repr(error.__context__)


def test_errors_and_logs_carry_no_credentials(
    mongo_server: LocalMongo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # pymongo's own loggers too
    unreachable = MongoStorage(f"mongodb://{USER}:{SECRET}@127.0.0.1:{free_port()}/db", timeout=0.3)
    with pytest.raises(StorageError, match="Connection refused") as refused:
        unreachable.study_names()
    # nx-27017 has no authentication: the handshake fails inside pymongo
    rejected = MongoStorage(mongo_server.url("db").replace("//", f"//{USER}:{SECRET}@"), timeout=3)
    with pytest.raises(StorageError) as failed:
        rejected.create_study(bbopt.Study("s", None).record)
    for error in (refused.value, failed.value):
        assert error.__context__ is None, "the driver's error, which may hold the URL, is dropped"
        assert SECRET not in _texts(error) and USER not in _texts(error), _texts(error)
    assert SECRET not in caplog.text and USER not in caplog.text


def test_credentials_from_the_environment_stay_hidden(
    monkeypatch: pytest.MonkeyPatch, mongo_server: LocalMongo
) -> None:
    monkeypatch.setenv("BBOPT_MONGO_USERNAME", USER)
    monkeypatch.setenv("BBOPT_MONGO_PASSWORD", SECRET)
    storage = MongoStorage(mongo_server.url("envdb"), timeout=3)
    assert storage._options["username"] == USER and storage._options["password"] == SECRET
    with pytest.raises(StorageError) as failed:  # nx-27017 refuses the handshake
        storage.study_names()
    assert SECRET not in _texts(failed.value) and USER not in repr(storage)


def test_a_study_and_its_exports_hold_no_credentials(mongo_url: str, tmp_path: Path) -> None:
    study = bbopt.minimize(
        quadratic, SPACE, max_evals=3, seed=0, storage=mongo_url, study="plain", progress=False
    )
    stored = bbopt.load_study("plain", mongo_url, objective=SPACE)
    host = mongo_url.rsplit("/", 1)[0]
    texts = [
        stored.to_json(tmp_path / "s.json").read_text(),
        stored.to_csv(tmp_path / "s.csv").read_text(),
        json.dumps(stored.record.to_dict()),
        repr(stored),
    ]
    assert len(stored.trials) == len(study.trials) == 3
    assert not any(host in text for text in texts), "exports must not name the server"


def test_stored_content_is_checked_as_data(mongo_url: str) -> None:
    bbopt.minimize(
        quadratic, SPACE, max_evals=2, seed=0, storage=mongo_url, study="s", progress=False
    )
    storage = MongoStorage(mongo_url, timeout=5)
    trials = storage._database(write=False)[TRIALS]
    trials.update_one({"study": "s", "tid": 1}, {"$set": {"record": '{"flat_params": "no"}'}})
    with pytest.raises(StorageContentError, match=r"study 's', trial 1: field 'flat_params'"):
        storage.get_trials("s")
    trials.update_one({"study": "s", "tid": 1}, {"$set": {"record": "__import__('os')"}})
    with pytest.raises(StorageContentError, match="trial 1: field 'record' is not JSON"):
        bbopt.load_study("s", mongo_url)


def test_ids_stay_unique_when_the_counter_falls_behind(mongo_url: str) -> None:
    storage = MongoStorage(mongo_url, timeout=5)
    study = bbopt.minimize(
        quadratic, SPACE, max_evals=3, seed=0, storage=storage, study="s", progress=False
    )
    storage._database(write=True)["bbopt_studies"].update_one(
        {"_id": "s"}, {"$set": {"next_tid": 1}}
    )
    again = bbopt.minimize(
        quadratic, SPACE, max_evals=5, seed=0, storage=storage, study="s", progress=False
    )
    assert [t.tid for t in again.trials] == [0, 1, 2, 3, 4]
    assert [t.flat_params for t in again.trials[:3]] == [t.flat_params for t in study.trials]


def _driver(start: Callable[..., Any], url: str, study: str, seed: int, evals: int) -> Any:
    """A ``bbopt run`` process on ``study``: 0.05 s trials, so that two of them overlap."""
    return start(
        "run",
        "queue.sleepy",
        "--storage",
        url,
        "--study",
        study,
        "--max-evals",
        str(evals),
        "--seed",
        str(seed),
        "--backend",
        "hyperopt.tpe",
        "--quiet",
        QUEUE_TEST_SLEEP="0.05",
    )


@pytest.mark.slow
def test_two_drivers_share_one_study_and_stop_at_max_evals_together(
    mongo_url: str, bbopt_process: Callable[..., Any]
) -> None:
    max_evals = 30
    runs = [_driver(bbopt_process, mongo_url, "shared", seed, max_evals) for seed in (1, 2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    study = bbopt.load_study("shared", mongo_url)
    tids = [t.tid for t in study.trials]
    assert tids == sorted(set(tids)), "every id given once"
    finished = study.finished_trials
    # The storage gives out the last places atomically: together they stop at max_evals.
    assert len(finished) == len(study.trials) == max_evals, study.count_by_state()
    workers = {t.worker for t in finished}
    assert len(workers) == 2, f"both processes ran trials: {workers}"
    for stdout, _ in outputs:  # each reports the study it stopped on
        assert re.match(r"study 'shared': \d+ trials", stdout), stdout


class RecordingRandom(RandomSearch):
    """Random search that remembers every point it was told, and when."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.told: list[tuple[dict[str, Any], bool, datetime]] = []

    def tell(self, observation: Observation) -> None:
        super().tell(observation)
        own = observation.suggestion is not None
        self.told.append((observation.flat_params, own, datetime.now(timezone.utc)))


@pytest.mark.slow
def test_each_process_asks_with_the_whole_shared_history(
    mongo_url: str,
    bbopt_process: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    queue_objectives: Any,
) -> None:
    monkeypatch.setenv("QUEUE_TEST_SLEEP", "0.05")
    other = _driver(bbopt_process, mongo_url, "history", 1, 40)
    backend = RecordingRandom(as_space(queue_objectives.SPACE), seed=2)
    bbopt.minimize(
        "queue.sleepy",
        backend=backend,
        max_evals=40,
        storage=mongo_url,
        study="history",
        progress=False,
    )
    assert other.wait(timeout=300) == 0
    study = bbopt.load_study("history", mongo_url)
    mine = [t for t in study.finished_trials if t.worker == worker_name()]
    theirs = [t for t in study.finished_trials if t.worker != worker_name()]
    assert mine and theirs, "both processes ran trials"
    last_start = max(t.started_at for t in mine if t.started_at is not None)
    told = [point for point, own, _ in backend.told if not own]
    before = [t.flat_params for t in theirs if t.finished_at and t.finished_at < last_start]
    assert before, "the other process finished trials while this one ran"
    missing = [p for p in before if p not in told]
    assert not missing, f"{len(missing)} trials of the other process were never told"
    assert len(backend.told) == len(mine) + len(told)


def test_the_command_line_reads_and_writes_mongodb(
    mongo_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--storage", mongo_url]
    run = ["run", "toy.sin", *base, "--study", "cli", "--max-evals", "3", "--seed", "0"]
    assert main([*run, "--quiet"]) == 0
    assert main(["studies", *base]) == 0
    assert main(["show", "cli", *base]) == 0
    assert main(["export", "cli", *base, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert "study 'cli': 3 trials (3 done)" in out
    assert re.search(r"^cli\s+toy\.sin\s+hyperopt\.tpe\s+3\s+0", out, re.MULTILINE), out
    assert f"study 'cli' in {mongo_url}" in out
    exported = json.loads(out[out.index('{\n "name": "cli"') :])
    assert [t["tid"] for t in exported["trials"]] == [0, 1, 2]


def test_a_worker_shows_no_credentials(mongo_server: LocalMongo, bbopt_process: Any) -> None:
    url = mongo_server.url("creds").replace("//", f"//{USER}:{SECRET}@")
    worker = bbopt_process("worker", "--storage", url, "--idle-timeout", "0.1")
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 1, err  # nx-27017 refuses the handshake
    assert "bbopt: error: mongodb://127.0.0.1" in err
    assert SECRET not in out + err and USER not in out + err, err
