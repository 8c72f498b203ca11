"""The scikit-optimize backends: faithful ask/tell, flattened spaces, in-flight points, failures."""

from __future__ import annotations

import sys
import warnings

import pytest
from skopt import Optimizer
from skopt.space import Real

from bbopt import hp
from bbopt.backends import Observation, create_backend
from bbopt.errors import MissingDependencyError
from bbopt.space import Space
from bbopt.testing import conditional_space
from bbopt.trial import TrialState as BBoptState

SPACE = Space({"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)})
QUICK = {
    "n_initial_points": 3,
    "acq_func": "EI",
    "acq_optimizer_kwargs": {"n_points": 300, "n_restarts_optimizer": 1},
}


def _bowl(x: float, y: float) -> float:
    return (x - 1) ** 2 + 2 * (y + 1) ** 2


def test_matches_plain_skopt_trial_by_trial() -> None:
    backend = create_backend("skopt.gp", SPACE, 2, QUICK)
    plain = Optimizer([Real(-5, 5), Real(-5, 5)], base_estimator="GP", random_state=2, **QUICK)
    for _ in range(5):
        x = plain.ask()
        plain.tell(x, _bowl(*x))
        (s,) = backend.ask(1)
        assert s.flat_params == {"x": x[0], "y": x[1]}
        backend.tell(Observation(s.flat_params, suggestion=s, loss=_bowl(*x)))


def test_points_in_flight_are_not_suggested_again() -> None:
    backend = create_backend("skopt.forest", SPACE, 0, QUICK)
    plain = Optimizer([Real(-5, 5), Real(-5, 5)], base_estimator="RF", random_state=0, **QUICK)
    for _ in range(3):
        (s,) = backend.ask(1)
        backend.tell(Observation(s.flat_params, suggestion=s, loss=_bowl(**s.flat_params)))
        x = plain.ask()
        plain.tell(x, _bowl(*x))
    assert plain.ask() == plain.ask()  # scikit-optimize alone repeats its proposal
    first, second = backend.ask(1)[0], backend.ask(1)[0]
    assert first.flat_params != second.flat_params


def test_conditional_space_is_flattened() -> None:
    space = Space(conditional_space())
    backend = create_backend("skopt.forest", space, 0, QUICK)
    assert [d.name for d in backend.optimizer.space.dimensions] == space.labels
    (s,) = backend.ask(1)
    assert set(s.flat_params) == set(space.active_labels(s.flat_params))
    # a warm-start point lacks its inactive labels: they are filled with the median
    backend.tell(Observation({"model": 2, "k": 30, "scale": 0.5}, 1.0))
    vector = dict(zip(space.labels, backend.optimizer.Xi[-1], strict=True))
    assert (vector["model"], vector["k"], vector["scale"]) == (2, 30, 0.5)
    assert vector["depth"] == 5 and vector["w"] == 0.5 and vector["p"] == 2  # medians


def test_failures_are_told_with_the_worst_loss() -> None:
    backend = create_backend("skopt.gp", SPACE, 0, QUICK)
    a, b, c, d = backend.ask(4)
    backend.tell(Observation(a.flat_params, None, state=BBoptState.FAILED, suggestion=a))
    assert backend.optimizer.yi == []  # no loss seen yet: the failure waits
    backend.tell(Observation(b.flat_params, suggestion=b, loss=3.0))
    assert backend.optimizer.yi == [3.0, 3.0]
    backend.tell(Observation(c.flat_params, suggestion=c, loss=5.0))
    backend.tell(Observation(d.flat_params, None, state=BBoptState.FAILED, suggestion=d))
    assert backend.optimizer.yi == [3.0, 3.0, 5.0, 5.0]


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "skopt", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'bbopt\[skopt\]'"):
        create_backend("skopt.gp", SPACE, 0)


def test_a_repeated_proposal_is_replaced_without_a_warning() -> None:
    space = Space({"c": hp.choice("c", [0, 1])})
    backend = create_backend("skopt.gp", space, 0, QUICK)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(6):
            (s,) = backend.ask(1)
            backend.tell(Observation(s.flat_params, suggestion=s, loss=float(s.flat_params["c"])))
