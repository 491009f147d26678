"""The loss value, checked last: it does not feed the gradients, so it never outranks a gradient's bug.

The loss to dump is the batch's loss at W (before the update), from the output a the trace holds, with the
declared reduction and without any regularization term. Programs often print another one: clipped or with
ε inside the log, summed where the gradients are averaged, computed after the update, or with an L2 term. Each
of those is a note, as is a loss that differs in a way none of them explains, provided it is finite: the
gradients say whether the backprop is right. A NaN or Inf loss is a finding (a log of 0, an overflow).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from gradwise.verify import bias as B
from gradwise.verify import reference as R
from gradwise.verify.checker import Array, Suspects, Walk
from gradwise.verify.report import TensorCheck
from gradwise.verify.trace import Trace

CLIPS = (1e-7, float(np.finfo(np.float32).eps), 1e-8, 1e-10, 1e-12, 1e-15)  # what Keras, PyTorch, sklearn use


def loss(walk: Walk) -> None:
    """The dumped loss against the declared loss of the user's own output, or one of its usual variants."""
    trace = walk.trace
    if trace.loss is None:
        return
    net, last = trace.network, trace.network.layers - 1
    own_output = last in trace.a and trace.a[last].shape == walk.a[last].shape  # then the loss comes from their a
    local = _loss_of(walk, walk.z[last], walk.a[last], logits=not own_output)
    # A float32 log or square is rounded about u per output and sample, whatever the loss's own size.
    magnitude = abs(local) + net.sizes[-1] * trace.batch * walk.ref.scale
    user = np.array(trace.loss)
    if not np.isfinite(user):
        fallback = ("non_finite", "the loss is not finite.", "look for a log of 0.")
        suspects = Suspects(list, lambda: fallback)
        walk.check("loss", None, user, np.array(walk.ref.loss), np.array(local), magnitude, suspects)
        return
    for value in (walk.ref.loss, local):
        if walk.tol.matches(user, np.array(value), magnitude):
            walk.met.loss = "ok"
            walk.checks.append(TensorCheck("loss", "ok", walk.tol.error(user, np.array(walk.ref.loss), magnitude)))
            return
    matched = next((v for v in _variants(walk, local) if walk.tol.matches(user, np.array(v.value), magnitude)), None)
    walk.met.loss = "variant" if matched else "unexplained"
    walk.met.loss_other_reduction = matched is not None and matched.other_reduction
    words = matched.words if matched else None
    if words is None:
        ratio = trace.loss / local if local else float("inf")
        words = (
            f"the loss on file, {trace.loss:.6g}, is not {net.loss} ({net.reduction}) of the output, {local:.6g} "
            f"(ratio {ratio:.4g}); it does not feed the gradients, which say whether the backprop is right "
            "(docs/verify.md says which loss to dump)"
        )
    walk.note(words)
    walk.checks.append(TensorCheck("loss", "note", walk.tol.error(user, np.array(walk.ref.loss), magnitude)))


def _loss_of(walk: Walk, z: Array, a: Array, *, logits: bool = True, t: Array | None = None) -> float:
    net = walk.trace.network
    target = walk.trace.t if t is None else t
    return float(R.sample_losses(net.loss, net.activations[-1], z, a, target, logits=logits).sum() * walk.ref.scale)


@dataclass(frozen=True)
class Variant:
    """A loss value a program may print instead of the one to dump, and what it means."""

    value: float
    words: str
    other_reduction: bool = False  # the mean where the gradients are summed, or the other way round


def _variants(walk: Walk, local: float) -> Iterator[Variant]:
    """Each usual way a program's printed loss differs from the one to dump."""
    trace, net = walk.trace, walk.trace.network
    last = net.layers - 1
    z, a = walk.z[last], walk.a[last]
    if net.loss != "mse":
        for epsilon in CLIPS:
            clipped = _loss_of(walk, z, np.clip(a, epsilon, 1 - epsilon), logits=False)
            yield Variant(clipped, f"the loss clips probabilities to [{epsilon:g}, 1 − {epsilon:g}] before the log")
            if net.loss == "ce":
                inside = float(-(trace.t * np.log(a + epsilon)).sum() * walk.ref.scale)
                yield Variant(inside, f"the loss adds ε = {epsilon:g} inside the log, −Σ t log(a + ε)")
    batch = trace.batch
    other = (
        "summed over the batch instead of averaged"
        if net.reduction == "mean"
        else "averaged over the batch instead of summed"
    )
    words = f"the loss on file is {other} as the gradients are"
    yield Variant(local * (batch if net.reduction == "mean" else 1 / batch), words, other_reduction=True)
    for factor, words in _factors(net.sizes[-1]):
        yield Variant(local * factor, f"the loss on file is {words} {net.loss} ({net.reduction}): a convention")
    after = _after_step(walk)
    if after is not None:
        yield Variant(after, "the loss on file was computed after the update, with W.after (dump the loss before it)")
    squares = sum(float(np.sum(W * W)) for W in trace.W)
    for l2 in sorted(set(walk.decays.values()) | ({net.l2} if net.l2 else set())):
        for share in (0.5, 1.0):
            words = f"the loss includes the L2 term {share:g}·λ·Σ‖W‖² (λ = {l2:.4g})"
            yield Variant(local + share * l2 * squares, words)
    for name in ("mse", "ce", "bce"):
        if name != net.loss:
            value = float(R.sample_losses(name, net.activations[-1], z, a, trace.t).sum() * walk.ref.scale)
            yield Variant(
                value, f"the loss on file is {name}, while the gradients follow {net.loss} as network.json says"
            )


def _factors(outputs: int) -> Iterator[tuple[float, str]]:
    """The missing or extra ½ of a squared error, and a mean over the outputs."""
    yield 2.0, "twice (no ½ in the squared error)"
    yield 0.5, "half"
    yield 1 / outputs, "averaged over the outputs instead of summed, else as"
    yield 2 / outputs, "the mean over the outputs without ½, else as"


def _after_step(walk: Walk) -> float | None:
    """The loss at the weights after the update (W.after, or W − lr·dW), if they are known."""
    trace = walk.trace
    lr = trace.network.lr
    a = trace.x
    for i in range(trace.network.layers):
        if i in trace.W_after and trace.W_after[i].shape == trace.parameters(i).shape:
            after = trace.W_after[i]
            W, b = B.split(after, trace.network.bias[i]) if trace.bias_inside(i) else (after, trace.b_after.get(i))
        elif lr is not None and trace.dW[i].shape == trace.parameters(i).shape:
            moved = trace.parameters(i) - abs(lr) * trace.dW[i]
            W, b = B.split(moved, trace.network.bias[i]) if trace.bias_inside(i) else (moved, None)
        else:
            return None
        if b is None or b.shape != trace.b[i].shape:
            db = trace.db[i]
            b = trace.b[i] - abs(lr or 0) * db if db is not None and db.shape == trace.b[i].shape else trace.b[i]
        values = R.layer(trace.network, i, a, W, b, _norm_after(trace, i, abs(lr or 0)))
        z, a = values.z, values.out
    return _loss_of(walk, z, values.a)


def _norm_after(trace: Trace, i: int, lr: float) -> tuple[Array, Array] | None:
    """Layer i's gamma and beta after the step (moved by their gradients where those are given), if it has a norm."""
    if i not in trace.gamma:
        return None
    moved = []
    for value, grad in ((trace.gamma[i], trace.dgamma.get(i)), (trace.beta[i], trace.dbeta.get(i))):
        moved.append(value - lr * grad if grad is not None and grad.shape == value.shape else value)
    return moved[0], moved[1]
