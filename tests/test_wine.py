"""The Keras wine objectives: spaces, real (short) training, divergence, final fit, quality."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bbopt
from bbopt.objective import evaluate_point
from bbopt.objectives import _keras_training as kt
from bbopt.objectives.wine import (
    CONDITIONAL_SPACE,
    LAYER_SIZES,
    SPACE,
    WineClassifier,
    final_fit,
    network_from_params,
    power_of_two,
    wine_data,
)
from bbopt.space import Space

EXTRAS = {"val_accuracy", "val_loss", "train_loss", "epochs", "train_time"}
DIVERGING_LR = 1e38  # a step this large overflows float32 weights in the first epoch
SGD_CONFIG = {
    "optimizer": {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9},
    "second_layer": {"include": True, "layer_size": 10},
    "layer_1_size": 20,
    "batch_size": 16,
}


def test_registering_the_objectives_imports_no_heavy_package() -> None:
    code = (
        "import sys, bbopt\n"
        "names = bbopt.list_objectives()\n"
        "assert 'keras.wine' in names and 'keras.wine-conditional' in names, names\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_data_splits_are_stratified_scaled_and_disjoint() -> None:
    data = wine_data()
    sizes = [len(data.x_train), len(data.x_val), len(data.x_test)]
    assert sizes == [99, 34, 45]  # 178 wines, 75/25 twice (scikit-learn's rounding)
    everything = np.vstack([data.x_train, data.x_val, data.x_test])
    assert everything.min() == 0.0 and everything.max() == 1.0
    assert len(np.unique(everything, axis=0)) == 178
    for y in (data.y_train, data.y_val, data.y_test):
        assert np.all(y.sum(axis=1) == 1)
        shares = y.mean(axis=0)
        assert np.allclose(shares, [59 / 178, 71 / 178, 48 / 178], atol=0.04)


def test_conditional_space_has_the_tutorials_names_and_nesting() -> None:
    space = Space(CONDITIONAL_SPACE)
    seen = set()
    for seed in range(60):
        params = space.sample(seed)
        assert set(params) == {"optimizer", "second_layer", "layer_1_size", "batch_size"}
        optimizer = params["optimizer"]
        expected = {"name", "learning_rate"} | (
            {"momentum"} if optimizer["name"] == "sgd" else set()
        )
        assert set(optimizer) == expected
        layer = params["second_layer"]
        assert set(layer) == ({"include", "layer_size"} if layer["include"] else {"include"})
        assert params["layer_1_size"] in LAYER_SIZES
        assert isinstance(params["batch_size"], int)
        assert params["batch_size"] in [2**k for k in range(9)]
        seen.add((optimizer["name"], layer["include"]))
    assert seen == {("adam", False), ("adam", True), ("sgd", False), ("sgd", True)}
    assert Space(SPACE).params["learning_rate"].dist.scale == "log"


def test_objectives_pickle_and_the_space_json_names_the_transform() -> None:
    objective = bbopt.get_objective("keras.wine-conditional")
    clone = pickle.loads(pickle.dumps(objective))
    assert clone.name == objective.name and clone.epochs == objective.epochs == 50
    assert Space(clone.space).fingerprint() == Space(objective.space).fingerprint()
    data = Space(objective.space).to_json()
    assert "bbopt.objectives.wine:power_of_two" in str(data)
    assert Space.from_json(data).to_params({"batch_size": 5.0, **_flat_rest()})["batch_size"] == 32
    assert power_of_two(0.0) == 1 and power_of_two(8.0) == 256


def _flat_rest() -> dict[str, float]:
    return {"optimizer": 0, "learning_rate_adam": 0.01, "second_layer": 0, "layer_1_size": 1}


def test_network_from_params_reads_both_spaces_and_rejects_others() -> None:
    simple = network_from_params({"layer_size": 15, "learning_rate": 0.01})
    assert (simple.hidden, simple.optimizer, simple.batch_size) == ((15,), "adam", 32)
    conditional = network_from_params(SGD_CONFIG)
    assert conditional.hidden == (20, 10) and conditional.momentum == 0.9
    assert conditional.batch_size == 16
    with pytest.raises(ValueError, match="not a wine-classifier configuration"):
        network_from_params({"layer_size": 15})
    with pytest.raises(ValueError, match="optimizer"):
        network_from_params({**SGD_CONFIG, "optimizer": {"name": "rmsprop", "learning_rate": 1}})
    with pytest.raises(ValueError, match="epochs"):
        WineClassifier(epochs=0)


@pytest.mark.slow
def test_short_training_of_both_objectives_returns_loss_and_extras() -> None:
    simple = WineClassifier(epochs=3)
    assert simple.name == "keras.wine[epochs=3]"
    params = {"layer_size": 10, "learning_rate": 0.05}
    result = simple.evaluate(params)
    assert result["status"] == "ok" and set(result) == {"loss", "status", *EXTRAS}
    assert -1 <= result["loss"] < 0 and result["loss"] == -result["val_accuracy"]
    assert result["epochs"] == 3 and result["train_time"] > 0 and result["val_loss"] > 0
    again = simple.evaluate(params)  # seeded weights and shuffles: deterministic
    assert (again["val_loss"], again["train_loss"]) == (result["val_loss"], result["train_loss"])
    other_seed = WineClassifier(epochs=3, seed=1).evaluate(params)
    assert other_seed["train_loss"] != result["train_loss"]
    conditional = WineClassifier(conditional=True, epochs=3)
    for params in (SGD_CONFIG, Space(CONDITIONAL_SPACE).sample(1)):
        result = conditional.evaluate(params)
        assert result["status"] == "ok" and set(result) >= EXTRAS
        assert -1 <= result["loss"] <= 0


@pytest.mark.slow
def test_a_diverging_run_is_a_failed_trial_with_its_reason() -> None:
    objective = WineClassifier(epochs=3)
    result = objective.evaluate({"layer_size": 5, "learning_rate": DIVERGING_LR})
    assert result["status"] == "fail" and "loss" not in result
    assert "diverged" in result["error"] and "nan" in result["error"]
    assert result["epochs"] < 3 and result["train_loss"] is None
    flat = {"layer_size": 0, "learning_rate": DIVERGING_LR}
    params, trial_result = evaluate_point(objective, Space(SPACE), flat)
    assert params == {"layer_size": 5, "learning_rate": DIVERGING_LR}
    assert trial_result.status == "fail" and "diverged" in (trial_result.error or "")
    sgd = {**SGD_CONFIG, "optimizer": {**SGD_CONFIG["optimizer"], "learning_rate": DIVERGING_LR}}
    failed = bbopt.Result.from_value(WineClassifier(conditional=True, epochs=3).evaluate(sgd))
    assert failed.status == "fail" and failed.loss is None and "diverged" in (failed.error or "")


@pytest.mark.slow
def test_final_fit_returns_a_test_accuracy_and_raises_on_divergence() -> None:
    accuracy = final_fit({"layer_size": 15, "learning_rate": 0.02}, epochs=5)
    assert 0 <= accuracy <= 1
    assert final_fit(SGD_CONFIG, epochs=2) <= 1
    with pytest.raises(kt.TrainingDivergedError, match="diverged"):
        final_fit({"layer_size": 15, "learning_rate": DIVERGING_LR}, epochs=2)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_training_matches_keras_fit_on_the_same_batches(optimizer: str) -> None:
    """Same initial weights and the same per-epoch order: our loop and model.fit agree,
    also when the network is embedded in a larger trainer (7 of 32 units)."""
    import keras

    data = wine_data()
    network = kt.Network((7,), optimizer, learning_rate=0.05, momentum=0.8, batch_size=32)
    trainer = kt.trainer_for(network, 13, 3)
    trainer.reset(network, seed=3)
    start = trainer.weights(network)
    losses = trainer.fit(data.x_train, data.y_train, epochs=3, batch_size=32, seed=3)
    ours = trainer.weights(network)
    hidden = trainer.model.layers[0]
    assert hidden.kernel.shape == (13, 32)  # 7 units embedded in a 32-unit layer
    assert not np.any(np.asarray(hidden.kernel)[:, 7:])  # the extra units stayed at zero
    assert not np.any(np.asarray(trainer.model.layers[1].kernel)[7:])

    model = keras.Sequential(
        [
            keras.Input((13,)),
            keras.layers.Dense(7, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.set_weights(start)
    if optimizer == "adam":
        reference = keras.optimizers.Adam(learning_rate=0.05)
    else:
        reference = keras.optimizers.SGD(learning_rate=0.05, momentum=0.8)
    model.compile(loss="categorical_crossentropy", optimizer=reference)
    keras_losses = []
    for epoch in range(3):  # 99 samples: batches of 32, 32, 32 and 3
        order = np.asarray(kt.epoch_order(len(data.x_train), 3, epoch))
        history = model.fit(
            data.x_train[order], data.y_train[order], batch_size=32, shuffle=False, verbose=0
        )
        keras_losses.append(history.history["loss"][0])
    for mine, theirs in zip(ours, model.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(losses, keras_losses, rtol=1e-4)
    assert not np.allclose(start[0], ours[0])  # it did train


def _worker_probe() -> tuple[int, int, dict[str, object]]:
    tf = kt.tensorflow()
    result = WineClassifier(epochs=2).evaluate({"layer_size": 5, "learning_rate": 0.1})
    threading = tf.config.threading
    threads = (
        threading.get_intra_op_parallelism_threads(),
        threading.get_inter_op_parallelism_threads(),
    )
    return threads[0], threads[1], result


@pytest.mark.slow
def test_a_worker_process_honours_the_thread_limit_and_gives_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(kt.THREADS_ENV, "1")
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        intra, inter, remote = pool.submit(_worker_probe).result(timeout=120)
    assert (intra, inter) == (1, 1)
    monkeypatch.delenv(kt.THREADS_ENV)  # this process's TensorFlow is already running
    local = WineClassifier(epochs=2).evaluate({"layer_size": 5, "learning_rate": 0.1})
    assert remote["loss"] == pytest.approx(local["loss"])
    assert remote["val_loss"] == pytest.approx(local["val_loss"], rel=1e-5)


@pytest.mark.parametrize("text", ["many", "0", "-2", "1.5"])
def test_a_bad_thread_setting_is_a_clear_error(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(kt.THREADS_ENV, text)
    with pytest.raises(ValueError, match="must be a positive integer"):
        kt.tensorflow()
    monkeypatch.setenv(kt.THREADS_ENV, " 3 ")
    assert kt.worker_threads() == 3
    monkeypatch.delenv(kt.THREADS_ENV)
    assert kt.worker_threads() is None


@pytest.mark.slow
def test_tpe_search_reaches_the_tutorials_accuracy() -> None:
    """The tutorial's flow: 50 TPE evaluations, then retrain on train+validation."""
    study = bbopt.minimize("keras.wine", backend="hyperopt.tpe", max_evals=50, seed=0)
    assert len(study.trials) == 50
    assert -study.best_loss >= 0.95
    best = study.best_params
    assert best["layer_size"] in LAYER_SIZES  # a value, not an index
    assert final_fit(best) >= 0.95
    assert all(set(t.extras) >= EXTRAS for t in study.trials if t.ok)


