"""A trace: one training step of someone's own network, read into gradwise's layout (rows are samples, W in × out).

A trace folder holds ``network.json`` (see ``gradwise.verify.network``) and one file per tensor (see
``gradwise.verify.files``). ``load`` reads it; ``build`` turns it into a ``Trace`` under one ``Reading`` (the
questions of layout are answered in ``structure``):
columns-layout tensors become rows, out × in weights become in × out, a bias inside W is taken apart, and each
convention assumed is noted. What network.json leaves open and the shapes cannot tell (a square W, a square x,
an augmented W whose input is given without its column of ones, mean or sum) is recorded in ``Trace.open``; the
verifier tries the other readings and keeps the one under which the tensors agree.

A tensor the user computed (z, a, delta, dW, db) is kept as given when its shape fits nothing: that is a
finding, not bad input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gradwise.verify import bias as B
from gradwise.verify import layout as L
from gradwise.verify import norm as N
from gradwise.verify import structure as S
from gradwise.verify.files import NETWORK_NAME, Tensors, TraceError, checked_array, read_folder
from gradwise.verify.names import canonical_names
from gradwise.verify.network import HINT, TraceNetwork, parse_network
from gradwise.verify.precision import U64, dtype_rounding, unit_roundoff
from gradwise.verify.structure import Reading

Array = np.ndarray
_NAME = re.compile(r"(W|b|dW|db|z|a|delta|xhat|y)(\d+)(\.after)?")
_GIVEN = re.compile(r"x|t|(W|b|dW|db)\d+")
_NORM_PARAMETER = re.compile(r"(d?gamma|d?beta)(\d+)")  # read with the layer's norm, if it has one
_NORM_FAMILIES = ("xhat", "y")  # per-sample tensors of a normalized layer


@dataclass(frozen=True)
class Loaded:
    """network.json and the tensor files, read but not yet interpreted; ``precision`` is the unit round-off."""

    network: TraceNetwork
    tensors: Tensors
    where: str
    precision: float = U64
    notes: tuple[str, ...] = ()  # what reading the names took (layers counted from 1)


@dataclass
class Trace:
    """One step in rows layout: x (B, n_in), t (B, n_out), W[i] (n_i, n_i+1), b[i] (n_i+1,), and the user's tensors.

    ``dW[i]`` is the user's gradient in × out: for a bias inside W, the whole augmented matrix. ``db[i]`` is None
    when the layer has no separate bias. ``W_after[i]`` is augmented like ``dW[i]``. A normalized layer (see
    ``verify.norm``) has gamma[i] and beta[i] (n,), and may have dgamma[i], dbeta[i], xhat[i] and y[i].
    """

    network: TraceNetwork
    x: Array
    t: Array
    W: list[Array]
    b: list[Array]
    dW: list[Array]
    db: list[Array | None]
    z: dict[int, Array] = field(default_factory=dict)
    a: dict[int, Array] = field(default_factory=dict)
    delta: dict[int, Array] = field(default_factory=dict)
    loss: float | None = None
    W_after: dict[int, Array] = field(default_factory=dict)
    b_after: dict[int, Array] = field(default_factory=dict)
    gamma: dict[int, Array] = field(default_factory=dict)
    beta: dict[int, Array] = field(default_factory=dict)
    dgamma: dict[int, Array] = field(default_factory=dict)
    dbeta: dict[int, Array] = field(default_factory=dict)
    xhat: dict[int, Array] = field(default_factory=dict)
    y: dict[int, Array] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: str = "<dict>"
    precision: float = U64
    open: list[tuple[str, str]] = field(default_factory=list)  # (aspect, the value not taken) the shapes left open
    absolute: dict[str, float] = field(default_factory=dict)  # per-entry rounding of tensors written fixed-point
    reading: Reading = field(default_factory=Reading)

    @property
    def batch(self) -> int:
        return int(self.x.shape[0])

    def bias_inside(self, i: int) -> bool:
        return B.inside(self.network.bias[i])

    def gradient_of(self, i: int, dW: Array, db: Array) -> Array:
        """Layer i's weight gradient laid out as the user's dW{i}: with the bias row when the bias is inside W."""
        return B.join(dW, db, self.network.bias[i]) if self.bias_inside(i) else dW

    def parameters(self, i: int) -> Array:
        """W{i} as the user stores it (in × out): with the bias row when the bias is inside."""
        return B.join(self.W[i], self.b[i], self.network.bias[i]) if self.bias_inside(i) else self.W[i]

    def weights_after(self, i: int) -> Array | None:
        """W{i} after the step, without a bias row, if given (and shaped like W{i})."""
        if i not in self.W_after or self.W_after[i].shape != self.parameters(i).shape:
            return None
        return B.split(self.W_after[i], self.network.bias[i])[0] if self.bias_inside(i) else self.W_after[i]


def read_trace(source: str | Path | Mapping[str, Any]) -> Trace:
    """A trace folder, or a dict {"network": {...}, "x": array, ...} -> Trace (default reading)."""
    return build(load(source))


def load(source: str | Path | Mapping[str, Any]) -> Loaded:
    """Read network.json and every tensor; bad input raises TraceError."""
    if isinstance(source, Mapping):
        if "network" not in source or not isinstance(source["network"], Mapping):
            raise TraceError('<dict>: needs a "network" entry holding what network.json would hold')
        network = parse_network(dict(source["network"]), "network")
        tensors = Tensors()
        for name, value in source.items():
            if name != "network":
                array = _as_array(value, name)
                tensors.add(name, checked_array(array, name), name, dtype_rounding(array.dtype))
        where = "<dict>"
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise TraceError(f"{folder}: no such trace folder; {HINT}")
        network = parse_network(_read_json(folder / NETWORK_NAME), str(folder / NETWORK_NAME))
        tensors, where = read_folder(folder), str(folder)
    tensors, notes = canonical_names(tensors, network.layers)
    return Loaded(network, tensors, where, unit_roundoff(tensors.values, tensors.rounding), tuple(notes))


def _as_array(value: Any, name: str) -> Array:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise TraceError(f"{name}: is not an array of numbers; pass a NumPy array") from None
    if array.dtype.kind not in "biuf":
        raise TraceError(f"{name}: holds {array.dtype} values, not numbers; save a float array")
    return array


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise TraceError(f"{path}: not found; write the network's sizes, activations and loss there ({HINT})") from None
    except json.JSONDecodeError as error:
        raise TraceError(f"{path}: not valid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TraceError(f"{path}: cannot read it ({type(error).__name__}); write it as UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise TraceError(f'{path}: must hold one JSON object, e.g. {{"sizes": [4, 3], ...}}')
    return data


def build(loaded: Loaded, reading: Reading | None = None) -> Trace:
    """The trace under one reading of what network.json leaves open (None: the usual one)."""
    reading = reading or Reading()
    net, tensors = loaded.network, loaded.tensors
    for name in ("x", "t", *(f"{p}{i}" for i in range(net.layers) for p in ("W", "dW"))):
        _required(tensors, name, loaded.where)
    notes: list[str] = list(loaded.notes)
    open_: list[tuple[str, str]] = []
    samples = S.samples_layout(net, tensors.values, reading, open_, notes)
    weights, inside = S.orientation(net, tensors, samples, reading, open_, notes)
    forms = S.bias_forms(net, tensors, inside, (samples, weights), reading, open_, notes, loaded.where)
    reduction = net.reduction or reading.reduction or "mean"
    if not net.reduction:
        open_.append(("reduction", "sum"))
    if net.loss == "ce" and net.activations[-1].name == "sigmoid":  # with sigmoid outputs, often meant as bce
        open_.append(("loss", "bce"))
    loss = reading.loss or net.loss
    norm, norm_at, eps = N.settle(net, tensors.values, reading, open_, loaded.where)
    network = replace(net, samples=samples, weights=weights, reduction=reduction, bias=tuple(forms), loss=loss)
    network = replace(network, norm=norm, norm_at=norm_at, eps=eps)
    rows = samples == "rows"
    x = L.read_input(tensors.values["x"], net.sizes[0], rows, forms[0], tensors.sources["x"])
    trace = Trace(network, x, _targets(tensors, net.sizes[-1], x.shape[0], rows, notes), [], [], [], [])
    trace.notes, trace.source, trace.precision = notes, loaded.where, loaded.precision
    trace.absolute = dict(tensors.absolute)
    trace.open, trace.reading = open_, reading
    _layers(trace, tensors)
    _gradients_transposed(trace)
    _norm_layers(trace, tensors)
    for name in ("x", "t", *(f"{p}{i}" for i in range(net.layers) for p in ("W", "b")), *_norm_parameters(network)):
        if name in tensors.values:
            _finite(tensors.values[name], tensors.sources[name])
    _optional(trace, tensors, reading)
    return trace


def _norm_parameters(network: TraceNetwork) -> list[str]:
    return [f"{p}{i}" for i in range(network.layers) if network.norm_of(i) for p in ("gamma", "beta")]


def _required(tensors: Tensors, name: str, where: str) -> None:
    if name not in tensors.values:
        raise TraceError(
            f"{where}: {name} is missing; write {name}.txt (or {name}.npy, or {name} in trace.npz) ({HINT})"
        )


def _targets(tensors: Tensors, classes: int, batch: int, rows: bool, notes: list[str]) -> Array:
    t = tensors.values["t"]
    labels = L.one_hot(t, classes, batch)
    if labels is not None:
        t, first = labels
        counted = "" if first == 0 else f" counted from {first}"
        notes.append(f"t holds class labels{counted}: read as one-hot rows of {classes}")
    t, _ = L.per_sample(t, classes, batch, rows)
    if t.shape != (batch, classes):
        raise TraceError(
            f"{tensors.sources['t']}: shape {t.shape} does not fit {batch} samples of {classes} targets "
            f"({'rows' if rows else 'columns'} layout); write one target vector per sample of x"
        )
    return t


def _finite(array: Array, name: str) -> None:
    """The step's inputs must be finite: the reference is built from them."""
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        raise TraceError(
            f"{name}: holds {array[where]} at {where}; the inputs and weights must be finite: trace a step "
            "before the values blow up"
        )


