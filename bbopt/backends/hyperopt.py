"""hyperopt's TPE, random search and annealing behind the ask/tell interface.

hyperopt has no public ask/tell API. Its ``Domain``, ``Trials`` and
``algo(new_ids, domain, trials, seed)`` suggest functions are the way in, driven
here exactly as ``hyperopt.fmin`` drives them: one suggest call per trial, each
with a seed drawn as ``rstate.integers(2**31 - 1)`` from
``numpy.random.default_rng(seed)``. A serial run therefore evaluates the same
points, trial by trial, as ``fmin(..., rstate=np.random.default_rng(seed))``.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from bbopt.backends import register_backend
from bbopt.backends.base import Backend, Observation, Suggestion
from bbopt.option_checks import check_integer, check_kinds, check_positive
from bbopt.space import (
    Choice,
    Distribution,
    LogitUniform,
    LogNormal,
    LogUniform,
    LogUniformInt,
    Normal,
    PChoice,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    RandInt,
    Space,
    Transform,
    Uniform,
    UniformInt,
)
from bbopt.trial import STATUS_FAIL, STATUS_OK, to_builtin

_SEED_BOUND = 2**31 - 1


def to_hyperopt(node: Any) -> Any:
    """Translate a bbopt space tree into hyperopt's ``hp`` expressions.

    Transforms keep only their arguments: hyperopt needs the parameters and their
    conditional structure to suggest, while bbopt applies the function itself.
    Distributions hyperopt lacks are searched on their own scale: an integer
    log-uniform as ``qloguniform(log(low - 0.5), log(high + 0.5), 1)``, a logit-uniform
    as ``uniform(logit(low), logit(high))`` (:func:`_from_hyperopt` maps values back).
    """
    from hyperopt import hp

    if isinstance(node, Distribution):
        return _distribution_to_hyperopt(hp, node)
    if isinstance(node, Transform):
        return tuple(to_hyperopt(arg) for arg in node.args)
    if isinstance(node, dict):
        items = {key: to_hyperopt(value) for key, value in node.items()}
        try:
            sorted(items)
        except TypeError:  # hyperopt sorts a dict's keys: give mixed ones as sortable pairs
            return {(type(key).__name__, repr(key)): value for key, value in items.items()}
        return items
    if isinstance(node, (list, tuple)):
        return type(node)(to_hyperopt(value) for value in node)
    return None  # constants take no part in suggesting


def _distribution_to_hyperopt(hp: Any, dist: Distribution) -> Any:
    label = dist.label
    if isinstance(dist, PChoice):
        options = [to_hyperopt(o) for o in dist.options]
        return hp.pchoice(label, list(zip(dist.weights, options, strict=True)))
    if isinstance(dist, Choice):
        return hp.choice(label, [to_hyperopt(o) for o in dist.options])
    if isinstance(dist, RandInt):
        low, high = int(dist.low), int(dist.high)
        return hp.randint(label, high) if low == 0 else hp.randint(label, low, high)
    if isinstance(dist, LogUniformInt):
        return hp.qloguniform(label, *dist.log_bounds, 1)
    if isinstance(dist, LogitUniform):
        return hp.uniform(label, *dist.logit_bounds)
    builders: dict[type, Callable[[], Any]] = {
        Uniform: lambda: hp.uniform(label, dist.low, dist.high),  # type: ignore[attr-defined]
        QUniform: lambda: hp.quniform(label, dist.low, dist.high, dist.q),  # type: ignore[attr-defined]
        LogUniform: lambda: hp.loguniform(label, dist.low, dist.high),  # type: ignore[attr-defined]
        QLogUniform: lambda: hp.qloguniform(label, dist.low, dist.high, dist.q),  # type: ignore[attr-defined]
        Normal: lambda: hp.normal(label, dist.mu, dist.sigma),  # type: ignore[attr-defined]
        QNormal: lambda: hp.qnormal(label, dist.mu, dist.sigma, dist.q),  # type: ignore[attr-defined]
        LogNormal: lambda: hp.lognormal(label, dist.mu, dist.sigma),  # type: ignore[attr-defined]
        QLogNormal: lambda: hp.qlognormal(label, dist.mu, dist.sigma, dist.q),  # type: ignore[attr-defined]
        UniformInt: lambda: hp.uniformint(label, dist.low, dist.high),  # type: ignore[attr-defined]
    }
    return builders[type(dist)]()


def _from_hyperopt(dist: Distribution, value: Any) -> Any:
    """A value hyperopt suggested for ``dist``, as bbopt's flat value."""
    if isinstance(dist, LogUniformInt):
        return int(min(max(value, dist.low), dist.high))
    if isinstance(dist, LogitUniform):
        return dist.value_of(float(value))
    return int(value) if dist.is_integer else value


def _to_hyperopt(dist: Distribution, value: Any) -> Any:
    """bbopt's flat value of ``dist`` as the value hyperopt searches."""
    if isinstance(dist, LogitUniform):
        return math.log(value / (1 - value))
    return value


def _keyword_options(fn: Callable[..., Any]) -> list[str]:
    """The parameters of ``fn`` that have a default: the options it accepts."""
    parameters = inspect.signature(fn).parameters.values()
    return [p.name for p in parameters if p.default is not inspect.Parameter.empty]


def _unused_objective(params: Any) -> None:
    raise RuntimeError("bbopt evaluates objectives itself; hyperopt only suggests")


