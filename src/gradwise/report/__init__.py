"""Run reports: ``report.html`` (one self-contained page) and its PNGs (``write.py``); TensorBoard event files.

The package is also callable: ``gw.report(run)`` is ``gradwise.notebook.report``, the page shown inline in a
notebook, while ``gradwise.report.write`` and the rest import as modules.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``gradwise.notebook.report``: write a run's or a sweep's report.html and show it inline."""
        from gradwise.notebook import report

        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
