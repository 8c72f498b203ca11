"""bbopt: pluggable black-box optimization.

Describe *what* to optimize (an objective: a function and its search space) and
choose *how* to search (a backend, by name)::

    import bbopt
    from bbopt import hp
    study = bbopt.minimize(lambda x: (x - 1) ** 2, hp.uniform("x", -10, 10),
                           backend="hyperopt.tpe", max_evals=100, seed=0)
    study.best_params

Importing bbopt is light: hyperopt, TensorFlow, matplotlib and other heavy
packages are imported only when a backend, objective or plot needs them.
"""

from bbopt import hp, space
from bbopt.backends import (
    Backend,
    Observation,
    Suggestion,
    create_backend,
    list_backends,
    register_backend,
)
from bbopt.errors import BBoptError, NoSuccessfulTrialError, UnknownNameError
from bbopt.execution.queue import WorkQueue
from bbopt.objective import (
    Fidelity,
    FunctionObjective,
    Objective,
    get_objective,
    list_objectives,
    register_objective,
)
from bbopt.optimize import minimize
from bbopt.pruners import Pruner, create_pruner, list_pruners, register_pruner
from bbopt.reporting import TrialPruned, budget, is_pruning, report
from bbopt.space import Space, sample, space_eval, transform
from bbopt.storage import InMemoryStorage, MongoStorage, SQLiteStorage, Storage, StorageError
from bbopt.studies import list_studies, load_study
from bbopt.study import Study
from bbopt.trial import STATUS_FAIL, STATUS_OK, Result, Trial, TrialOrigin, TrialState

__version__ = "0.1.0"

__all__ = [
    "STATUS_FAIL",
    "STATUS_OK",
    "BBoptError",
    "Backend",
    "Fidelity",
    "FunctionObjective",
    "InMemoryStorage",
    "MongoStorage",
    "NoSuccessfulTrialError",
    "Objective",
    "Observation",
    "Pruner",
    "Result",
    "SQLiteStorage",
    "Space",
    "Storage",
    "StorageError",
    "Study",
    "Suggestion",
    "Trial",
    "TrialOrigin",
    "TrialPruned",
    "TrialState",
    "UnknownNameError",
    "WorkQueue",
    "budget",
    "create_backend",
    "create_pruner",
    "get_objective",
    "hp",
    "is_pruning",
    "list_backends",
    "list_objectives",
    "list_pruners",
    "list_studies",
    "load_study",
    "minimize",
    "register_backend",
    "register_objective",
    "register_pruner",
    "report",
    "sample",
    "space",
    "space_eval",
    "transform",
]
