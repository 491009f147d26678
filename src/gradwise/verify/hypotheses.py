"""Hypotheses: reference tensors with one known bug injected, each with the words that name and fix it.

A hypothesis is accepted when its tensor reproduces the user's to the comparison's tolerance (allowing the
listed constant factors, e.g. a delta per sample or divided by B). Every builder here takes the user's own
upstream values, so a bug is named where it happens, whatever came before it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from gradwise.nn.activations import ACTIVATIONS, Activation
from gradwise.verify import reference as R

Array = np.ndarray
ELEMENTWISE_FACTORS: dict[str, tuple[str, Callable[[Array, Array], Array]]] = {  # formulas people write, by owner
    "sigmoid": ("a(1 − a)", lambda z, a: a * (1 - a)),
    "tanh": ("1 − a²", lambda z, a: 1 - a * a),
    "relu": ("the ReLU mask (z > 0)", lambda z, a: (z > 0).astype(np.float64)),
}
FORWARD_FORMS = {"xhat": "(v − mean) / sqrt(var + eps)", "y": "gamma xhat + beta"}  # how to recompute, by family
PAIR_FOR_A_MINUS_T = {
    "softmax": "softmax with cross-entropy (ce)",
    "sigmoid": "sigmoid with binary cross-entropy (bce)",
}


@dataclass(frozen=True)
class Slip:
    """One known mistake: its kind, a sentence naming it, and the fix."""

    kind: str
    explanation: str
    fix: str


@dataclass(frozen=True)
class Hypothesis:
    """A candidate for the user's tensor (same layout as the reference) and what it would mean.

    ``second`` is a second slip made in the same tensor (a composition); ``convention`` marks a candidate that
    is right under a convention of the user's (an update with weight decay): a note, not a bug.
    """

    kind: str
    candidate: Array
    explanation: str
    fix: str
    scales: tuple[float, ...] = (1.0,)  # constant factors under which it still counts (delta conventions)
    second: Slip | None = None
    convention: bool = False
    compensates: str = ""  # a convention that takes back out the factor this gradient was found to carry

    @classmethod
    def of(cls, slips: list[Slip], candidate: Array, scales: tuple[float, ...] = (1.0,)) -> Hypothesis:
        """The candidate made by one slip, or by two at once."""
        first = slips[0]
        return cls(first.kind, candidate, first.explanation, first.fix, scales, slips[1] if len(slips) > 1 else None)

    def slips(self) -> list[Slip]:
        return [Slip(self.kind, self.explanation, self.fix), *([self.second] if self.second else [])]


Variant = tuple[Slip | None, Array]  # a part of a computation done right (None) or with one slip
Factor = tuple[Slip | None, Callable[[Array], Array]]  # a local derivative applied to an incoming gradient


def _factor(activation: Activation, z: Array, a: Array) -> Array:
    with np.errstate(all="ignore"):
        return activation.backward(z, a, np.ones_like(z))


def forward_z(a_prev: Array, W: Array, b: Array, i: int, bias: str, source: str = "") -> list[Hypothesis]:
    """z{i} = a{i-1} W{i} + b{i}, with the bias left out or W used transposed; ``bias`` names b{i} in words,
    ``source`` the input (x, or a{i-1} unless said)."""
    name = source or ("x" if i == 0 else f"a{i - 1}")
    found = []
    if np.any(b):
        words = f"z{i} is {name} W{i} without the bias {bias}.", f"add {bias} to z{i}."
        found.append(Hypothesis("forward_mismatch", a_prev @ W, *words))
    if W.shape[0] == W.shape[1]:
        found.append(
            Hypothesis(
                "forward_mismatch",
                a_prev @ W.T + b,
                f"z{i} uses W{i} transposed (the layer is square, so the shapes did not catch it).",
                f"multiply by W{i} as stored, not by its transpose.",
            )
        )
    return found


def z_overwritten(z: Array, activation: Activation, i: int) -> list[Hypothesis]:
    """z{i} as code leaves it after using it, in place: shifted by its max for a stable softmax (cs231n's
    ``scores -= scores.max(axis=1, keepdims=True)``), or overwritten by f(z) (``np.maximum(z, 0, out=z)``).
    Conventions: the outputs are unchanged, and a wrong derivative taken from them would show further on."""
    found = []
    if activation.name == "softmax":
        for shifted, how in ((z - z.max(axis=1, keepdims=True), "each sample's max"), (z - z.max(), "its max")):
            words = f"z{i} on file is shifted by {how} (a stable softmax, done in place): the same softmax"
            found.append(Hypothesis("forward_mismatch", shifted, words, "", convention=True))
    with np.errstate(all="ignore"):
        written = activation.forward(z)
    words = f"z{i} on file holds {activation.name}(z{i}): the activation was written over z in place"
    found.append(Hypothesis("forward_mismatch", written, words, "", convention=True))
    return found


def forward_a(z: Array, activation: Activation, i: int) -> list[Hypothesis]:
    """a{i} = f(z{i}), with another activation, softmax over the batch, or a derivative written over it."""
    found = []
    with np.errstate(all="ignore"):
        for other in ACTIVATIONS.values():
            if other.name != activation.name:
                found.append(
                    Hypothesis(
                        "forward_mismatch",
                        other.forward(z),
                        f"a{i} is {other.name}(z{i}), but network.json says layer {i} is {activation.name}.",
                        f"apply {activation.name} in layer {i}, or correct activations[{i}] in network.json.",
                    )
                )
        if activation.name == "softmax":
            found += _softmax_axes(z, i)
        a = activation.forward(z)
        found.append(
            Hypothesis(
                "forward_mismatch",
                _factor(activation, z, a),
                f"a{i} holds the derivative f′(z{i}), not f(z{i}): the backward pass wrote it over the forward "
                "cache (an in-place ReLU mask or a(1 − a)).",
                f"compute the derivative into a new array; keep a{i} for dW{i + 1}.",
            )
        )
    return found


def _softmax_axes(z: Array, i: int) -> list[Hypothesis]:
    """Softmax normalised over the wrong axis: over the batch, over every entry, or by another sample's sum."""
    fix = "normalise the softmax over each sample's outputs: e / e.sum(axis=1, keepdims=True) for rows."
    e = np.exp(z - z.max())
    found = [
        Hypothesis(
            "forward_mismatch",
            e / e.sum(axis=0, keepdims=True),
            f"a{i} is normalised over the batch (each unit sums to 1 over the samples), not over the units.",
            fix,
        ),
        Hypothesis(
            "forward_mismatch",
            e / e.sum(),
            f"a{i} is normalised over the whole batch at once (np.sum without an axis), not per sample.",
            fix,
        ),
    ]
    if z.shape[0] == z.shape[1]:
        found.append(
            Hypothesis(
                "forward_mismatch",
                e / e.sum(axis=1)[None, :],
                f"a{i} divides by the row sums broadcast along the wrong axis (a sum without keepdims).",
                fix,
            )
        )
    return found


