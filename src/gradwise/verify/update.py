"""The last part of the walk: W{i}.after and b{i}.after against W − lr·dW, with the user's own dW."""

from __future__ import annotations

from gradwise.verify import compare as C
from gradwise.verify import hypotheses as H
from gradwise.verify.checker import Array, Walk


def update(walk: Walk) -> None:
    """Each .after tensor given: the step the user took, after − before, against −lr times their gradient."""
    trace = walk.trace
    lr = trace.network.lr
    given = [(f"W{i}", i) for i in sorted(trace.W_after)] + [(f"b{i}", i) for i in sorted(trace.b_after)]
    given.sort(key=lambda g: (g[1], g[0][0] != "W"))
    if not given:
        return
    if lr is None:
        walk.note("network.json has no lr, so the .after tensors were not checked")
        for name, _ in given:
            walk.skip(f"{name}.after")
        return
    if lr < 0:
        walk.note(f"lr is negative ({lr:g}): read as W.after = W + lr·dW, the seed's convention")
    for name, i in given:
        weights = name[0] == "W"
        before, after = (trace.W[i], trace.W_after[i]) if weights else (trace.b[i], trace.b_after[i])
        ref_grad = walk.ref.dW[i] if weights else walk.ref.db[i]
        grad = trace.dW[i] if weights else trace.db[i]
        grad = grad if grad.shape == before.shape else ref_grad  # a misshapen gradient was already reported
        _check_step(walk, name, i, after - before, ref_grad, grad, C.norm(before), abs(lr))


def _check_step(
    walk: Walk, name: str, i: int, moved: Array, ref_grad: Array, grad: Array, magnitude: float, lr: float
) -> None:
    """moved = after − before against −lr·grad; on the scale of the weights, whose rounding bounds it."""
    g = f"d{name}"
    after = f"{name}.after"

    def hypotheses() -> list[H.Hypothesis]:
        found = [
            H.Hypothesis("update", lr * grad, f"{after} is {name} + lr·{g}: the update goes uphill.",
                         f"subtract: {name} − lr·{g}."),
            H.Hypothesis("update", 0 * grad, f"{after} equals {name}: the update was not applied.",
                         f"assign {name} − lr·{g} back to {name}."),
            H.Hypothesis("update", -2 * lr * grad, f"{after} is {name} − 2·lr·{g}: the update was applied twice.",
                         "apply each update once."),
        ]  # fmt: skip
        rate = C.fitted_scale(moved, -grad)
        if rate is not None:
            found.append(H.Hypothesis("update", -rate * grad, f"{after} was updated with rate {rate:.4g}, not lr = "
                                      f"{lr:g}.", f"use lr = {lr:g}, or correct lr in network.json."))  # fmt: skip
        return found

    words = ("update", f"{after} is not {name} − lr·{g}.", f"set {after} = {name} − lr·{g}.")
    walk.check(after, i, moved, -lr * ref_grad, -lr * grad, magnitude, hypotheses, lambda: words)
