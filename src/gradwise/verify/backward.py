"""The backward half of the walk, from the last layer down: delta{i}, dW{i}, db{i}.

A delta the user did not write is still tested, through dW: each delta hypothesis is pushed through
a{i-1}ᵀ · and compared with dW{i}, and an accepted one becomes the user's delta for the layers below.
A bias inside W is checked as part of dW{i}, the whole augmented matrix; a layer without bias has no db{i}.
A normalized layer's delta{i} goes through the norm's backward, and its dgamma{i} and dbeta{i} follow delta{i}
(``norm_walk``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from gradwise.verify import bias as B
from gradwise.verify import compare as C
from gradwise.verify import hypotheses as H
from gradwise.verify import norm_walk as NW
from gradwise.verify import reference as R
from gradwise.verify.checker import Array, Decay, Suspects, Walk, usable
from gradwise.verify.factor import local_factor
from gradwise.verify.network import NORM_NAMES

Parts = tuple[Array, Array, float, list[H.Hypothesis], Callable[[], list[H.Hypothesis]]]


def backward(walk: Walk) -> None:
    """delta{i}, dW{i}, db{i} for i from the last layer down to the first."""
    for i in range(walk.trace.network.layers - 1, -1, -1):
        given = _delta(walk, i)
        NW.parameters(walk, i, given)
        _weight_gradient(walk, i, given)
        _bias_gradient(walk, i)


def delta_scales(walk: Walk) -> tuple[float, ...]:
    """The conventions a delta may come in, relative to dL/dz: as it is, or per sample / already divided by B."""
    batch = float(walk.trace.batch)
    return (1.0, batch) if walk.trace.network.reduction == "mean" else (1.0, 1.0 / batch)


def _delta(walk: Walk, i: int) -> bool:
    """Check delta{i} if given, and keep the user's delta (or the local one) for what follows -> whether given."""
    trace = walk.trace
    last = i == trace.network.layers - 1
    upstream, local, magnitude, singles, pairs = _output_parts(walk, i) if last else _hidden_parts(walk, i)
    walk.upstream[i], walk.delta[i], walk.magnitude[i] = upstream, local, magnitude
    user = trace.delta.get(i)
    if user is None:
        walk.lifted[i], walk.lifted_pairs[i] = singles, pairs
        return False
    scales = delta_scales(walk)
    suspects = Suspects(lambda: singles, lambda: _delta_fallback(walk, i, user, upstream, scales), pairs)
    outcome = walk.check(f"delta{i}", i, user, walk.ref.delta[i], local, magnitude, suspects, scales=scales)
    if outcome.accepted is not None and id(outcome.accepted) in walk.dy_of.get(i, {}):
        walk.dy[i] = walk.dy_of[i][id(outcome.accepted)]  # the dL/dy{i} the user's delta was made from
    if not usable(user, local):
        walk.unknown = True  # misshapen or non-finite: what the user propagated from it cannot be rebuilt
        return True
    scale = outcome.scale
    if outcome.status == "wrong" and outcome.accepted is None:  # a delta of no known form: which convention?
        scale = walk.met.delta_scale if walk.met.delta_scale is not None else _scale_from_dW(walk, i, user, scales)
    walk.delta[i] = user / scale
    if scale in scales and outcome.status != "wrong":
        if walk.met.delta_scale is None:
            walk.met.delta_scale = scale
            walk.met.deltas = "dL/dz" if scale == 1 else "per sample" if scale > 1 else "already divided by B"
        if scale != 1.0:
            per = "per sample (not divided by B)" if scale > 1 else "already divided by B"
            walk.note(f"the deltas are {per}; both conventions are accepted")
    return True


def _output_parts(walk: Walk, i: int) -> Parts:
    """(dL/da, the local delta, its magnitude, single slips, pairs) of the output layer."""
    trace, net = walk.trace, walk.trace.network
    activation, z, a, s = net.activations[i], walk.z[i], walk.a[i], walk.ref.scale
    upstream = s * R.output_gradient(net.loss, a, trace.t)
    local = s * R.output_delta(net.loss, activation, z, a, trace.t)
    magnitude = s * (C.norm(a) + C.norm(trace.t))  # a − t cancels near the target; a float32 a is rounded
    return upstream, local, magnitude, H.output_delta(net.loss, activation, z, a, trace.t, s, i), list


