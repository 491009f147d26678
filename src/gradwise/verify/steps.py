"""The walk's steps in data-flow order: forward (z, a), loss, backward (delta, dW, db), then the update."""

from __future__ import annotations

import numpy as np

from gradwise.verify import compare as C
from gradwise.verify import hypotheses as H
from gradwise.verify import reference as R
from gradwise.verify.checker import Array, Walk


def _usable(user: Array | None, local: Array) -> bool:
    return (
        user is not None and user.shape == local.shape and bool((user == user).all()) and bool(abs(user).max() < 1e308)
    )


def forward(walk: Walk) -> None:
    """z{i} and a{i} for every layer, against a{i-1} W{i} + b{i} and f(z{i}) from the user's own values."""
    for i in range(walk.trace.network.layers):
        _forward_layer(walk, i)


def _forward_layer(walk: Walk, i: int) -> None:
    trace = walk.trace
    activation = trace.network.activations[i]
    a_prev, source = (trace.x, "x") if i == 0 else (walk.a[i - 1], f"a{i - 1}")
    W, b = trace.W[i], trace.b[i]
    local_z = a_prev @ W + b
    user_z = trace.z.get(i)
    if user_z is not None:
        walk.check(
            f"z{i}", i, user_z, walk.ref.z[i], local_z, C.magnitude_of_product(a_prev, W) + C.norm(b),
            lambda: H.forward_z(a_prev, W, b, i),
            lambda: ("forward_mismatch", f"z{i} is not {source} W{i} + b{i}.", f"compute z{i} = {source} W{i} + b{i}."),
            forward=True,
        )  # fmt: skip
    z = user_z if user_z is not None and _usable(user_z, local_z) else local_z
    with np.errstate(all="ignore"):
        local_a = activation.forward(z)
    walk.z[i] = z
    user_a = trace.a.get(i)
    if user_a is not None:
        walk.check(
            f"a{i}", i, user_a, walk.ref.a[i], local_a, C.norm(local_a),
            lambda: H.forward_a(z, activation, i),
            lambda: ("forward_mismatch", f"a{i} is not {activation.name}(z{i}).", f"compute a{i} = {activation.name}(z{i})."),
            forward=True,
        )  # fmt: skip
    walk.a[i] = user_a if user_a is not None and _usable(user_a, local_a) else local_a


def loss(walk: Walk) -> None:
    """The loss value, from the user's own output."""
    trace = walk.trace
    if trace.loss is None:
        return
    net, last = trace.network, trace.network.layers - 1
    z, a, s = walk.z[last], walk.a[last], walk.ref.scale
    own_output = last in trace.a and trace.a[last].shape == a.shape  # the user's loss comes from their a
    local = R.sample_losses(net.loss, net.activations[-1], z, a, trace.t, logits=not own_output).sum() * s
    walk.check(
        "loss",
        None,
        _array(trace.loss),
        _array(walk.ref.loss),
        _array(float(local)),
        abs(float(local)),
        lambda: H.loss_value(net.loss, net.activations[-1], z, a, trace.t, s),
        lambda: _loss_fallback(walk, own_output),
    )


def _loss_fallback(walk: Walk, own_output: bool) -> tuple[str, str, str]:
    net, last = walk.trace.network, walk.trace.network.layers - 1
    if not own_output:
        walk.unknown = True  # the user's forward pass differs, unseen: their gradients follow from it
        return (
            "forward_mismatch",
            f"the loss differs from {net.loss} of the network's output: the forward pass is wrong somewhere "
            "(write z and a to the trace to see where).",
            f"check the forward pass; the loss should be {net.loss} ({net.reduction} over the batch).",
        )
    return (
        "forward_mismatch",
        f"the loss is not {net.loss} of a{last} and t.",
        f"compute {net.loss} ({net.reduction} over the batch).",
    )


def _array(value: float) -> Array:
    return np.array(value, dtype=np.float64)