class HyperoptBackend(Backend):
    """Base of the hyperopt backends; subclasses name the suggest function."""

    algorithm: ClassVar[str] = ""
    # Option values hyperopt takes and quietly misbehaves on (a negative gamma leaves TPE
    # without good points), refused up front: the least integer, or > 0.
    integer_options: ClassVar[dict[str, int]] = {}
    positive_options: ClassVar[tuple[str, ...]] = ()
    exact_resume: ClassVar[bool] = True
    quick_benchmark: ClassVar[bool] = True

    def __init__(self, space: Space, seed: int | None = None, **options: Any) -> None:
        super().__init__(space, seed, **options)
        import hyperopt
        from hyperopt import anneal, rand, tpe

        suggest = {"tpe": tpe.suggest, "rand": rand.suggest, "anneal": anneal.suggest}
        # anneal.suggest hands its options on to AnnealingAlgo
        takes_options = {**suggest, "anneal": anneal.AnnealingAlgo.__init__}
        self.check_options(_keyword_options(takes_options[self.algorithm]))
        check_kinds(options, takes_options[self.algorithm])
        for name, minimum in self.integer_options.items():
            if name in options:
                check_integer(name, options[name], minimum)
        for name in self.positive_options:
            if name in options:
                check_positive(name, options[name])
        algo = suggest[self.algorithm]
        self._algo = functools.partial(algo, **options) if options else algo
        self._states = hyperopt.base
        self._domain = hyperopt.Domain(_unused_objective, to_hyperopt(space.tree))
        self._trials = hyperopt.Trials()
        # hyperopt's own trial ids, in the order fmin would give them: one per point
        # suggested or told from outside.
        self._hyperopt_tids = itertools.count()
        self._labels = space.labels
        self._replays_advance = True

    def follow_rstate(self, rstate: np.random.Generator) -> None:
        """Draw each suggest seed from ``rstate`` (the caller's generator, shared), as
        ``hyperopt.fmin(rstate=...)`` does: trials told from an earlier run then join
        the history without advancing it, so a search continued with a fresh rstate
        gets the seeds hyperopt would give it."""
        self.rng = rstate
        self._replays_advance = False

    def ask(self, n: int = 1) -> list[Suggestion]:
        return [self._ask_one() for _ in range(n)]

    def _ask_one(self) -> Suggestion:
        tid = next(self._hyperopt_tids)
        self._trials.refresh()
        seed = int(self.rng.integers(_SEED_BOUND))
        docs = self._algo([tid], self._domain, self._trials, seed)
        with ctrl_c_after():
            self._trials.insert_trial_docs(docs)
        doc = self._trials._dynamic_trials[-1]
        doc["state"] = self._states.JOB_STATE_RUNNING
        vals = doc["misc"]["vals"]
        flat = {
            label: _from_hyperopt(self.space.distribution(label), to_builtin(v[0]))
            for label, v in vals.items()
            if v
        }
        return Suggestion(flat, handle=doc)

    def tell(self, observation: Observation) -> None:
        suggestion = observation.suggestion
        doc = self._insert_observed(observation) if suggestion is None else suggestion.handle
        if observation.has_loss:  # hyperopt has no pruned state: a last reported value
            doc["result"] = {"status": STATUS_OK, "loss": observation.loss}  # is a loss to it
        else:
            doc["result"] = {"status": STATUS_FAIL}
        doc["state"] = self._states.JOB_STATE_DONE  # seen by the refresh in the next ask

    def _insert_observed(self, observation: Observation) -> dict[str, Any]:
        """Add a trial this backend did not suggest (warm start, restored history)."""
        tid = next(self._hyperopt_tids)
        if observation.replayed and self._replays_advance:
            self.rng.integers(_SEED_BOUND)  # replay: keep the seed sequence of the first run
        flat = {
            label: _to_hyperopt(self.space.distribution(label), value)
            for label, value in observation.flat_params.items()
        }
        misc = {
            "tid": tid,
            "cmd": self._domain.cmd,
            "workdir": self._domain.workdir,
            "idxs": {label: ([tid] if label in flat else []) for label in self._labels},
            "vals": {label: ([flat[label]] if label in flat else []) for label in self._labels},
        }
        docs = self._trials.new_trial_docs([tid], [None], [{"status": "new"}], [misc])
        with ctrl_c_after():
            self._trials.insert_trial_docs(docs)
        return self._trials._dynamic_trials[-1]


@contextmanager
def ctrl_c_after() -> Iterator[None]:
    """Hold a Ctrl-C (in the main thread) until the block ends: hyperopt's check of a
    trial document, when ``bson`` is installed, prints a "CAN'T ENCODE" banner on
    stdout for any exception inside it, a KeyboardInterrupt too."""
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is None  # set outside Python: not ours to swap
    ):
        yield
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:  # delivered again, to whatever handled it before
            signal.raise_signal(signal.SIGINT)


@register_backend
class HyperoptTPE(HyperoptBackend):
    name = "hyperopt.tpe"
    description = (
        "hyperopt's Tree-structured Parzen Estimator (options: n_startup_jobs, gamma, ...)"
    )
    algorithm = "tpe"
    integer_options: ClassVar[dict[str, int]] = {"n_startup_jobs": 0, "n_EI_candidates": 1}
    positive_options = ("gamma", "prior_weight")  # gamma x sqrt(n) points are the good ones


@register_backend
class HyperoptRandom(HyperoptBackend):
    name = "hyperopt.rand"
    description = "hyperopt's random search"
    algorithm = "rand"
    learns = False


@register_backend
class HyperoptAnneal(HyperoptBackend):
    name = "hyperopt.anneal"
    description = "hyperopt's simulated annealing (options: avg_best_idx, shrink_coef)"
    algorithm = "anneal"
    positive_options = ("avg_best_idx", "shrink_coef")
