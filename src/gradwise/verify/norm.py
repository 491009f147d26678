"""Normalization layers in a trace: which hidden layers normalize, BatchNorm or LayerNorm, where, and with what eps.

A normalized layer i computes, in the classic placement of the BatchNorm paper ("norm_at": "pre")

    z{i} = a{i-1} W{i} + b{i};  xhat{i} = (z{i} − mean) / sqrt(var + eps);  y{i} = gamma{i} xhat{i} + beta{i};
    a{i} = f(y{i})

and after the activation ("post"): a{i} = f(z{i}), then xhat{i} and y{i} from a{i}, and y{i} is the next layer's
input. BatchNorm takes the mean and the biased variance of each unit over the batch (training mode), LayerNorm
those of each sample over its units. gamma{i} and beta{i} are vectors of one number per unit; dgamma{i} and
dbeta{i} their gradients; delta{i} stays dL/dz{i}.

network.json may declare ``"norm"`` (``"batch"`` or ``"layer"`` for the layers that hold gamma/beta, or a list
with one per layer, null for none), ``"norm_at"`` (``"pre"`` or ``"post"``) and ``"eps"`` (default 1e-5). What it
leaves open is worked out like the other conventions: the readings are walked and the one under which the
tensors agree is kept. A norm without gamma and beta in the trace has none to learn: gamma = 1, beta = 0.
"""

from __future__ import annotations

import numpy as np

from gradwise.verify.files import TraceError
from gradwise.verify.network import NORM_NAMES, TraceNetwork
from gradwise.verify.structure import Reading

Array = np.ndarray
DEFAULT_EPS = 1e-5  # PyTorch's, cs231n's
OTHER_EPS = ("0.001", "1e-08")  # Keras and TensorFlow's; and a tiny one (or none at all)
PARAMETERS = ("gamma", "beta", "dgamma", "dbeta")
ASPECTS = ("norm", "norm_at", "eps")  # what network.json may leave open about the norms (Reading's fields)


def settle(
    net: TraceNetwork, values: dict[str, Array], reading: Reading, open_: list[tuple[str, str]], where: str
) -> tuple[tuple[str, ...], str, float]:
    """(per layer "batch" / "layer" / "none", "pre" or "post", eps): declared, or read off the tensors (the layers
    that hold a norm's tensors)."""
    given = [_holds_norm(net, values, i) for i in range(net.layers)]
    kinds = _kinds(net, given, reading, open_, where)
    normalized = [i for i, kind in enumerate(kinds) if kind != "none"]
    if not normalized:
        return kinds, "", 0.0
    for i in normalized:
        _parameters_paired(values, i, where)
    at = net.norm_at or reading.norm_at or "pre"
    if not net.norm_at:
        open_.append(("norm_at", "post"))
    if net.eps is not None:
        return kinds, at, net.eps
    open_.extend(("eps", value) for value in OTHER_EPS)
    return kinds, at, float(reading.eps or DEFAULT_EPS)


def _kinds(
    net: TraceNetwork, given: list[bool], reading: Reading, open_: list[tuple[str, str]], where: str
) -> tuple[str, ...]:
    hidden = range(net.layers - 1)
    if isinstance(net.norm, tuple):
        for i, kind in enumerate(net.norm):
            if kind == "none" and given[i]:
                raise TraceError(
                    f"{where}: network.json says layer {i} has no norm, but gamma{i} or beta{i} is given; declare "
                    f"its norm in the list, or remove them"
                )
        return net.norm
    if net.norm:  # one kind declared: on the layers that hold gamma/beta, or on every hidden layer if none does
        on = [i for i in hidden if given[i]] or list(hidden)
        return tuple(net.norm if i in on else "none" for i in range(net.layers))
    if not any(given):
        return ("none",) * net.layers
    open_.append(("norm", "layer"))
    kind = reading.norm or "batch"
    return tuple(kind if g else "none" for g in given)


def _holds_norm(net: TraceNetwork, values: dict[str, Array], i: int) -> bool:
    """Hidden layer i has a norm's tensors: a gamma{i} or beta{i} of one number per unit (a scalar beta1 is more
    likely Adam's β₁ than a norm's shift), a dgamma{i} or dbeta{i}, or an xhat{i}. The output layer has none."""
    names = (f"gamma{i}", f"beta{i}")
    parameters = any(name in values and values[name].size == net.sizes[i + 1] for name in names)
    others = any(f"{name}{i}" in values for name in ("dgamma", "dbeta", "xhat"))
    return i < net.layers - 1 and (parameters or others)


def _parameters_paired(values: dict[str, Array], i: int, where: str) -> None:
    """gamma and beta come together (or neither: a norm with nothing to learn), each before its gradient."""
    names = [f"{p}{i}" for p in PARAMETERS]
    gamma, beta, dgamma, dbeta = (name in values for name in names)
    if gamma != beta:
        have, missing = (names[0], names[1]) if gamma else (names[1], names[0])
        raise TraceError(
            f"{where}: {have} is given without {missing}; write both (gamma = 1 and beta = 0 for a norm that does "
            "not learn them), or neither"
        )
    for grad, parameter, present in ((dgamma, names[0], gamma), (dbeta, names[1], beta)):
        if grad and not present:
            raise TraceError(f"{where}: d{parameter} is given without {parameter}; write {parameter} too")


def choice_note(net: TraceNetwork, aspect: str, inferred: bool) -> str | None:
    """The note for an aspect of the norms the tensors settled; None when there is nothing to say."""
    normalized = [i for i in range(net.layers) if net.norm_of(i)]
    if not normalized:
        return None
    kind = net.norm_of(normalized[0])
    place = "z, before the activation" if net.norm_at == "pre" else "a, after the activation"
    if aspect == "norm" or (aspect == "norm_at" and inferred):
        layers = ", ".join(map(str, normalized))
        declared = [kind if i in normalized else None for i in range(net.layers)]
        example = str(declared).replace("'", '"').replace("None", "null")
        return (
            f"the trace holds a norm's tensors that network.json does not declare: read as {NORM_NAMES[kind]} on "
            f"{place}, in layer{'s' if len(normalized) > 1 else ''} {layers}, which fits; say \"norm\": {example}, "
            f'"norm_at": "{net.norm_at}" there'
        )
    if aspect == "norm_at":
        return f"the norm's place is not declared: read as on {place}, which fits (say \"norm_at\" in network.json)"
    if aspect == "eps" and net.eps != DEFAULT_EPS:
        return f"the norm's eps is not declared: read as {net.eps:g}, which fits (say \"eps\" in network.json)"
    return None


def norm_words(net: TraceNetwork) -> str:
    """The network's norms in words: "BatchNorm before the activation"."""
    kinds = sorted({net.norm_of(i) for i in range(net.layers)} - {""})
    place = "before the activation" if net.norm_at == "pre" else "after the activation"
    return f"{'/'.join(NORM_NAMES[kind] for kind in kinds)} {place}" if kinds else "no norm"
