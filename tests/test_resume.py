"""Resuming stored studies: after Ctrl-C, after SIGKILL, with more evaluations, exactly."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from crashed_runs import leave_running

import bbopt
from bbopt import hp
from bbopt.backends import get_backend
from bbopt.storage import as_storage
from bbopt.trial import TrialState

SPACE = {
    "x": hp.uniform("x", -5, 5),
    "branch": hp.choice("branch", [{"y": hp.quniform("y", 0, 10, 1)}, {"z": hp.normal("z", 0, 2)}]),
}

#: Set by the SIGKILL test's child process: the call at which the objective hangs.
HANG_AT: int | None = None
_calls = 0


def crashable(params: dict[str, Any]) -> float:
    """A quadratic; in the killed child process, one call announces itself and hangs."""
    global _calls
    _calls += 1
    if _calls == HANG_AT:
        print(json.dumps({"hanging": params}), flush=True)
        time.sleep(600)
    time.sleep(0.02)
    branch = params["branch"]
    return (params["x"] - 1) ** 2 + branch.get("y", 0) / 10 + abs(branch.get("z", 0))


def interrupting_objective(stop_at: set[int]) -> Any:
    """The same quadratic, raising KeyboardInterrupt (Ctrl-C) at the given calls."""
    calls = 0

    def objective(params: dict[str, Any]) -> float:
        nonlocal calls
        calls += 1
        if calls in stop_at:
            raise KeyboardInterrupt
        branch = params["branch"]
        return (params["x"] - 1) ** 2 + branch.get("y", 0) / 10 + abs(branch.get("z", 0))

    return objective


def finished(study: bbopt.Study) -> list[tuple[Any, float | None]]:
    """The finished trials' points and losses, in order."""
    return [(t.flat_params, t.loss) for t in study.finished_trials]


EXACT = sorted(
    {"hyperopt.tpe", "hyperopt.rand"}
    | {n for n in bbopt.list_backends() if get_backend(n).exact_resume}
)


@pytest.mark.parametrize("backend", EXACT)
def test_interrupted_runs_resume_to_the_uninterrupted_trials(tmp_path: Path, backend: str) -> None:
    assert get_backend(backend).exact_resume
    kwargs: dict[str, Any] = {"backend": backend, "max_evals": 30, "seed": 5, "progress": False}
    if get_backend(backend).multi_fidelity:  # budgets of its own: SPACE's objective has none
        kwargs["backend_options"] = {"min_budget": 1, "max_budget": 9}
    reference = bbopt.minimize(interrupting_objective(set()), SPACE, **kwargs)
    stored: dict[str, Any] = {"storage": tmp_path / "s.db", "study": "resumed", **kwargs}
    # Ctrl-C at call 8; then at the first call of the next run (the re-run itself); then done.
    for stop_at in ({8}, {1}, set()):
        with (
            pytest.warns(RuntimeWarning, match="interrupted")
            if stop_at
            else contextlib.nullcontext()
        ):
            study = bbopt.minimize(interrupting_objective(stop_at), SPACE, **stored)
    assert finished(study) == finished(reference)
    assert len(study.finished_trials) == 30
    abandoned = [t for t in study.trials if t.state is TrialState.ABANDONED]
    retries = [t for t in study.trials if t.origin == "retry"]
    assert [t.tid for t in abandoned] == [7, 8]  # the interrupted trial, then its re-run
    assert [t.tid for t in retries] == [8, 9]
    assert all(t.flat_params == abandoned[0].flat_params for t in abandoned + retries)
    assert retries[-1].state is TrialState.DONE
    assert [t.tid for t in bbopt.load_study("resumed", tmp_path / "s.db").trials] == list(range(32))


