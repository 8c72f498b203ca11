"""Objective.prepare: once per worker process, before that process's first trial."""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import bbopt
from bbopt import hp
from bbopt.objective import Objective, PrepareError
from bbopt.study import Study


def recorder(log: Path, fail: bool = False) -> Objective:
    """An objective whose prepare appends ``pid time`` to ``log`` (and fails if asked);
    its trials report their pid and start time. A local class: sent by value."""

    class Recorder(Objective):
        name = "recorder"
        space = hp.uniform("x", -1, 1)

        def prepare(self) -> None:
            with log.open("a") as handle:
                handle.write(f"{os.getpid()} {time.time()!r}\n")
            if fail:
                raise ValueError("no data here")

        def evaluate(self, x: float) -> dict[str, Any]:
            time.sleep(0.05)
            return {"loss": x**2, "pid": os.getpid(), "t0": time.time()}

    return Recorder()


def prepared(log: Path) -> dict[int, float]:
    """pid -> when it prepared; asserts no process prepared twice."""
    lines = [line.split() for line in log.read_text().splitlines()]
    pids = [int(pid) for pid, _ in lines]
    assert len(pids) == len(set(pids)), f"a process prepared more than once: {pids}"
    return {int(pid): float(when) for pid, when in lines}


def assert_prepared_before_trials(study: Study, log: Path) -> dict[int, float]:
    assert len(study.ok_trials) == len(study.trials)
    when = prepared(log)
    for trial in study.trials:
        pid = trial.extras["pid"]
        assert pid in when and when[pid] < trial.extras["t0"], (pid, when)
    return when


def run(log: Path, fail: bool = False, **options: Any) -> Study:
    return bbopt.minimize(recorder(log, fail), max_evals=8, seed=0, progress=False, **options)


def test_the_serial_loop_prepares_once_in_this_process(tmp_path: Path) -> None:
    log = tmp_path / "prepared"
    study = run(log)
    assert set(assert_prepared_before_trials(study, log)) == {os.getpid()}


@pytest.mark.slow
def test_each_pool_worker_prepares_once_at_start(tmp_path: Path) -> None:
    log = tmp_path / "prepared"
    study = run(log, workers=2)
    when = assert_prepared_before_trials(study, log)
    assert len(when) == 2 and os.getpid() not in when  # both workers, at pool start
    failing = tmp_path / "failing"
    with pytest.raises(PrepareError, match=r"'recorder' failed to prepare .*no data here"):
        run(failing, fail=True, workers=2)
    assert len(prepared(failing)) == 2


@pytest.mark.slow
def test_workers_of_a_user_executor_prepare_before_their_first_trial(tmp_path: Path) -> None:
    log, again, failing = tmp_path / "prepared", tmp_path / "again", tmp_path / "failing"
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        study = run(log, executor=pool)
        second = run(again, executor=pool)  # a new run: its objective prepares anew
        failed = run(failing, fail=True, executor=pool)
    when = assert_prepared_before_trials(study, log)
    assert {t.extras["pid"] for t in study.trials} == set(when)
    assert set(assert_prepared_before_trials(second, again)) <= set(when)
    assert not failed.ok_trials  # prepare is retried by each trial, each fails clearly
    assert all("failed to prepare" in (t.error or "") for t in failed.trials)
    assert len(failing.read_text().splitlines()) == 8


@pytest.mark.slow
def test_dask_workers_prepare_once_and_a_failure_is_clear(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    log = tmp_path / "prepared"
    study = run(log, executor="dask", workers=2)
    when = assert_prepared_before_trials(study, log)
    assert len(when) == 2 and os.getpid() not in when
    with pytest.raises(PrepareError, match="no data here"):
        run(tmp_path / "failing", executor="dask", workers=2, fail=True)
