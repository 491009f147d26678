"""``verify(trace)``: is a hand-written backprop step right, and if not, which tensor goes wrong first and why."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gradwise.verify.backward import backward
from gradwise.verify.checker import Walk
from gradwise.verify.forward import forward, loss
from gradwise.verify.health import health_checks
from gradwise.verify.reference import reference
from gradwise.verify.report import Report
from gradwise.verify.trace import Trace, flipped_orientation, read_trace
from gradwise.verify.update import update


def verify(source: str | Path | Mapping[str, Any]) -> Report:
    """Check one traced step (a folder, or a dict {"network": {...}, "x": ..., ...}) -> Report.

    Bad input raises ``TraceError`` (one line naming the file and the fix).
    """
    trace = read_trace(source)
    walk = _walk(trace)
    if trace.orientation_assumed:  # every layer square: the shapes cannot tell, so the tensors decide
        other = _walk(flipped_orientation(trace))
        if _wrong_count(other) < _wrong_count(walk):
            trace, walk = other.trace, other
        stored = trace.network.weights.replace("_", " × ")
        walk.note(f"every layer is square, so the shapes cannot tell how W is stored: read as {stored}, which fits")
    wrong = [c.name for c in walk.checks if c.status == "wrong"]
    verdict = "wrong" if any(not f.is_note for f in walk.findings) or wrong else "correct"
    rows = "rows" if trace.network.samples == "rows" else "columns"
    network = f"{trace.network.describe()}, batch {trace.batch}, samples as {rows}"
    return Report(
        verdict,
        wrong[0] if wrong else None,
        tuple(walk.findings),
        tuple(walk.checks),
        tuple(health_checks(trace)),
        tuple(walk.notes),
        network,
        trace.source,
    )


def _walk(trace: Trace) -> Walk:
    walk = Walk(trace, reference(trace), notes=list(trace.notes))
    forward(walk)
    loss(walk)
    backward(walk)
    update(walk)
    return walk


def _wrong_count(walk: Walk) -> int:
    return sum(check.status == "wrong" for check in walk.checks)