def _missing(loss: str, output: Activation, i: int) -> tuple[str, str]:
    """(explanation, fix) for an output delta that is dE/da: which pair it would be right for, and the remedy."""
    pair = PAIR_FOR_A_MINUS_T.get(output.name)
    what = "the softmax Jacobian" if output.name == "softmax" else f"the {output.name} derivative"
    if R.fused(output, loss):
        return (
            f"delta{i} is dE/da{i}: {what} of the output layer is left out; for {pair} the whole output delta "
            "is a − t.",
            f"use delta{i} = a − t (divided by B for a mean).",
        )
    if loss == "mse" and pair:
        right_for = f"a − t is the exact delta of {pair}, not of {output.name} with mse"
    else:
        right_for = f"it is the gradient of {loss} with respect to the outputs, not to the pre-activations"
    explanation = f"delta{i} is dE/da{i}: {what} of the output layer is left out; {right_for}."
    if output.name == "softmax":
        return explanation, (
            "multiply the output delta by the softmax Jacobian, or train with cross-entropy, "
            "for which a − t is the exact delta."
        )
    alternative = f", or train with {pair}, for which a − t is the exact delta" if pair else ""
    return explanation, f"multiply the output delta by {output.name}′(z{i}){alternative}."


def output_delta(loss: str, output: Activation, z: Array, a: Array, t: Array, s: float, i: int) -> list[Hypothesis]:
    """delta{i} of the output layer, in the reduction's scale: the output derivative dropped, doubled, misplaced."""
    found = []
    with np.errstate(all="ignore"):
        grad_a = s * R.output_gradient(loss, a, t)
        fused = R.fused(output, loss)
        if output.name != "identity":
            explanation, fix = _missing(loss, output, i)
            found.append(Hypothesis("missing_output_derivative", grad_a, explanation, fix))
        if fused:
            base = s * (a - t)
            what = "softmax Jacobian" if output.name == "softmax" else "sigmoid derivative a(1 − a)"
            words = (
                f"delta{i} multiplies a − t by the {what} again: for {output.name} with {loss} a − t already is dE/dz.",
                f"use delta{i} = a − t (divided by B for a mean); drop the extra derivative.",
            )
            found.append(Hypothesis("extra_output_derivative", output.backward(z, a, base), *words))
            found.append(Hypothesis("extra_output_derivative", base * a * (1 - a), *words))
        if output.name == "softmax":
            found.append(
                Hypothesis(
                    "wrong_derivative",
                    grad_a * a * (1 - a),
                    f"delta{i} multiplies by a(1 − a), the diagonal of the softmax Jacobian only; the off-diagonal "
                    "terms −a_j a_k are missing.",
                    "use the full Jacobian-vector product a ⊙ (g − ⟨g, a⟩), or train with cross-entropy.",
                )
            )
        elif output.name != "identity":  # an element-wise output: f′ misplaced or mistaken, fused pair or not
            found += local_factor(grad_a, output, z, a, i)
    return found


