"""``import bbopt`` stays light: heavy packages load only when something needs them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["tensorflow", "keras", "matplotlib", "pandas", "hyperopt", "optuna", "dask", "torch"]
HEAVY += ["skopt", "sklearn", "distributed", "cocoex", "nevergrad", "smac", "ConfigSpace"]
HEAVY += ["botorch", "optuna_integration", "threadpoolctl", "pyrfr", "dehb", "loguru"]

SCRIPT = """
import json, sys
import bbopt
from bbopt import hp
space = {"x": hp.uniform("x", 0, 1), "c": hp.choice("c", ["a", hp.randint("r", 3)])}
bbopt.sample(space, seed=0)
bbopt.space_eval(space, {"x": 0.5, "c": 1, "r": 2})
before = sorted({m.split(".")[0] for m in sys.modules})
bbopt.minimize(lambda p: p["x"], space, backend="hyperopt.rand", max_evals=2, seed=0)
after = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"before": before, "after": after}))
"""


def test_import_bbopt_does_not_import_heavy_packages() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], check=True, capture_output=True, text=True
    )
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert [name for name in HEAVY if name in modules["before"]] == []
    # the check can fail: running the hyperopt backend does import hyperopt
    assert "hyperopt" in modules["after"]
    assert [n for n in HEAVY if n in modules["after"] and n != "hyperopt"] == []
