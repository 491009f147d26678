"""``verify(trace)``: is a hand-written backprop step right, and if not, which tensor goes wrong first and why.

What network.json leaves open and the shapes cannot tell (a square W or x, mean or sum, the end of an augmented
W, the layout of square deltas, a cross-entropy over sigmoid outputs) is settled by the tensors themselves: each
other reading is walked too, and the one under which they agree best is kept (see ``_score``); on a tie, the
usual convention. The loss on file takes part only there, as a witness of the forward pass: a reading that cannot
explain it is less likely; it never makes a verdict wrong unless it is not finite.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gradwise.verify.backward import backward
from gradwise.verify.checker import Walk
from gradwise.verify.compare import Tolerance
from gradwise.verify.conventions import describe, negated, stored_negated
from gradwise.verify.files import TraceError
from gradwise.verify.forward import forward
from gradwise.verify.health import health_checks
from gradwise.verify.loss import loss
from gradwise.verify.norm import ASPECTS as NORM_ASPECTS
from gradwise.verify.norm import choice_note, norm_words
from gradwise.verify.precision import precision_words
from gradwise.verify.reference import reference
from gradwise.verify.report import Report
from gradwise.verify.structure import Reading
from gradwise.verify.trace import Loaded, Trace, build, load
from gradwise.verify.update import update

_FORWARD = re.compile(r"(z|a|xhat|y)\d+")  # the forward pass's tensors: a slip in the backward leaves them right
COARSE_TEXT = 1e-6  # a unit round-off above this: the trace was written with few digits, say so
EXHAUSTIVE_NUMBERS = 4_000_000  # every combination of the open readings is walked while 2^choices × numbers is below


def verify(source: str | Path | Mapping[str, Any]) -> Report:
    """Check one traced step (a folder, or a dict {"network": {...}, "x": ..., ...}) -> Report.

    Bad input raises ``TraceError`` (one line naming the file and the fix).
    """
    walk = _most_consistent(load(source))
    trace = walk.trace
    wrong = [c.name for c in walk.checks if c.status == "wrong"]
    wrong += [f.tensor for f in walk.findings if not f.is_note]  # one source for both the verdict and its tensor
    network = f"{trace.network.describe()}, batch {trace.batch}, samples as {trace.network.samples}"
    return Report(
        "wrong" if wrong else "correct",
        wrong[0] if wrong else None,
        tuple(walk.findings),
        tuple(walk.checks),
        tuple(health_checks(trace)),
        tuple(walk.notes),
        network,
        trace.source,
        describe(walk),
    )


def walk(trace: Trace) -> Walk:
    """Every check of one reading of the trace, in data-flow order; the loss last (it feeds no gradient)."""
    with np.errstate(all="ignore"):  # a user's NaN or overflow is a finding, never a warning on the console
        ref = reference(trace)
        adds = stored_negated(trace, ref)
        if adds:
            trace = negated(trace)
        result = Walk(trace, ref, Tolerance(trace.precision), notes=list(trace.notes), adds=adds)
        forward(result)
        backward(result)
        update(result)
        loss(result)
    result.settle_factors()
    result.note_decays()
    return result


def _most_consistent(loaded: Loaded) -> Walk:
    """The reading under which the tensors agree best: every combination of the open choices when walking them
    all is cheap (shapes that leave many choices open are those of a small network), else each choice changed in
    turn, kept when it does better, until a pass changes nothing."""
    start, alike = _norm_reading(loaded)
    default = build(loaded, start)
    best = walk(default)
    size = sum(values.size for values in loaded.tensors.values.values())
    open_ = [choice for choice in default.open if choice[0] not in NORM_ASPECTS]  # settled already
    if 2 ** len(open_) * size <= EXHAUSTIVE_NUMBERS:
        for choices in _combinations(open_):
            best = _better(loaded, start, choices, best)
    else:
        for _ in range(len(open_)):
            before = best
            for choice in open_:
                best = _better(loaded, best.trace.reading, [choice], best)
            if best is before:
                break
    for aspect, _ in default.open:
        _note_choice(best, aspect)
    if alike:
        best.note(alike)
    if best.trace.precision > COARSE_TEXT:
        best.note(
            f"the trace's numbers carry {precision_words(best.trace.precision)}: smaller differences cannot be "
            "told from rounding (write every digit: %.17g, or .npy files)"
        )
    return best


def _norm_reading(loaded: Loaded) -> tuple[Reading, str]:
    """The norm's kind, place and eps that network.json leaves open, read off the tensors first, on their own: the
    reading under which the fewest tensors match no known slip (under a wrong norm, what follows it matches none;
    under the right one, a real slip is named), then the most match outright (a note, such as a constant factor,
    does not count), those of the forward pass first (a norm, its eps above all, shows there first), then the
    fewest wrong and bugs named; the usual values on a tie; an eps other than the usual
    one only where every tensor on file fits it or a known slip, or every forward one fits it (else it could
    scale xhat as a slip does) -> (that reading, a note when another kind or place fits as well). A tie cannot
    make a correct step wrong: what matches every tensor ties only with what does too."""
    open_ = [choice for choice in build(loaded).open if choice[0] in NORM_ASPECTS]
    if not open_:
        return Reading(), ""
    options = [[(aspect, "")] + [c for c in open_ if c[0] == aspect] for aspect in NORM_ASPECTS]
    scored: list[tuple[tuple[int, ...], Reading, str]] = []
    for choices in itertools.product(*options):
        reading = Reading()
        for aspect, value in choices:
            reading = reading.choose(aspect, value) if value else reading
        try:
            result = walk(build(loaded, reading))
        except TraceError:
            continue
        bugs = sum(not f.is_note for f in result.findings)
        forward = [c.status for c in result.checks if _FORWARD.fullmatch(c.name)]
        if reading.eps and result.unexplained and not (forward and set(forward) == {"ok"}):
            continue
        ok = sum(c.status == "ok" for c in result.checks)
        score = (-result.unexplained, forward.count("ok"), ok, -result.wrong_count(), -bugs)
        scored.append((score, reading, norm_words(result.trace.network)))
    top = max(score for score, _, _ in scored)
    best = [(reading, words) for score, reading, words in scored if score == top]
    alike = list(dict.fromkeys(words for _, words in best))
    if len(alike) == 1:
        return best[0][0], ""
    return best[0][0], (
        f"the tensors fit {' and '.join(alike)} alike: read as {alike[0]}; say which in network.json "
        '("norm", "norm_at")'
    )


def _combinations(choices: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Every non-empty subset of the open choices, fewest changes first."""
    return [list(subset) for size in range(1, len(choices) + 1) for subset in itertools.combinations(choices, size)]