def _vector(array: Array, n: int, name: str) -> Array:
    if array.size != n or (array.ndim == 2 and 1 not in array.shape):
        raise TraceError(f"{name}: shape {array.shape} is not a vector of {n}; write one number per unit")
    return array.reshape(n)


def _layers(trace: Trace, tensors: Tensors) -> None:
    """W, b (checked: they define the network), dW, db (kept as given when misshapen: that is a finding)."""
    network, values = trace.network, tensors.values
    out_in = network.weights == "out_in"
    rows = network.samples == "rows"
    for i in range(network.layers):
        n_out, form = network.sizes[i + 1], network.bias[i]
        stored = _stored_weights(values[f"W{i}"], network, i)
        matrix = stored.T if out_in else stored
        W, b = B.split(matrix, form) if B.inside(form) else (matrix, np.zeros(n_out))
        if form == "separate":
            b = _vector(values[f"b{i}"], n_out, tensors.sources[f"b{i}"])
        trace.W.append(W)
        trace.b.append(b)
        dw = _like(values[f"dW{i}"], stored)
        trace.dW.append(dw.T if out_in and dw.ndim == 2 else dw)
        trained = form == "separate" and f"db{i}" in values
        trace.db.append(_bias_gradient(values[f"db{i}"], n_out, trace.batch, rows) if trained else None)
        if form == "separate" and not trained:
            trace.notes.append(f"b{i} comes without db{i}: read as a bias this step does not train")


