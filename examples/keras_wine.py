"""The hyperopt + Keras tutorial, end to end, with bbopt.

Search the wine classifier's hyperparameters with TPE (50 evaluations), print the best
configuration (values, not choice indices), retrain it on train+validation, print the
test accuracy and save the debugging plots and the trials table::

    python examples/keras_wine.py                      # writes results/keras_wine/
    python examples/keras_wine.py out/ --conditional   # the tutorial's conditional space
"""

from __future__ import annotations

import argparse
from pathlib import Path

import bbopt
from bbopt.objectives.wine import WineClassifier, final_fit


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", default="results/keras_wine", help="output folder")
    parser.add_argument("--max-evals", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="hyperopt.tpe")
    parser.add_argument("--conditional", action="store_true", help="use the conditional space")
    args = parser.parse_args(argv)

    objective = WineClassifier(conditional=args.conditional, epochs=args.epochs)
    study = bbopt.minimize(
        objective, backend=args.backend, max_evals=args.max_evals, seed=args.seed
    )
    print(f"best parameters: {study.best_params}")
    print(f"best validation accuracy: {-study.best_loss:.4f}")
    accuracy = final_fit(study.best_params, epochs=args.epochs)
    print(f"test accuracy after retraining on train+validation: {accuracy:.4f}")

    output = Path(args.output)
    study.plot_history(output / "history.png")
    study.plot_params(output / "params.png")
    study.to_csv(output / "trials.csv")
    print(f"plots and trials saved in {output}/")


if __name__ == "__main__":
    main()
