"""Training: the loop (``loop.fit``), stop conditions, checkpoints, whole runs from a configuration (``runner``).

The package is also callable: ``gw.train(config)`` runs ``gradwise.notebook.train``, the run ``gradwise train``
does, so a notebook reads ``gw.train(...)`` while ``gradwise.train.runner`` and the rest import as modules
(``gradwise.callable_package``).
"""

from gradwise.callable_package import make_callable

make_callable(__name__)