def _hidden_parts(walk: Walk, i: int) -> Parts:
    """(dL/da, the local delta, its magnitude, single slips, pairs) of a hidden layer, through its norm if any."""
    trace, net = walk.trace, walk.trace.network
    activation, z, a = net.activations[i], walk.activation_input(i), walk.a[i]
    W_next, delta_next = trace.W[i + 1], walk.delta[i + 1]
    upstream = delta_next @ W_next.T
    # The incoming gradient's own rounding, carried down through W (a Frobenius-norm bound).
    magnitude = max(walk.magnitude[i + 1], C.norm(delta_next)) * C.norm(W_next)
    norm = NW.link(walk, i, upstream, magnitude)
    if norm is None:
        local = R.hidden_delta(delta_next, W_next, activation, z, a)
    else:
        upstream, local, magnitude = norm.upstream, norm.local, norm.magnitude
    others = [(j, W) for j, W in enumerate(trace.W) if j != i + 1 and W.shape == W_next.shape]
    layers = [(j, net.activations[j], walk.activation_input(j), walk.a[j]) for j in range(net.layers)]
    as_wide = [layer for layer in layers if layer[0] != i and layer[2].shape == z.shape]
    dy_of = walk.dy_of.setdefault(i, {}) if norm is not None else None

    def variants(slips_made: int) -> list[H.Hypothesis]:
        return H.hidden_delta(
            delta_next, W_next, activation, z, a, i, W_next_after=_updated(walk, i + 1),
            upstream_next=walk.upstream.get(i + 1), other_weights=others, other_layers=as_wide,
            slips_made=slips_made, norm=norm.backward if norm is not None else None, dy_of=dy_of,
        )  # fmt: skip

    def pairs() -> list[H.Hypothesis]:  # many more, and only wanted when no single slip fits
        return variants(2)

    return upstream, local, magnitude, variants(1), pairs


def _scale_from_dW(walk: Walk, i: int, user: Array, scales: tuple[float, ...]) -> float:
    """The delta convention under which the user's own dW{i} follows from their delta{i} (1 when none does): the
    layers below are then judged from what the user propagated, not from a guess."""
    trace = walk.trace
    a_prev = walk.input_of(i)[1]
    for k in scales:
        delta = user / k
        if walk.tol.matches(trace.dW[i], trace.gradient_of(i, a_prev.T @ delta, delta.sum(axis=0))):
            return k
    return 1.0


def _delta_fallback(
    walk: Walk, i: int, user: Array, upstream: Array, scales: tuple[float, ...]
) -> tuple[str, str, str]:
    """No known form fits: a local factor that is a function of z{i} is a wrong derivative; a factor that is not
    (for a hidden layer) a wrong incoming gradient; otherwise no part is blamed."""
    activation = walk.trace.network.activations[i]
    if walk.trace.network.norm_before_activation(i):  # the norm's backward follows f′: no element-wise factor left
        return _unexplained(walk, i)
    # Softmax's Jacobian is no element-wise factor: a local factor says nothing about it.
    factor = (
        None if activation.name == "softmax" else local_factor(user, upstream, scales, activation, walk.z[i], walk.a[i])
    )
    output = i == walk.trace.network.layers - 1
    # A factor equal to f′ wherever the incoming gradient is not 0 is no wrong derivative, whatever else differs.
    if factor is not None and factor.is_wrong() and factor.is_function_of_z():
        return (
            "wrong_derivative",
            f"delta{i} is the incoming gradient times a local factor that matches no known form of "
            f"{activation.name}′(z{i}): the factor found is {factor.describe()}.",
            f"multiply the incoming gradient by {activation.name}′(z{i}) (docs/verify.md lists the forms).",
        )
    if factor is not None and not output and not factor.is_function_of_z():
        return (
            "wrong_upstream",
            f"delta{i} is not built from delta{i + 1} through W{i + 1}ᵀ: it is not (delta{i + 1} W{i + 1}ᵀ) times "
            f"any function of z{i}.",
            f"compute delta{i} = (delta{i + 1} W{i + 1}ᵀ) ⊙ f′(z{i}).",
        )
    return _unexplained(walk, i)


def _unexplained(walk: Walk, i: int) -> tuple[str, str, str]:
    net = walk.trace.network
    output = i == net.layers - 1
    right = (
        "dE/da ⊙ f′(z) (a − t for softmax with ce or sigmoid with bce)"
        if output
        else (f"(delta{i + 1} W{i + 1}ᵀ) ⊙ f′(z{i})")
    )
    if net.norm_before_activation(i):
        right = f"the {NORM_NAMES[net.norm_of(i)]} backward of (delta{i + 1} W{i + 1}ᵀ) ⊙ f′(y{i})"
    elif net.norm_after_activation(i):
        right = f"(the {NORM_NAMES[net.norm_of(i)]} backward of delta{i + 1} W{i + 1}ᵀ) ⊙ f′(z{i})"
    return (
        "unexplained",
        f"delta{i} is wrong, and matches no known form: no single known slip, no slip times a constant and no two "
        "slips together reproduce it, so no part of it can be blamed.",
        f"compute delta{i} = {right}, term by term against the trace's other tensors.",
    )