def local_factor(upstream: Array, activation: Activation, z: Array, a: Array, i: int) -> list[Hypothesis]:
    """upstream ⊙ a wrong f′: evaluated at a instead of z, another activation's formula, or none at all."""
    with np.errstate(all="ignore"):
        return [Hypothesis.of([slip], apply(upstream)) for slip, apply in factor_slips(activation, z, a, i) if slip]


def factor_slips(
    activation: Activation, z: Array, a: Array, i: int, *, subject: str = "", at: str = ""
) -> list[Factor]:
    """The local derivative of layer i: right first, then each known wrong form, as functions of the upstream.

    ``subject`` names the gradient the derivative goes into (delta{i} unless said), ``at`` the activation's input
    (z{i} unless said: y{i} after a norm).
    """
    d, zi = subject or f"delta{i}", at or f"z{i}"
    found: list[Factor] = [(None, lambda up: activation.backward(z, a, up))]
    with np.errstate(all="ignore"):
        if activation.family in ("saturating", "relu") and activation.name not in ("relu", "leaky_relu"):
            at_a = activation.forward(a)
            slip = Slip(
                "derivative_at_output",
                f"{d} uses f′(a{i}) = f′(f({zi})), the derivative evaluated at the output instead of at {zi}.",
                f"evaluate {activation.name}′ at {zi}"
                + (" (or write it as 1 − a² from a)." if activation.name == "tanh" else "."),
            )
            found.append((slip, lambda up: activation.backward(a, at_a, up)))
        right = _factor(activation, z, a)
        for name, (formula, factor) in ELEMENTWISE_FACTORS.items():
            candidate = factor(z, a)
            if name != activation.name and not np.allclose(candidate, right):
                slip = Slip(
                    "wrong_derivative",
                    f"{d} multiplies by {formula}, {name}'s derivative, but layer {i} is {activation.name}.",
                    f"multiply by {activation.name}′({zi}).",
                )
                found.append((slip, _times(candidate)))
        if activation.name in ("sigmoid", "tanh"):  # the formula from a, fed z: z(1 − z), 1 − z²
            formula, factor = ELEMENTWISE_FACTORS[activation.name]
            slip = Slip(
                "wrong_derivative",
                f"{d} multiplies by {formula} with {zi} in place of a{i}: that form of "
                f"{activation.name}′ takes the output a = {activation.name}(z).",
                f"compute {formula} from a{i}, not from {zi}.",
            )
            found.append((slip, _times(factor(z, z))))
        if z.ndim == 2 and z.shape[0] == z.shape[1] and activation.name not in ("identity", "softmax"):
            slip = Slip(
                "wrong_derivative",
                f"{d} multiplies by {activation.name}′({zi}) transposed: the incoming gradient is stored units × "
                "batch and the derivative batch × units (the layer is as wide as the batch, so the shapes did not "
                "catch it).",
                f"transpose {activation.name}′({zi}) to the incoming gradient's layout before multiplying.",
            )
            found.append((slip, _times(right.T)))
        if activation.name != "identity":
            slip = Slip(
                "wrong_derivative",
                f"{d} has no activation derivative: the local factor is 1, not {activation.name}′({zi}).",
                f"multiply the incoming gradient by {activation.name}′({zi}).",
            )
            found.append((slip, lambda up: up.copy()))
    return found


