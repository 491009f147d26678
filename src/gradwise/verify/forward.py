"""The forward half of the walk: z{i} and a{i} for every layer, then the loss, from the user's own values."""

from __future__ import annotations

import numpy as np

from gradwise.verify import compare as C
from gradwise.verify import hypotheses as H
from gradwise.verify import reference as R
from gradwise.verify.checker import Array, Walk


def usable(user: Array | None, local: Array) -> bool:
    """The user's tensor can stand in for the local one downstream: given, same shape, finite."""
    return user is not None and user.shape == local.shape and bool(np.isfinite(user).all())


def forward(walk: Walk) -> None:
    """z{i} against a{i-1} W{i} + b{i}, and a{i} against f(z{i}), layer by layer."""
    for i in range(walk.trace.network.layers):
        _pre_activation(walk, i)
        _activation(walk, i)


def _pre_activation(walk: Walk, i: int) -> None:
    trace = walk.trace
    a_prev, source = (trace.x, "x") if i == 0 else (walk.a[i - 1], f"a{i - 1}")
    W, b = trace.W[i], trace.b[i]
    local = a_prev @ W + b
    user = trace.z.get(i)
    if user is not None:
        words = ("forward_mismatch", f"z{i} is not {source} W{i} + b{i}.", f"compute z{i} = {source} W{i} + b{i}.")
        magnitude = C.magnitude_of_product(a_prev, W) + C.norm(b)
        hypotheses = H.forward_z(a_prev, W, b, i)
        walk.check(f"z{i}", i, user, walk.ref.z[i], local, magnitude, lambda: hypotheses, lambda: words, forward=True)
    walk.z[i] = user if user is not None and usable(user, local) else local


def _activation(walk: Walk, i: int) -> None:
    activation, z = walk.trace.network.activations[i], walk.z[i]
    with np.errstate(all="ignore"):
        local = activation.forward(z)
    user = walk.trace.a.get(i)
    if user is not None:
        name = activation.name
        words = ("forward_mismatch", f"a{i} is not {name}(z{i}).", f"compute a{i} = {name}(z{i}).")
        walk.check(
            f"a{i}", i, user, walk.ref.a[i], local, C.norm(local),
            lambda: H.forward_a(z, activation, i), lambda: words, forward=True,
        )  # fmt: skip
    walk.a[i] = user if user is not None and usable(user, local) else local


def loss(walk: Walk) -> None:
    """The loss value, against the declared loss of the user's own output."""
    trace = walk.trace
    if trace.loss is None:
        return
    net, last = trace.network, trace.network.layers - 1
    z, a, s = walk.z[last], walk.a[last], walk.ref.scale
    own_output = last in trace.a and trace.a[last].shape == a.shape  # then the user's loss comes from their a
    local = float(R.sample_losses(net.loss, net.activations[-1], z, a, trace.t, logits=not own_output).sum() * s)
    # A float32 log or square is rounded about 1e-7 per output and sample, whatever the loss's own size.
    magnitude = abs(local) + net.sizes[-1] * trace.batch * s
    reference = walk.ref.loss
    clipped = _clipped_loss(walk, trace.loss, magnitude)
    if clipped is not None:  # a log kept away from 0 is a safeguard, not a bug: compare with that loss
        epsilon, local = clipped
        reference = local
        walk.note(f"the loss clips probabilities to [{epsilon:g}, 1 − {epsilon:g}] before the log")
    walk.check(
        "loss", None, _scalar(trace.loss), _scalar(reference), _scalar(local), magnitude,
        lambda: H.loss_value(net.loss, net.activations[-1], z, a, trace.t, s),
        lambda: _loss_fallback(walk, own_output),
    )  # fmt: skip


CLIPS = (1e-7, float(np.finfo(np.float32).eps), 1e-8, 1e-10, 1e-12, 1e-15)  # what Keras, PyTorch, sklearn use


def _clipped_loss(walk: Walk, value: float, magnitude: float) -> tuple[float, float] | None:
    """(epsilon, loss) when the user's log-loss matches a clipped one and not the exact one; else None."""
    trace, net = walk.trace, walk.trace.network
    last = net.layers - 1
    exact = R.sample_losses(net.loss, net.activations[-1], walk.z[last], walk.a[last], trace.t).sum()
    if net.loss == "mse" or C.matches(_scalar(value), _scalar(exact * walk.ref.scale), magnitude):
        return None
    for epsilon in CLIPS:
        a = np.clip(walk.a[last], epsilon, 1 - epsilon)
        clipped = float(R.sample_losses(net.loss, net.activations[-1], walk.z[last], a, trace.t, logits=False).sum())
        if C.matches(_scalar(value), _scalar(clipped * walk.ref.scale), magnitude):
            return epsilon, clipped * walk.ref.scale
    return None


def _loss_fallback(walk: Walk, own_output: bool) -> tuple[str, str, str]:
    net, last = walk.trace.network, walk.trace.network.layers - 1
    should = f"{net.loss} ({net.reduction} over the batch)"
    if own_output:
        return "forward_mismatch", f"the loss is not {net.loss} of a{last} and t.", f"compute {should}."
    walk.unknown = True  # the user's forward pass differs, unseen: their gradients follow from it
    return (
        "forward_mismatch",
        f"the loss differs from {net.loss} of the network's output: the forward pass is wrong somewhere "
        "(write z and a to the trace to see where).",
        f"check the forward pass; the loss should be {should}.",
    )


def _scalar(value: float) -> Array:
    return np.array(value, dtype=np.float64)
