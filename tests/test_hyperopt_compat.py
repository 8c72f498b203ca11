"""bbopt.hyperopt: a hyperopt script runs with its imports changed, and gives the same trials.

The script tests run one script text twice, in fresh processes, importing hyperopt
or bbopt.hyperopt, and compare everything it prints (points, losses, statuses,
results, argmin, ...). The other tests check the Trials API and fmin's arguments
against the real hyperopt, in this process.
"""

from __future__ import annotations

import functools
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import hyperopt
import numpy as np
import pytest

import bbopt
from bbopt import hyperopt as bh
from bbopt.storage import StorageError
from bbopt.trial import TrialState

HYPEROPT_IMPORTS = """\
from hyperopt import STATUS_FAIL, STATUS_OK, Trials, anneal, fmin, hp, rand, space_eval, tpe
from hyperopt import partial
from hyperopt.early_stop import no_progress_loss
from hyperopt.pyll import scope
"""
BBOPT_IMPORTS = """\
from bbopt.hyperopt import STATUS_FAIL, STATUS_OK, Trials, anneal, fmin, hp, rand, space_eval, tpe
from bbopt.hyperopt import partial
from bbopt.hyperopt.early_stop import no_progress_loss
from bbopt.hyperopt import scope
"""

SCRIPT = """
import json, sys, zlib
import numpy as np

ALGO = sys.argv[1]


@scope.define
def power_of_two(a):
    return 2.0 ** a


space = {
    "optimizer": hp.choice("name", [
        {"name": "adam", "learning_rate": hp.loguniform("learning_rate_adam", -10, 0)},
        {"name": "sgd", "learning_rate": hp.loguniform("learning_rate_sgd", -15, 1),
         "momentum": hp.uniform("momentum", 0, 1.0)},
    ]),
    "second_layer": hp.choice("second_layer", [
        {"include": False},
        {"include": True, "layer_size": hp.choice("layer_size", np.arange(5, 26, 5))},
    ]),
    "layer_1_size": hp.choice("layer_1_size", np.arange(5, 26, 5)),
    "batch_size": scope.power_of_two(hp.quniform("batch_size", 0, 8, q=1)),
    "units": scope.int(hp.quniform("units", 1, 5, 1)),
    "ratio": scope.float(hp.randint("ratio", 1, 4)) / 4,
    "arith": (2 ** hp.quniform("e", 0, 3, 1) + 1) * 3 - hp.uniform("u", 0, 1),
    "init": hp.pchoice("init", [(0.3, "glorot"), (0.7, [hp.normal("gain", 0, 1), 1])]),
}


def objective(params):
    value = zlib.crc32(repr(sorted(params.items(), key=str)).encode()) / 2**32
    if value < 0.2:
        return {"status": STATUS_FAIL, "reason": "low"}
    return {"loss": value, "status": STATUS_OK, "train_time": value / 10}


def plain(value):
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [type(value).__name__] + [plain(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    return float(value)


algo = {"tpe": partial(tpe.suggest, n_startup_jobs=8), "rand": rand.suggest,
        "anneal": anneal.suggest}[ALGO]
quiet = dict(algo=algo, show_progressbar=False)
trials = Trials()
rng = np.random.default_rng
best = fmin(objective, space, max_evals=20, trials=trials, rstate=rng(3), **quiet)
again = fmin(objective, space, max_evals=30, trials=trials, rstate=rng(4), **quiet)
config = fmin(objective, space, max_evals=34, trials=trials, rstate=rng(5), return_argmin=False,
              **quiet)

stopped = Trials()
fmin(lambda p: (p["x"] - 1) ** 2, {"x": hp.uniform("x", -5, 5)}, max_evals=300, trials=stopped,
     rstate=rng(6), early_stop_fn=no_progress_loss(6), **quiet)

evaluated = []
flat = {"c": hp.choice("c", ["a", "b", "c"]), "y": hp.uniform("y", -2, 2)}
fmin(lambda p: evaluated.append(p) or p["y"] ** 2, flat, max_evals=6, rstate=rng(7),
     points_to_evaluate=[{"c": 2, "y": 0.5}, {"c": 0, "y": -1.0}], **quiet)

print(json.dumps(plain({
    "vals": trials.vals, "idxs": trials.idxs, "results": trials.results,
    "losses": trials.losses(), "statuses": trials.statuses(), "tids": trials.tids,
    "states": [t["state"] for t in trials.trials], "len": len(trials),
    "miscs": [m["vals"] for m in trials.miscs], "argmin": trials.argmin,
    "best_tid": trials.best_trial["tid"], "best": best, "again": again, "config": config,
    "eval": space_eval(space, again), "stopped": stopped.losses(), "evaluated": evaluated,
}), sort_keys=True))
"""


