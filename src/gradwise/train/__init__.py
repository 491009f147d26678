"""Training: the loop (``loop.fit``), stop conditions, checkpoints, whole runs from a configuration (``runner``).

The package is also callable: ``gw.train(config)`` is ``gradwise.notebook.train``, the run ``gradwise train``
does, so a notebook reads ``gw.train(...)`` while ``gradwise.train.runner`` and the rest import as modules.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``gradwise.notebook.train``: the whole run, as ``gradwise train`` does it; returns its Result."""
        from gradwise.notebook import train

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
