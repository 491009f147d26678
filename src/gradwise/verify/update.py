"""The last part of the walk: W{i}.after and b{i}.after against W − lr·dW, with the user's own dW.

Only plain gradient descent can be checked from one step: an optimizer with state (momentum, Adam, RMSProp)
moves by something the trace does not hold. So, unless network.json says "optimizer": "sgd", a step that is no
multiple of the gradient (with or without weight decay) is read as such an optimizer and noted, never called a
bug; an optimizer declared in network.json is not checked either. Every known slip of a gradient step (uphill,
not applied, applied twice, another rate) is a multiple of the gradient, so none of them hides there.
"""

from __future__ import annotations

import numpy as np

from gradwise.verify import compare as C
from gradwise.verify import hypotheses as H
from gradwise.verify.checker import Array, Suspects, Walk


def update(walk: Walk) -> None:
    """Each .after tensor given: the step the user took, after − before, against −lr times their gradient."""
    trace = walk.trace
    net = trace.network
    given = sorted([(i, f"W{i}") for i in trace.W_after] + [(i, f"b{i}") for i in trace.b_after])
    if not given:
        return
    if not net.plain_sgd or net.lr is None:
        why = (
            f"the update is {net.optimizer}'s, whose state the trace does not hold"
            if not net.plain_sgd
            else "network.json has no lr"
        )
        walk.note(f"{why}, so the .after tensors were not checked")
        walk.met.update_checked = False
        for _, name in given:
            walk.skip(f"{name}.after")
        return
    if net.lr < 0 and net.update != "subtract":
        walk.note(f"lr is negative ({net.lr:g}): read as W.after = W + lr·dW, the seed's convention")
    # One rate other than lr on every parameter is an optimizer's first step (momentum's 1 − β, Nesterov's 1 + μ),
    # a clipped gradient, or an lr that network.json does not know: a note, unless "optimizer": "sgd" says plain.
    rates = [_rate(walk, name, i) for i, name in given]
    known = [rate for rate in rates if rate is not None]
    shared = not net.optimizer and len(known) == len(rates) and max(known) <= 1.01 * min(known)
    for i, name in given:
        _check_parameter(walk, name, i, abs(net.lr), shared)


def _rate(walk: Walk, name: str, i: int) -> float | None:
    """The positive rate c with after − before ≈ −c · the user's gradient, fitted; None when there is none."""
    trace = walk.trace
    before, after, grad = (
        (trace.parameters(i), trace.W_after[i], trace.dW[i]) if name[0] == "W"
        else (trace.b[i], trace.b_after[i], trace.db[i])
    )  # fmt: skip
    if grad is None or not before.shape == after.shape == grad.shape:
        return None
    rate = C.fitted_scale(after - before, -grad)
    return rate if rate is not None and rate > 0 else None


def _check_parameter(walk: Walk, name: str, i: int, lr: float, shared_rate: bool) -> None:
    trace, ref = walk.trace, walk.ref
    given: Array | None
    if name[0] == "W":
        before, after = trace.parameters(i), trace.W_after[i]
        ref_grad, given = trace.gradient_of(i, ref.dW[i], ref.db[i]), trace.dW[i]
    else:
        before, after, ref_grad, given = trace.b[i], trace.b_after[i], ref.db[i], trace.db[i]
    if given is None:
        walk.skip(f"{name}.after")  # a bias the step does not train
        return
    ref_grad = ref_grad + walk.removed.get(f"d{name}", 0.0)  # the L2 term the user's gradient carries
    grad = given if given.shape == before.shape else ref_grad  # a misshapen one was reported
    if after.shape != before.shape:  # e.g. b − lr·db broadcast to a matrix by a (1, n) db
        words = (
            "shape",
            f"{name}.after has shape {after.shape}, not {name}'s {before.shape}.",
            f"keep {name}'s shape.",
        )
        suspects = Suspects(list, lambda: words)
        walk.check(f"{name}.after", i, after, before - lr * ref_grad, before - lr * grad, C.norm(before), suspects)
        return
    moved = after - before
    # The weights' own rounding (after − before loses their digits) and the step's (lr times the gradient's).
    magnitude = C.norm(before) + lr * walk.step_magnitude.get(name, C.norm(ref_grad))
    if not walk.trace.network.optimizer and not _gradient_step(walk, moved, grad, before, magnitude):
        walk.note(
            f"{name}.after is not {name} − c·d{name} for any rate c: read as the step of an optimizer with state "
            "(momentum, Adam, RMSProp), so it was not checked; if the update is plain gradient descent, it is "
            'wrong: say which with "optimizer" in network.json'
        )
        walk.skip(f"{name}.after")
        walk.met.update_checked = False
        walk.met.optimizer = "one with state (read off the update)"
        return
    g, after_name = f"d{name}", f"{name}.after"
    words = ("update", f"{after_name} is not {name} − lr·{g}.", f"set {after_name} = {name} − lr·{g}.")
    suspects = Suspects(lambda: _hypotheses(walk, name, moved, grad, before, lr, shared_rate), lambda: words)
    walk.check(after_name, i, moved, -lr * ref_grad, -lr * grad, magnitude, suspects)


