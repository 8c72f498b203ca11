"""hyperopt's API on bbopt: port a hyperopt script by changing its imports.

``from bbopt.hyperopt import fmin, tpe, rand, anneal, hp, Trials, STATUS_OK,
STATUS_FAIL, space_eval, scope`` gives hyperopt's names. ``hp`` and ``scope`` are
hyperopt's own (a space is a pyll graph, which bbopt translates into its space
language), and so are ``tpe``, ``rand`` and ``anneal`` (their ``suggest``
functions name bbopt's hyperopt backends); ``fmin`` and ``Trials`` are bbopt's:
the search runs in :func:`bbopt.minimize`, and ``Trials`` is a view of the
:class:`~bbopt.study.Study` it produced (``trials.study``). A serial run with
``rstate=np.random.default_rng(s)`` evaluates hyperopt's own points, trial by trial.

Beyond hyperopt, ``fmin`` takes ``workers=N``, ``executor="dask"``, ``storage=``
and every bbopt backend by name (``algo="optuna.tpe"``). hyperopt's ``MongoTrials``
(a shared database that workers pull trials from) is a ``Trials`` on bbopt's
MongoDB storage whose ``fmin`` queues trials for ``bbopt-mongo-worker`` processes.
See docs/hyperopt.md and docs/parallel.md.

This package never shadows hyperopt: it imports the real one (absolute imports).
"""

from hyperopt import anneal, hp, rand, tpe
from hyperopt.fmin import partial
from hyperopt.pyll import scope

from bbopt.hyperopt import early_stop
from bbopt.hyperopt.early_stop import no_progress_loss
from bbopt.hyperopt.search import fmin, sample, space_eval
from bbopt.hyperopt.trials import AllTrialsFailed, MongoTrials, Trials
from bbopt.trial import STATUS_FAIL, STATUS_OK

__all__ = [
    "STATUS_FAIL",
    "STATUS_OK",
    "AllTrialsFailed",
    "MongoTrials",
    "Trials",
    "anneal",
    "early_stop",
    "fmin",
    "hp",
    "no_progress_loss",
    "partial",
    "rand",
    "sample",
    "scope",
    "space_eval",
    "tpe",
]
