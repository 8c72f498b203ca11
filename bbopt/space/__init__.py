"""Backend-neutral search spaces: a small tree of frozen dataclasses.

A space is any nesting of dicts, lists, tuples and constants whose leaves may be
labelled distributions (:class:`Uniform`, :class:`Choice`, ...) or
:func:`transform` nodes. :class:`Space` compiles such a tree once: it validates
labels, records which choice branch activates each parameter, and offers
``sample`` (random configuration), ``to_params`` (flat label -> value mapping to the
nested configuration, like hyperopt's ``space_eval``) and a JSON description.

A space built with hyperopt's own ``hp`` and ``scope`` (a pyll graph) is accepted
wherever a space is: :class:`Space` translates it into these nodes
(:mod:`bbopt.space.pyll`).

Flat values follow hyperopt's convention: a choice is stored as the index of the
chosen option; every other parameter as its (quantized) value.

Modules: :mod:`~bbopt.space.nodes` (the nodes), :mod:`~bbopt.space.serialize` (JSON),
:mod:`~bbopt.space.pyll` (hyperopt's graphs), :mod:`~bbopt.space.compiled` (Space).
"""

from bbopt.space.compiled import Space, as_space, sample, space_eval
from bbopt.space.nodes import (
    MAX_DEPTH,
    Choice,
    Condition,
    Distribution,
    LogitUniform,
    LogNormal,
    LogUniform,
    LogUniformInt,
    Normal,
    ParamInfo,
    PChoice,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    RandInt,
    Transform,
    Uniform,
    UniformInt,
    UnresolvedTransform,
    transform,
)
from bbopt.space.pyll import UntranslatableNodeError

__all__ = [
    "MAX_DEPTH",
    "Choice",
    "Condition",
    "Distribution",
    "LogNormal",
    "LogUniform",
    "LogUniformInt",
    "LogitUniform",
    "Normal",
    "PChoice",
    "ParamInfo",
    "QLogNormal",
    "QLogUniform",
    "QNormal",
    "QUniform",
    "RandInt",
    "Space",
    "Transform",
    "Uniform",
    "UniformInt",
    "UnresolvedTransform",
    "UntranslatableNodeError",
    "as_space",
    "sample",
    "space_eval",
    "transform",
]