def hidden_delta(
    delta_next: Array,
    W_next: Array,
    activation: Activation,
    z: Array,
    a: Array,
    i: int,
    *,
    W_next_after: Array | None,
    upstream_next: Array | None,
    other_weights: Sequence[tuple[int, Array]],
    other_layers: Sequence[tuple[int, Activation, Array, Array]] = (),
    slips_made: int = 1,
    norm: NormBackward | None = None,
    dy_of: dict[int, Array] | None = None,
) -> list[Hypothesis]:
    """delta{i} = f′(z{i}) ⊙ (delta{i+1} W{i+1}ᵀ), with ``slips_made`` slips (1: singles, 2: pairs), in three parts.

    The source propagated (delta{i+1}, or dL/da{i+1}), the weights it goes through (W{i+1}ᵀ, or stale, not
    transposed, another layer's) and the local factor (f′(z{i}), or a wrong form) each may hold a slip.
    ``other_weights`` are the other W of W{i+1}'s shape; ``other_layers`` the (j, f, z, a) of layers as wide as i.
    A normalized layer's ``norm`` backward is a fourth part (``z`` is then the activation's input), and ``dy_of``
    gets, for each hypothesis (by id), the dL/dy{i} it assumes.
    """
    sources = _sources(delta_next, upstream_next, i)
    weights = _weights(W_next, W_next_after, other_weights, i)
    factors = factor_slips(activation, z, a, i, **(norm.words if norm else {}))
    factors += _other_layers_factors(activation, other_layers, i)
    norms = norm.variants if norm else [(None, _same)]
    found: list[Hypothesis] = []
    with np.errstate(all="ignore"):
        for source_slip, source in sources:
            for weight_slip, weight in weights:
                upstream: Array | None = None  # computed once per (source, weights), and only if needed
                for factor_slip, apply in factors:
                    for norm_slip, through in norms:
                        slips = [s for s in (factor_slip, norm_slip, weight_slip, source_slip) if s is not None]
                        if len(slips) != slips_made:
                            continue
                        upstream = source @ weight if upstream is None else upstream
                        if norm is None or norm.after_activation:  # the norm's backward, if any, before f′
                            dy, candidate = upstream, apply(through(upstream))
                        else:
                            dy = apply(upstream)
                            candidate = through(dy)
                        found.append(Hypothesis.of(slips, candidate))
                        if dy_of is not None:
                            dy_of[id(found[-1])] = dy
    order = {"derivative_at_output": 0, "wrong_derivative": 0}  # the local factor's slips first: the most specific
    found.sort(key=lambda h: order.get(h.kind, 1))
    return found


def _same(upstream: Array) -> Array:
    return upstream


@dataclass(frozen=True)
class NormBackward:
    """A normalized layer's backward, right first, then with each known slip; ``after_activation``: the norm comes
    after f (its backward is applied before f′); ``words``: factor_slips' subject and activation input."""

    variants: list[tuple[Slip | None, Callable[[Array], Array]]]
    after_activation: bool
    words: dict[str, str]


def _sources(delta_next: Array, upstream_next: Array | None, i: int) -> list[Variant]:
    found: list[Variant] = [(None, delta_next)]
    if upstream_next is not None:
        slip = Slip(
            "wrong_upstream",
            f"delta{i} propagates dL/da{i + 1} instead of delta{i + 1} = dL/dz{i + 1}: layer {i + 1}'s "
            "activation derivative is skipped on the way down.",
            f"propagate delta{i + 1} (after its activation derivative) through W{i + 1}ᵀ.",
        )
        found.append((slip, upstream_next))
    return found


def _weights(
    W_next: Array, W_next_after: Array | None, other_weights: Sequence[tuple[int, Array]], i: int
) -> list[Variant]:
    found: list[Variant] = [(None, W_next.T)]
    if W_next_after is not None:
        slip = Slip(
            "updated_weights_in_backprop",
            f"delta{i} was propagated through W{i + 1} after this step had already updated it.",
            f"compute every delta before updating any weight (or keep a copy of W{i + 1}).",
        )
        found.append((slip, W_next_after.T))
    if W_next.shape[0] == W_next.shape[1]:
        slip = Slip(
            "wrong_upstream",
            f"delta{i} uses W{i + 1}, not its transpose: backprop needs delta{i + 1} W{i + 1}ᵀ "
            "(the layer is square, so the shapes did not catch it).",
            f"multiply delta{i + 1} by W{i + 1} transposed.",
        )
        found.append((slip, W_next))
    for j, W in other_weights:
        slip = Slip(
            "wrong_upstream",
            f"delta{i} was propagated through W{j} instead of W{i + 1}.",
            f"use W{i + 1}, the weights between layer {i} and layer {i + 1}.",
        )
        found.append((slip, W.T))
    return found


