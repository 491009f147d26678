# mypy: disable-error-code="no-any-return"
# (numpy's stubs type most array expressions as Any; every function here returns an array.)
"""The walk through a normalization layer (see ``verify.norm``): xhat{i} and y{i} on the way forward; on the way
back the norm's backward inside delta{i}, then dgamma{i} and dbeta{i}.

The local references use the user's own values: their z{i} (or a{i}), their xhat{i} and y{i} when given, and the
std their xhat divides by. A slip in the norm's forward that no tensor on file shows yet (no xhat{i}, no y{i}) is
carried to the next tensor that is given, a{i} or z{i+1}, and named there; once a slip is accepted, the walk goes on
with the values it gives, so that the backward, computed by the user from those values, is judged against them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradwise.verify import compare as C
from gradwise.verify import hypotheses as H
from gradwise.verify import norm_hypotheses as NH
from gradwise.verify import reference as R
from gradwise.verify.checker import Array, Decay, Lifted, Outcome, Suspects, Walk, usable

Adopt = Callable[[], None]
CANCELLATION_CAP = 1e4  # E[v²] − E[v]² in float32 with |mean| up to 100 std; 16 u times it is 10 times the tolerance


def forward(walk: Walk, i: int) -> None:
    """xhat{i} and y{i}, if given, against the norm of the user's z{i} (or a{i}); what neither shows is lifted."""
    trace, net = walk.trace, walk.trace.network
    kind, (source, v) = net.norm_of(i), _source(walk, i)
    walk.xhat[i], walk.std[i] = R.normalize(kind, v, net.eps or 0.0)
    size = _size(kind, v, walk.std[i])
    walk.xhat_size[i] = size  # the worst the user's rounding can be, unless their xhat shows it
    slips = NH.forward_slips(kind, v, net.eps or 0.0, i, source)

    def take(x: Array, s: Array) -> Adopt:
        def adopt() -> None:
            walk.xhat[i], walk.std[i] = x, s

        return adopt

    user, local = trace.xhat.get(i), walk.xhat[i]
    if user is not None:
        words = (
            "forward_mismatch",
            f"xhat{i} is not the {NH.NAMES[kind]} normalization of {source}.",
            f"compute xhat{i} = ({source} − mean) / sqrt(var + eps) over {NH.OVER[kind]}, the variance biased.",
        )
        variants = [(slip, x, take(x, s)) for slip, x, s in slips]
        outcome = _check(walk, f"xhat{i}", i, (user, walk.ref.xhat[i], local), C.norm(size), variants, words)
        if outcome.accepted is None and usable(user, local):
            walk.xhat[i] = user
        if usable(user, local):  # their own xhat: its rounding is what it differs by, not the worst it could be
            known = outcome.accepted is not None or outcome.status != "wrong"  # else the difference is a slip
            measured = np.abs(user - walk.xhat[i] if outcome.accepted is not None else user - local) if known else 0.0
            walk.xhat_size[i] = _size(kind, v, walk.std[i], cancels=False) + measured / walk.tol.noise(1.0)
        slips = []
    gamma, beta, xhat = trace.gamma[i], trace.beta[i], walk.xhat[i]
    walk.y_magnitude[i] = C.norm(np.abs(gamma) * size + np.abs(beta))
    lifted = [(slip, R.scale_shift(x, gamma, beta), take(x, s)) for slip, x, s in slips]
    lifted += [(slip, y, take(xhat, walk.std[i])) for slip, y in NH.affine_slips(xhat, gamma, beta, i)]
    user, local = trace.y.get(i), R.scale_shift(xhat, gamma, beta)
    walk.y[i] = local
    if user is not None:
        right = f"gamma{i} ⊙ xhat{i} + beta{i}"
        words = ("forward_mismatch", f"y{i} is not {right}.", f"compute y{i} = {right}.")
        _check(walk, f"y{i}", i, (user, walk.ref.y[i], local), walk.y_magnitude[i], lifted, words)
        walk.y[i] = user if usable(user, local) else R.scale_shift(walk.xhat[i], gamma, beta)
        lifted = []
    walk.norm_lifted[i] = [_lifted(walk, i, slip, value, adopt) for slip, value, adopt in lifted]


