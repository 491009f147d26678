"""How a trace's files lay out the network: where the samples are, how W is stored, where each bias lives.

Each question is read off network.json when it says, else off the shapes (``layout``), and what neither can
tell is recorded as open: a ``Reading`` is one way to answer the open questions, and the verifier walks the
readings and keeps the one under which the tensors agree.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from gradwise.verify import bias as B
from gradwise.verify import layout as L
from gradwise.verify.files import Tensors, TraceError
from gradwise.verify.network import HINT, TraceNetwork

Array = np.ndarray
OTHER = "other"  # Reading.weights: the orientation that is not the usual one for the samples' layout


@dataclass(frozen=True)
class Reading:
    """One way to read what network.json leaves open: each field "" until chosen."""

    samples: str = ""
    weights: str = ""  # "" or OTHER
    reduction: str = ""
    bias_end: str = ""  # for a bias inside W whose end the input does not show
    loss: str = ""  # "bce" for a cross-entropy declared over sigmoid outputs (Nielsen's, sklearn's log_loss)
    flipped: frozenset[str] = frozenset()  # families (z, a, delta) of square tensors read the other way round
    norm: str = ""  # "layer" for gamma/beta that network.json does not declare (else BatchNorm)
    norm_at: str = ""  # "post" for a norm whose place network.json does not say (else on z, before f)
    eps: str = ""  # another eps than network.json's default, as text ("0.001")

    def choose(self, aspect: str, value: str) -> Reading:
        """This reading with ``aspect`` (a field's name) answered ``value``; ``flipped`` gathers its families."""
        if aspect == "flipped":
            return replace(self, flipped=self.flipped | {value})
        if aspect not in _TEXT_ASPECTS:
            raise ValueError(f"no such reading aspect: {aspect!r}")
        return replace(self, **{aspect: value})


_TEXT_ASPECTS = frozenset(f.name for f in fields(Reading) if f.name != "flipped")

def samples_layout(
    net: TraceNetwork, values: dict[str, Array], reading: Reading, open_: list[tuple[str, str]], notes: list[str]
) -> str:
    """Declared, or the layout in which x holds samples and t as many targets; open when both layouts fit."""
    if net.samples:
        return net.samples
    if reading.samples:
        return reading.samples
    x, t = values["x"], values["t"]
    fits = L.samples_fit(x, net.sizes[0], net.bias[0] != "separate" and net.bias[0] != "none")
    if x.ndim < 2 or 1 in x.shape or not fits:
        return "rows"  # one sample, or a misfit that read_input names
    batch = {"rows": x.shape[0], "columns": x.shape[1]}
    # t holds one target vector (or one class label) per sample: a layout whose batch does not fit t is out.
    fits = [layout for layout in fits if t.size in (batch[layout] * net.sizes[-1], batch[layout])] or fits
    if len(fits) == 2 and t.ndim == 2 and 1 not in t.shape:
        fits = L.samples_fit(t, net.sizes[-1], False) or fits
    if len(fits) == 1:
        if fits[0] == "columns":
            notes.append('x holds one sample per column: read as "samples": "columns"')
        return fits[0]
    open_.append(("samples", "columns"))
    return "rows"


def orientation(
    net: TraceNetwork, tensors: Tensors, samples: str, reading: Reading, open_: list[tuple[str, str]], notes: list[str]
) -> tuple[str, list[bool]]:
    """(orientation, per layer: the bias is inside W): declared, or worked out from the shapes of every W."""
    fits_per_layer = []
    for i, (n_in, n_out) in enumerate(zip(net.sizes, net.sizes[1:], strict=False)):
        source = tensors.sources[f"W{i}"]
        given = tensors.values[f"W{i}"]
        shape = L.matrix_shape(given)
        fits = L.weight_fits(shape, n_in, n_out, net.bias[i])
        if given.ndim < 2:  # a flat vector (one input or one output) fits as a row or as a column
            fits = {**L.weight_fits(shape[::-1], n_in, n_out, net.bias[i]), **fits}
        if not fits:
            inside = (
                ""
                if net.bias[i] in ("separate", "none")
                else f", nor with the bias inside W ({n_in + 1}×{n_out} or {n_out}×{n_in + 1})"
            )
            raise TraceError(
                f"{source}: shape {shape} fits neither {n_in}×{n_out} (in × out) nor {n_out}×{n_in} (out × in)"
                f"{inside} for sizes {list(net.sizes)}; check the sizes in network.json"
            )
        if net.weights and net.weights not in fits:
            raise TraceError(
                f"{source}: shape {shape} is not {net.weights.replace('_', ' × ')} as network.json says; transpose "
                'it or change "weights"'
            )
        fits_per_layer.append(fits)
    found: dict[str, str] = {}
    for i, fits in enumerate(fits_per_layer):
        if len(fits) == 1:
            found.setdefault(next(iter(fits)), f"W{i}")
    if len(found) > 1:
        raise TraceError(
            f"{tensors.sources[found['out_in']]}: is stored out × in but {found['in_out']} is in × out; "
            "store every W the same way"
        )
    if net.weights:
        orientation = net.weights
    elif found:
        orientation = next(iter(found))
        notes.append(f"W is stored {orientation.replace('_', ' × ')} (worked out from the shapes)")
    else:
        default = "in_out" if samples == "rows" else "out_in"  # x W for rows, W a for columns (Nielsen)
        other = "out_in" if default == "in_out" else "in_out"
        orientation = other if reading.weights == OTHER else default
        open_.append(("weights", OTHER))
    return orientation, [fits[orientation] for fits in fits_per_layer]


def bias_forms(
    net: TraceNetwork,
    tensors: Tensors,
    inside: list[bool],
    layout: tuple[str, str],
    reading: Reading,
    open_: list[tuple[str, str]],
    notes: list[str],
    where: str,
) -> list[str]:
    """Each layer's bias: "separate", "none", or inside W at its "first" or "last" row.

    ``layout`` is (samples, weights) as resolved.
    """
    samples, weights = layout
    forms: list[str] = []
    without: list[int] = []
    ends_open: list[int] = []
    for i in range(net.layers):
        if inside[i]:
            end = net.bias[i] if net.bias[i] in B.INSIDE else _end_shown(net, tensors.values, i, samples)
            if end is None:
                end = reading.bias_end or "first"
                ends_open.append(i)
            forms.append(end)
        else:
            forms.append(_separate_or_none(net, tensors, i, where, without))
    if ends_open:
        open_.append(("bias_end", "last"))
    if without:
        layers = ", ".join(map(str, without))
        notes.append(f"no b or db for layer{'s' if len(without) > 1 else ''} {layers}: read as having no bias")
    inside_layers = [i for i, form in enumerate(forms) if B.inside(form)]
    if inside_layers:
        described = ", ".join(f"W{i}'s {forms[i]} {'row' if weights != 'out_in' else 'column'}" for i in inside_layers)
        notes.append(f"the bias is inside W: {described}, with a constant 1 in the layer's input")
    return forms


def _end_shown(net: TraceNetwork, values: dict[str, Array], i: int, samples: str) -> str | None:
    """The end at which layer i's input (x, or a{i-1}) holds its column of ones, when it is given with one."""
    given = values.get("x" if i == 0 else f"a{i - 1}")
    n = net.sizes[i] + 1
    if given is None or given.ndim != 2 or n not in given.shape:
        return None
    by_rows = given.shape[1] == n and (samples != "columns" or given.shape[0] != n)
    return B.constant_one_at(given if by_rows else given.T)


def _separate_or_none(net: TraceNetwork, tensors: Tensors, i: int, where: str, without: list[int]) -> str:
    """A layer with b{i} and db{i} has a bias; one with neither, or with both all zeros, has none."""
    values, declared = tensors.values, net.bias[i]
    names = (f"b{i}", f"db{i}")
    given = [name in values for name in names]
    if declared == "none":
        for name in names:
            if name in values and np.any(values[name]):
                where = tensors.sources[name]
                raise TraceError(f"{where}: network.json says layer {i} has no bias; remove {name} or declare the bias")
        return "none"
    if all(given):
        n_out = net.sizes[i + 1]  # a misshapen db of zeros is a bias gradient gone wrong, not a missing bias
        zeros = all(values[name].size == n_out and not np.any(values[name]) for name in names)
        moved = f"b{i}.after" in values and np.any(values[f"b{i}.after"])
        if zeros and not declared and not moved:
            without.append(i)
            return "none"
        return "separate"
    if not any(given) and declared != "separate":
        without.append(i)
        return "none"
    if given == [True, False]:  # a bias that is there but never trained (a fixed 0.35 in a worked example)
        return "separate"
    missing = names[given.index(False)]
    other = names[1 - given.index(False)]
    also = f" but {other} is given" if any(given) else ""
    raise TraceError(
        f"{where}: {missing} is missing{also}; write {missing}.txt (or {missing}.npy, or {missing} in trace.npz), "
        f"or leave out both b{i} and db{i} for a layer without bias ({HINT})"
    )
