"""A trace: one training step of someone's own network, read into gradwise's layout (rows are samples, W in × out).

A trace folder holds ``network.json`` (sizes, activations, loss, reduction, samples, weights, lr) and one file
per tensor (see ``gradwise.verify.files``). ``read_trace`` checks everything the verifier relies on and turns
columns-layout tensors into rows and out × in weights into in × out, noting each convention it assumed.
A tensor the user computed (z, a, delta, dW, db) is kept as given when its shape fits nothing: that is a finding,
not bad input.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradwise.nn.activations import ACTIVATIONS, Activation, get_activation
from gradwise.verify.files import TraceError, checked_array, read_folder

Array = np.ndarray
LOSS_NAMES = {
    "mse": "mse", "quadratic": "mse",
    "ce": "ce", "cross_entropy": "ce", "nll": "ce", "softmax_ce": "ce", "softmax_cross_entropy": "ce",
    "bce": "bce", "binary_cross_entropy": "bce", "bce_logits": "bce", "binary_cross_entropy_from_logits": "bce",
}  # fmt: skip
REQUIRED_PER_LAYER = ("W", "b", "dW", "db")
_NAME = re.compile(r"(W|b|dW|db|z|a|delta)(\d+)(\.after)?")
_HINT = "see `gradwise verify --example DIR` for a complete trace"


@dataclass(frozen=True)
class TraceNetwork:
    """What network.json says: sizes (n_in, ..., n_out), one activation per weight layer, loss and conventions."""

    sizes: tuple[int, ...]
    activations: tuple[Activation, ...]
    loss: str  # "mse", "ce" or "bce"
    reduction: str = "mean"  # or "sum"
    samples: str = "rows"  # or "columns"
    weights: str = "in_out"  # or "out_in": how the user stores W (and dW, W.after)
    lr: float | None = None  # the step size: W.after = W - lr dW

    @property
    def layers(self) -> int:
        return len(self.sizes) - 1

    def describe(self) -> str:
        names = "/".join(a.name for a in self.activations)
        return f"{'-'.join(map(str, self.sizes))} {names}, {self.loss} ({self.reduction})"


@dataclass
class Trace:
    """One step in rows layout: x (B, n_in), t (B, n_out), W[i] (n_i, n_i+1), b[i] (n_i+1,), and the user's tensors."""

    network: TraceNetwork
    x: Array
    t: Array
    W: list[Array]
    b: list[Array]
    dW: list[Array]
    db: list[Array]
    z: dict[int, Array] = field(default_factory=dict)
    a: dict[int, Array] = field(default_factory=dict)
    delta: dict[int, Array] = field(default_factory=dict)
    loss: float | None = None
    W_after: dict[int, Array] = field(default_factory=dict)
    b_after: dict[int, Array] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: str = "<dict>"
    orientation_assumed: bool = False  # every layer square and no "weights": verify tries both

    @property
    def batch(self) -> int:
        return int(self.x.shape[0])


def read_trace(source: str | Path | Mapping[str, Any]) -> Trace:
    """A trace folder, or a dict {"network": {...}, "x": array, ...} -> Trace; bad input raises TraceError."""
    if isinstance(source, Mapping):
        if "network" not in source or not isinstance(source["network"], Mapping):
            raise TraceError('<dict>: needs a "network" entry holding what network.json would hold')
        config = dict(source["network"])
        tensors = {k: _as_array(v, k) for k, v in source.items() if k != "network"}
        return _build(parse_network(config, "network"), tensors, {k: k for k in tensors}, "<dict>")
    folder = Path(source)
    if not folder.is_dir():
        raise TraceError(f"{folder}: no such trace folder; {_HINT}")
    network = parse_network(_read_json(folder / "network.json"), str(folder / "network.json"))
    tensors, sources = read_folder(folder)
    return _build(network, tensors, sources, str(folder))