def _better(loaded: Loaded, start: Reading, choices: list[tuple[str, str]], best: Walk) -> Walk:
    """The walk under ``start`` with ``choices`` made, if it scores better than ``best``; else ``best``."""
    reading = start
    for aspect, value in choices:
        reading = reading.choose(aspect, value)
    try:
        candidate = walk(build(loaded, reading))
    except TraceError:
        return best  # the files do not fit that reading at all
    return candidate if _score(candidate) < _score(best) else best


def _score(result: Walk) -> tuple[int, int, int, int, int, int]:
    """A loss on file that the reading explains (it is an independent witness of the forward pass and of mean or
    sum), more tensors that agree with the reference (up to a convention), fewer that no known slip explains,
    fewer wrong, fewer bugs named, fewer conventions needed."""
    agree = sum(check.status in ("ok", "note") for check in result.checks)
    bugs = sum(not f.is_note for f in result.findings)
    loss_unexplained = int(result.met.loss == "unexplained")
    return loss_unexplained, -agree, result.unexplained, result.wrong_count(), bugs, len(result.findings)


def _note_choice(result: Walk, aspect: str) -> None:
    net = result.trace.network
    if aspect in ("norm", "norm_at", "eps"):
        inferred = any(choice == "norm" for choice, _ in result.trace.open)
        note = choice_note(net, aspect, inferred)
        if note:
            result.note(note)
    elif aspect == "weights":
        stored = net.weights.replace("_", " × ")
        result.note(f"every layer is square, so the shapes cannot tell how W is stored: read as {stored}, which fits")
    elif aspect == "samples":
        result.note(
            f"x fits samples as rows and as columns (x is {result.trace.batch} × {net.sizes[0]}, with a column of ones "
            f"possible), so the shapes cannot tell: read as {net.samples}, which fits"
        )
    elif aspect == "reduction" and net.reduction == "sum":
        result.note('the gradients are summed over the batch, not averaged: read as "reduction": "sum"')
        if result.met.loss_other_reduction:  # the loss says mean: a forgotten 1/B, or sum-then-divide (Nielsen)?
            result.note(
                "the loss on file is the batch's mean: if the program means to follow the mean, every gradient is "
                'B times too large (say "reduction": "mean" to check it so)'
            )
    elif aspect == "loss" and net.loss == "bce":
        result.note("a cross-entropy over sigmoid outputs is read as the binary one, −Σ [t log a + (1 − t) log(1 − a)]")
    elif aspect == "bias_end":
        ends = sorted({form for form in net.bias if form in ("first", "last")})
        result.note(
            f"a layer's input is not given with its column of ones, so the end of W's bias row is worked out from "
            f"the other tensors: {', '.join(ends)}"
        )
