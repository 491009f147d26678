# mypy: disable-error-code="no-any-return"
# (numpy's stubs type most array expressions as Any; every function here returns an array.)
"""The known slips of a normalization layer (see ``verify.norm``), each with the words that name and fix it.

Forward: the unbiased variance in training mode, eps outside the square root or left out, the variance where its
root belongs, no centering, the other norm's axis; gamma or beta left out of y. Backward: the batch's (or the
sample's) mean and variance treated as constants (the classic one: the terms they feed are missing), one of those
terms missing, gamma left out, the means over the wrong axis, the norm skipped. dgamma and dbeta: built from the
wrong tensor (y or the input instead of xhat, each other's formula, dL/dv after the norm instead of dL/dy),
reduced over the wrong axis (as a bias's gradient can be), or from a dL/dy that carries a slip of its own.
Every builder takes the user's own values, so a slip is named where it happens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gradwise.verify import hypotheses as H
from gradwise.verify import reference as R
from gradwise.verify.hypotheses import Hypothesis, Slip

Array = np.ndarray
OVER = {"batch": "the batch", "layer": "the units"}
STATISTICS = {"batch": "the batch's", "layer": "each sample's"}
OTHER = {"batch": "layer", "layer": "batch"}
NAMES = {"batch": "BatchNorm", "layer": "LayerNorm"}
Forward = tuple[Slip, Array, Array]  # a slip, the xhat it gives, and the std that xhat divides by


def forward_slips(kind: str, v: Array, eps: float, i: int, source: str) -> list[Forward]:
    """xhat{i} of ``source`` (z{i} or a{i}) normalized with one known slip -> [(slip, xhat, std)]."""
    axis = R.NORM_AXIS[kind]
    count = v.shape[axis]
    with np.errstate(all="ignore"):
        mean = v.mean(axis=axis, keepdims=True)
        centered = v - mean
        var = (centered**2).mean(axis=axis, keepdims=True)
        fix = f"compute xhat{i} = ({source} − mean) / sqrt(var + eps), the mean and variance over {OVER[kind]}."
        found: list[Forward] = []
        if count > 1:
            std = np.sqrt(var * count / (count - 1) + eps)
            why = (
                f"xhat{i} divides by the unbiased variance (a sum over {count} − 1, as np.var(ddof=1) or torch.var "
                f"do by default); in training mode {NAMES[kind]}'s variance is the biased one, divided by {count}."
            )
            found.append((Slip("forward_mismatch", why, fix), centered / std, std))
        stds = [
            (np.sqrt(var) + eps, f"xhat{i} adds eps outside the square root, sqrt(var) + eps, not sqrt(var + eps)."),
            (np.sqrt(var), f"xhat{i} has no eps: it divides by sqrt(var), not sqrt(var + eps)."),
            (var + eps, f"xhat{i} divides by the variance plus eps, not by its square root."),
        ]
        found += [(Slip("forward_mismatch", why, fix), centered / std, std) for std, why in stds]
        std = np.sqrt(var + eps)
        why = f"xhat{i} is not centered: {source} divided by its standard deviation, without its mean subtracted."
        found.append((Slip("forward_mismatch", why, fix), v / std, std))
        xhat, std = R.normalize(OTHER[kind], v, eps)
        why = (
            f"xhat{i} is normalized over {OVER[OTHER[kind]]}, as {NAMES[OTHER[kind]]} does, but network.json says "
            f"layer {i} is {NAMES[kind]}."
        )
        fix = f'normalize over {OVER[kind]}, or say "norm": "{OTHER[kind]}" in network.json.'
        found.append((Slip("forward_mismatch", why, fix), xhat, std))
    return found


def affine_slips(xhat: Array, gamma: Array, beta: Array, i: int) -> list[tuple[Slip, Array]]:
    """y{i} = gamma{i} xhat{i} + beta{i} with one known slip -> [(slip, y)]."""
    fix = f"compute y{i} = gamma{i} ⊙ xhat{i} + beta{i}."
    forms = [
        (gamma * xhat, f"y{i} leaves out beta{i}: it is gamma{i} ⊙ xhat{i}."),
        (xhat + beta, f"y{i} leaves out gamma{i}: it is xhat{i} + beta{i}."),
        (xhat, f"y{i} is xhat{i}: gamma{i} and beta{i} are not applied."),
        (beta * xhat + gamma, f"y{i} swaps gamma{i} and beta{i}: it is beta{i} ⊙ xhat{i} + gamma{i}."),
    ]
    with np.errstate(all="ignore"):
        return [(Slip("forward_mismatch", why, fix), y) for y, why in forms]


def backward_slips(
    kind: str, xhat: Array, std: Array, gamma: Array, i: int, subject: str
) -> list[tuple[Slip | None, Callable[[Array], Array]]]:
    """The norm's backward, dL/dv from dL/dy, right first, then with each known slip; ``subject`` names the
    gradient it gives (delta{i} for a norm on z, dL/da{i} for one on a)."""
    axis, other = R.NORM_AXIS[kind], R.NORM_AXIS[OTHER[kind]]
    stats = STATISTICS[kind]

    def terms(g: Array, along: int = axis) -> tuple[Array, Array]:
        return g.mean(axis=along, keepdims=True), xhat * (g * xhat).mean(axis=along, keepdims=True)

    def constants(dy: Array) -> Array:
        return gamma * dy / std

    def no_mean(dy: Array) -> Array:
        g = gamma * dy
        return (g - terms(g)[1]) / std

    def no_variance(dy: Array) -> Array:
        g = gamma * dy
        return (g - terms(g)[0]) / std

    def wrong_axis(dy: Array) -> Array:
        g = gamma * dy
        mean, variance = terms(g, other)
        return (g - mean - variance) / std

    fix = f"compute it as (g − mean(g) − xhat{i} ⊙ mean(g ⊙ xhat{i})) / std over {OVER[kind]}, g = gamma{i} ⊙ dL/dy{i}."
    g = f"g = gamma{i} ⊙ dL/dy{i}"
    forms: list[tuple[Callable[[Array], Array], str]] = [
        (
            constants,
            f"{subject} treats {stats} mean and variance as constants in the {NAMES[kind]} backward: it is "
            f"gamma{i} ⊙ dL/dy{i} / std, without the terms −mean(g) and −xhat{i} ⊙ mean(g ⊙ xhat{i}) ({g}) that "
            "they contribute.",
        ),
        (no_mean, f"{subject} leaves out the {NAMES[kind]} backward's mean term −mean(g) ({g})."),
        (
            no_variance,
            f"{subject} leaves out the {NAMES[kind]} backward's variance term −xhat{i} ⊙ mean(g ⊙ xhat{i}) ({g}).",
        ),
        (
            lambda dy: R.norm_backward(kind, dy, xhat, std, np.ones_like(gamma)),
            f"{subject} leaves gamma{i} out of the {NAMES[kind]} backward.",
        ),
        (
            wrong_axis,
            f"{subject} takes the {NAMES[kind]} backward's means over {OVER[OTHER[kind]]}, not over {OVER[kind]}.",
        ),
        (lambda dy: dy, f"{subject} skips the {NAMES[kind]} backward: dL/dy{i} is passed on as it is."),
    ]
    right = (None, lambda dy: R.norm_backward(kind, dy, xhat, std, gamma))
    return [right, *((Slip("wrong_derivative", why, fix), apply) for apply, why in forms)]


def parameter_gradients(
    dy: Array,
    norm: R.Normalized,
    source: tuple[str, Array],
    dv: Array | None,
    lifted: Sequence[tuple[Hypothesis, Array]],
    i: int,
    reduction: str,
) -> tuple[list[Hypothesis], list[Hypothesis]]:
    """(dgamma{i}'s hypotheses, dbeta{i}'s): each built wrong, reduced wrong, or from a dL/dy with a slip.

    ``source`` is the normalized input by name (z{i} or a{i}); ``dv`` the gradient after the norm's backward (for
    LayerNorm only: BatchNorm's sums to 0 over the batch, so it would fit a gradient never computed);
    ``lifted`` the (hypothesis, the dL/dy{i} it assumes) of slips made before dL/dy{i}.
    """
    name, v = source
    batch = dy.shape[0]
    dgamma, dbeta = f"dgamma{i}", f"dbeta{i}"
    right = f"dgamma{i} = Σ over the batch of dL/dy{i} ⊙ xhat{i}"
    with np.errstate(all="ignore"):
        gammas = [
            Hypothesis("wrong_input_in_weight_gradient", R.bias_gradient(dy), f"{dgamma} is Σ dL/dy{i}, beta{i}'s "
                       f"gradient: gamma{i} multiplies xhat{i}.", f"use {right}."),
            Hypothesis("wrong_input_in_weight_gradient", R.gamma_gradient(dy, norm.y), f"{dgamma} is built from "
                       f"y{i}, the norm's output, not from xhat{i}.", f"use {right}."),
            Hypothesis("wrong_input_in_weight_gradient", R.gamma_gradient(dy, v), f"{dgamma} is built from {name}, "
                       f"before the normalization, not from xhat{i}.", f"use {right}."),
        ]  # fmt: skip
        betas = [
            Hypothesis("wrong_input_in_weight_gradient", R.gamma_gradient(dy, norm.xhat), f"{dbeta} is Σ dL/dy{i} ⊙ "
                       f"xhat{i}, gamma{i}'s gradient: beta{i} is added as it is.", f"use {dbeta} = Σ dL/dy{i}."),
        ]  # fmt: skip
        if dv is not None:
            words = f"is built from dL/d{name}, the gradient after the norm's backward, not from dL/dy{i}"
            gammas.append(Hypothesis("wrong_upstream", R.gamma_gradient(dv, norm.xhat), f"{dgamma} {words}.",
                                     f"use {right}."))  # fmt: skip
            betas.append(Hypothesis("wrong_upstream", R.bias_gradient(dv), f"{dbeta} {words}.",
                                    f"use {dbeta} = Σ dL/dy{i}."))  # fmt: skip
        gammas += H.bias_gradient(dy * norm.xhat, reduction, batch, i, (dgamma, f"dL/dy{i} ⊙ xhat{i}"))
        betas += H.bias_gradient(dy, reduction, batch, i, (dbeta, f"dL/dy{i}"))
        for h, slipped in lifted:
            gammas.append(Hypothesis.of(h.slips(), R.gamma_gradient(slipped, norm.xhat)))
            betas.append(Hypothesis.of(h.slips(), R.bias_gradient(slipped)))
    return gammas, betas
