"""Conformance suite for pruners: what every Pruner must do, checked on the real thing.

All checks at once (raises ``AssertionError`` naming the failed check)::

    from bbopt.testing import check_pruner
    check_pruner(MyPruner)                       # or a registered name: "median"
    check_pruner("threshold", options={"upper": 5})

One pytest test per check::

    from bbopt.testing import PrunerUnderTest, parametrize_with_pruner_checks

    @parametrize_with_pruner_checks([PrunerUnderTest(MyPruner, options={"patience": 2})])
    def test_my_pruner(target, check):
        check(target)

The checks: unknown options are refused with the accepted ones listed; any history
(every trial state, trials without reports, sparse steps, NaN values) gets a yes or
no without changing a trial; the decisions follow from the trials alone (a fresh
pruner decides the same, so a resumed study goes on where it stopped); the best trial
is never stopped; a hopeless one is; and through ``bbopt.minimize``, pruned trials are
stored as pruned with their reports and the last reported value as loss, and a study
run in two halves ends as one run at once.

"Hopeless" and "best" refer to a history of finished trials whose values lie in
(0, 1] and flatten after a few steps: the hopeless trial reports 10 or more at every
step and does not improve, the best one reports below every other trial at every
step and keeps improving. A ``threshold`` pruner passes with an ``upper`` bound in
[1, 10).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bbopt import hp
from bbopt.errors import UnknownOptionError
from bbopt.pruners import Pruner, create_pruner, get_pruner, pruner_options
from bbopt.reporting import report
from bbopt.storage import InMemoryStorage
from bbopt.testing._suite import parametrize, run_checks
from bbopt.trial import Trial, TrialState

__all__ = [
    "PRUNER_CHECKS",
    "PrunerUnderTest",
    "check_pruner",
    "parametrize_with_pruner_checks",
]

#: Steps of the histories the checks build.
STEPS = 27
#: Finished trials in the reference history.
HISTORY = 60


@dataclass(frozen=True)
class PrunerUnderTest:
    """A pruner (registered name or class) and the options to build it with."""

    pruner: str | type[Pruner]
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def cls(self) -> type[Pruner]:
        return get_pruner(self.pruner) if isinstance(self.pruner, str) else self.pruner

    def make(self) -> Pruner:
        return create_pruner(self.pruner, dict(self.options))

    def __str__(self) -> str:
        return self.pruner if isinstance(self.pruner, str) else self.cls.name or self.cls.__name__


def _curve(level: float, rng: np.random.Generator, steps: int = STEPS) -> dict[int, float]:
    """A learning curve that falls from ``level + 0.5`` and flattens at ``level``."""
    noise = rng.uniform(0, 0.01, steps)
    return {s: level + 0.5 / s**2 + float(noise[s - 1]) for s in range(1, steps + 1)}


def _trial(tid: int, state: TrialState, intermediate: dict[int, float]) -> Trial:
    loss = next(reversed(intermediate.values())) if intermediate else None
    if state not in (TrialState.DONE, TrialState.PRUNED):
        loss = None
    return Trial(tid, {"x": 0.0}, state=state, loss=loss, intermediate=dict(intermediate))


def _history(seed: int = 0) -> list[Trial]:
    """Finished trials with curves flattening at levels in [0.2, 0.5]."""
    rng = np.random.default_rng(seed)
    levels = rng.uniform(0.2, 0.5, HISTORY)
    return [_trial(i, TrialState.DONE, _curve(float(level), rng)) for i, level in enumerate(levels)]


def _decisions(
    pruner: Pruner | Callable[[], Pruner],
    history: list[Trial],
    curve: dict[int, float],
    tid: int | None = None,
) -> list[bool]:
    """Report ``curve`` step by step as a new running trial (id ``tid``, default the next
    one); the decision at each step (going on after a yes, to see every decision). A
    function instead of a pruner makes a fresh pruner for each decision."""
    running = _trial(len(history) if tid is None else tid, TrialState.RUNNING, {})
    trials = [*history, running]
    answers = []
    for step, value in curve.items():
        running.intermediate[step] = value
        judge = pruner if isinstance(pruner, Pruner) else pruner()
        answer = judge.prune(trials, running)
        assert isinstance(answer, (bool, np.bool_)), f"prune returned {answer!r}, not a bool"
        answers.append(bool(answer))
    return answers


def _hopeless() -> dict[int, float]:
    return {s: 10.0 + 0.001 * s for s in range(1, STEPS + 1)}


def _leader(history: list[Trial]) -> dict[int, float]:
    lowest = min(min(t.intermediate.values()) for t in history)
    return {s: lowest / 2 - 0.01 * s for s in range(1, STEPS + 1)}


def check_options_are_checked(target: PrunerUnderTest) -> None:
    """An unknown option is refused, naming every option the pruner accepts."""
    options = {**target.options, "no_such_option": 1}
    try:
        create_pruner(target.pruner, options)
    except UnknownOptionError as exc:
        for accepted in pruner_options(target.cls):
            assert accepted in str(exc), f"the error does not list option {accepted!r}: {exc}"
        return
    raise AssertionError("an unknown option was accepted")


def check_any_history(target: PrunerUnderTest) -> None:
    """Every trial state, trials without reports, sparse and irregular steps, NaN values:
    a bool for each report, and no trial changed."""
    rng = np.random.default_rng(1)
    history = _history()[:20]
    states = list(TrialState)
    for i in range(20):
        steps = sorted(rng.choice(np.arange(0, 40), size=int(rng.integers(0, 8)), replace=False))
        values = {int(s): float(rng.uniform(0, 2)) for s in steps}
        if values and i % 4 == 0:
            values[int(steps[-1])] = math.nan
        history.append(_trial(len(history), states[i % len(states)], values))
    before = copy.deepcopy(history)
    sparse = {0: 0.9, 3: 0.7, 4: math.nan, 17: 0.4, 39: 0.3}
    for curve in (sparse, _hopeless(), {5: 1.0}):
        _decisions(target.make(), history, curve)
    assert history == before, "prune changed the trials it was given"


def check_decisions_follow_from_the_trials(target: PrunerUnderTest) -> None:
    """One pruner asked at every step decides as a fresh pruner at each step: its state is
    in the trials, so a resumed study goes on where it stopped."""
    history = _history()
    rng = np.random.default_rng(2)
    for level in (0.1, 0.35, 0.6, 3.0):
        curve = _curve(level, rng)
        same = _decisions(target.make(), history, curve)
        fresh = _decisions(target.make, history, curve)
        assert same == fresh, f"decisions {same} differ from a fresh pruner's {fresh}"


def check_keeps_the_best(target: PrunerUnderTest) -> None:
    """A trial better than every other at every step, and still improving, is never stopped."""
    history = _history()
    answers = _decisions(target.make(), history, _leader(history))
    assert not any(answers), f"the best trial was stopped at step {answers.index(True) + 1}"


def check_stops_a_hopeless_trial(target: PrunerUnderTest) -> None:
    """A trial 20 times worse than the others and not improving is stopped before its last
    step (stopping it there saves nothing): of five such trials, each alone with the
    others, at least one, since Hyperband lets its least aggressive bracket run on."""
    history = _history()
    stopped = [
        any(_decisions(target.make(), history, _hopeless(), tid)[:-1])
        for tid in range(len(history), len(history) + 5)
    ]
    assert any(stopped), f"five hopeless trials each ran {STEPS - 1} steps or more"


def _reporting(params: dict[str, float]) -> float:
    """Bad points report high values; every curve is flat from step 5 on."""
    level = 10 * (params["x"] - 1) ** 2 + 0.2
    for step in range(1, STEPS + 1):
        report(step, level + 0.5 * max(0, 5 - step))
    return level


def _states(study: Any) -> list[tuple[str, int]]:
    return [(t.state.value, len(t.intermediate)) for t in study.trials]


def check_through_minimize(target: PrunerUnderTest) -> None:
    """``bbopt.minimize`` with the pruner: pruned trials end as pruned, with their reports
    and the last reported value as loss; a study run in two halves ends as one run at once."""
    import bbopt

    def run(storage: Any, evals: int) -> Any:
        return bbopt.minimize(
            _reporting,
            {"x": hp.uniform("x", -5, 5)},
            backend="bbopt.random",
            max_evals=evals,
            seed=3,
            pruner=target.make(),
            storage=storage,
            study="check",
        )

    study = run(None, 30)
    pruned = [t for t in study.trials if t.state is TrialState.PRUNED]
    assert pruned, f"no trial was pruned: {_states(study)}"
    for trial in pruned:
        assert trial.intermediate, f"pruned trial {trial.tid} has no reports"
        last = next(reversed(trial.intermediate.values()))
        assert trial.loss == last, f"trial {trial.tid}: loss {trial.loss} is not {last}"
    for trial in study.trials:
        if trial.state is TrialState.DONE:
            assert len(trial.intermediate) == STEPS, f"trial {trial.tid} lost reports"
    storage = InMemoryStorage()
    run(storage, 15)
    resumed = run(storage, 30)
    assert _states(resumed) == _states(study), "a study run in two halves ended differently"


PRUNER_CHECKS: tuple[Callable[[PrunerUnderTest], None], ...] = (
    check_options_are_checked,
    check_any_history,
    check_decisions_follow_from_the_trials,
    check_keeps_the_best,
    check_stops_a_hopeless_trial,
    check_through_minimize,
)
"""Every check, each a function of a :class:`PrunerUnderTest`."""


def _as_target(pruner: PrunerUnderTest | str | type[Pruner]) -> PrunerUnderTest:
    return pruner if isinstance(pruner, PrunerUnderTest) else PrunerUnderTest(pruner)


def check_pruner(pruner: PrunerUnderTest | str | type[Pruner], **settings: Any) -> None:
    """Run every check on ``pruner`` (a name, a class or a :class:`PrunerUnderTest`);
    ``settings`` set its fields (``options``). Raises ``AssertionError`` naming the
    first check that failed or raised."""
    run_checks(dataclasses.replace(_as_target(pruner), **settings), PRUNER_CHECKS)


def parametrize_with_pruner_checks(pruners: list[PrunerUnderTest | str | type[Pruner]]) -> Any:
    """A ``pytest.mark.parametrize`` over (target, check) pairs: one test per check."""
    return parametrize([_as_target(p) for p in pruners], PRUNER_CHECKS)