def run_script(imports: str, algo: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / f"script_{'bbopt' if 'bbopt' in imports else 'hyperopt'}_{algo}.py"
    path.write_text(imports + SCRIPT)
    done = subprocess.run(
        [sys.executable, str(path), algo], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("algo", ["tpe", "rand", "anneal"])
def test_the_same_script_gives_hyperopt_s_trials(algo: str, tmp_path: Path) -> None:
    theirs = run_script(HYPEROPT_IMPORTS, algo, tmp_path)
    ours = run_script(BBOPT_IMPORTS, algo, tmp_path)
    assert ours["vals"] == theirs["vals"]  # the points, trial by trial
    assert ours["losses"] == theirs["losses"]
    assert ours["statuses"] == theirs["statuses"]
    assert 0 < ours["statuses"].count("fail") < ours["len"] == 34  # failures are kept
    assert ours == theirs  # and everything else the script printed
    assert len(ours["stopped"]) < 1 + 300  # early stop fired, at the same trial
    assert len(ours["evaluated"]) == 1 + 8  # 2 points + max_evals (after plain's type tag)


# -- Trials, in this process ------------------------------------------------------------


def toy(params: dict[str, Any]) -> Any:
    x = params["x"]
    if params["kind"]["name"] == "bad":
        return {"status": "fail"}
    return {"loss": (x - 1) ** 2 + params["kind"].get("w", 0.0), "status": "ok", "seen": x}


def toy_space(hp: Any) -> dict[str, Any]:
    return {
        "x": hp.uniform("x", -5, 5),
        "kind": hp.choice(
            "kind", [{"name": "a", "w": hp.uniform("w", 0, 1)}, {"name": "b"}, {"name": "bad"}]
        ),
    }


@pytest.fixture(scope="module")
def both_trials() -> tuple[hyperopt.Trials, bh.Trials]:
    """The same run with hyperopt and with bbopt.hyperopt."""
    runs = []
    for module in (hyperopt, bh):
        trials = module.Trials()
        module.fmin(
            toy,
            toy_space(module.hp),
            algo=module.tpe.suggest,
            max_evals=30,
            trials=trials,
            rstate=np.random.default_rng(11),
            show_progressbar=False,
        )
        runs.append(trials)
    return runs[0], runs[1]


def test_trials_shows_what_hyperopt_s_trials_shows(both_trials: Any) -> None:
    theirs, ours = both_trials
    assert len(ours) == len(theirs) == 30
    assert ours.results == theirs.results
    assert ours.losses() == theirs.losses() and ours.statuses() == theirs.statuses()
    assert "fail" in ours.statuses()
    assert ours.vals == theirs.vals and ours.idxs == theirs.idxs
    assert [m["vals"] for m in ours.miscs] == [m["vals"] for m in theirs.miscs]
    assert ours.argmin == theirs.argmin
    assert ours.best_trial["tid"] == theirs.best_trial["tid"]
    assert ours.best_trial["result"] == theirs.best_trial["result"]
    assert ours.tids == theirs.tids == list(range(30))
    for doc, their_doc in zip(ours, theirs, strict=True):  # iteration gives the documents
        assert set(doc) == set(their_doc)
        assert doc["state"] == their_doc["state"] == hyperopt.JOB_STATE_DONE
        assert set(doc["misc"]) == set(their_doc["misc"])
        assert doc["book_time"] <= doc["refresh_time"]


def test_trials_are_subscriptable_and_hold_the_bbopt_study(both_trials: Any) -> None:
    _, ours = both_trials
    assert ours[0]["tid"] == 0 and ours[-1]["tid"] == 29
    assert [d["tid"] for d in ours[2:5]] == [2, 3, 4]
    study = ours.study
    assert isinstance(study, bbopt.Study) and len(study) == 30
    assert ours.best_trial["tid"] == study.best_trial.tid
    assert study.trials[0].extras["seen"] == ours[0]["result"]["seen"]


def test_continuing_fmin_with_the_same_trials_matches_hyperopt() -> None:
    runs = []
    for module in (hyperopt, bh):
        trials = module.Trials()
        for total, seed in ((10, 1), (25, 2)):
            module.fmin(
                toy,
                toy_space(module.hp),
                algo=module.anneal.suggest,
                max_evals=total,
                trials=trials,
                rstate=np.random.default_rng(seed),
                show_progressbar=False,
            )
        runs.append(trials)
    assert len(runs[1]) == 25
    assert runs[1].vals == runs[0].vals and runs[1].losses() == runs[0].losses()


def test_fmin_returns_argmin_or_the_configuration() -> None:
    for module in (hyperopt, bh):
        kwargs: dict[str, Any] = {"max_evals": 12, "show_progressbar": False}
        space = toy_space(module.hp)
        best = module.fmin(toy, space, rstate=np.random.default_rng(2), **kwargs)
        config = module.fmin(
            toy, space, rstate=np.random.default_rng(2), return_argmin=False, **kwargs
        )
        assert config == module.space_eval(space, best)
        if module is hyperopt:
            expected = (best, config)
        else:
            assert (best, config) == expected


def test_no_successful_trial_is_hyperopt_s_all_trials_failed() -> None:
    with pytest.raises(hyperopt.exceptions.AllTrialsFailed):
        bh.fmin(lambda p: {"status": "fail"}, bh.hp.uniform("x", 0, 1), max_evals=3)
    with pytest.raises(bbopt.NoSuccessfulTrialError):
        bh.Trials().argmin  # noqa: B018


def test_trials_pickle_and_continue() -> None:
    trials = bh.Trials()
    space = toy_space(bh.hp)
    bh.fmin(toy, space, max_evals=5, trials=trials, rstate=np.random.default_rng(0))
    copy = pickle.loads(pickle.dumps(trials))
    assert copy.results == trials.results
    bh.fmin(toy, space, max_evals=8, trials=copy, rstate=np.random.default_rng(1))
    assert len(copy) == 8 and len(trials) == 5


def test_exp_key_names_the_study_and_storage_keeps_it(tmp_path: Path) -> None:
    trials = bh.Trials(exp_key="wine-search", storage=tmp_path / "studies.db")
    bh.fmin(toy, toy_space(bh.hp), max_evals=4, trials=trials, rstate=np.random.default_rng(0))
    assert trials.study.name == "wine-search" and trials.exp_key == "wine-search"
    assert {d["exp_key"] for d in trials} == {"wine-search"}
    assert len(bbopt.load_study("wine-search", tmp_path / "studies.db")) == 4


# -- fmin's arguments -------------------------------------------------------------------


def test_partial_of_a_suggest_function_passes_its_options() -> None:
    space = {"x": hyperopt.hp.uniform("x", -5, 5)}
    runs = []
    for module in (hyperopt, bh):
        trials = module.Trials()
        algo = module.partial(module.tpe.suggest, n_startup_jobs=4, gamma=0.5)
        module.fmin(
            lambda p: (p["x"] - 1) ** 2,
            space,
            algo=algo,
            max_evals=15,
            trials=trials,
            rstate=np.random.default_rng(8),
            show_progressbar=False,
        )
        runs.append(trials)
    assert runs[1].vals == runs[0].vals
    assert runs[1].study.backend_options == {"n_startup_jobs": 4, "gamma": 0.5}
    assert functools.partial(bh.tpe.suggest, n_startup_jobs=4).func is hyperopt.tpe.suggest


@pytest.mark.parametrize(
    ("algo", "message"),
    [
        (hyperopt.atpe.suggest, "algo hyperopt.atpe.suggest has no bbopt backend"),
        (functools.partial(hyperopt.tpe.suggest, 3), "is given positional arguments"),
        ("optuna.tp", "unknown backend 'optuna.tp'"),
    ],
)
def test_an_unknown_algo_is_a_clear_error(algo: Any, message: str) -> None:
    with pytest.raises((ValueError, LookupError), match=message):
        bh.fmin(lambda p: 0.0, bh.hp.uniform("x", 0, 1), algo=algo, max_evals=2)


def test_every_bbopt_backend_by_name_through_fmin() -> None:
    trials = bh.Trials()
    space = toy_space(bh.hp)
    rng = np.random.default_rng
    best = bh.fmin(toy, space, algo="optuna.tpe", max_evals=10, trials=trials, rstate=rng(4))
    assert trials.study.backend_name == "optuna.tpe" and len(trials) == 10
    assert best == trials.argmin
    again = bh.Trials()
    bh.fmin(
        toy, space, algo="optuna.tpe", max_evals=10, trials=again, rstate=np.random.default_rng(4)
    )
    assert again.vals == trials.vals  # the rstate seeds it: the same points


def test_a_hyperopt_trials_object_is_refused_with_the_fix() -> None:
    with pytest.raises(TypeError, match=r"import Trials from bbopt\.hyperopt"):
        bh.fmin(lambda p: 0.0, bh.hp.uniform("x", 0, 1), max_evals=2, trials=hyperopt.Trials())


def test_points_to_evaluate_go_first_and_count_on_top_of_max_evals() -> None:
    seen: list[Any] = []
    space = {"c": bh.hp.choice("c", ["a", "b"]), "y": bh.hp.uniform("y", -1, 1)}
    points = [{"c": 1, "y": 0.5}, {"c": 0, "y": -0.25}]
    best = bh.fmin(
        lambda p: seen.append(p) or p["y"] ** 2, space, max_evals=4, points_to_evaluate=points
    )
    assert seen[:2] == [{"c": "b", "y": 0.5}, {"c": "a", "y": -0.25}] and len(seen) == 6
    assert set(best) == {"c", "y"}
    with pytest.warns(UserWarning, match="points_to_evaluate is ignored when trials is given"):
        bh.fmin(lambda p: 0.0, space, max_evals=2, trials=bh.Trials(), points_to_evaluate=points)


def test_catch_eval_exceptions_decides_whether_an_exception_escapes() -> None:
    def diverges(params: dict[str, Any]) -> float:
        if params["x"] > 0:
            raise FloatingPointError("diverged")
        return params["x"] ** 2

    space = {"x": bh.hp.uniform("x", -1, 1)}
    trials = bh.Trials()
    with pytest.raises(FloatingPointError, match="diverged"):  # hyperopt's default
        bh.fmin(diverges, space, max_evals=30, trials=trials, rstate=np.random.default_rng(0))
    assert trials.study.trials[-1].state is TrialState.FAILED  # recorded before it escaped
    caught = bh.Trials()
    bh.fmin(
        diverges,
        space,
        max_evals=30,
        trials=caught,
        rstate=np.random.default_rng(0),
        catch_eval_exceptions=True,
    )
    assert len(caught) == 30 and 0 < caught.statuses().count("fail") < 30
    errors = [r["error"] for r in caught.results if r["status"] == "fail"]
    assert all("FloatingPointError: diverged" in e for e in errors)


def test_show_progressbar_draws_a_bar(capsys: pytest.CaptureFixture[str]) -> None:
    space = bh.hp.uniform("x", 0, 1)
    bh.fmin(lambda x: x, space, max_evals=3, show_progressbar=True)
    assert "3/3" in capsys.readouterr().err
    bh.fmin(lambda x: x, space, max_evals=3, show_progressbar=False)
    bh.fmin(lambda x: x, space, max_evals=3, verbose=False)  # verbose=False hides it too
    assert "3/3" not in capsys.readouterr().err


def test_unsupported_arguments_say_so() -> None:
    space = bh.hp.uniform("x", 0, 1)
    with pytest.raises(ValueError, match="pass_expr_memo_ctrl is not supported"):
        bh.fmin(lambda x: x, space, max_evals=1, pass_expr_memo_ctrl=True)
    with pytest.warns(UserWarning, match="max_queue_len=4 is ignored"):
        bh.fmin(lambda x: x, space, max_evals=1, max_queue_len=4)


def test_an_annotated_space_is_read_from_the_function() -> None:
    def loss(x: float, n: int) -> float:
        return (x - 1) ** 2 + n

    # (this module's annotations are strings: set them as a script without
    # ``from __future__ import annotations`` has them)
    loss.__annotations__ = {"x": bh.hp.uniform("x", -2, 2), "n": bh.hp.randint("n", 3)}
    best = bh.fmin(loss, "annotated", max_evals=20, rstate=np.random.default_rng(0))
    assert set(best) == {"x", "n"}
    loss.__annotations__ = {"x": "float", "n": bh.hp.randint("n", 3)}
    with pytest.raises(TypeError, match="annotate each argument of fn with an hp node"):
        bh.fmin(loss, "annotated", max_evals=2)


def test_timeout_and_loss_threshold_stop_as_in_hyperopt() -> None:
    space = {"x": hyperopt.hp.uniform("x", -5, 5)}
    runs = []
    for module in (hyperopt, bh):
        trials = module.Trials()
        module.fmin(
            lambda p: abs(p["x"]),
            space,
            max_evals=500,
            trials=trials,
            loss_threshold=0.05,
            rstate=np.random.default_rng(3),
            show_progressbar=False,
        )
        runs.append(trials)
    assert runs[1].losses() == runs[0].losses() and runs[1].losses()[-1] < 0.05
    assert runs[1].study.stop_reason == "loss_threshold"
    began = time.monotonic()
    trials = bh.Trials()
    bh.fmin(lambda p: time.sleep(0.05) or 0.0, space, max_evals=10**6, timeout=0.5, trials=trials)
    assert time.monotonic() - began < 5 and trials.study.stop_reason == "timeout"


# -- trials_save_file and storage: SQLite, never a pickle ------------------------------


def test_trials_save_file_keeps_the_study_in_sqlite_and_continues_it(tmp_path: Path) -> None:
    path = str(tmp_path / "trials.db")
    space = toy_space(bh.hp)
    first = bh.Trials()
    bh.fmin(toy, space, max_evals=6, trials=first, trials_save_file=path)
    assert Path(path).read_bytes()[:16] == b"SQLite format 3\x00"
    assert len(bbopt.load_study("toy", path).trials) == 6
    bh.fmin(toy, space, max_evals=9, trials_save_file=path)  # trials=None: the file's trials
    assert len(bbopt.load_study("toy", path).trials) == 9
    trials = bh.Trials()
    bh.fmin(toy, space, max_evals=12, trials=trials, trials_save_file=path)
    assert len(trials) == 12 and trials.tids == list(range(12))
    assert trials.results[:6] == first.results


class _Bomb:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.write_text, (self.marker, "unpickled"))


def test_a_pickle_given_as_trials_save_file_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "trials.pkl"
    path.write_bytes(pickle.dumps(_Bomb(marker)))
    with pytest.raises(StorageError):
        bh.fmin(lambda x: x, bh.hp.uniform("x", 0, 1), max_evals=2, trials_save_file=str(path))
    assert not marker.exists()


def test_storage_and_trials_save_file_are_one_thing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        bh.fmin(
            lambda x: x,
            bh.hp.uniform("x", 0, 1),
            max_evals=1,
            storage=tmp_path / "a.db",
            trials_save_file=str(tmp_path / "b.db"),
        )


CRASHING = textwrap.dedent(
    """
    import sys
    import numpy as np
    from bbopt.hyperopt import fmin, hp, tpe

    def loss(params):
        print(repr(params["x"]), flush=True)
        return (params["x"] - 1) ** 2

    fmin(loss, {"x": hp.uniform("x", -5, 5)}, algo=tpe.suggest, max_evals=int(sys.argv[2]),
         storage=sys.argv[1], rstate=np.random.default_rng(0), show_progressbar=False)
    """
)


@pytest.mark.slow
def test_storage_resumes_after_a_crash_with_every_committed_trial(tmp_path: Path) -> None:
    script, db = tmp_path / "crashing.py", tmp_path / "studies.db"
    script.write_text(CRASHING)
    child = subprocess.Popen(
        [sys.executable, str(script), str(db), "12"], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    # the 6th trial has begun, so the first 5 are committed; kill it mid-run
    printed = [child.stdout.readline() for _ in range(6)]
    child.send_signal(signal.SIGKILL)
    child.wait()
    committed = [t for t in bbopt.load_study("loss", db).trials if t.state is TrialState.DONE]
    assert 5 <= len(committed) < 12
    assert [t.flat_params["x"] for t in committed[:5]] == [float(x) for x in printed[:5]]
    subprocess.run([sys.executable, str(script), str(db), "12"], check=True, capture_output=True)
    study = bbopt.load_study("loss", db)
    done = [t for t in study.trials if t.state is TrialState.DONE]
    assert len(done) == 12 and done[: len(committed)] == committed


# -- beyond hyperopt: parallel trials -------------------------------------------------


def slow_toy(params: dict[str, Any]) -> float:
    time.sleep(0.05)
    return (params["x"] - 1) ** 2


@pytest.mark.slow
def test_workers_run_fmin_trials_in_processes() -> None:
    trials = bh.Trials()
    best = bh.fmin(
        slow_toy, {"x": bh.hp.uniform("x", -5, 5)}, max_evals=8, trials=trials, workers=2
    )
    assert len(trials) == 8 and trials.statuses() == ["ok"] * 8
    assert len({t.worker for t in trials.study.trials}) == 2  # two processes did the work
    assert best == trials.argmin


@pytest.mark.slow
def test_executor_dask_runs_fmin_on_a_local_cluster() -> None:
    pytest.importorskip("distributed")
    trials = bh.Trials()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Dask's own start-up warnings
        bh.fmin(
            slow_toy,
            {"x": bh.hp.uniform("x", -5, 5)},
            max_evals=6,
            trials=trials,
            executor="dask",
            workers=2,
        )
    assert len(trials) == 6 and trials.statuses() == ["ok"] * 6
    assert all(str(os.getpid()) not in (t.worker or "") for t in trials.study.trials)


def test_fmin_gives_a_backend_it_made_the_run_s_budget_and_closes_it() -> None:
    from bbopt.hyperopt.algos import fmin_backend

    space = bbopt.Space({"x": bh.hp.uniform("x", 0, 1), "y": bh.hp.uniform("y", 0, 1)})
    assert fmin_backend("nevergrad.ngopt", space, 1, 37).optimizer.budget == 37
    # Nevergrad's COBYLA thread kept this script waiting at exit until fmin closed it.
    script = textwrap.dedent(
        """
        from bbopt.hyperopt import fmin
        from bbopt.objective import get_objective
        lasso = get_objective("sklearn.lasso.iris.acc")
        best = fmin(lambda p: lasso.evaluate(p)["loss"], lasso.space,
                    algo="nevergrad.ngopt", max_evals=30, rstate=1, show_progressbar=False)
        print(sorted(best))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['C', 'intercept_scaling']"
