"""BOHB's options screened on a multi-fidelity function at equal cost, in one process:
``python -m benchmarks.bohb_options --option random_fraction=0.1``.

A screen, not the issue's figure (that is ``benchmarks.mf_hartmann``, through the
benchmark runner and its storage): ``bbopt.bohb`` is driven by a plain ask/tell loop
on an ``mf.*`` function, each run stopped at ``--cost-budget`` cost units, with the
options given and with its defaults, and Optuna's own TPE + HyperbandPruner runs on
the same seeds. The loop is cheap (300 seeds of ``mf.hartmann6`` take seconds for
BOHB, about a minute for Optuna), so option changes can be told apart from seed noise
on seeds that the issue's figure does not use (``--first-seed``, default 1000).

Printed per arm: the median and mean best full-fidelity regret, how many runs end
below a regret threshold (``--below``), the one-sided paired Wilcoxon p-value that
the first arm's regret (the chosen options', else the defaults') is lower, and that
test's power at ``--power-seeds`` seeds (default 30, the issue's figure's count): the share of
1000 random subsets of that many of the screen's seeds on which it gives p < 0.05.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Any

from bbopt.backends import create_backend
from bbopt.backends.base import Observation
from bbopt.cli import option_argument
from bbopt.errors import OptionValueError, UnknownNameError
from bbopt.objective import Objective, evaluate_point, get_objective
from bbopt.reporting import Reporter
from bbopt.space import as_space
from bbopt.trial import TrialState
from benchmarks.cost import CappedRegret
from benchmarks.cost_report import paired_p_value, subset_power
from benchmarks.mf_hartmann import OPTUNA_OWN, optuna_own
from benchmarks.run import natural, positive_float


def bohb_regret(
    seed: int, max_cost: float, options: dict[str, Any], objective_name: str = "mf.hartmann6"
) -> float:
    """Best full-fidelity regret of ``bbopt.bohb`` with ``options`` within ``max_cost``
    (trials whose cost fits in it, as ``Curve.regret_at`` counts them)."""
    objective = get_objective(objective_name)
    space = as_space(objective.space)
    backend = create_backend("bbopt.bohb", space, seed, options, objective=objective)
    regret = CappedRegret(objective, max_cost)
    try:
        while True:
            (suggestion,) = backend.ask()
            reporter = Reporter(budget=suggestion.budget)
            _, result = evaluate_point(objective, space, suggestion.flat_params, reporter)
            state = TrialState.DONE if result.ok else TrialState.FAILED
            backend.tell(
                Observation(
                    suggestion.flat_params, result.loss, state, suggestion, budget=suggestion.budget
                )
            )
            if not regret.add(max(reporter.intermediate), result.loss if result.ok else None):
                return regret.best
    finally:
        backend.close()


def _optuna_regret(seed: int, max_cost: float, objective_name: str) -> float:
    return optuna_own(seed, max_cost, get_objective(objective_name))


def _mf_objective(name: str) -> str:
    try:
        objective: Objective = get_objective(name)
    except UnknownNameError as exc:  # a misspelled name: a usage error with close matches
        raise argparse.ArgumentTypeError(str(exc)) from None
    if objective.cost_model is None or objective.fidelity is None or objective.f_star is None:
        raise argparse.ArgumentTypeError(
            f"{name!r} has no cost model, fidelity and known optimum: use an mf.* function"
        )
    return name


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objective", type=_mf_objective, default="mf.hartmann6")
    parser.add_argument(
        "--option",
        type=option_argument,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a bbopt.bohb option (JSON value, else text); repeatable",
    )
    parser.add_argument("--seeds", type=natural, default=300)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--cost-budget", type=positive_float, default=100.0)
    parser.add_argument(
        "--below", type=positive_float, default=0.119, help="regret threshold counted"
    )
    parser.add_argument(
        "--power-seeds", type=natural, help="seeds per subset in the power column (default 30)"
    )
    parser.add_argument("--jobs", type=natural, default=2)
    args = parser.parse_args(argv)
    if args.first_seed < 0:
        parser.error(f"argument --first-seed: must be >= 0, got {args.first_seed}")
    if args.power_seeds is None:
        args.power_seeds = min(30, args.seeds)
    elif args.power_seeds > args.seeds:
        parser.error(f"argument --power-seeds: at most --seeds ({args.seeds})")
    options = dict(args.option)
    objective = get_objective(args.objective)
    try:
        create_backend("bbopt.bohb", objective.space, 0, options, objective=objective).close()
    except OptionValueError as exc:
        parser.error(str(exc))
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    run_bohb = partial(bohb_regret, max_cost=args.cost_budget, objective_name=args.objective)
    arms = {"bbopt.bohb (defaults)": partial(run_bohb, options={})}
    if options:  # the chosen options first: the arm the others are tested against
        label = "bbopt.bohb " + " ".join(f"{k}={v}" for k, v in options.items())
        arms = {label: partial(run_bohb, options=options), **arms}
    arms[OPTUNA_OWN] = partial(
        _optuna_regret, max_cost=args.cost_budget, objective_name=args.objective
    )
    with ProcessPoolExecutor(args.jobs) as pool:
        regret = {arm: list(pool.map(run, seeds, chunksize=8)) for arm, run in arms.items()}
    chosen = next(iter(regret.values()))
    print(f"\n{args.objective}, seeds {seeds.start}-{seeds.stop - 1}, {args.cost_budget:g} units")
    power_label = f"power@{args.power_seeds}"
    print(
        f"{'arm':<40} {'median':>8} {'mean':>8} {'< ' + str(args.below):>8} {'p':>8}"
        f" {power_label:>9}"
    )
    for arm, values in regret.items():
        p = power = ""
        if values is not chosen:
            p = f"{paired_p_value(chosen, values):.3g}"
            power = f"{subset_power(chosen, values, args.power_seeds):.2f}"
        below = sum(v < args.below for v in values)
        print(
            f"{arm:<40} {statistics.median(values):>8.4f} {statistics.fmean(values):>8.4f}"
            f" {below:>8} {p:>8} {power:>9}"
        )


if __name__ == "__main__":
    main()
