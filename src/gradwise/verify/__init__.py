"""``gradwise verify``: check the tensors of a hand-written backprop step, from any language, and name the bug.

``verify(trace)`` reads a trace (``files``, ``names``, ``network``, ``trace``, with ``structure``, ``layout``,
``bias`` and ``precision`` for how it is stored), recomputes every tensor in float64 (``reference``), compares them in
data-flow order (``compare``, ``checker``, ``forward``, ``backward``, ``update``, then ``loss``), names each
wrong tensor's bug by testing hypotheses, single slips and pairs (``hypotheses``, ``factor``, ``origin``), reads
the user's conventions (``conventions``), adds gradwise's static health checks (``health``) and returns a
``Report`` (``report``). ``dump_trace`` writes a NumPy step as a trace (``dump``); ``write_example`` a correct
one (``example``).

``gradwise.verify`` the attribute is the function (``gw.verify(trace)``); import names from this package with
``from gradwise.verify import Report, TraceError``.
"""

from gradwise.verify.dump import dump_trace
from gradwise.verify.example import write_example
from gradwise.verify.files import TraceError
from gradwise.verify.report import KINDS, Finding, Report, TensorCheck
from gradwise.verify.verifier import verify

__all__ = ["KINDS", "Finding", "Report", "TensorCheck", "TraceError", "dump_trace", "verify", "write_example"]