def _other_layers_factors(
    activation: Activation, other_layers: Sequence[tuple[int, Activation, Array, Array]], i: int
) -> list[Factor]:
    found: list[Factor] = []
    for j, other, z_j, a_j in other_layers:
        slip = Slip(
            "wrong_derivative",
            f"delta{i} multiplies by layer {j}'s derivative {other.name}′(z{j}), not by {activation.name}′(z{i}).",
            f"use layer {i}'s own derivative, {activation.name}′(z{i}) (an index off by one?).",
        )
        found.append((slip, _derivative_of(other, z_j, a_j)))
    return found


def _times(factor: Array) -> Callable[[Array], Array]:
    return lambda upstream: upstream * factor


def _derivative_of(activation: Activation, z: Array, a: Array) -> Callable[[Array], Array]:
    return lambda upstream: activation.backward(z, a, upstream)


Layout = Callable[[Array, Array], Array]  # (dW, the delta it came from) -> dW laid out as the user's dW{i}


def weight_gradient(
    delta: Array, inputs: Sequence[tuple[str, Array]], right: str, i: int, lay: Layout
) -> tuple[list[Hypothesis], list[Hypothesis]]:
    """dW{i} = a{i-1}ᵀ delta{i}, transposed or built from another input (singles), or both (pairs).

    ``lay`` adds the bias row for a bias inside W (its gradient is the delta's sum, whatever the input).
    """
    transposed = _transposed_slip(right, i)
    singles = [Hypothesis.of([transposed], lay(dict(inputs)[right].T @ delta, delta).T)]
    pairs = []
    for slip, value in _input_slips(inputs, right, delta, i):
        with np.errstate(all="ignore"):
            gradient = lay(value.T @ delta, delta)
        singles.append(Hypothesis.of([slip], gradient))
        pairs.append(Hypothesis.of([slip, transposed], gradient.T))
    return singles, pairs


def through_weight_gradient(
    lifted: Sequence[Hypothesis],
    inputs: Sequence[tuple[str, Array]],
    right: str,
    i: int,
    lay: Layout,
    delta_of: dict[int, Array],
    *,
    with_own_slip: bool = False,
) -> list[Hypothesis]:
    """Slips in an unseen delta{i}, seen through dW{i}: each as it is, or (``with_own_slip``) with a slip of dW's
    own added to a single one. ``delta_of`` gets, for each hypothesis returned (by id), the delta it assumes."""
    correct = dict(inputs)[right]
    transposed = _transposed_slip(right, i)
    found: list[Hypothesis] = []
    with np.errstate(all="ignore"):
        for h in lifted:
            if with_own_slip and h.second is not None:
                continue  # three slips: too many to tell apart
            gradient = lay(correct.T @ h.candidate, h.candidate)
            pushed = [] if with_own_slip else [replace(h, candidate=gradient)]
            if with_own_slip:
                pushed.append(Hypothesis.of([*h.slips(), transposed], gradient.T))
                for slip, value in _input_slips(inputs, right, h.candidate, i):
                    pushed.append(Hypothesis.of([*h.slips(), slip], lay(value.T @ h.candidate, h.candidate)))
            for p in pushed:
                found.append(p)
                delta_of[id(p)] = h.candidate
    return found


def _transposed_slip(right: str, i: int) -> Slip:
    return Slip(
        "transposed",
        f"dW{i} is the gradient transposed: (out × in) where W{i} is (in × out).",
        f"transpose dW{i} (or compute it as {right}ᵀ delta{i}) so it has W{i}'s shape.",
    )