def _stored_weights(given: Array, network: TraceNetwork, i: int) -> Array:
    """W{i} as the matrix the user stores: a flat vector takes the shape its orientation and bias form give."""
    if given.ndim == 2:
        return given
    rows = network.sizes[i] + (1 if B.inside(network.bias[i]) else 0)
    shape = (rows, network.sizes[i + 1])
    return given.reshape(shape[::-1] if network.weights == "out_in" else shape)


def _like(array: Array, stored: Array) -> Array:
    """A gradient or updated weights as a matrix of W's stored shape when it is the same vector written flat (a
    layer with one input or one output), else as given."""
    if array.size == stored.size and 1 in stored.shape and (array.ndim < 2 or 1 in array.shape):
        return array.reshape(stored.shape)
    return array


def _norm_layers(trace: Trace, tensors: Tensors) -> None:
    """gamma{i}, beta{i} (checked: they define the network; 1 and 0 when not given), dgamma{i}, dbeta{i} (kept as
    given when misshapen: that is a finding)."""
    network, values, sources = trace.network, tensors.values, tensors.sources
    for i in (i for i in range(network.layers) if network.norm_of(i)):
        n = network.sizes[i + 1]
        if f"gamma{i}" not in values:
            trace.gamma[i], trace.beta[i] = np.ones(n), np.zeros(n)
            trace.notes.append(f"layer {i}'s norm comes without gamma{i} and beta{i}: read as gamma = 1, beta = 0")
            continue
        trace.gamma[i] = _vector(values[f"gamma{i}"], n, sources[f"gamma{i}"])
        trace.beta[i] = _vector(values[f"beta{i}"], n, sources[f"beta{i}"])
        for family, into in (("dgamma", trace.dgamma), ("dbeta", trace.dbeta)):
            if f"{family}{i}" in values:
                into[i] = _bias_gradient(values[f"{family}{i}"], n, trace.batch, network.samples == "rows")
            else:
                parameter = family[1:]
                trace.notes.append(f"{parameter}{i} comes without d{parameter}{i}: read as not trained this step")


