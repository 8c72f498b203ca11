"""Conformance suite for backends: what every Backend must do, checked on the real thing.

Like scikit-learn's ``check_estimator``, third parties run it on their own backends.
All checks at once (raises ``AssertionError`` naming the failed check)::

    from bbopt.testing import check_backend
    check_backend(MyBackend)                 # or a registered name: "my.backend"

One pytest test per check::

    from bbopt.testing import BackendUnderTest, parametrize_with_checks

    @parametrize_with_checks([BackendUnderTest(MyBackend, options={"n_startup": 5})])
    def test_my_backend(target, check):
        check(target)

The checks: every space node type, nested conditional choices, transforms,
points inside the support with exactly the active labels, ``ask(n > 1)``,
failed and pruned trials, warm start from points the backend never suggested,
same seed => same trials, different seeds => different trials, exact resume (for
backends that claim it) and, for backends that learn (``Backend.learns``),
beating random search on a smooth 2-D function, also when every trial is told as
pruned (``Backend.learns_from_pruned``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bbopt import hp
from bbopt.backends import Backend, Observation, Suggestion, create_backend, get_backend
from bbopt.space import Choice, Space, transform
from bbopt.testing._suite import parametrize, run_checks
from bbopt.trial import TrialState

__all__ = [
    "CHECKS",
    "BackendUnderTest",
    "check_backend",
    "conditional_space",
    "every_node_space",
    "parametrize_with_checks",
]

#: In the improvement check, random search's median best is taken over this many seeds,
RANDOM_SEEDS = 40
#: and a learning backend's median best must be this many times lower.
IMPROVEMENT = 3.0


@dataclass(frozen=True)
class BackendUnderTest:
    """A backend and how hard to test it.

    ``budget`` is the number of evaluations per run in the general checks (enough
    to get past a backend's random start-up phase pays off); the improvement
    check runs ``improve_seeds`` runs of ``improve_budget`` evaluations. ``learns``
    says whether to hold the backend to beating random search (default: the
    backend class's own ``learns`` attribute).
    """

    backend: str | type[Backend]
    options: Mapping[str, Any] = field(default_factory=dict)
    budget: int = 20
    improve_budget: int = 100
    improve_seeds: int = 5
    learns: bool | None = None

    @property
    def cls(self) -> type[Backend]:
        return get_backend(self.backend) if isinstance(self.backend, str) else self.backend

    @property
    def name(self) -> str:
        return self.backend if isinstance(self.backend, str) else self.cls.name or self.cls.__name__

    @property
    def claims_learning(self) -> bool:
        return self.cls.learns if self.learns is None else self.learns

    def make(self, space: Any, seed: int | None) -> Backend:
        return create_backend(self.backend, space, seed, dict(self.options))

    def __str__(self) -> str:
        return self.name


def _power_of_two(exponent: float) -> int:
    return int(2**exponent)


def _scaled_sum(a: float, b: int) -> float:
    return a * 10 + b


def every_node_space() -> dict[str, Any]:
    """Every distribution, transforms, nested containers (a dict with keys of two types),
    constants and one-value edges."""
    return {
        "u": hp.uniform("u", -2, 3),
        "qu": hp.quniform("qu", 0.3, 7.7, 0.5),
        "lu": hp.loguniform("lu", -6, 1),
        "qlu": hp.qloguniform("qlu", 0, 4, 2),
        "n": hp.normal("n", 1, 2),
        "qn": hp.qnormal("qn", 0, 3, 0.5),
        "ln": hp.lognormal("ln", 0, 1),
        "qln": hp.qlognormal("qln", 1, 1, 1),
        "ri": hp.randint("ri", 3, 9),
        "ri0": hp.randint("ri0", 4),
        "ui": hp.uniformint("ui", 1, 7),
        "lui": hp.loguniformint("lui", 1, 1000),
        "lgt": hp.logituniform("lgt", 0.001, 0.5),
        "c": hp.choice("c", ["a", "b", "c"]),
        "pc": hp.pchoice("pc", [(0.2, "x"), (0.8, "y")]),
        "batch": transform(_power_of_two, hp.quniform("batch_exp", 0, 8, 1)),
        # keys of mixed types: hyperopt sorts a dict's keys, and int < str fails
        "nested": [{"deep": (hp.uniform("deep", 0, 1), 5), 0: "zero"}, "constant"],
        "one_int": hp.randint("one_int", 2, 3),
        "one_choice": hp.choice("one_choice", ["only"]),
    }


def conditional_space() -> dict[str, Any]:
    """Choices nested three deep, each branch with its own parameters."""
    norm = hp.pchoice("norm", [(0.3, "l1"), (0.7, {"p": hp.quniform("p", 1, 4, 1)})])
    split = hp.choice("split", ["gini", {"w": hp.uniform("w", 0, 1), "norm": norm}])
    return {
        "model": hp.choice(
            "model",
            [
                {"kind": "linear", "alpha": hp.loguniform("alpha", -5, 1)},
                {"kind": "tree", "depth": hp.randint("depth", 1, 9), "split": split},
                {"kind": "knn", "k": hp.uniformint("k", 1, 30)},
            ],
        ),
        "scale": hp.uniform("scale", -2, 2),
    }


def transform_space() -> dict[str, Any]:
    """Transforms of one, of two and of a transformed argument, and over a choice."""
    exponent = hp.quniform("exponent", 0, 6, 1)
    return {
        "batch": transform(_power_of_two, exponent),
        "combined": transform(_scaled_sum, hp.uniform("a", 0, 1), hp.randint("b", 0, 5)),
        "twice": transform(_power_of_two, transform(_power_of_two, hp.randint("e", 0, 3))),
        "branch": transform(len, hp.choice("word", ["ab", "abcd"])),
    }


def _smooth_2d_space() -> dict[str, Any]:
    return {"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)}


def _smooth_2d(params: Mapping[str, float]) -> float:
    """A quadratic bowl with its minimum 0 at (1, -1)."""
    return (params["x"] - 1) ** 2 + 2 * (params["y"] + 1) ** 2


def _flat_loss(flat: Mapping[str, Any]) -> float:
    """A deterministic, bounded loss of any flat point."""
    return sum(math.sin(1.3 * float(v) + i) for i, (_, v) in enumerate(sorted(flat.items())))


def _assert_valid(space: Space, suggestion: Any) -> None:
    assert isinstance(suggestion, Suggestion), f"ask must return Suggestions, got {suggestion!r}"
    flat = suggestion.flat_params
    assert isinstance(flat, dict), f"flat_params must be a dict, got {flat!r}"
    try:
        clean = space.validate_flat(flat)
    except ValueError as exc:
        raise AssertionError(f"invalid point {flat}: {exc}") from None
    assert clean == flat, f"inactive labels {sorted(set(flat) - set(clean))} in {flat}"
    for label, value in flat.items():
        dist = space.distribution(label)
        integral = dist.is_integer or isinstance(dist, Choice)
        wanted = (int,) if integral else (int, float)
        assert type(value) in wanted, f"{label!r}: {value!r} is a {type(value).__name__}"
    space.to_params(flat)


def _ask(backend: Backend, space: Space, n: int) -> list[Suggestion]:
    suggestions = backend.ask(n)
    assert len(suggestions) == n, f"ask({n}) returned {len(suggestions)} points"
    for suggestion in suggestions:
        _assert_valid(space, suggestion)
    return suggestions


def _answer(suggestion: Suggestion, loss: float | None, state: TrialState) -> Observation:
    budget = 1.0 if state is TrialState.PRUNED else None  # pruned at step 1
    return Observation(
        suggestion.flat_params, loss, state=state, suggestion=suggestion, budget=budget
    )


def _run(
    backend: Backend,
    space: Space,
    n: int,
    loss: Callable[[Suggestion], float] | None = None,
    outcome: Callable[[int], TrialState] = lambda i: TrialState.DONE,
) -> list[Suggestion]:
    """Ask, evaluate and tell ``n`` times, one point at a time; ``outcome(i)`` says
    whether trial ``i`` is done, failed (no loss) or pruned (with its loss)."""
    loss = loss or (lambda s: _flat_loss(s.flat_params))
    history = []
    for i in range(n):
        (suggestion,) = _ask(backend, space, 1)
        state = outcome(i)
        value = None if state is TrialState.FAILED else loss(suggestion)
        backend.tell(_answer(suggestion, value, state))
        history.append(suggestion)
    return history


def _failing(condition: Callable[[int], bool]) -> Callable[[int], TrialState]:
    return lambda i: TrialState.FAILED if condition(i) else TrialState.DONE


def _key(flat: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(flat.items()))


def check_every_node_type(target: BackendUnderTest) -> None:
    """Every distribution and container: points in the support, of the right types."""
    space = Space(every_node_space())
    history = _run(target.make(space, 0), space, target.budget)
    for suggestion in history:
        flat, params = suggestion.flat_params, space.to_params(suggestion.flat_params)
        assert params["c"] == "abc"[flat["c"]]
        assert params["nested"] == [{"deep": (flat["deep"], 5), 0: "zero"}, "constant"]
    assert len({_key(s.flat_params) for s in history}) > 1, "every point was the same"


def check_conditional_space(target: BackendUnderTest) -> None:
    """Nested choices: exactly the active labels, and more than one branch explored."""
    space = Space(conditional_space())
    history = _run(target.make(space, 0), space, target.budget)
    models = {s.flat_params["model"] for s in history}
    assert len(models) > 1, f"only model branch {models} was ever suggested"


def check_transforms(target: BackendUnderTest) -> None:
    """The backend suggests the arguments of transforms; bbopt applies the functions."""
    space = Space(transform_space())
    for suggestion in _run(target.make(space, 0), space, min(target.budget, 10)):
        flat, params = suggestion.flat_params, space.to_params(suggestion.flat_params)
        assert params["batch"] == 2 ** int(flat["exponent"])
        assert params["combined"] == flat["a"] * 10 + flat["b"]
        assert params["twice"] == 2 ** (2 ** flat["e"])
        assert params["branch"] == (2, 4)[flat["word"]]


def check_batch_ask(target: BackendUnderTest) -> None:
    """``ask(n)`` gives n distinct points, also with points in flight, told back out of order."""
    space = Space(_smooth_2d_space())
    backend = target.make(space, 0)
    _run(backend, space, target.budget, lambda s: _smooth_2d(s.flat_params))
    first = _ask(backend, space, 3)
    second = _ask(backend, space, 2)  # the first three are still in flight
    in_flight = first + second
    assert len({id(s) for s in in_flight}) == len(in_flight), "a suggestion object repeats"
    points = {_key(s.flat_params) for s in in_flight}
    assert len(points) == len(in_flight), "points in flight repeat"
    for index, suggestion in enumerate(reversed(in_flight)):  # tell out of order
        if index == 1:
            backend.tell(_answer(suggestion, None, TrialState.FAILED))
        else:
            backend.tell(_answer(suggestion, _smooth_2d(suggestion.flat_params), TrialState.DONE))
    _run(backend, space, 2, lambda s: _smooth_2d(s.flat_params))


def check_failed_trials(target: BackendUnderTest) -> None:
    """Failures, also before the first success, leave the backend working."""
    space = Space(conditional_space())
    backend = target.make(space, 0)
    history = _run(backend, space, target.budget, outcome=_failing(lambda i: i < 3 or i % 3 == 0))
    assert len({_key(s.flat_params) for s in history}) > 1, "every point was the same"


def check_pruned_trials(target: BackendUnderTest) -> None:
    """Pruned trials, told with their last reported value, leave the backend working."""
    space = Space(conditional_space())
    backend = target.make(space, 0)
    pruned = lambda i: TrialState.PRUNED if i % 2 else TrialState.DONE  # noqa: E731
    history = _run(backend, space, target.budget, outcome=pruned)
    assert len({_key(s.flat_params) for s in history}) > 1, "every point was the same"


def check_warm_start(target: BackendUnderTest) -> None:
    """Points the backend never suggested (a warm start, another process's trials) join
    its history, done or failed; it goes on suggesting valid points."""
    space = Space(conditional_space())
    backend = target.make(space, 0)
    rng = np.random.default_rng(12345)
    for i in range(target.budget):
        flat = space.sample_flat(rng)
        if i % 5 == 4:
            backend.tell(Observation(flat, None, state=TrialState.FAILED))
        else:
            backend.tell(Observation(flat, _flat_loss(flat)))
    history = _run(backend, space, max(target.budget // 2, 3))
    assert len({_key(s.flat_params) for s in history}) > 1, "every point was the same"


def _trials(target: BackendUnderTest, seed: int, n: int) -> list[dict[str, Any]]:
    space = Space(conditional_space())
    return [s.flat_params for s in _run(target.make(space, seed), space, n)]


def check_same_seed_same_trials(target: BackendUnderTest) -> None:
    """Two runs with one seed give identical trials."""
    first, second = _trials(target, 7, target.budget), _trials(target, 7, target.budget)
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        assert a == b, f"trial {index} differs between two runs with seed 7: {a} != {b}"


def check_different_seeds_differ(target: BackendUnderTest) -> None:
    """Different seeds give different trials."""
    n = min(target.budget, 5)
    assert _trials(target, 1, n) != _trials(target, 2, n), "seeds 1 and 2 gave the same trials"


def check_exact_resume(target: BackendUnderTest) -> None:
    """If ``exact_resume``: replaying a history (``suggested=True``) continues the same run."""
    if not target.cls.exact_resume:
        return
    space = Space(conditional_space())
    original = target.make(space, 3)
    history = _run(original, space, target.budget // 2, outcome=_failing(lambda i: i % 4 == 3))
    resumed = target.make(space, 3)
    for index, suggestion in enumerate(history):
        failed = index % 4 == 3
        loss = None if failed else _flat_loss(suggestion.flat_params)
        state = TrialState.FAILED if failed else TrialState.DONE
        resumed.tell(  # as a resumed study tells it: with the budget it was given
            Observation(
                suggestion.flat_params, loss, state, replayed=True, budget=suggestion.budget
            )
        )
    expected = [s.flat_params for s in _run(original, space, 3)]
    got = [s.flat_params for s in _run(resumed, space, 3)]
    assert got == expected, f"resumed run differs: {got} != {expected}"


def _final_best(
    target: BackendUnderTest,
    seed: int,
    n: int,
    outcome: Callable[[int], TrialState] = lambda i: TrialState.DONE,
) -> float:
    space = Space(_smooth_2d_space())
    backend = target.make(space, seed)
    history = _run(backend, space, n, lambda s: _smooth_2d(s.flat_params), outcome)
    return min(_smooth_2d(s.flat_params) for s in history)


@functools.lru_cache
def _random_search_median(n: int) -> float:
    random = BackendUnderTest("bbopt.random")
    return statistics.median(_final_best(random, seed, n) for seed in range(RANDOM_SEEDS))


def check_improves_on_random(target: BackendUnderTest) -> None:
    """A learning backend's median best is a third of random search's or less (2-D bowl).

    Random search is measured over :data:`RANDOM_SEEDS` seeds, so that its median is
    stable; the factor keeps a random search in disguise from passing on a few lucky
    seeds.
    """
    if not target.claims_learning:
        return
    n = target.improve_budget
    backend_best = statistics.median(
        _final_best(target, seed, n) for seed in range(target.improve_seeds)
    )
    random_best = _random_search_median(n)
    assert backend_best <= random_best / IMPROVEMENT, (
        f"median best after {n} evaluations: {backend_best:.4g}; random search "
        f"{random_best:.4g} (needs {random_best / IMPROVEMENT:.4g} or less)"
    )


def check_learns_from_pruned_trials(target: BackendUnderTest) -> None:
    """A learning backend told every trial as pruned, with the value it reached, still
    beats random search by the same factor: work stopped early is not lost to its model.
    Backends with ``learns_from_pruned = False`` are not held to it."""
    if not (target.claims_learning and target.cls.learns_from_pruned):
        return
    n = target.improve_budget
    pruned = statistics.median(
        _final_best(target, seed, n, lambda i: TrialState.PRUNED)
        for seed in range(target.improve_seeds)
    )
    random_best = _random_search_median(n)
    assert pruned <= random_best / IMPROVEMENT, (
        f"median best after {n} pruned evaluations: {pruned:.4g}; random search "
        f"{random_best:.4g} (needs {random_best / IMPROVEMENT:.4g} or less)"
    )


CHECKS: tuple[Callable[[BackendUnderTest], None], ...] = (
    check_every_node_type,
    check_conditional_space,
    check_transforms,
    check_batch_ask,
    check_failed_trials,
    check_pruned_trials,
    check_warm_start,
    check_same_seed_same_trials,
    check_different_seeds_differ,
    check_exact_resume,
    check_improves_on_random,
    check_learns_from_pruned_trials,
)
"""Every check, each a function of a :class:`BackendUnderTest`."""


def _as_target(backend: BackendUnderTest | str | type[Backend]) -> BackendUnderTest:
    return backend if isinstance(backend, BackendUnderTest) else BackendUnderTest(backend)


def check_backend(backend: BackendUnderTest | str | type[Backend], **settings: Any) -> None:
    """Run every check on ``backend`` (a name, a class or a :class:`BackendUnderTest`).

    Raises ``AssertionError`` naming the first check that failed or raised.

    ``settings`` set :class:`BackendUnderTest` fields (``options``, ``budget``, ...).
    """
    run_checks(dataclasses.replace(_as_target(backend), **settings), CHECKS)


def parametrize_with_checks(backends: list[BackendUnderTest | str | type[Backend]]) -> Any:
    """A ``pytest.mark.parametrize`` over (target, check) pairs: one test per check."""
    return parametrize([_as_target(b) for b in backends], CHECKS)