def test_interrupted_warm_start_point_is_rerun_as_warm_start(tmp_path: Path) -> None:
    points = [{"x": 0.5, "branch": 0, "y": 3.0}, {"x": -1.0, "branch": 1, "z": 0.25}]
    kwargs: dict[str, Any] = {
        "backend": "hyperopt.tpe",
        "max_evals": 12,
        "seed": 2,
        "points_to_evaluate": points,
        "progress": False,
    }
    reference = bbopt.minimize(interrupting_objective(set()), SPACE, **kwargs)
    stored: dict[str, Any] = {"storage": tmp_path / "s.db", "study": "warm", **kwargs}
    with pytest.warns(RuntimeWarning):
        bbopt.minimize(interrupting_objective({2}), SPACE, **stored)
    study = bbopt.minimize(interrupting_objective(set()), SPACE, **stored)
    assert finished(study) == finished(reference)
    origins = [(t.origin, t.state.value) for t in study.trials[:3]]
    assert origins == [("warm_start", "done"), ("warm_start", "abandoned"), ("warm_start", "done")]
    # the first warm-start point is not evaluated a second time
    assert sum(t.flat_params == points[0] for t in study.trials) == 1


def test_more_evaluations_continue_the_study_like_one_longer_run(tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"backend": "hyperopt.tpe", "seed": 9, "progress": False}
    reference = bbopt.minimize(interrupting_objective(set()), SPACE, max_evals=20, **kwargs)
    stored: dict[str, Any] = {"storage": tmp_path / "s.db", "study": "longer", **kwargs}
    first = bbopt.minimize(interrupting_objective(set()), SPACE, max_evals=12, **stored)
    again = bbopt.minimize(interrupting_objective(set()), SPACE, max_evals=12, **stored)
    assert len(first.trials) == len(again.trials) == 12  # max_evals is the study's total
    longer = bbopt.minimize(interrupting_objective(set()), SPACE, max_evals=20, **stored)
    assert finished(longer) == finished(reference)
    assert all(t.origin == "backend" for t in longer.trials)


CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import bbopt
    import test_resume

    test_resume.HANG_AT = int(sys.argv[3])

    def report(study):  # called after every committed trial
        if study.finished_trials:
            print(json.dumps(study.finished_trials[-1].to_dict()), flush=True)
        return False

    bbopt.minimize(
        test_resume.crashable, test_resume.SPACE, backend="hyperopt.tpe", max_evals=30, seed=4,
        storage=sys.argv[2], study="crash", early_stop=report, progress=False,
    )
    """
)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_sigkill_mid_run_then_reopen_finishes_with_every_committed_trial(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(Path(__file__).parent), str(db), "11"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    committed: list[dict[str, Any]] = []
    assert child.stdout is not None
    for line in child.stdout:  # reads until the objective announces the hanging call
        message = json.loads(line)
        if "hanging" in message:
            break
        committed.append(message)
    # While its process lives, the hanging trial is running, for readers too.
    assert bbopt.load_study("crash", db).trials[10].state is TrialState.RUNNING
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
    assert len(committed) == 10
    # Once it is dead, readers see the trial abandoned, without writing anything.
    assert bbopt.load_study("crash", db).trials[10].state is TrialState.ABANDONED
    with contextlib.closing(sqlite3.connect(db)) as conn:
        states = conn.execute("SELECT state FROM trials ORDER BY tid").fetchall()
    assert states == [("done",)] * 10 + [("running",)]

    resumed = bbopt.minimize(
        crashable,
        SPACE,
        backend="hyperopt.tpe",
        max_evals=30,
        seed=4,
        storage=db,
        study="crash",
        progress=False,
    )
    by_tid = {t.tid: t for t in resumed.trials}
    for record in committed:  # every trial committed before the kill, unchanged
        assert json.loads(json.dumps(by_tid[record["tid"]].to_dict())) == record
    killed = by_tid[10]
    assert killed.state is TrialState.ABANDONED
    assert "ended while running it" in (killed.error or "")
    assert by_tid[11].origin == "retry" and by_tid[11].flat_params == killed.flat_params
    assert len(resumed.finished_trials) == 30
    assert [t.tid for t in resumed.trials] == list(range(31))
    # and the resumed study is the one an uninterrupted run makes (hyperopt resumes exactly)
    reference = bbopt.minimize(
        crashable, SPACE, backend="hyperopt.tpe", max_evals=30, seed=4, progress=False
    )
    assert finished(resumed) == finished(reference)


@pytest.mark.parametrize("backend", ["optuna.tpe"])
def test_backends_without_exact_resume_still_resume_the_study(tmp_path: Path, backend: str) -> None:
    assert not get_backend(backend).exact_resume
    stored: dict[str, Any] = {
        "backend": backend, "max_evals": 12, "seed": 1, "progress": False,
        "storage": tmp_path / "s.db", "study": "inexact",
    }  # fmt: skip
    with pytest.warns(RuntimeWarning, match="interrupted"):
        first = bbopt.minimize(interrupting_objective({6}), SPACE, **stored)
    before = [t.to_dict() for t in first.finished_trials]
    study = bbopt.minimize(interrupting_objective(set()), SPACE, **stored)
    assert [t.to_dict() for t in study.finished_trials[:5]] == before
    assert len(study.finished_trials) == 12
    assert [t.origin for t in study.trials[5:7]] == ["backend", "retry"]
    assert study.trials[5].state is TrialState.ABANDONED


def square(params: dict[str, float]) -> float:
    return params["x"] ** 2


def test_a_parallel_resume_runs_its_reruns_before_drawing_new_points(tmp_path: Path) -> None:
    """A killed workers=2 run left two trials running. Resumed with workers=2, their
    re-runs take both slots; a new ask before they are told would draw one of their
    points again (the seeded backend replays the same sequence)."""
    space = {"x": hp.uniform("x", -5, 5)}
    run = functools.partial(bbopt.minimize, square, space, backend="hyperopt.tpe", seed=0)
    points = [t.flat_params for t in run(max_evals=10).trials]
    db = tmp_path / "s.db"
    run(max_evals=4, storage=db, study="s")
    leave_running(as_storage(db), "s", points[4:6], "hyperopt.tpe", seed=0)
    resumed = run(max_evals=10, storage=db, study="s", workers=2, progress=False)
    done = [t.flat_params for t in resumed.trials if t.state is TrialState.DONE]
    assert sorted(p["x"] for p in done) == sorted(p["x"] for p in points)


def test_a_run_sharing_a_study_reruns_the_trial_a_dead_peer_left_running(tmp_path: Path) -> None:
    """Another process on the study took a trial and was killed during this run: at
    max_evals, this run abandons that trial and runs it again, instead of ending a
    trial short with one 'running' forever."""
    db = tmp_path / "s.db"
    storage = as_storage(db)
    space = {"x": hp.uniform("x", -5, 5)}

    def peer_dies_once(study: bbopt.Study, trial: Any) -> None:
        if trial.tid == 0:
            leave_running(storage, "s", [{"x": 0.5}], "hyperopt.tpe", seed=1)

    study = bbopt.minimize(
        square, space, backend="hyperopt.tpe", max_evals=6, seed=0, storage=db, study="s",
        callbacks=[peer_dies_once],
    )  # fmt: skip
    assert study.count_by_state() == {"done": 6, "abandoned": 1}
    (rerun,) = [t for t in study.trials if t.retry_of is not None]
    assert rerun.flat_params == {"x": 0.5} and rerun.state is TrialState.DONE


def test_a_run_without_a_seed_resumes_a_stored_study_with_its_seed(tmp_path: Path) -> None:
    """The same command again (no seed given) continues the study exactly as it began,
    rather than under a new seed."""
    db = tmp_path / "s.db"
    space = {"x": hp.uniform("x", -5, 5)}

    def interrupt_at_3(study: bbopt.Study, trial: Any) -> None:
        if trial.tid == 3:
            raise KeyboardInterrupt

    run = functools.partial(bbopt.minimize, square, space, backend="hyperopt.tpe", study="s")
    with pytest.warns(RuntimeWarning, match="interrupted"):
        first = run(max_evals=8, storage=db, callbacks=[interrupt_at_3])
    resumed = run(max_evals=8, storage=db)
    assert resumed.seed == first.seed and {t.seed for t in resumed.trials} == {first.seed}
    whole = run(max_evals=8, seed=first.seed)
    assert [t.flat_params for t in resumed.trials] == [t.flat_params for t in whole.trials]
    with pytest.raises(ValueError, match="a study name must be a non-empty string"):
        run(max_evals=1, study="")
