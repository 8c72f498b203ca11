"""Benchmark sweeps on Dask (issue 13 item 3): a run on a worker stores the study a
local run stores; a sweep on a ``dask scheduler`` + ``dask worker`` started apart, or on
the LocalCluster ``--executor dask`` starts, equals the local sweep, and an interrupted
sweep resumes from what was stored."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crashed_runs import dead_owner

import bbopt
from bbopt.storage import SQLiteStorage
from bbopt.trial import Trial, TrialOrigin, TrialState
from benchmarks.cluster import run_on_cluster, run_remotely, store, stored_copy
from benchmarks.execute import Outcome, execute, storage_of
from benchmarks.grid import RunSpec, build_grid, derive_seed
from benchmarks.run import main

SWEEP = ["--objectives", "toy.sin,synthetic.branin", "--seeds", "2", "--budget", "12"]
SWEEP += ["--no-figures", "--no-progress", "--name", "t"]


def stored(path: Path) -> dict[str, tuple[dict[str, Any], list[tuple[Any, ...]]]]:
    """Every study of a results file: its record and what its trials are (not when or
    where they, or the study, were made)."""
    studies = {}
    for name in bbopt.list_studies(path):
        study = bbopt.load_study(name, path)
        trials = [
            (t.tid, t.state, t.flat_params, t.params, t.loss, t.extras, t.error, t.origin,
             t.retry_of, t.seed, t.backend, t.intermediate, t.budget)
            for t in study.trials
        ]  # fmt: skip
        record = study.record.to_dict()
        assert record.pop("created_at")  # stamped when the study was first stored
        studies[name] = (record, trials)
    return studies


def cell(folder: Path, backend: str, budget: int) -> RunSpec:
    return RunSpec(backend, "toy.sin", 0, derive_seed(0, 0, "toy.sin"), budget, folder / "s.db")


def on_a_worker(spec: RunSpec) -> None:
    """What the driver and a worker do with one run, in this process."""
    remote = run_remotely(spec, stored_copy(spec), ())
    assert remote.study is not None, remote.error
    store(spec, remote.study)


def orphan(spec: RunSpec, owner: str) -> None:
    """A trial left running by a process that was killed."""
    trial = Trial(tid=-1, flat_params={"x": 0.25}, state=TrialState.RUNNING, owner=owner)
    storage_of(spec).add_trial(spec.study, dataclasses.replace(trial, backend=spec.backend))


@pytest.mark.parametrize("backend", ["hyperopt.tpe", "optuna.tpe"])
def test_a_run_on_a_worker_stores_what_a_local_run_stores_and_resumes_alike(
    tmp_path: Path, backend: str
) -> None:
    owner = dead_owner()
    for folder, run in ((tmp_path / "local", execute), (tmp_path / "worker", on_a_worker)):
        run(cell(folder, backend, 6))
        orphan(cell(folder, backend, 6), owner)
        run(cell(folder, backend, 12))  # resumed: the orphan abandoned and re-run first
        run(cell(folder, backend, 12))  # complete: nothing changes
    local = stored(tmp_path / "local" / "s.db")
    assert stored(tmp_path / "worker" / "s.db") == local
    ((_, trials),) = local.values()
    assert [t[1] for t in trials][6:8] == [TrialState.ABANDONED, TrialState.DONE]
    assert trials[7][7] is TrialOrigin.RETRY and trials[7][8] == 6 and len(trials) == 13


# -- real clusters (slow: each starts Dask processes) ---------------------------------

distributed = pytest.importorskip("distributed")
from test_dask import dask_cluster  # noqa: E402  (the scheduler + workers started apart)

CRASHING = """
import os, signal
import bbopt
from bbopt import hp

calls = 0


@bbopt.register_objective("crashing.bowl", space=hp.uniform("x", -2, 2), f_star=0.0)
def bowl(x):
    global calls
    calls += 1
    if calls == 5 and os.environ.get("CRASH_AT_5"):
        os.kill(os.getpid(), signal.SIGKILL)  # as a power cut would: trial 4 stays running
    return (x - 0.5) ** 2