def _input_slips(inputs: Sequence[tuple[str, Array]], right: str, delta: Array, i: int) -> list[tuple[Slip, Array]]:
    """dW{i} built from another input than the right one: z, the derivative written over a, another layer's a."""
    found: list[tuple[Slip, Array]] = []
    for name, value in inputs:
        if name == right or value.shape[0] != delta.shape[0]:
            continue
        kind = "forward_mismatch" if name.startswith("f′") else "wrong_input_in_weight_gradient"
        why = (
            f"dW{i} is built from {name}: {right} was overwritten by its derivative before dW{i} was formed."
            if kind == "forward_mismatch"
            else f"dW{i} is {name}ᵀ delta{i}, but the input to layer {i} is {right}."
        )
        found.append((Slip(kind, why, f"use dW{i} = {right}ᵀ delta{i}."), value))
    return found


def bias_gradient(
    delta: Array, reduction: str, batch: int, i: int, names: tuple[str, str] = ("", "")
) -> list[Hypothesis]:
    """db{i} = Σ over the batch of delta{i}: a mean where the weights are summed, one sample, the wrong axis.

    ``names``: the gradient and what it sums, for another per-unit parameter (dbeta{i}, the sum of dL/dy{i}).
    """
    db, d = names[0] or f"db{i}", names[1] or f"delta{i}"
    loose = (1.0, float(batch), 1.0 / batch)
    found = []
    if batch > 1:
        found += [
            Hypothesis(
                "bias_reduction",
                delta[0],
                f"{db} is one sample's {d if names[1] else 'delta'}, not the sum over the batch.",
                f"sum {d} over the samples.",
                loose,
            ),
            Hypothesis(
                "bias_reduction",
                delta.sum(axis=1),
                f"{db} sums {d} over the units (the wrong axis), not over the samples.",
                f"sum {d} over the samples (the batch axis).",
                loose,
            ),
            Hypothesis(
                "bias_reduction",
                delta,
                f"{db} is {d} itself, not reduced over the batch.",
                f"sum {d} over the samples.",
                loose,
            ),
        ]
    found.append(
        Hypothesis(
            "bias_reduction",
            delta.sum().reshape(1),
            f"{db} is one number, {d} summed over the samples and the units (a sum without an axis).",
            f"sum {d} over the samples only (axis 0 for rows), keeping one entry per unit.",
            loose,
        )
    )
    if reduction == "sum" and batch > 1:
        found.append(
            Hypothesis(
                "bias_reduction",
                delta.sum(axis=0) / batch,
                f"{db} is the mean of {d} over the batch while the weights' gradients are summed.",
                f"sum {d} over the batch, as dW{i} does (or average both and say reduction mean).",
            )
        )
    return found


def scaled(c: float, batch: int, tensor: str, forward: bool, adds: bool = False) -> tuple[str, str, str]:
    """(kind, explanation, fix) for a tensor that is c times the right one; ``adds``: the update adds dW."""
    if forward:
        how = FORWARD_FORMS.get(tensor.rstrip("0123456789"), "f(a W + b)")
        return "forward_mismatch", f"{tensor} is {c:.4g} times the right value.", f"recompute {tensor} as {how}."
    if c < 0:
        factor = "" if abs(c + 1) <= 1e-3 else f" (times {-c:.4g})"
        if adds:
            return (
                "sign",
                f"{tensor} has the sign of dL/dW{factor}, but the update adds it (W + lr·dW): a step along it goes "
                "uphill.",
                f"flip the sign of {tensor}: with error = t − a and W += lr·dW, {tensor} must be −dL/dW.",
            )
        return (
            "sign",
            f"{tensor} is the negative of the gradient{factor}: a step along it goes uphill.",
            f"flip the sign of {tensor} (a − t, not t − a), and subtract lr·dW in the update; if your update adds "
            'it (error = t − y, W += lr·dW), say "update": "add" in network.json, or put W.after in the trace.',
        )
    if batch > 1 and (abs(c / batch - 1) <= 1e-3 or abs(c * batch - 1) <= 1e-3):
        way = "summed over the batch where the loss is a mean" if c > 1 else "divided by B once too often"
        return (
            "batch_scale",
            f"{tensor} is {c:.4g} = {'B' if c > 1 else '1/B'} times the gradient: {way}.",
            f"{'divide' if c > 1 else 'multiply'} {tensor} by B = {batch} (mean and sum must agree across W, b and "
            "the loss), or set reduction in network.json to what the code does.",
        )
    return (
        "constant_scale",
        f"{tensor} is {c:.4g} times the gradient: a constant factor, such as 2 from a loss without its ½ or "
        "n_out from averaging over the outputs.",
        "nothing, if the factor is your convention (it scales the learning rate); otherwise remove it.",
    )
