"""The serial loop: one trial at a time, in this process."""

from __future__ import annotations

import time
from typing import Any

from bbopt.execution.progress import Progress, warn_interrupted
from bbopt.execution.runner import RERUN_POLL_SECONDS, TrialRunner, Wait, worker_name
from bbopt.execution.stop import StopRules
from bbopt.objective import prepare_objective

INTERRUPTED = "interrupted"


def run_serial(
    runner: TrialRunner,
    rules: StopRules,
    warm_start: list[dict[str, Any]],
    progress: bool | None,
) -> None:
    """Ask, evaluate, record and tell until a stop rule fires (the objective is prepared
    once first). Ctrl-C ends the run with the trials finished so far; any other
    exception escapes, after the trial it cut short is marked abandoned."""
    study = runner.study
    prepare_objective(runner.objective)
    bar = Progress(progress, rules.max_evals, len(study.finished_trials), study.name)
    here = worker_name()
    pending = list(warm_start)
    try:
        while True:
            runner.sync()  # the rules count what other processes of a shared study did
            reason = runner.stop_reason(rules)
            if reason is not None:
                break
            trial = runner.start_next(pending, limit=rules.max_evals)
            if trial is Wait.RERUN:  # another process runs a re-run of this seed's point
                time.sleep(RERUN_POLL_SECONDS)
                continue
            if trial is None:  # processes sharing the study started the last trials
                reason = "max_evals"
                break
            runner.evaluate_here(trial, here)
            bar.step(runner.best_loss)
        study.stop_reason = reason
    except KeyboardInterrupt:
        study.stop_reason = INTERRUPTED
        warn_interrupted(study)
    finally:
        # the trial cut short, if any, before its result was recorded
        runner.abandon_leftovers(f"the run stopped ({study.stop_reason or 'an error'})")
        bar.close()
