"""The forward half of the walk: z{i} and a{i} for every layer, from the user's own values; a normalized layer's
xhat{i} and y{i} in between (``norm_walk``)."""

from __future__ import annotations

import numpy as np

from gradwise.verify import compare as C
from gradwise.verify import hypotheses as H
from gradwise.verify import norm_walk as NW
from gradwise.verify.checker import Suspects, Walk, usable


def bias_words(walk: Walk, i: int) -> str:
    """How the user's code names layer i's bias."""
    if walk.trace.bias_inside(i):
        return f"(the {walk.trace.network.bias[i]} row of W{i}, times the constant input 1)"
    return f"b{i}"


def forward(walk: Walk) -> None:
    """z{i} against a{i-1} W{i} + b{i}, and a{i} against f(z{i}), layer by layer (with the norm before f or after)."""
    net = walk.trace.network
    for i in range(net.layers):
        _pre_activation(walk, i)
        if net.norm_before_activation(i):
            NW.forward(walk, i)
        _activation(walk, i)
        if net.norm_after_activation(i):
            NW.forward(walk, i)


def _pre_activation(walk: Walk, i: int) -> None:
    trace = walk.trace
    source, a_prev = walk.input_of(i)
    W, b = trace.W[i], trace.b[i]
    local = a_prev @ W + b
    user = trace.z.get(i)
    with np.errstate(all="ignore"):  # layer i-1's norm slips that no tensor on file showed yet
        lifted, settle = NW.lifted_hypotheses(walk.norm_lifted.pop(i - 1, []), lambda out: out @ W + b)
    if user is not None:
        plus = "" if trace.network.bias[i] == "none" else f" + {bias_words(walk, i)}"
        words = ("forward_mismatch", f"z{i} is not {source} W{i}{plus}.", f"compute z{i} = {source} W{i}{plus}.")
        # A norm's output carries the rounding of its mean and variance: on the scale of y{i-1}'s own.
        magnitude = C.magnitude_of_product(a_prev, W) + C.norm(b) + walk.y_magnitude.get(i - 1, 0.0) * C.norm(W)

        def slips() -> list[H.Hypothesis]:
            overwritten = H.z_overwritten(local, trace.network.activations[i], i)
            return H.forward_z(a_prev, W, b, i, bias_words(walk, i), source) + overwritten + lifted

        outcome = walk.check(
            f"z{i}", i, user, walk.ref.z[i], local, magnitude, Suspects(slips, lambda: words), forward=True
        )
        settle(outcome)
        if outcome.accepted is not None and outcome.accepted.convention:
            user = None  # z changed in place after use: what follows is computed from the true z
    walk.z[i] = user if user is not None and usable(user, local) else local


def _activation(walk: Walk, i: int) -> None:
    net = walk.trace.network
    activation, z = net.activations[i], walk.activation_input(i)
    with np.errstate(all="ignore"):
        local = activation.forward(z)
    user = walk.trace.a.get(i)
    if user is not None:
        name, at = activation.name, f"y{i}" if net.norm_before_activation(i) else f"z{i}"
        words = ("forward_mismatch", f"a{i} is not {name}({at}).", f"compute a{i} = {name}({at}).")
        lifted, settle = NW.lifted_hypotheses(walk.norm_lifted.pop(i, []), lambda out: out)
        suspects = Suspects(lambda: H.forward_a(z, activation, i) + lifted, lambda: words)
        magnitude = C.norm(local) + walk.y_magnitude.get(i, 0.0)  # f(y) carries y's rounding, for a norm before f
        settle(walk.check(f"a{i}", i, user, walk.ref.a[i], local, magnitude, suspects, forward=True))
    walk.a[i] = user if user is not None and usable(user, local) else local