def _gradients_transposed(trace: Trace) -> None:
    """Every dW stored the other way round from its (non-square) W: a layout of the user's, read transposed."""
    flipped = [g.ndim == 2 and g.shape == W.shape[::-1] != W.shape for g, W in zip(trace.dW, trace.W, strict=True)]
    if all(flipped):
        trace.dW = [g.T for g in trace.dW]
        trace.notes.append("every dW is stored the other way round from its W: read transposed")


def _bias_gradient(db: Array, n_out: int, batch: int, rows: bool) -> Array:
    if db.ndim < 2 or 1 in db.shape:  # a row, a column, or a scalar: summed over something
        return db.reshape(-1)
    return L.per_sample(db, n_out, batch, rows)[0]


@dataclass
class _PerSample:
    name: str
    family: str
    layer: int
    value: Array
    flipped: bool | None  # None: square, the layout cannot be told from the shape


def _optional(trace: Trace, tensors: Tensors, reading: Reading) -> None:
    """loss, z{i}, a{i}, delta{i}, xhat{i}, y{i}, W{i}.after, b{i}.after: whatever the user gave."""
    network = trace.network
    ignored: list[str] = []
    found: list[_PerSample] = []
    for name, array in tensors.values.items():
        if _GIVEN.fullmatch(name):
            continue
        source = tensors.sources[name]
        if name == "loss":
            trace.loss = _batch_loss(trace, array, source)
            continue
        parameter = _NORM_PARAMETER.fullmatch(name)
        if parameter is not None:  # read by _norm_layers when its layer has a norm (Adam's beta1 is no gamma/beta)
            if not network.norm_of(int(parameter[2])):
                ignored.append(name)
            continue
        match = _NAME.fullmatch(name)
        if match is None or int(match[2]) >= network.layers:
            ignored.append(name)
        elif match[1] in _NORM_FAMILIES and (match[3] or not network.norm_of(int(match[2]))):
            ignored.append(name)  # a y{i} or xhat{i} of a layer without a norm: not one of the network's tensors
        elif match[3]:
            _after(trace, name, (match[1], int(match[2])), array, source, ignored)
        else:
            found.append(_per_sample(trace, match[1], int(match[2]), array, name))
    _settle_layouts(trace, found, reading)
    if ignored:
        trace.notes.append(f"ignored tensors with names the verifier does not know: {', '.join(sorted(ignored))}")