def backward(walk: Walk) -> None:
    """delta{i}, dW{i}, db{i} from the last layer down to the first."""
    for i in range(walk.trace.network.layers - 1, -1, -1):
        given = _delta(walk, i)
        _weight_gradient(walk, i, given)
        _bias_gradient(walk, i)


def _delta(walk: Walk, i: int) -> bool:
    """Check delta{i} if given; leave the user's (or the local) delta in walk.delta[i]. -> whether it was given."""
    trace, net = walk.trace, walk.trace.network
    activation, z, a = net.activations[i], walk.z[i], walk.a[i]
    s, batch = walk.ref.scale, trace.batch
    if i == net.layers - 1:
        upstream = s * R.output_gradient(net.loss, a, trace.t)
        local = s * R.output_delta(net.loss, activation, z, a, trace.t)
        magnitude = C.norm(upstream) + C.norm(s * (a - trace.t))

        def hypotheses() -> list[H.Hypothesis]:
            return H.output_delta(net.loss, activation, z, a, trace.t, s, i)
    else:
        W_next, delta_next = trace.W[i + 1], walk.delta[i + 1]
        upstream = delta_next @ W_next.T
        local = R.hidden_delta(delta_next, W_next, activation, z, a)
        magnitude = C.magnitude_of_product(delta_next, abs(W_next.T))

        def hypotheses() -> list[H.Hypothesis]:
            return H.hidden_delta(
                delta_next,
                W_next,
                activation,
                z,
                a,
                i,
                W_next_after=_updated(walk, i + 1),
                upstream_next=walk.upstream.get(i + 1),
                other_weights=[(j, W) for j, W in enumerate(trace.W) if j != i + 1 and W.shape == W_next.shape],
            )

    walk.upstream[i] = upstream
    walk.delta[i] = local
    user = trace.delta.get(i)
    if user is None:
        walk.lifted[i] = hypotheses()
        return False
    scales = (1.0, float(batch)) if net.reduction == "mean" else (1.0, 1.0 / batch)
    outcome = walk.check(
        f"delta{i}", i, user, walk.ref.delta[i], local, magnitude, hypotheses,
        lambda: _delta_fallback(walk, i, user, upstream, magnitude), scales=scales,
    )  # fmt: skip
    if not _usable(user, local):
        walk.unknown = True  # misshapen: what the user propagated from it cannot be rebuilt
    else:
        walk.delta[i] = user / outcome.scale
        if outcome.scale != 1.0 and outcome.status != "wrong":
            per = "per sample (not divided by B)" if outcome.scale > 1 else "already divided by B"
            walk.note(f"the deltas are {per}; both conventions are accepted")
    return True


def _delta_fallback(walk: Walk, i: int, user: Array, upstream: Array, magnitude: float) -> tuple[str, str, str]:
    """No hypothesis fits: a local factor that is a function of z{i} is a wrong derivative, else a wrong upstream."""
    net = walk.trace.network
    factor, right = _factors(user, upstream, walk.ref.scale, net.activations[i], walk.z[i], walk.a[i])
    if factor is not None and (i == net.layers - 1 or _function_of(walk.z[i], factor)):
        with np.errstate(all="ignore"):
            ratio = np.median(factor / np.where(right == 0, np.nan, right)) if np.any(right) else float("nan")
        return (
            "wrong_derivative",
            f"delta{i} = (incoming gradient) × a local factor that matches no known form of "
            f"{net.activations[i].name}′(z{i}): the factor found is {ratio:.4g} times the right one (median).",
            f"multiply by {net.activations[i].name}′(z{i}) (gradwise's form: see docs/verify.md).",
        )
    return (
        "wrong_upstream",
        f"delta{i} is not built from delta{i + 1} through W{i + 1}ᵀ: it is not (delta{i + 1} W{i + 1}ᵀ) times any "
        "function of z.",
        f"compute delta{i} = (delta{i + 1} W{i + 1}ᵀ) ⊙ f′(z{i}).",
    )