def _source(walk: Walk, i: int) -> tuple[str, Array]:
    """What layer i normalizes: z{i} before the activation, a{i} after it."""
    return (f"z{i}", walk.z[i]) if walk.trace.network.norm_at == "pre" else (f"a{i}", walk.a[i])


def _size(kind: str, v: Array, std: Array, *, cancels: bool = True) -> Array:
    """xhat's entries as large as they would be without cancellation: v and its mean apart, over std; and xhat
    times the variance's own cancellation, (mean² + var) / var, where it may be computed as E[v²] − E[v]². That
    factor is capped: beyond it, float32 rounding alone is far above the tolerance (no slip can be seen there), and
    one nearly constant unit must not hide a slip in all the others."""
    mean = v.mean(axis=R.NORM_AXIS[kind], keepdims=True)
    with np.errstate(all="ignore"):
        factor = np.minimum(1 + mean**2 / std**2, CANCELLATION_CAP) if cancels else 1.0
        return (np.abs(v) + np.abs(mean)) / std + np.abs(v - mean) / std * factor


def _lifted(walk: Walk, i: int, slip: H.Slip, y: Array, adopt: Adopt) -> Lifted:
    """A norm slip as it reaches the layer's output: f(y) for a norm before the activation, y itself after it."""
    net = walk.trace.network
    if net.norm_at == "pre":
        with np.errstate(all="ignore"):
            a = net.activations[i].forward(y)

        def take() -> None:
            adopt()
            walk.y[i], walk.a[i] = y, a

        return slip, a, take

    def take_y() -> None:
        adopt()
        walk.y[i] = y

    return slip, y, take_y


def _check(
    walk: Walk,
    name: str,
    i: int,
    values: tuple[Array, Array, Array],
    magnitude: float,
    variants: list[Lifted],
    words: tuple[str, str, str],
) -> Outcome:
    """walk.check of a forward tensor (user, ref, local), the variants as its hypotheses; an accepted one adopted."""
    hypotheses, settle = lifted_hypotheses(variants, lambda value: value)
    user, ref, local = values
    suspects = Suspects(lambda: hypotheses, lambda: words)
    outcome = walk.check(name, i, user, ref, local, magnitude, suspects, forward=True)
    settle(outcome)
    return outcome


def lifted_hypotheses(
    variants: list[Lifted], transform: Callable[[Array], Array]
) -> tuple[list[H.Hypothesis], Callable[[Outcome], None]]:
    """Slips made before a tensor, as its hypotheses (``transform``: the value carried -> that tensor), and what
    to do with its outcome: adopt the values of the slip accepted, if it is one of them."""
    made: dict[int, Adopt] = {}
    found = []
    with np.errstate(all="ignore"):
        for slip, value, adopt in variants:
            found.append(H.Hypothesis.of([slip], transform(value)))
            made[id(found[-1])] = adopt

    def settle(outcome: Outcome) -> None:
        if outcome.accepted is not None and id(outcome.accepted) in made:
            made[id(outcome.accepted)]()

    return found, settle


@dataclass(frozen=True)
class Link:
    """A normalized layer's backward as the walk has it: delta{i} from the user's incoming gradient, dL/da{i} (what
    f′ multiplies: for the delta's fallback, and for a slip one layer down), its magnitude, and the slips."""

    local: Array
    upstream: Array
    magnitude: float
    backward: H.NormBackward