def _as_array(value: Any, name: str) -> Array:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise TraceError(f"{name}: is not an array of numbers; pass a NumPy array") from None
    return checked_array(array, name)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise TraceError(
            f"{path}: not found; write the network's sizes, activations and loss there ({_HINT})"
        ) from None
    except json.JSONDecodeError as error:
        raise TraceError(f"{path}: not valid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TraceError(f"{path}: cannot read it ({type(error).__name__}); write it as UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise TraceError(f'{path}: must hold one JSON object, e.g. {{"sizes": [4, 3], ...}}')
    return data


def parse_network(config: dict[str, Any], name: str) -> TraceNetwork:
    """network.json's object -> TraceNetwork; a missing key, an unknown name or a bad value raises TraceError."""
    for key in ("sizes", "activations", "loss"):
        if key not in config:
            raise TraceError(f"{name}: needs {key!r} ({_HINT})")
    sizes = config["sizes"]
    if not isinstance(sizes, list) or len(sizes) < 2 or not all(type(s) is int and s >= 1 for s in sizes):
        raise TraceError(f"{name}: sizes must be a list of at least two positive integers, e.g. [784, 100, 10]")
    activations = config["activations"]
    if not isinstance(activations, list) or len(activations) != len(sizes) - 1:
        raise TraceError(f"{name}: activations must list one name per weight layer ({len(sizes) - 1} for {sizes})")
    parsed = []
    for i, spec in enumerate(activations):
        try:
            parsed.append(get_activation(str(spec)))
        except ValueError:
            raise TraceError(
                f"{name}: unknown activation {spec!r} in activations[{i}]; choose one of: {', '.join(ACTIVATIONS)}"
            ) from None
    loss = LOSS_NAMES.get(str(config["loss"]).strip().lower().replace("-", "_"))
    if loss is None:
        raise TraceError(f"{name}: unknown loss {config['loss']!r}; choose mse, ce or bce")
    choices = {"reduction": ("mean", "sum"), "samples": ("rows", "columns"), "weights": ("in_out", "out_in")}
    for key, allowed in choices.items():
        if key in config and config[key] not in allowed:
            raise TraceError(f"{name}: {key} must be {' or '.join(map(repr, allowed))}, got {config[key]!r}")
    lr = config.get("lr")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, int | float) or not math.isfinite(lr)):
        raise TraceError(f"{name}: lr must be a number, got {lr!r}")
    return TraceNetwork(
        tuple(sizes),
        tuple(parsed),
        loss,
        config.get("reduction", "mean"),
        config.get("samples", "rows"),
        config.get("weights", ""),  # "" until the shapes decide; see _orientation
        None if lr is None else float(lr),
    )


def _build(network: TraceNetwork, tensors: dict[str, Array], sources: dict[str, str], where: str) -> Trace:
    def required(name: str) -> Array:
        if name not in tensors:
            raise TraceError(
                f"{where}: {name} is missing; write {name}.txt (or {name}.npy, or {name} in trace.npz) ({_HINT})"
            )
        return tensors[name]

    notes: list[str] = []
    rows = network.samples == "rows"
    x = _input(required("x"), network.sizes[0], rows, sources["x"])
    batch = x.shape[0]
    t, _ = per_sample(_one_hot(required("t"), network.sizes[-1], batch, notes), network.sizes[-1], batch, rows)
    if t.shape != (batch, network.sizes[-1]):
        raise TraceError(
            f"{sources['t']}: shape {t.shape} does not fit {batch} samples of {network.sizes[-1]} targets "
            f"({network.samples} layout); write one target vector per sample of x"
        )
    for i in range(network.layers):
        for prefix in REQUIRED_PER_LAYER:
            required(f"{prefix}{i}")
    orientation, assumed = _orientation(network, tensors, sources)
    if not network.weights and not assumed:
        notes.append(f"W is stored {orientation.replace('_', ' × ')} (worked out from the shapes)")
    network = TraceNetwork(**{**network.__dict__, "weights": orientation})
    trace = Trace(network, x, t, [], [], [], [], notes=notes, source=where, orientation_assumed=assumed)
    _layers(trace, tensors, sources)
    for name in ("x", "t", *(f"{p}{i}" for i in range(network.layers) for p in ("W", "b"))):
        _finite(tensors[name], sources[name])
    _optional(trace, tensors, sources)
    return trace


