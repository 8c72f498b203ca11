"""Standard synthetic test functions with known optima, registered as ``synthetic.*``.

Each box-constrained function takes a point as a sequence of floats and is
registered over its usual domain with a space ``[x0, x1, ...]`` of uniforms, its
optimal value ``f_star`` and one optimal point ``x_star``. ``synthetic.conditional``
adds a mixed, tree-structured space (categorical branches with their own
continuous parameters, integers, a quantized value) whose optimum is known too.
All are in the ``synthetic`` benchmark group.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bbopt import hp
from bbopt.objective import FunctionObjective, register_objective

GROUPS = ("synthetic",)

# -- the functions ------------------------------------------------------------------


def branin(x: Sequence[float]) -> float:
    """Branin-Hoo on [-5, 10] x [0, 15]; three global minima of value 5 / (4 pi)."""
    x1, x2 = float(x[0]), float(x[1])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_HARTMANN3_A = np.array(
    [[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]],
)
_HARTMANN3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]],
)
_HARTMANN6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ],
)
_HARTMANN6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ],
)


def _hartmann(x: Sequence[float], a: np.ndarray, p: np.ndarray) -> float:
    z = np.asarray(x, dtype=float)
    return float(-_HARTMANN_ALPHA @ np.exp(-np.sum(a * (z - p) ** 2, axis=1)))


def hartmann3(x: Sequence[float]) -> float:
    """Hartmann on [0, 1]^3: four Gaussian-like wells, one global minimum."""
    return _hartmann(x, _HARTMANN3_A, _HARTMANN3_P)


def hartmann6(x: Sequence[float]) -> float:
    """Hartmann on [0, 1]^6: four wells, one global minimum."""
    return _hartmann(x, _HARTMANN6_A, _HARTMANN6_P)


def rosenbrock(x: Sequence[float]) -> float:
    """Rosenbrock's curved valley; minimum 0 at (1, ..., 1)."""
    z = np.asarray(x, dtype=float)
    return float(np.sum(100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2))


def ackley(x: Sequence[float]) -> float:
    """Ackley: a nearly flat, rippled plateau around a deep hole; minimum 0 at the origin."""
    z = np.asarray(x, dtype=float)
    return float(
        -20 * np.exp(-0.2 * np.sqrt(np.mean(z**2)))
        - np.exp(np.mean(np.cos(2 * np.pi * z)))
        + 20
        + math.e
    )


def rastrigin(x: Sequence[float]) -> float:
    """Rastrigin: a paraboloid covered by a regular grid of local minima; minimum 0 at 0."""
    z = np.asarray(x, dtype=float)
    return float(10 * z.size + np.sum(z**2 - 10 * np.cos(2 * np.pi * z)))


def levy(x: Sequence[float]) -> float:
    """Levy: many local minima along each axis; minimum 0 at (1, ..., 1)."""
    w = 1 + (np.asarray(x, dtype=float) - 1) / 4
    head = np.sin(np.pi * w[0]) ** 2
    middle = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2)
    return float(head + middle + tail)


def styblinski_tang(x: Sequence[float]) -> float:
    """Styblinski-Tang: separable quartic; minimum about -39.166 d at x_i = -2.9035."""
    z = np.asarray(x, dtype=float)
    return float(0.5 * np.sum(z**4 - 16 * z**2 + 5 * z))


def six_hump_camel(x: Sequence[float]) -> float:
    """Six-hump camel on [-3, 3] x [-2, 2]: six local minima, two of them global."""
    x1, x2 = float(x[0]), float(x[1])
    return (4 - 2.1 * x1**2 + x1**4 / 3) * x1**2 + x1 * x2 + (-4 + 4 * x2**2) * x2**2


# The 1-D Styblinski-Tang term 0.5 (t^4 - 16 t^2 + 5 t) is minimal at the smallest
# root of its derivative 4 t^3 - 32 t + 5.
STYBLINSKI_TANG_X = -2.9035340276126953
STYBLINSKI_TANG_F1 = styblinski_tang([STYBLINSKI_TANG_X])


# -- registration -------------------------------------------------------------------
# Optima: analytic where one exists; the Hartmann values and points are those of a
# BFGS refinement (gradient below 1e-13) started from the points quoted in the
# literature (Dixon and Szegö 1978), which quotes them to about six digits.


def _box_objective(
    name: str,
    fn: Callable[[Sequence[float]], float],
    bounds: Sequence[tuple[float, float]],
    f_star: float,
    x_star: Sequence[float],
) -> FunctionObjective:
    """Register ``fn`` over the box ``bounds`` as ``synthetic.<name>``, params ``[x0, ...]``."""
    space = [hp.uniform(f"x{i}", low, high) for i, (low, high) in enumerate(bounds)]
    dim = len(bounds)
    summary = (fn.__doc__ or "").strip().split("\n")[0]

    def evaluate(params: Any) -> float:
        return fn(params)

    return register_objective(
        f"synthetic.{name}",
        space=space,
        f_star=f_star,
        x_star=[float(v) for v in x_star],
        description=f"{dim}-D {summary}",
        groups=GROUPS,
    )(evaluate)


