"""Epochs to a good network on keras.wine, pruned or not: ``python -m benchmarks.pruning_wine``.

For each seed, one search per arm (``--arms``, ``entry:evals`` pairs; an entry is a
backend, or ``backend+pruner`` as in ``benchmarks.run``). The default arms: full
fidelity ``hyperopt.tpe`` (20 trials of 50 epochs), ``hyperopt.tpe`` under
``hyperband`` and under ``successive_halving`` (ASHA; 40 trials each; pruned trials
are told to TPE with their last value) and ``bbopt.bohb`` (120 trials on Hyperband's
budgets of 2, 6, 17 and 50 epochs, and with ``min_budget=2``: 6, 17 and 50 epochs, so
that its first bracket trains long enough to tell good networks apart). An arm may
carry options: ``entry:evals:name=value``, for the pruner ``pruner.name=value``
(``hyperopt.tpe+patient:40:pruner.patience=10``). All are serial runs in this
process, so the trials' order is the order the epochs were spent in. Reported per
search, from the stored trials:

* epochs to a validation accuracy >= ``--target``: the epochs trained by all trials
  up to the one that got there. Full fidelity sees a trial's accuracy when it ends
  (after 50 epochs); the other arms see each epoch's, so they "get there" at the
  first report of >= target ("reported"), or, stricter, when a trial that got there
  also finished training, all its epochs ("finished": 50 under a pruner, its budget
  under BOHB);
* the test accuracy of ``final_fit`` (retrain on train+validation, 50 epochs) of the
  search's best finished trial, and the epochs the whole search spent.

Target of issue 14: median epochs to 0.95 at most 1/3 of full fidelity's, with the
same or better test accuracy.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import bbopt
from bbopt.cli import parse_option
from bbopt.errors import NoSuccessfulTrialError
from bbopt.objectives.wine import WineClassifier, final_fit
from bbopt.trial import Trial, TrialState
from benchmarks.entries import check_entry, split_entry


def epochs_to(trials: Iterable[Trial], target: float, *, finished: bool) -> int | None:
    """Epochs trained until a trial reached validation accuracy ``target``: at its first
    such report, or (``finished``) when such a trial ended done, having trained all
    its epochs. None if no trial got there."""
    spent = 0
    for trial in trials:
        for step, value in trial.intermediate.items():
            if not finished and -value >= target:
                return spent + step
        spent += len(trial.intermediate)
        if finished and trial.state is TrialState.DONE and -(trial.loss or 0) >= target:
            return spent
    return None


@dataclass(frozen=True)
class Arm:
    """One search setting: a grid entry, its trial count, options for its backend and
    pruner; ``label`` is how it was written on the command line."""

    label: str
    entry: str
    evals: int
    backend_options: dict[str, Any] = field(default_factory=dict)
    pruner_options: dict[str, Any] = field(default_factory=dict)


def search(seed: int, arm: Arm) -> dict[str, Any]:
    backend, pruner = split_entry(arm.entry)
    started = time.perf_counter()
    study = bbopt.minimize(
        WineClassifier(), backend=backend, max_evals=arm.evals, seed=seed, pruner=pruner,
        backend_options=arm.backend_options or None, pruner_options=arm.pruner_options or None,
        progress=False,
    )  # fmt: skip
    return {
        "study": study,
        "seconds": time.perf_counter() - started,
        "epochs": sum(len(t.intermediate) for t in study.trials),
        "pruned": sum(t.state is TrialState.PRUNED for t in study.trials),
        "test_accuracy": _final_test_accuracy(study),
    }


def _final_test_accuracy(study: bbopt.Study) -> float:
    """``final_fit``'s test accuracy for the best finished trial; NaN when every trial was
    pruned (a pruner too eager for this network: nothing finished to retrain)."""
    try:
        return final_fit(study.best_params)
    except NoSuccessfulTrialError:
        return math.nan


def _median(values: list[int | None]) -> float:
    """The median, a search that never got there counting as infinitely many epochs."""
    return statistics.median(float("inf") if v is None else v for v in values)


DEFAULT_ARMS = (
    "hyperopt.tpe:20,hyperopt.tpe+hyperband:40,hyperopt.tpe+successive_halving:40,"
    "bbopt.bohb:120,bbopt.bohb:120:min_budget=2"
)
USAGE = "is not entry:evals[:option=value...] (e.g. hyperopt.tpe:20, bbopt.bohb:120:eta=2)"


def parse_arms(text: str) -> list[Arm]:
    """Comma-separated ``entry:evals`` items, each optionally followed by ``:name=value``
    options for the backend (``pruner.name=value`` for the pruner), values read as
    ``bbopt run --option`` reads them (JSON, else text). The first arm is the full-fidelity
    reference."""
    arms = []
    for item in text.split(","):
        entry, _, rest = item.strip().partition(":")
        evals, *options = rest.split(":")
        try:
            pairs = [parse_option(option) for option in options]
        except ValueError:
            pairs = None
        if not entry or not evals.isdigit() or pairs is None:
            raise SystemExit(f"--arms: {item.strip()!r} {USAGE}")
        check_entry(entry)
        settings: dict[str, dict[str, Any]] = {"backend": {}, "pruner": {}}
        for name, value in pairs:
            part = "pruner" if name.startswith("pruner.") else "backend"
            settings[part][name.removeprefix("pruner.")] = value
        arms.append(Arm(item.strip(), entry, int(evals), settings["backend"], settings["pruner"]))
    return arms


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--arms", default=DEFAULT_ARMS, help="default: %(default)s")
    parser.add_argument("--target", type=float, default=0.95)
    args = parser.parse_args(argv)
    arms = parse_arms(args.arms)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    WineClassifier().prepare()
    rows: dict[str, list[dict[str, Any]]] = {arm.label: [] for arm in arms}
    for seed in range(args.seeds):
        for arm in arms:
            found = search(seed, arm)
            trials = found["study"].trials
            row = {
                "reported": epochs_to(trials, args.target, finished=False),
                "finished": epochs_to(trials, args.target, finished=True),
                "test": found["test_accuracy"],
                "epochs": found["epochs"],
                "pruned": found["pruned"],
                "seconds": found["seconds"],
            }
            rows[arm.label].append(row)
            print(
                f"seed {seed} {arm.label}: epochs to {args.target} "
                f"{row['reported']} (reported) / {row['finished']} (finished); test accuracy "
                f"{row['test']:.3f}; {row['epochs']} epochs, {row['pruned']} pruned, "
                f"{row['seconds']:.0f} s",
                flush=True,
            )
    reference = arms[0].label
    full = _median([r["finished"] for r in rows[reference]])
    print(f"\nkeras.wine, {args.seeds} seeds; median epochs to validation accuracy >= "
          f"{args.target} (ratio to {reference} at full fidelity, {full:g}); median test "
          "accuracy after final_fit; median epochs per search")  # fmt: skip
    for entry, found in rows.items():
        reported = _median([r["reported"] for r in found])
        finished = _median([r["finished"] for r in found])
        ratios = [  # reported here over finished at full fidelity, seed by seed
            (r["reported"] or math.inf) / (f["finished"] or math.inf)
            for r, f in zip(found, rows[reference], strict=True)
        ]
        shown = "reference" if entry == reference else f"{statistics.median(ratios):.2f}"
        test = statistics.median(r["test"] for r in found)
        print(
            f"  {entry:<34} reported {reported:g} ({reported / full:.2f}), finished "
            f"{finished:g} ({finished / full:.2f}), per-seed ratio median {shown}; "
            f"test {test:.3f}; epochs {statistics.median(r['epochs'] for r in found):g}"
        )


if __name__ == "__main__":
    main()