"""


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """``dask scheduler`` and ``dask worker --nworkers 2 --nthreads 1`` on 127.0.0.1."""
    with dask_cluster(["--nworkers", "2", "--nthreads", "1"]) as address:
        yield address


def worker_pids(address: str) -> set[int]:
    with distributed.Client(address) as client:
        return set(client.run(os.getpid).values())


@pytest.mark.slow
def test_a_sweep_on_a_scheduler_and_workers_started_apart_equals_the_local_sweep(
    tmp_path: Path, scheduler: str
) -> None:
    args = ["--backends", "hyperopt.tpe,optuna.tpe", *SWEEP]
    assert main([*args, "--results-dir", str(tmp_path / "local"), "--jobs", "1"]) == 0
    assert main([*args, "--results-dir", str(tmp_path / "dask"), "--executor", scheduler]) == 0
    local, remote = tmp_path / "local" / "t" / "studies.db", tmp_path / "dask" / "t" / "studies.db"
    assert len(stored(local)) == 3 * 2 * 2  # the baseline hyperopt.rand is added
    assert stored(remote) == stored(local)
    ran_in = {int(t.worker.rsplit(":", 1)[1]) for t in trials_of(remote) if t.worker}
    assert ran_in == worker_pids(scheduler)  # both workers ran runs, and nothing ran here
    assert "hyperopt.tpe" in (tmp_path / "dask" / "t" / "summary.csv").read_text()

    # Ctrl-C once the first run came back: that run is stored whole, the rest resume
    backends, objectives = ["hyperopt.tpe", "optuna.tpe", "hyperopt.rand"], SWEEP[1].split(",")
    specs = build_grid(tmp_path / "cut" / "t", backends, objectives, 2, 0, 12)

    def interrupt(outcome: Outcome) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_on_cluster(specs, scheduler, 2, (), interrupt)
    cut = tmp_path / "cut" / "t" / "studies.db"
    ((name, (_, trials)),) = stored(cut).items()
    assert len(trials) == 12 and stored(local)[name][1] == trials
    assert main([*args, "--results-dir", str(tmp_path / "cut"), "--executor", scheduler]) == 0
    assert stored(cut) == stored(local)


def trials_of(path: Path) -> list[Trial]:
    return [t for name in bbopt.list_studies(path) for t in bbopt.load_study(name, path).trials]


@pytest.mark.slow
def test_a_killed_sweep_resumes_on_the_cluster_as_it_resumes_here(
    tmp_path: Path, scheduler: str, clean_registries: None
) -> None:
    module = tmp_path / "crashing_apart.py"  # a module name of its own: imported only once
    module.write_text(textwrap.dedent(CRASHING))
    args = ["--import", str(module), "--objectives", "crashing.bowl", "--backends", "hyperopt.tpe"]
    args += ["--seeds", "2", "--budget", "10", "--no-figures", "--no-progress", "--name", "t"]
    command = [sys.executable, "-m", "benchmarks.run", *args, "--jobs", "1"]
    crash = subprocess.run(
        [*command, "--results-dir", str(tmp_path / "here")],
        env={**os.environ, "CRASH_AT_5": "1"},
        capture_output=True,
    )
    assert crash.returncode == -9
    shutil.copytree(tmp_path / "here", tmp_path / "cluster")
    killed = SQLiteStorage(tmp_path / "here" / "t" / "studies.db")
    (first,) = killed.study_names()
    assert [t.state for t in killed.get_trials(first)][3:] == [TrialState.DONE, TrialState.RUNNING]
    killed.close()

    here, cluster = [*args, "--results-dir", str(tmp_path / "here"), "--jobs", "1"], [
        *args, "--results-dir", str(tmp_path / "cluster"), "--executor", scheduler
    ]  # fmt: skip
    assert main(here) == 0
    assert main(cluster) == 0  # the workers import the module by its path
    resumed = stored(tmp_path / "here" / "t" / "studies.db")
    assert stored(tmp_path / "cluster" / "t" / "studies.db") == resumed
    assert len(resumed) == 4 and resumed[first][1][4][1] is TrialState.ABANDONED
    assert sum(t[1] is TrialState.DONE for _, trials in resumed.values() for t in trials) == 40


@pytest.mark.slow
def test_a_module_the_workers_cannot_import_stops_the_sweep_naming_the_worker(
    tmp_path: Path,
    scheduler: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_registries: None,
) -> None:
    (tmp_path / "only_here.py").write_text(textwrap.dedent(CRASHING))
    monkeypatch.chdir(tmp_path)  # importable here, not in the workers' directory
    args = ["--import", "only_here", "--objectives", "crashing.bowl", "--backends", "bbopt.random"]
    code = main([*args, *SWEEP[2:], "--executor", scheduler, "--results-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1
    host = scheduler.rsplit(":", 1)[0]
    assert err.startswith(f"python -m benchmarks.run: error: Dask worker {host}:")
    assert "cannot import: --import only_here: no module named 'only_here'" in err
    assert not (tmp_path / "t" / "studies.db").exists()  # nothing ran


@pytest.mark.slow
def test_executor_dask_starts_a_local_cluster_that_imports_the_users_module(
    tmp_path: Path, clean_registries: None
) -> None:
    module = tmp_path / "crashing_local.py"
    module.write_text(textwrap.dedent(CRASHING))
    args = ["--import", str(module), "--objectives", "crashing.bowl,toy.sin", *SWEEP[2:]]
    args += ["--backends", "optuna.tpe"]
    assert main([*args, "--results-dir", str(tmp_path / "local"), "--jobs", "1"]) == 0
    cluster = [*args, "--results-dir", str(tmp_path / "dask"), "--executor", "dask"]
    assert main([*cluster, "--jobs", "2"]) == 0
    remote = tmp_path / "dask" / "t" / "studies.db"
    assert stored(remote) == stored(tmp_path / "local" / "t" / "studies.db")
    assert len({t.worker for t in trials_of(remote)}) == 2
    before = remote.read_bytes()
    assert main([*cluster, "--jobs", "2"]) == 0  # complete: no cluster, nothing rewritten
    assert remote.read_bytes() == before
