"""The conventions a trace was read under, and the one that changes every gradient's sign.

Many hand-written networks compute the error as t − y and then add: W += lr·dW. Their stored "gradients" are
−dL/dW, and correct. That is declared with ``"update": "add"`` (W.after = W + lr·dW; with a positive lr the
gradients are then −dL/dW), or read off the step itself: an update that moves along the stored gradient and
still goes downhill. The gradients are then negated back and verified as usual.

``describe`` gathers every convention assumed, declared or found, for ``Report.conventions`` and ``--json``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from gradwise.verify.checker import Walk
from gradwise.verify.compare import Tolerance, least_squares, norm
from gradwise.verify.precision import precision_words
from gradwise.verify.reference import Reference
from gradwise.verify.trace import Trace

Array = np.ndarray
ALIGNED = 0.5  # cos(step, dW): a sign step of a random gradient scores about 0.8, a random direction about 0
ADDS_NOTE = (
    "the gradients on file are −dL/dW and the update adds them (error = t − y, then W += lr·dW): "
    "they were verified as the negatives of dL/dW"
)


def stored_negated(trace: Trace, ref: Reference) -> bool:
    """The user's dW, db and deltas are −dL/d·: declared, or shown by W.after: a step that moves along the stored
    gradient (a plain W + c·dW, with or without weight decay, or any step well aligned with dW, as an optimizer's
    that accumulates it) while the stored gradient points uphill."""
    net = trace.network
    positive_lr = net.lr is None or net.lr > 0
    if net.update:
        return (net.update == "add") == positive_lr
    if not positive_lr:
        return False  # W + lr·dW with lr < 0: the seed's convention, with the gradients as they are
    tol, agreement, seen = Tolerance(trace.precision), 0.0, False
    for i, after in trace.W_after.items():
        before, grad = trace.parameters(i), trace.dW[i]
        if not before.shape == grad.shape == after.shape or not np.any(grad):
            continue  # a zero or misshapen gradient shows no direction
        if not _moves_along(after - before, grad, before, tol):
            return False
        agreement += float(np.vdot(grad, trace.gradient_of(i, ref.dW[i], ref.db[i])))
        seen = True
    return seen and agreement < 0


def _moves_along(moved: Array, grad: Array, before: Array, tol: Tolerance) -> bool:
    """moved = c·grad − d·before with c > 0 (plain, or with weight decay), or a step at least as aligned with grad
    as Adam's first, c·sign(grad)."""
    solved = least_squares(np.stack([grad.ravel(), -before.ravel()], axis=1), moved.ravel())
    if solved is None:
        return False
    c, d = solved[0]
    if c > 0 and tol.matches(moved, c * grad - d * before, norm(before)):
        return True
    cosine = float(np.vdot(moved, grad)) / max(norm(moved) * norm(grad), 1e-300)
    return cosine > ALIGNED


def negated(trace: Trace) -> Trace:
    """The trace with the user's gradients (delta, dW, db, dgamma, dbeta) negated back to dL/d·."""
    return dataclasses.replace(
        trace,
        dW=[-g for g in trace.dW],
        db=[None if g is None else -g for g in trace.db],
        delta={i: -d for i, d in trace.delta.items()},
        dgamma={i: -g for i, g in trace.dgamma.items()},
        dbeta={i: -g for i, g in trace.dbeta.items()},
        notes=[*trace.notes, ADDS_NOTE],
    )


def describe(walk: Walk) -> dict[str, Any]:
    """Every convention the verdict assumed: declared in network.json, worked out from the shapes, or found."""
    trace, net = walk.trace, walk.trace.network
    negative = walk.adds
    conventions: dict[str, Any] = {
        "weights": net.weights,
        "samples": net.samples,
        "reduction": net.reduction,
        "deltas": walk.met.deltas or ("not given" if not trace.delta else "dL/dz"),
        "gradients": "-dL/dW" if negative else "dL/dW",
        "update": "W + lr*dW" if negative or (net.lr is not None and net.lr < 0) else "W - lr*dW",
        "lr": net.lr,
        "bias": list(net.bias),
        "l2": {"declared": net.l2, "found": dict(walk.decays)},
        "optimizer": net.optimizer or walk.met.optimizer or "sgd",
        "update_checked": walk.met.update_checked if trace.W_after or trace.b_after else None,
        "precision": precision_words(trace.precision),
    }
    if any(net.norm_of(i) for i in range(net.layers)):
        layers = [net.norm_of(i) or None for i in range(net.layers)]
        conventions["norm"] = {"layers": layers, "at": net.norm_at, "eps": net.eps}
    return conventions