def _finite(array: Array, name: str) -> None:
    """The step's inputs must be finite: the reference is built from them."""
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        raise TraceError(
            f"{name}: holds {array[where]} at {where}; the inputs and weights must be finite: trace a step "
            "before the values blow up"
        )


def _input(x: Array, n_in: int, rows: bool, name: str) -> Array:
    """x as (B, n_in); B comes from x itself, so x must fit the declared layout (or be one vector)."""
    if x.ndim < 2:  # one sample, or (one input) one number per sample
        x = x.reshape(-1, 1) if n_in == 1 else x.reshape(1, -1)
    if x.shape == (n_in, 1) or x.shape == (1, n_in):
        return x.reshape(1, n_in)
    if rows and x.shape[1] == n_in:
        return x
    if not rows and x.shape[0] == n_in:
        return x.T
    other = "columns" if rows else "rows"
    fits_other = x.shape[0 if rows else 1] == n_in
    hint = f'it fits "samples": "{other}"' if fits_other else f"the first size in network.json is {n_in}"
    raise TraceError(
        f"{name}: shape {x.shape} does not hold samples of {n_in} inputs as {'rows' if rows else 'columns'}; {hint}"
    )


def _one_hot(t: Array, classes: int, batch: int, notes: list[str]) -> Array:
    """Class labels (B numbers in 0 .. classes − 1) as one-hot rows; anything else unchanged."""
    if classes < 2 or t.size != batch or (t.ndim == 2 and 1 not in t.shape) or t.size == batch * classes:
        return t
    labels = t.reshape(-1)
    if not (np.all(labels == np.round(labels)) and labels.min() >= 0 and labels.max() < classes):
        return t
    notes.append(f"t holds class labels: read as one-hot rows of {classes}")
    one_hot: Array = np.eye(classes)[labels.astype(int)]
    return one_hot


def per_sample(array: Array, n: int, batch: int, rows: bool) -> tuple[Array, bool]:
    """A per-sample tensor as (B, n) rows -> (array, read in the other layout); as given when it fits neither."""
    v = array.reshape(1, 1) if array.ndim == 0 else array
    if v.ndim == 1:
        if v.size == n * batch and (batch == 1 or n == 1):
            return v.reshape(batch, n), False
        return v, False
    if batch == 1 and v.size == n and 1 in v.shape:
        return v.reshape(1, n), False  # one sample: a row or a column vector
    expected = (batch, n) if rows else (n, batch)
    if v.shape == expected:
        return (v if rows else v.T), False
    if v.shape == expected[::-1]:
        return (v.T if rows else v), True
    return v, False


def _orientation(network: TraceNetwork, tensors: dict[str, Array], sources: dict[str, str]) -> tuple[str, bool]:
    """(orientation, assumed): declared, or worked out from the non-square layers; every W must fit it."""
    found: dict[str, str] = {}
    for i, (n_in, n_out) in enumerate(zip(network.sizes, network.sizes[1:], strict=False)):
        shape = _matrix_shape(tensors[f"W{i}"])
        fits = [o for o, s in (("in_out", (n_in, n_out)), ("out_in", (n_out, n_in))) if shape == s]
        if not fits:
            raise TraceError(
                f"{sources[f'W{i}']}: shape {shape} fits neither {n_in}×{n_out} (in × out) nor {n_out}×{n_in} "
                f"(out × in) for sizes {list(network.sizes)}; check the sizes in network.json"
            )
        if network.weights and network.weights not in fits:
            raise TraceError(
                f"{sources[f'W{i}']}: shape {shape} is not {network.weights.replace('_', ' × ')} as network.json "
                'says; transpose it or change "weights"'
            )
        if len(fits) == 1:
            found.setdefault(fits[0], f"W{i}")
    if len(found) > 1:
        raise TraceError(
            f"{sources[found['out_in']]}: is stored out × in but {found['in_out']} is in × out; "
            "store every W the same way"
        )
    if network.weights:
        return network.weights, False
    if found:
        return next(iter(found)), False
    return ("in_out" if network.samples == "rows" else "out_in"), True  # x W for rows, W a for columns (Nielsen)