def _batch_loss(trace: Trace, array: Array, source: str) -> float:
    """The batch's loss: one number, or one per sample (then summed, or averaged for a mean)."""
    if array.size == 1:
        return float(array.reshape(()))
    if array.size == trace.batch and (array.ndim == 1 or 1 in array.shape):
        trace.notes.append(f"the loss holds one number per sample: read as their {trace.network.reduction}")
        total = float(array.sum())
        return total / trace.batch if trace.network.reduction == "mean" else total
    raise TraceError(f"{source}: holds {array.size} numbers; write the batch's loss as one number")


def _per_sample(trace: Trace, family: str, i: int, array: Array, name: str) -> _PerSample:
    """z{i}, a{i} or delta{i} as (B, n); a column for the next layer's bias unit (inside W{i+1}) is taken off."""
    network = trace.network
    n, rows = network.sizes[i + 1], network.samples == "rows"
    value, flipped = L.per_sample(array, n, trace.batch, rows)
    next_form = network.bias[i + 1] if i + 1 < network.layers else ""
    if value.shape != (trace.batch, n) and B.inside(next_form):
        wide, wide_flipped = L.per_sample(array, n + 1, trace.batch, rows)
        if wide.shape == (trace.batch, n + 1):
            value, flipped = B.drop_unit(wide, next_form), wide_flipped
    return _PerSample(name, family, i, value, flipped)


def _settle_layouts(trace: Trace, found: list[_PerSample], reading: Reading) -> None:
    """Square tensors follow their family (every delta is stored the same way); a family all square is open."""
    flipped_names = []
    for family in ("z", "a", "delta", *_NORM_FAMILIES):
        members = [m for m in found if m.family == family]
        told = [m.flipped for m in members if m.flipped is not None]
        if any(m.flipped is None for m in members) and not told:
            trace.open.append(("flipped", family))
        family_flipped = family in reading.flipped or (bool(told) and sum(told) > len(told) / 2)
        for m in members:
            flipped = family_flipped if m.flipped is None else m.flipped
            value = m.value.T if m.flipped is None and flipped else m.value
            getattr(trace, m.family)[m.layer] = value
            if flipped:
                flipped_names.append(m.name)
    if flipped_names:
        stored = "n × B" if trace.network.samples == "rows" else "B × n"
        names = ", ".join(sorted(flipped_names))
        verb = "is" if len(flipped_names) == 1 else "are"
        trace.notes.append(f"{names} {verb} stored {stored}, the other way round from x: read transposed")


def _after(
    trace: Trace, name: str, kind_and_layer: tuple[str, int], array: Array, source: str, ignored: list[str]
) -> None:
    """W{i}.after or b{i}.after (``name``, read from ``source``); anything else .after is bad input."""
    network = trace.network
    kind, i = kind_and_layer
    if kind == "b":
        if network.bias[i] != "separate":
            ignored.append(name)
            return
        n = network.sizes[i + 1]
        vector = array.size == n and (array.ndim < 2 or 1 in array.shape)
        trace.b_after[i] = array.reshape(n) if vector else array  # misshapen: the update check's finding
        return
    if kind != "W":
        raise TraceError(f"{source}: only W{{i}}.after and b{{i}}.after are read; rename or remove it")
    stored = trace.parameters(i).shape
    expected = stored[::-1] if network.weights == "out_in" else stored
    array = _like(array, np.empty(expected))
    if array.ndim == 2 and network.weights == "out_in":
        array = array.T  # a misshapen one is kept too: a broadcast in the user's update is a finding, not bad input
    trace.W_after[i] = array