BRANIN = _box_objective("branin", branin, [(-5, 10), (0, 15)], 5 / (4 * math.pi), [math.pi, 2.275])
HARTMANN3 = _box_objective(
    "hartmann3",
    hartmann3,
    [(0, 1)] * 3,
    -3.862779787332655,
    [0.1145888741, 0.5556488865, 0.852546977],
)
HARTMANN6 = _box_objective(
    "hartmann6",
    hartmann6,
    [(0, 1)] * 6,
    -3.322368011415513,
    [0.2016895112, 0.1500106887, 0.4768739687, 0.2753324288, 0.3116516122, 0.6573005304],
)
ROSENBROCK2 = _box_objective("rosenbrock2", rosenbrock, [(-5, 10)] * 2, 0.0, [1.0] * 2)
ROSENBROCK5 = _box_objective("rosenbrock5", rosenbrock, [(-5, 10)] * 5, 0.0, [1.0] * 5)
ACKLEY5 = _box_objective("ackley5", ackley, [(-32.768, 32.768)] * 5, 0.0, [0.0] * 5)
RASTRIGIN5 = _box_objective("rastrigin5", rastrigin, [(-5.12, 5.12)] * 5, 0.0, [0.0] * 5)
LEVY5 = _box_objective("levy5", levy, [(-10, 10)] * 5, 0.0, [1.0] * 5)
STYBLINSKI_TANG5 = _box_objective(
    "styblinski_tang5",
    styblinski_tang,
    [(-5, 5)] * 5,
    5 * STYBLINSKI_TANG_F1,
    [STYBLINSKI_TANG_X] * 5,
)
SIX_HUMP_CAMEL = _box_objective(
    "six_hump_camel",
    six_hump_camel,
    [(-3, 3), (-2, 2)],
    -1.0316284534898774,
    [0.0898420068, -0.71265641],
)


# -- a conditional, mixed space -------------------------------------------------------

CONDITIONAL_SPACE = {
    "optimizer": hp.choice(
        "optimizer",
        [
            {
                "name": "sgd",
                "lr": hp.loguniform("sgd_lr", math.log(1e-5), 0.0),
                "momentum": hp.uniform("sgd_momentum", 0.0, 0.99),
            },
            {"name": "adam", "lr": hp.loguniform("adam_lr", math.log(1e-5), 0.0)},
            {
                "name": "rmsprop",
                "lr": hp.loguniform("rmsprop_lr", math.log(1e-5), 0.0),
                "rho": hp.uniform("rmsprop_rho", 0.5, 0.999),
            },
        ],
    ),
    "layers": hp.randint("layers", 1, 7),
    "units": hp.quniform("units", 16, 256, 16),
    "dropout": hp.choice("dropout", [None, hp.uniform("dropout_rate", 0.0, 0.7)]),
}

CONDITIONAL_X_STAR = {
    "optimizer": {"name": "adam", "lr": 1e-3},
    "layers": 3,
    "units": 64.0,
    "dropout": 0.2,
}


def _optimizer_penalty(optimizer: dict[str, Any]) -> float:
    log_lr = math.log10(optimizer["lr"])
    if optimizer["name"] == "adam":
        return (log_lr + 3) ** 2 / 8
    if optimizer["name"] == "sgd":
        return 0.1 + (log_lr + 1.5) ** 2 / 8 + 0.4 * (optimizer["momentum"] - 0.9) ** 2
    return 0.05 + (log_lr + 2.5) ** 2 / 8 + 0.5 * (optimizer["rho"] - 0.9) ** 2


def conditional_loss(params: dict[str, Any]) -> float:
    """A stand-in validation loss over a network-tuning space; 0 at ``CONDITIONAL_X_STAR``.

    Each optimizer branch has its own learning-rate optimum and its own floor
    (adam 0, rmsprop 0.05, sgd 0.1); depth, width (log2) and dropout add convex
    penalties. Turning dropout off (``None``) costs 0.03.
    """
    dropout = params["dropout"]
    return (
        _optimizer_penalty(params["optimizer"])
        + 0.02 * (params["layers"] - 3) ** 2
        + 0.05 * (math.log2(params["units"]) - 6) ** 2
        + (0.03 if dropout is None else 0.3 * (dropout - 0.2) ** 2)
    )


CONDITIONAL = register_objective(
    "synthetic.conditional",
    space=CONDITIONAL_SPACE,
    f_star=0.0,
    x_star=CONDITIONAL_X_STAR,
    description=(
        "mixed conditional space: optimizer branches with their own continuous "
        "parameters, integer depth, quantized width, optional dropout"
    ),
    groups=GROUPS,
)(conditional_loss)