def _updated(walk: Walk, j: int) -> Array | None:
    """W{j} after this step, as the user has it (W{j}.after, or W{j} − lr·dW{j}), if known."""
    trace = walk.trace
    after = trace.weights_after(j)
    if after is not None:
        return after
    if trace.network.lr is None:
        return None
    dW = (
        trace.dW[j]
        if trace.dW[j].shape == trace.parameters(j).shape
        else trace.gradient_of(j, walk.ref.dW[j], walk.ref.db[j])
    )
    moved = trace.parameters(j) - abs(trace.network.lr) * dW
    return B.split(moved, trace.network.bias[j])[0] if trace.bias_inside(j) else moved


def _gradient_inputs(walk: Walk, i: int) -> list[tuple[str, Array]]:
    """What dW{i} may have been built from: the right input first, then z, the derivative, other layers."""
    trace, net = walk.trace, walk.trace.network
    inputs: list[tuple[str, Array]] = [walk.input_of(i)]
    if i > 0:
        previous = net.activations[i - 1]
        z_prev, a_prev, at = walk.z[i - 1], walk.a[i - 1], walk.activation_input(i - 1)
        at_name = f"y{i - 1}" if net.norm_before_activation(i - 1) else f"z{i - 1}"
        inputs += [(f"z{i - 1}", z_prev), (f"f′({at_name})", previous.backward(at, a_prev, np.ones_like(a_prev)))]
        if net.norm_after_activation(i - 1):  # the norm's input, or its normalized value, in place of its output
            inputs += [(f"a{i - 1}", a_prev), (f"xhat{i - 1}", walk.xhat[i - 1])]
    inputs += [(f"a{i}", walk.a[i]), (f"z{i}", walk.z[i])]
    inputs += [("x", trace.x)] if i > 0 else []
    inputs += [(f"a{j}", walk.a[j]) for j in range(trace.network.layers) if j not in (i - 1, i)]
    return inputs


def _weight_gradient(walk: Walk, i: int, delta_given: bool) -> None:
    trace, delta = walk.trace, walk.delta[i]
    inputs = _gradient_inputs(walk, i)
    right, a_prev = inputs[0]
    # On the scale of the incoming gradient: a saturated layer's dW is 0 within round-off, as its delta is.
    magnitude = (C.norm(a_prev) + math.sqrt(trace.batch) * trace.bias_inside(i)) * walk.magnitude[i]
    walk.step_magnitude[f"W{i}"] = magnitude

    def lay(dW: Array, d: Array) -> Array:
        return trace.gradient_of(i, dW, R.bias_gradient(d))

    lifted = [] if delta_given else walk.lifted.get(i, [])
    lifted_pairs = list if delta_given else walk.lifted_pairs.get(i, list)
    own_singles, own_pairs = H.weight_gradient(delta, inputs, right, i, lay)
    delta_of: dict[int, Array] = {}  # a pushed hypothesis (by id) -> the delta it assumes the user had

    def pairs() -> list[H.Hypothesis]:
        with_own = H.through_weight_gradient(lifted, inputs, right, i, lay, delta_of, with_own_slip=True)
        return own_pairs + with_own + H.through_weight_gradient(lifted_pairs(), inputs, right, i, lay, delta_of)

    pushed = H.through_weight_gradient(lifted, inputs, right, i, lay, delta_of)
    suspects = Suspects(
        lambda: own_singles + pushed, lambda: _weight_fallback(walk, i, right, a_prev, delta_given), pairs
    )
    ref = trace.gradient_of(i, walk.ref.dW[i], walk.ref.db[i])
    outcome = walk.check(
        f"dW{i}", i, trace.dW[i], ref, lay(R.weight_gradient(a_prev, delta), delta), magnitude, suspects,
        decay=_decay(walk, i),
    )  # fmt: skip
    if outcome.accepted is not None and id(outcome.accepted) in delta_of:
        walk.delta[i] = delta_of[id(outcome.accepted)]  # the user's delta, now known: what the layers below inherit


def _decay(walk: Walk, i: int) -> Decay:
    """L2 that may sit inside dW{i}: λ·W (declared or fitted), or its transpose for a transposed gradient; for a
    bias inside W, with or without its row."""
    trace = walk.trace
    if trace.bias_inside(i):
        weights_only = trace.gradient_of(i, trace.W[i], np.zeros_like(trace.b[i]))
        parameters: tuple[Array, ...] = (weights_only, trace.parameters(i), weights_only.T, trace.parameters(i).T)
    else:
        parameters = (trace.W[i], trace.W[i].T)
    return Decay(parameters, trace.network.l2)


def known_l2(walk: Walk) -> float:
    """The L2 coefficient inside the weight gradients: declared, or found in a layer checked before; else 0."""
    found = [c for name, c in walk.decays.items() if name.startswith("dW")]
    return walk.trace.network.l2 or (found[0] if found else 0.0)