def _hypotheses(
    walk: Walk, name: str, moved: Array, grad: Array, before: Array, lr: float, shared_rate: bool
) -> list[H.Hypothesis]:
    g, after = f"d{name}", f"{name}.after"
    found = [
        H.Hypothesis("update", lr * grad, f"{after} is {name} + lr·{g}: the update goes uphill.",
                     f"subtract: {name} − lr·{g}."),
        H.Hypothesis("update", 0 * grad, f"{after} equals {name}: the update was not applied.",
                     f"assign {name} − lr·{g} back to {name}."),
        H.Hypothesis("update", -2 * lr * grad, f"{after} is {name} − 2·lr·{g}: the update was applied twice.",
                     "apply each update once."),
    ]  # fmt: skip
    found += _conventions(walk, name, moved, grad, before, lr)
    rate = C.fitted_scale(moved, -grad)
    if rate is not None and shared_rate and rate > 0:
        words = (
            f"every parameter moved by −c·its gradient with c = {rate:.4g}, not lr = {lr:g}: an optimizer's first "
            'step, a clipped gradient, or another rate than network.json says ("optimizer": "sgd" checks it as plain)'
        )
        found.append(H.Hypothesis("update", -rate * grad, words, "", convention=True))
    elif rate is not None:
        found.append(H.Hypothesis("update", -rate * grad, f"{after} was updated with rate {rate:.4g}, not lr = "
                                  f"{lr:g}.", f"use lr = {lr:g}, or correct lr in network.json."))  # fmt: skip
    return found


def _conventions(walk: Walk, name: str, moved: Array, grad: Array, before: Array, lr: float) -> list[H.Hypothesis]:
    """Right updates of another form: weight decay applied in the update (W shrinks by 1 − c), and, for summed
    gradients, the rate divided by the batch size (Nielsen's w − (eta/m)·nabla_w); or both."""
    g, after = f"d{name}", f"{name}.after"
    batch = walk.trace.batch
    rates = [(lr, "")]
    if walk.trace.network.reduction == "sum" and batch > 1:
        rates.append((lr / batch, f"the update divides the summed {g} by the batch size, {name} − (lr/B)·{g}"))
    factor = walk.factor_of(g)
    if factor is not None:  # e.g. the rate multiplied into the gradient: dW = lr·a.T @ delta; W -= dW
        rates.append(
            (
                lr / factor,
                f"{g} carries the factor {factor:.4g}, so the step lr·dL/d{name} is {name} − {g}·lr/{factor:.4g}",
            )
        )
    found = []
    for rate, divided in rates:
        if divided:
            compensates = g if factor is not None and rate == lr / factor else ""
            found.append(H.Hypothesis("update", -rate * grad, divided, "", convention=True, compensates=compensates))
        shrink = C.fitted_scale(moved + rate * grad, -before)
        if shrink is not None and shrink > 0:
            words = f"{after} also shrinks {name} by the factor 1 − {shrink:.4g}: weight decay in the update"
            words += f"; {divided}" if divided else ""
            found.append(H.Hypothesis("update", -rate * grad - shrink * before, words, "", convention=True))
    return found


def _gradient_step(walk: Walk, moved: Array, grad: Array, before: Array, magnitude: float) -> bool:
    """The step is a multiple of the gradient (with or without weight decay): plain gradient descent, right or not."""
    if moved.shape != grad.shape or not np.isfinite(moved).all() or not np.isfinite(grad).all():
        return True  # nothing to tell an optimizer by: check it as gradient descent
    columns = np.stack([-grad.ravel(), -before.ravel()], axis=1)
    for used in (columns[:, :1], columns):
        solved = C.least_squares(used, moved.ravel())
        if solved is None:
            return True
        coefficients = solved[0]
        if walk.tol.matches(moved, (used @ coefficients).reshape(moved.shape), magnitude):
            return True
    return False
