"""Epochs to a good network on keras.wine, pruned or not: ``python -m benchmarks.pruning_wine``.

For each seed, two searches with hyperopt's TPE: full fidelity (every trial trains
50 epochs; ``--full-evals`` trials) and with a pruner (``--pruner``, default
``hyperband``; ``--pruned-evals`` trials; pruned trials are told to TPE with their
last value). Both are serial runs in this process, so the trials' order is the
order the epochs were spent in. Reported per search, from the stored trials:

* epochs to a validation accuracy >= ``--target``: the epochs trained by all trials
  up to the one that got there. Full fidelity sees a trial's accuracy when it ends
  (after 50 epochs); the pruned search sees each epoch's, so it "gets there" at the
  first report of >= target ("reported"), or, stricter, when a trial that got there
  also finished all 50 epochs ("finished");
* the test accuracy of ``final_fit`` (retrain on train+validation, 50 epochs) of the
  search's best finished trial, and the epochs the whole search spent.

Target of issue 14: the pruned search's median epochs to 0.95 at most 1/3 of full
fidelity's, with the same or better test accuracy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Iterable
from typing import Any

import bbopt
from bbopt.objectives.wine import EPOCHS, WineClassifier, final_fit
from bbopt.trial import Trial, TrialState


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


def search(seed: int, evals: int, pruner: str | None, options: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    study = bbopt.minimize(
        WineClassifier(),
        backend="hyperopt.tpe",
        max_evals=evals,
        seed=seed,
        pruner=pruner,
        pruner_options=options if pruner else None,
        progress=False,
    )
    return {
        "study": study,
        "seconds": time.perf_counter() - started,
        "epochs": sum(len(t.intermediate) for t in study.trials),
        "pruned": sum(t.state is TrialState.PRUNED for t in study.trials),
        "test_accuracy": final_fit(study.best_params),
        "best_val": -study.best_loss,
    }


def _median(values: list[int | None]) -> float:
    """The median, a search that never got there counting as infinitely many epochs."""
    return statistics.median(float("inf") if v is None else v for v in values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--full-evals", type=int, default=20)
    parser.add_argument("--pruned-evals", type=int, default=40)
    parser.add_argument("--pruner", default="hyperband")
    parser.add_argument(
        "--pruner-option", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    parser.add_argument("--target", type=float, default=0.95)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    options = {
        k: float(v) if "." in v else int(v) for k, v in (o.split("=") for o in args.pruner_option)
    }
    WineClassifier().prepare()
    rows = []
    for seed in range(args.seeds):
        full = search(seed, args.full_evals, None, {})
        pruned = search(seed, args.pruned_evals, args.pruner, options)
        row = {
            "seed": seed,
            "full": epochs_to(full["study"].trials, args.target, finished=True),
            "reported": epochs_to(pruned["study"].trials, args.target, finished=False),
            "finished": epochs_to(pruned["study"].trials, args.target, finished=True),
            "full_test": full["test_accuracy"],
            "pruned_test": pruned["test_accuracy"],
            "full_epochs": full["epochs"],
            "pruned_epochs": pruned["epochs"],
            "pruned_trials": pruned["pruned"],
        }
        rows.append(row)
        print(
            f"seed {seed}: epochs to {args.target}: full {row['full']}, pruned {row['reported']} "
            f"(reported) / {row['finished']} (finished); test accuracy full "
            f"{row['full_test']:.3f}, pruned {row['pruned_test']:.3f}; epochs spent "
            f"{row['full_epochs']} ({args.full_evals} trials) vs {row['pruned_epochs']} "
            f"({args.pruned_evals} trials, {row['pruned_trials']} pruned)",
            flush=True,
        )
    full = _median([r["full"] for r in rows])
    reported = _median([r["reported"] for r in rows])
    finished = _median([r["finished"] for r in rows])
    print(f"\nkeras.wine, {args.seeds} seeds, hyperopt.tpe, pruner {args.pruner} {options}")
    print(f"median epochs to validation accuracy >= {args.target}:")
    print(f"  full fidelity ({EPOCHS} epochs per trial): {full:g}")
    print(f"  pruned, first report >= target:  {reported:g}  ratio {reported / full:.2f}")
    print(f"  pruned, a finished trial >= target: {finished:g}  ratio {finished / full:.2f}")
    full_test = statistics.median(r["full_test"] for r in rows)
    pruned_test = statistics.median(r["pruned_test"] for r in rows)
    print(f"median test accuracy after final_fit: full {full_test:.3f}, pruned {pruned_test:.3f}")
    print(
        f"median epochs per search: full {statistics.median(r['full_epochs'] for r in rows):g}, "
        f"pruned {statistics.median(r['pruned_epochs'] for r in rows):g}"
    )


if __name__ == "__main__":
    main()