def _weight_fallback(walk: Walk, i: int, right: str, a_prev: Array, delta_given: bool) -> tuple[str, str, str]:
    """No hypothesis fits dW{i}. A delta shown right (given, or by its sum in the bias gradient) means a wrong input;
    a delta given while the bias gradient is off too means dW and db are both off, which no slip here explains;
    an unseen delta is solved from dW, if it can be, and judged like a given one."""
    trace = walk.trace
    db = trace.db[i] if trace.db[i] is not None else _bias_row(walk, i)
    bias_scale = walk.magnitude[i] * trace.batch**0.5
    right_sum = db is not None and walk.tol.matches(db, R.bias_gradient(walk.delta[i]), bias_scale)
    if right_sum or (delta_given and db is None):
        shown = "its sum over the batch matches" if right_sum else f"delta{i} on file is checked"
        return (
            "wrong_input_in_weight_gradient",
            f"delta{i} is right ({shown}), but dW{i} is not {right}ᵀ delta{i} nor any other input's.",
            f"use dW{i} = {right}ᵀ delta{i}.",
        )
    if delta_given:
        return (
            "unexplained",
            f"dW{i} and the bias gradient both differ from what delta{i} on file gives, and no known slip explains "
            "them (gradients accumulated over steps and never reset?).",
            f"compute dW{i} = {right}ᵀ delta{i} and the bias gradient = the sum of delta{i}, from zero each step.",
        )
    weights_part = B.split(trace.dW[i], trace.network.bias[i])[0] if trace.bias_inside(i) else trace.dW[i]
    recovered = recovered_delta(walk, a_prev, weights_part - known_l2(walk) * trace.W[i], db)
    if recovered is None:
        walk.unknown = True  # delta{i} is wrong, unseen and unexplained: the layers below cannot be judged
        if i == trace.network.layers - 1:
            return _unexplained(walk, i)
        differ = f"dW{i} differs" if db is None else f"dW{i} and the bias gradient both differ"
        return (
            "wrong_upstream",
            f"{differ}, so delta{i} is wrong, and it matches no known slip.",
            f"write delta{i} to the trace to see how it goes wrong; it should be (delta{i + 1} W{i + 1}ᵀ) ⊙ f′(z{i}).",
        )
    walk.delta[i] = recovered  # the user's own delta, solved from dW and db: what the layers below inherit
    kind, why, fix = _delta_fallback(walk, i, recovered, walk.upstream[i], (1.0,))
    return kind, f"{why} (delta{i} solved from dW{i} = {right}ᵀ delta{i} and its bias gradient)", fix


def _bias_row(walk: Walk, i: int) -> Array | None:
    """The bias part of a dW{i} that holds the bias inside, if it has the augmented shape."""
    trace = walk.trace
    if not trace.bias_inside(i) or trace.dW[i].shape != trace.parameters(i).shape:
        return None
    return B.split(trace.dW[i], trace.network.bias[i])[1]


def recovered_delta(walk: Walk, a_prev: Array, dW: Array, db: Array | None) -> Array | None:
    """The delta (B, n_out) that gives dW = a_prevᵀ delta (and db = its sum, if the layer has a bias), when
    a_prev determines it; else None.

    With B <= n_in samples of independent inputs, a_prevᵀ has full column rank and delta is the unique solution.
    """
    batch, n_in = a_prev.shape
    if dW.ndim != 2 or dW.shape[0] != n_in or (db is not None and dW.shape[1] != db.size) or batch > n_in:
        return None
    solved = C.least_squares(a_prev.T, dW)
    if solved is None:
        return None
    delta, rank = solved
    if rank < batch or not walk.tol.matches(a_prev.T @ delta, dW):
        return None
    if db is not None and not walk.tol.matches(delta.sum(axis=0), db.reshape(-1), C.norm(delta)):
        return None
    return delta


def _bias_gradient(walk: Walk, i: int) -> None:
    trace, delta = walk.trace, walk.delta[i]
    db = trace.db[i]
    if db is None:
        return  # no bias, or a bias inside W, checked with dW{i}
    words = (
        "bias_reduction",
        f"db{i} is not the sum of delta{i} over the batch.",
        f"use db{i} = the sum of delta{i} over the samples.",
    )
    magnitude = walk.magnitude[i] * trace.batch**0.5
    walk.step_magnitude[f"b{i}"] = magnitude
    suspects = Suspects(lambda: H.bias_gradient(delta, trace.network.reduction, trace.batch, i), lambda: words)
    # Biases are rarely decayed: only with the λ declared or found in this layer's dW, never one fitted to db.
    known = trace.network.l2 or walk.decays.get(f"dW{i}")
    decay = Decay((trace.b[i],), known) if known else None
    walk.check(f"db{i}", i, db, walk.ref.db[i], R.bias_gradient(delta), magnitude, suspects, decay=decay)