def link(walk: Walk, i: int, incoming: Array, magnitude: float) -> Link | None:
    """Layer i's norm backward from ``incoming`` = dL/d(layer i's output), or None for a layer without a norm."""
    net = walk.trace.network
    kind = net.norm_of(i)
    if not kind:
        return None
    gamma = walk.trace.gamma[i]
    norm = R.Normalized(walk.xhat[i], walk.std[i], walk.y[i])
    pre = net.norm_at == "pre"
    delta, dy = R.normalized_delta(net, i, incoming, (walk.z[i], walk.a[i]), norm, gamma)
    walk.dy[i], walk.dy_magnitude[i] = dy, magnitude
    subject = f"delta{i}" if pre else f"dL/da{i}"
    variants = NH.backward_slips(kind, norm.xhat, norm.std, gamma, i, subject)
    words = {"subject": f"dL/dy{i}", "at": f"y{i}"} if pre else {}
    with np.errstate(all="ignore"):
        upstream = incoming if pre else R.norm_backward(kind, incoming, norm.xhat, norm.std, gamma)
        # Through the norm, a gradient grows by at most gamma / std: its backward is a projection, then that scale.
        through = float(np.max(np.abs(gamma) / norm.std)) if gamma.size else 1.0
        # And the user's xhat and std carry their forward's rounding (a variance that cancels): so does dv, unit by
        # unit for BatchNorm, sample by sample for LayerNorm. With two samples, BatchNorm's dv is 0 but for it.
        size = walk.xhat_size[i].max(axis=R.NORM_AXIS[kind], keepdims=True)
        rounding = C.norm(np.abs(gamma * dy) / norm.std * size)
    scale = through if np.isfinite(through) else 1.0
    rounding = rounding if np.isfinite(rounding) else 0.0
    return Link(delta, upstream, magnitude * scale + rounding, H.NormBackward(variants, not pre, words))


def parameters(walk: Walk, i: int, delta_given: bool) -> None:
    """dgamma{i} and dbeta{i}, if given, against the sums of the user's dL/dy{i} (and xhat{i})."""
    trace, net = walk.trace, walk.trace.network
    if not net.norm_of(i) or (i not in trace.dgamma and i not in trace.dbeta):
        return
    dy, kind = walk.dy[i], net.norm_of(i)
    norm = R.Normalized(walk.xhat[i], walk.std[i], walk.y[i])
    dy_of = walk.dy_of.get(i, {})
    lifted = [] if delta_given else [(h, dy_of[id(h)]) for h in walk.lifted.get(i, []) if id(h) in dy_of]
    lifted = [(h, slipped) for h, slipped in lifted if not np.array_equal(slipped, dy)]
    dv = R.norm_backward(kind, dy, norm.xhat, norm.std, trace.gamma[i]) if kind == "layer" else None
    gammas, betas = NH.parameter_gradients(dy, norm, _source(walk, i), dv, lifted, i, net.reduction)
    known = net.l2 or next(iter(walk.decays.values()), None)  # decay only with a λ declared or found in a dW
    magnitude = walk.dy_magnitude[i]
    if i in trace.dgamma:
        # dL/dy's rounding times xhat, and xhat's (its size without cancellation) times dL/dy.
        columns = float(np.sqrt((norm.xhat**2).sum(axis=0)).max()) if norm.xhat.size else 0.0
        magnitude = magnitude * columns + C.norm(dy * walk.xhat_size[i]) * trace.batch**0.5
        right = f"the sum over the batch of dL/dy{i} ⊙ xhat{i}"
        walk.check(
            f"dgamma{i}", i, trace.dgamma[i], walk.ref.dgamma[i], R.gamma_gradient(dy, norm.xhat),
            magnitude, Suspects(lambda: gammas, lambda: _unexplained(f"dgamma{i}", right)),
            decay=Decay((trace.gamma[i],), known) if known else None,
        )  # fmt: skip
    if i in trace.dbeta:
        summed = walk.dy_magnitude[i] * trace.batch**0.5
        walk.check(
            f"dbeta{i}", i, trace.dbeta[i], walk.ref.dbeta[i], R.bias_gradient(dy), summed,
            Suspects(lambda: betas, lambda: _unexplained(f"dbeta{i}", f"the sum over the batch of dL/dy{i}")),
            decay=Decay((trace.beta[i],), known) if known else None,
        )  # fmt: skip


def _unexplained(name: str, right: str) -> tuple[str, str, str]:
    return (
        "unexplained",
        f"{name} is wrong, and matches no known form: no single known slip, no slip times a constant and no two "
        "slips together reproduce it, so no part of it can be blamed.",
        f"compute {name} = {right}.",
    )
