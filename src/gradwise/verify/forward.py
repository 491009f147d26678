"""The forward half of the walk: z{i} and a{i} for every layer, from the user's own values."""

from __future__ import annotations

import numpy as np

from gradwise.verify import compare as C
from gradwise.verify import hypotheses as H
from gradwise.verify.checker import Array, Suspects, Walk


def usable(user: Array | None, local: Array) -> bool:
    """The user's tensor can stand in for the local one downstream: given, same shape, finite."""
    return user is not None and user.shape == local.shape and bool(np.isfinite(user).all())


def bias_words(walk: Walk, i: int) -> str:
    """How the user's code names layer i's bias."""
    if walk.trace.bias_inside(i):
        return f"(the {walk.trace.network.bias[i]} row of W{i}, times the constant input 1)"
    return f"b{i}"


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
        plus = "" if trace.network.bias[i] == "none" else f" + {bias_words(walk, i)}"
        words = ("forward_mismatch", f"z{i} is not {source} W{i}{plus}.", f"compute z{i} = {source} W{i}{plus}.")
        magnitude = C.magnitude_of_product(a_prev, W) + C.norm(b)

        def slips() -> list[H.Hypothesis]:
            overwritten = H.z_overwritten(local, trace.network.activations[i], i)
            return H.forward_z(a_prev, W, b, i, bias_words(walk, i)) + overwritten

        outcome = walk.check(
            f"z{i}", i, user, walk.ref.z[i], local, magnitude, Suspects(slips, lambda: words), forward=True
        )
        if outcome.accepted is not None and outcome.accepted.convention:
            user = None  # z changed in place after use: what follows is computed from the true z
    walk.z[i] = user if user is not None and usable(user, local) else local


def _activation(walk: Walk, i: int) -> None:
    activation, z = walk.trace.network.activations[i], walk.z[i]
    with np.errstate(all="ignore"):
        local = activation.forward(z)
    user = walk.trace.a.get(i)
    if user is not None:
        name = activation.name
        words = ("forward_mismatch", f"a{i} is not {name}(z{i}).", f"compute a{i} = {name}(z{i}).")
        suspects = Suspects(lambda: H.forward_a(z, activation, i), lambda: words)
        walk.check(f"a{i}", i, user, walk.ref.a[i], local, C.norm(local), suspects, forward=True)
    walk.a[i] = user if user is not None and usable(user, local) else local