def _factors(user, upstream, s, activation, z, a):  # type: ignore[no-untyped-def]
    """(user's local factor, the right one) where the incoming gradient is not negligible, or (None, None)."""
    if user.shape != upstream.shape:
        return None, None
    keep = np.abs(upstream) > 1e-3 * np.abs(upstream).max() if np.any(upstream) else None
    if keep is None or keep.sum() < 2:
        return None, None
    best = None
    for k in (1.0, 1.0 / s):  # the delta may be per sample
        factor = (user / k)[keep] / upstream[keep]
        if best is None or np.ptp(factor) < np.ptp(best):
            best = factor
    right = activation.backward(z, a, np.ones_like(z))[keep]
    return best, right


def _function_of(z: Array, factor: Array) -> bool:
    """Whether factor looks like one function of z: neighbours in z have close factors (not scattered)."""
    return bool(factor.size >= 4 and np.ptp(factor) >= 0 and _smooth(z, factor))


def _smooth(z: Array, factor: Array) -> bool:
    zs = z.ravel()[: factor.size] if z.size == factor.size else None
    if zs is None:
        return True
    ordered = factor[np.argsort(zs, kind="stable")]
    spread = float(np.ptp(ordered))
    return spread == 0 or float(np.median(np.abs(np.diff(ordered)))) <= 0.15 * spread


def _updated(walk: Walk, j: int) -> Array | None:
    """W{j} after this step, as the user has it (W{j}.after, or W{j} − lr dW{j}), if known."""
    trace = walk.trace
    if j in trace.W_after:
        return trace.W_after[j]
    lr = trace.network.lr
    if lr is None:
        return None
    dW = trace.dW[j] if trace.dW[j].shape == trace.W[j].shape else walk.ref.dW[j]
    return trace.W[j] - abs(lr) * dW


def _weight_gradient(walk: Walk, i: int, delta_given: bool) -> None:
    trace = walk.trace
    delta = walk.delta[i]
    a_prev = trace.x if i == 0 else walk.a[i - 1]
    right = "x" if i == 0 else f"a{i - 1}"
    inputs: list[tuple[str, Array]] = [(right, a_prev)]
    if i > 0:
        inputs.append((f"z{i - 1}", walk.z[i - 1]))
        previous = trace.network.activations[i - 1]
        inputs.append((f"f′(z{i - 1})", previous.backward(walk.z[i - 1], a_prev, a_prev * 0 + 1)))
    inputs += [(f"a{i}", walk.a[i]), (f"z{i}", walk.z[i])]
    inputs += [
        ("x" if j < 0 else f"a{j}", trace.x if j < 0 else walk.a[j])
        for j in range(-1, trace.network.layers)
        if j != i - 1 and j != i
    ]
    local = R.weight_gradient(a_prev, delta)
    # On the scale of the incoming gradient: a saturated layer's dW is 0 within round-off, as its delta is.
    magnitude = C.magnitude_of_product(abs(a_prev.T), abs(walk.upstream[i]))
    lifted = {id(h): h for h in walk.lifted.get(i, [])} if not delta_given else {}

    def hypotheses() -> list[H.Hypothesis]:
        found = H.weight_gradient(delta, inputs, right, i)
        for key, h in lifted.items():
            found.append(
                H.Hypothesis(
                    h.kind,
                    R.weight_gradient(a_prev, h.candidate),
                    h.explanation.replace(f"delta{i}", f"dW{i}'s delta{i}", 1),
                    h.fix,
                    h.scales,
                )
            )
            walk.lift_source[id(found[-1])] = key
        return found

    def fallback() -> tuple[str, str, str]:
        bias_right = C.matches(trace.db[i], R.bias_gradient(delta), C.norm(abs(walk.upstream[i]).sum(axis=0)))
        if bias_right or delta_given:
            return (
                "wrong_input_in_weight_gradient",
                f"db{i} is right, so delta{i} is: dW{i} = {right}ᵀ delta{i} is built from something other than {right}.",
                f"use dW{i} = {right}ᵀ delta{i}.",
            )
        walk.unknown = (
            True  # delta{i} is wrong in a way no hypothesis names, and not given: later tensors cannot be judged
        )
        return (
            "wrong_upstream",
            f"dW{i} and db{i} both differ, so delta{i} is wrong, and it matches no known slip.",
            f"write delta{i} to the trace to see how it goes wrong; it should be (delta{i + 1} W{i + 1}ᵀ) ⊙ f′(z{i}).",
        )

    outcome = walk.check(
        f"dW{i}",
        i,
        trace.dW[i],
        walk.ref.dW[i],
        local,
        magnitude,
        hypotheses,
        fallback,
    )
    source = walk.lift_source.get(id(outcome.accepted)) if outcome.accepted is not None else None
    if source is not None:
        walk.delta[i] = lifted[source].candidate  # the user's delta, now known: what the next layers inherit


