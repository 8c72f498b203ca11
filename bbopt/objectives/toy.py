"""The tutorial's 1-D toy function ``-sin(x**2)/x + 0.01*x**2`` on [-10, 10]."""

from __future__ import annotations

import math

from bbopt import hp
from bbopt.objective import register_objective

X_STAR = 1.0729458520
F_STAR = -0.8396572774695


def sin_toy(x: float) -> float:
    """f(x) = -sin(x^2)/x + 0.01 x^2, with f(0) = 0 (its limit)."""
    if x == 0:
        return 0.0
    return -math.sin(x * x) / x + 0.01 * x * x


toy_sin = register_objective(
    "toy.sin",
    space=hp.uniform("x", -10, 10),
    f_star=F_STAR,
    x_star=X_STAR,
    description="-sin(x^2)/x + 0.01 x^2 on [-10, 10]; many local minima (the tutorial's toy)",
    groups=("toy",),
)(sin_toy)