@pytest.mark.slow
def test_example_script_runs_the_tutorial_and_saves_its_outputs(tmp_path: Path) -> None:
    script = Path(__file__).parents[1] / "examples" / "keras_wine.py"
    arguments = [str(tmp_path), "--max-evals", "3", "--epochs", "2", "--conditional"]
    run = subprocess.run(
        [sys.executable, str(script), *arguments], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert "best parameters: {'optimizer': {'name': " in run.stdout
    assert "test accuracy after retraining on train+validation: " in run.stdout
    for name in ("history.png", "params.png", "trials.csv"):
        assert (tmp_path / name).stat().st_size > 0
    assert len((tmp_path / "trials.csv").read_text().splitlines()) == 4


@pytest.mark.slow
def test_all_layer_sizes_share_one_traced_trainer() -> None:
    """TensorFlow never frees a traced graph: one trainer per depth and optimizer."""
    simple = {kt.trainer_for(network_from_params(p), 13, 3) for p in _simple_grid()}
    assert len(simple) == 1
    conditional = {
        kt.trainer_for(network_from_params(Space(CONDITIONAL_SPACE).sample(seed)), 13, 3)
        for seed in range(40)
    }
    assert len(conditional) == 4  # (1 or 2 hidden layers) x (adam or sgd)


def _simple_grid() -> list[dict[str, float]]:
    return [{"layer_size": size, "learning_rate": 0.01} for size in LAYER_SIZES]


@pytest.mark.slow
def test_prepare_builds_every_trainer_and_leaves_results_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objective = WineClassifier(conditional=True, epochs=2)
    configs = [SGD_CONFIG, *(Space(CONDITIONAL_SPACE).sample(seed) for seed in range(3))]
    monkeypatch.setattr(kt, "_trainers", {})  # this process's trainers, as if fresh
    unprepared = [objective.evaluate(c) for c in configs]
    monkeypatch.setattr(kt, "_trainers", {})
    objective.prepare()
    built = dict(kt._trainers)
    assert len(built) == 4  # (1 or 2 hidden layers) x (adam or sgd), traced
    prepared = [objective.evaluate(c) for c in configs]
    assert kt._trainers == built  # the trials built nothing more
    for before, after in zip(unprepared, prepared, strict=True):
        after_values = (after["loss"], after["val_loss"], after["train_loss"])
        assert after_values == (before["loss"], before["val_loss"], before["train_loss"])


@pytest.mark.slow
def test_training_in_chunks_is_the_training_in_one_go_scored_on_the_way() -> None:
    data = wine_data()
    network = kt.Network((10,), "adam", learning_rate=0.05)
    args = ((data.x_train, data.y_train), (data.x_val, data.y_val))
    whole = kt.train(network, *args, epochs=7, seed=2)
    seen: list[tuple[int, float, float]] = []
    chunked = kt.train(
        network, *args, epochs=7, seed=2, progress=lambda *s: seen.append(s), chunk=3
    )
    assert (chunked.accuracy, chunked.loss, chunked.train_loss) == (
        whole.accuracy,
        whole.loss,
        whole.train_loss,
    )
    assert [epoch for epoch, _, _ in seen] == list(range(1, 8))
    assert seen[-1][1:] == (whole.loss, whole.accuracy)  # the last report is the result
    two_epochs = kt.train(network, *args, epochs=2, seed=2)
    assert seen[1][1:] == (two_epochs.loss, two_epochs.accuracy)  # scored after epoch 2


@pytest.mark.slow
def test_a_wine_search_with_a_pruner_stops_weak_networks_after_a_few_epochs() -> None:
    objective = WineClassifier(epochs=9)
    assert objective.fidelity == bbopt.Fidelity("epochs", 1, 9)
    study = bbopt.minimize(
        objective,
        backend="hyperopt.rand",
        max_evals=8,
        seed=3,
        pruner="successive_halving",
        pruner_options={"min_resource": 1, "reduction_factor": 3},
    )
    pruned = [t for t in study.trials if t.state is bbopt.TrialState.PRUNED]
    done = [t for t in study.trials if t.state is bbopt.TrialState.DONE]
    assert pruned and done
    for trial in pruned:
        steps = list(trial.intermediate)
        assert steps == list(range(1, steps[-1] + 1)) and steps[-1] in (1, 3)
        assert trial.loss == trial.intermediate[steps[-1]] and -1 <= trial.loss <= 0
    for trial in done:
        assert list(trial.intermediate) == list(range(1, 10))
        assert trial.loss == trial.intermediate[9] == -trial.extras["val_accuracy"]
    epochs = sum(len(t.intermediate) for t in study.trials)
    assert epochs < 9 * len(study.trials)
    # the same points without a pruner: the finished ones train exactly the same
    plain = [objective.evaluate(t.params) for t in done]
    assert [r["loss"] for r in plain] == [t.loss for t in done]