def _bias_gradient(walk: Walk, i: int) -> None:
    trace = walk.trace
    delta = walk.delta[i]
    walk.check(
        f"db{i}", i, trace.db[i], walk.ref.db[i], R.bias_gradient(delta), C.norm(abs(walk.upstream[i]).sum(axis=0)),
        lambda: H.bias_gradient(delta, trace.network.reduction, trace.batch, i),
        lambda: ("bias_reduction", f"db{i} is not the sum of delta{i} over the batch.", f"use db{i} = the sum of delta{i} over the samples."),
    )  # fmt: skip


def update(walk: Walk) -> None:
    """W{i}.after and b{i}.after against W − lr dW, with the user's own dW."""
    trace = walk.trace
    lr = trace.network.lr
    given = [
        (f"{p}{i}", i, p)
        for i in range(trace.network.layers)
        for p in ("W", "b")
        if i in (trace.W_after if p == "W" else trace.b_after)
    ]
    if not given:
        return
    if lr is None:
        walk.note("network.json has no lr, so the .after tensors were not checked")
        for name, _, _ in given:
            walk.skip(f"{name}.after")
        return
    if lr < 0:
        walk.note(f"lr is negative ({lr:g}): read as W.after = W + lr·dW, the seed's convention")
    step = abs(lr)
    for name, i, p in given:
        before = trace.W[i] if p == "W" else trace.b[i]
        after = (trace.W_after if p == "W" else trace.b_after)[i]
        grad = trace.dW[i] if p == "W" else trace.db[i]
        ref_grad = walk.ref.dW[i] if p == "W" else walk.ref.db[i]
        grad = grad if grad.shape == before.shape else ref_grad
        _update_one(walk, f"{name}.after", i, after - before, -step * ref_grad, -step * grad, C.norm(before), step)


def _update_one(
    walk: Walk, name: str, i: int, moved: Array, ref_step: Array, local_step: Array, magnitude: float, lr: float
) -> None:
    """The step the user took (after − before) against −lr·grad."""
    grad = -local_step / lr
    base = name.split(".")[0]
    g = f"d{base}"

    def hypotheses() -> list[H.Hypothesis]:
        found = [
            H.Hypothesis(
                "update",
                -local_step,
                f"{name} is {base} + lr·{g}: the update goes uphill.",
                f"subtract: {base} − lr·{g}.",
            ),
            H.Hypothesis(
                "update",
                0 * local_step,
                f"{name} equals {base}: the update was not applied.",
                f"assign {base} − lr·{g} back to {base}.",
            ),
            H.Hypothesis(
                "update",
                2 * local_step,
                f"{name} is {base} − 2·lr·{g}: the update was applied twice.",
                "apply each update once.",
            ),
        ]
        rate = C.fitted_scale(moved, -grad)
        if rate is not None:
            found.append(
                H.Hypothesis(
                    "update",
                    -rate * grad,
                    f"{name} was updated with rate {rate:.4g}, not lr = {lr:g}.",
                    f"use lr = {lr:g}, or correct lr in network.json.",
                )
            )
        return found

    walk.check(name, i, moved, ref_step, local_step, magnitude, hypotheses,
               lambda: ("update", f"{name} is not {base} − lr·{g}.", f"set {name} = {base} − lr·{g}."))  # fmt: skip
