"""BOHB against full-fidelity and pruned TPE on mf.hartmann6 at equal cost:
``python -m benchmarks.mf_hartmann``.

The issue's figure: ``--seeds`` runs (default 30) of each entry, every run stopped once
its trials spent ``--cost-budget`` cost units of the function's cost model (default
100: a hundred full-fidelity evaluations), on the same seeds:

* through ``python -m benchmarks.run`` (results in ``<results-dir>/<name>/``, with
  ``cost.md`` and ``cost_mf.hartmann6.png``): ``bbopt.bohb``, ``dehb.dehb``,
  full-fidelity ``optuna.tpe`` and ``hyperopt.tpe``, and ``optuna.tpe+hyperband``
  (Optuna's TPE under bbopt's ``hyperband`` pruner);
* in this process, Optuna's own ``TPESampler(multivariate=True)`` with its own
  ``HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)``, driven by
  Optuna's ask/tell with a report per step, as an Optuna user would write it.

Printed: each entry's median best full-fidelity regret at the cost budget, and the
one-sided paired Wilcoxon signed-rank p-value that BOHB's regret is lower.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from bbopt.backends.coordinates import coordinates
from bbopt.objective import Objective, evaluate_point
from bbopt.objectives import multifidelity as mf
from bbopt.reporting import Reporter
from bbopt.space import as_space
from benchmarks import run
from benchmarks.cost import CappedRegret
from benchmarks.cost_report import load_curves, paired_p_value
from benchmarks.grid import build_grid, derive_seed

OBJECTIVE = "mf.hartmann6"
ENTRIES = ("bbopt.bohb", "dehb.dehb", "optuna.tpe", "hyperopt.tpe", "optuna.tpe+hyperband")
OPTUNA_OWN = "optuna: TPESampler + HyperbandPruner"


def optuna_own(seed: int, max_cost: float, objective: Objective = mf.MF_HARTMANN6) -> float:
    """Best full-fidelity regret of Optuna's TPE + HyperbandPruner within ``max_cost``.

    ``objective`` is one of the ``mf.*`` functions (a box of uniforms, a fidelity of
    ``mf.STEPS`` steps, a cost model). As for the grid's runs (``Curve.regret_at``),
    only trials whose cost fits in ``max_cost`` count.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=f"optuna-own-{seed}",  # its Hyperband hashes the name into brackets
        sampler=optuna.samplers.TPESampler(multivariate=True, seed=seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=mf.STEPS, reduction_factor=3
        ),
    )
    space = as_space(objective.space)
    bounds = {label: (c.low, c.high) for label, c in coordinates(space).items()}
    regret = CappedRegret(objective, max_cost)
    while True:
        trial = study.ask()
        flat = {label: trial.suggest_float(label, *bounds[label]) for label in bounds}

        def decide(step: int, value: float, trial: optuna.Trial = trial) -> bool:
            trial.report(value, step)
            return step < mf.STEPS and trial.should_prune()

        reporter = Reporter(decide)
        _, result = evaluate_point(objective, space, flat, reporter)
        if result.pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, result.loss)
        if not regret.add(max(reporter.intermediate), None if result.pruned else result.loss):
            return regret.best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=run.natural, default=30)
    parser.add_argument("--cost-budget", type=run.positive_float, default=100.0)
    parser.add_argument("--jobs", type=run.natural, default=2)
    parser.add_argument("--results-dir", type=Path, default=Path("results"))
    parser.add_argument("--name", default="mf-hartmann6")
    args = parser.parse_args(argv)
    grid = ["--objectives", OBJECTIVE, "--backends", ",".join(ENTRIES), "--no-progress"]
    grid += ["--seeds", str(args.seeds), "--budget", "100000", "--jobs", str(args.jobs)]
    grid += ["--cost-budget", str(args.cost_budget), "--name", args.name]
    grid += ["--results-dir", str(args.results_dir)]
    run.main(grid)
    folder = args.results_dir / args.name
    specs = build_grid(folder, list(ENTRIES), [OBJECTIVE], args.seeds, 0, 100000, args.cost_budget)
    curves = load_curves(specs)
    regret = {
        entry: [
            curves[(OBJECTIVE, entry)][k].regret_at(args.cost_budget) for k in range(args.seeds)
        ]
        for entry in ENTRIES
    }
    regret[OPTUNA_OWN] = [
        optuna_own(derive_seed(0, k, OBJECTIVE), args.cost_budget) for k in range(args.seeds)
    ]
    bohb = regret["bbopt.bohb"]
    print(f"\n{OBJECTIVE}, {args.seeds} seeds, {args.cost_budget:g} cost units per run")
    print(f"{'entry':<40} {'median regret':>13} {'p (bohb lower)':>15}")
    for entry, values in regret.items():
        p = "" if entry == "bbopt.bohb" else f"{paired_p_value(bohb, values):.3g}"
        print(f"{entry:<40} {statistics.median(values):>13.4f} {p:>15}")


if __name__ == "__main__":
    main()
