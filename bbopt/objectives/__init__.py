"""Built-in objectives. Each module registers its objectives when imported.

Importing any of them first imports them all, through the objective registry: one
built-in module may then build on another's objectives (``mf.*`` on ``synthetic.*``)
whichever a worker process happens to import first.
"""

from bbopt.objective import registry

registry.load()