def _matrix_shape(array: Array) -> tuple[int, ...]:
    return tuple(array.shape) if array.ndim == 2 else (1, array.size) if array.ndim == 1 else (1, 1)


def _vector(array: Array, n: int, name: str) -> Array:
    if array.size != n or (array.ndim == 2 and 1 not in array.shape):
        raise TraceError(f"{name}: shape {array.shape} is not a vector of {n}; write one number per unit")
    return array.reshape(n)


def _layers(trace: Trace, tensors: dict[str, Array], sources: dict[str, str]) -> None:
    """W, b (checked: they define the network), dW, db (kept as given when misshapen: that is a finding)."""
    network = trace.network
    out_in = network.weights == "out_in"
    rows = network.samples == "rows"
    for i in range(network.layers):
        n_out = network.sizes[i + 1]
        w = tensors[f"W{i}"].reshape(_matrix_shape(tensors[f"W{i}"]))
        trace.W.append(w.T if out_in else w)
        trace.b.append(_vector(tensors[f"b{i}"], n_out, sources[f"b{i}"]))
        dw = tensors[f"dW{i}"]
        trace.dW.append(dw.T if out_in and dw.ndim == 2 else dw)
        db = tensors[f"db{i}"]
        vector = db.ndim < 2 or 1 in db.shape  # a row, a column, or a scalar: summed over something
        trace.db.append(db.reshape(-1) if vector else per_sample(db, n_out, trace.batch, rows)[0])


def _optional(trace: Trace, tensors: dict[str, Array], sources: dict[str, str]) -> None:
    network = trace.network
    rows = network.samples == "rows"
    ignored, flipped_names = [], []
    for name, array in tensors.items():
        if name in ("x", "t") or re.fullmatch(r"(W|b|dW|db)\d+", name):
            continue
        if name == "loss":
            if array.size != 1:
                raise TraceError(f"{sources[name]}: holds {array.size} numbers; write the batch's loss as one number")
            trace.loss = float(array.reshape(()))
            continue
        match = _NAME.fullmatch(name)
        if match is None or int(match[2]) >= network.layers:
            ignored.append(name)
            continue
        kind, i, after = match[1], int(match[2]), bool(match[3])
        if after:
            _after(trace, kind, i, array, sources[name])
            continue
        value, flipped = per_sample(array, network.sizes[i + 1], trace.batch, rows)
        getattr(trace, kind)[i] = value
        if flipped:
            flipped_names.append(name)
    if flipped_names:
        stored = "n × B" if rows else "B × n"
        names = ", ".join(sorted(flipped_names))
        verb = "is" if len(flipped_names) == 1 else "are"
        trace.notes.append(f"{names} {verb} stored {stored}, the other way round from x: read transposed")
    if ignored:
        trace.notes.append(f"ignored tensors with names the verifier does not know: {', '.join(sorted(ignored))}")


def _after(trace: Trace, kind: str, i: int, array: Array, name: str) -> None:
    network = trace.network
    if kind == "b":
        trace.b_after[i] = _vector(array, network.sizes[i + 1], name)
        return
    if kind != "W":
        raise TraceError(f"{name}: only W{{i}}.after and b{{i}}.after are read; rename or remove it")
    expected = trace.W[i].shape[::-1] if network.weights == "out_in" else trace.W[i].shape
    if _matrix_shape(array) != expected:
        raise TraceError(f"{name}: shape {array.shape} differs from W{i}'s {expected}; write W{i} after the update")
    w = array.reshape(expected)
    trace.W_after[i] = w.T if network.weights == "out_in" else w


def flipped_orientation(trace: Trace) -> Trace:
    """The same trace with every W, dW and W.after read the other way round (for square layers)."""
    other = "out_in" if trace.network.weights == "in_out" else "in_out"
    network = TraceNetwork(**{**trace.network.__dict__, "weights": other})
    return dataclasses.replace(
        trace,
        network=network,
        W=[w.T for w in trace.W],
        dW=[g.T if g.ndim == 2 else g for g in trace.dW],
        W_after={i: w.T for i, w in trace.W_after.items()},
        notes=list(trace.notes),
    )
