"""Run reports: ``report.html`` (one self-contained page) and its PNGs (``write.py``); TensorBoard event files.

The package is also callable: ``gw.report(run)`` runs ``gradwise.notebook.report``, the page shown inline in a
notebook, while ``gradwise.report.write`` and the rest import as modules (``gradwise.callable_package``).
"""

from gradwise.callable_package import make_callable

make_callable(__name__)
