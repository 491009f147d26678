"""A network as data: the list of its layers, which a model file records, and the network built back from it.

``layer_specs(net)`` is one JSON-ready dict per layer, in order::

    {"kind": "Dense", "shape": [784, 100], "activation": "leaky_relu:0.2"}
    {"kind": "BatchNorm", "size": 100, "eps": 1e-05, "momentum": 0.1}
    {"kind": "LayerNorm", "size": 100, "eps": 1e-05}
    {"kind": "Dropout", "p": 0.2}

``from_specs(specs, dtype)`` builds that network again, every parameter at 0, ready for saved weights: any
network of Dense, Dropout, BatchNorm and LayerNorm layers, whatever its activations, reloads.
``param_shapes(specs)`` names and sizes its parameters and buffers (BatchNorm's running statistics) as
``Network.params`` and ``Network.buffers`` will, without allocating them, so a loader can check a file's arrays
first. A list from a file is checked whole: ``ValueError`` says which layer is wrong and how.
"""

from __future__ import annotations

from typing import Any, TypeGuard

import numpy as np

from gradwise.nn.activations import get_activation
from gradwise.nn.layers import Dense, Dropout, Layer
from gradwise.nn.network import Network, param_name
from gradwise.nn.normalization import BatchNorm, LayerNorm
from gradwise.seeds import weights_rng

MAX_UNITS = 2**31 - 1  # a layer size beyond this is a damaged file, not a network
KINDS = ("Dense", "Dropout", "BatchNorm", "LayerNorm")
NORM_ARRAYS = {"BatchNorm": ("gamma", "beta", "running_mean", "running_var"), "LayerNorm": ("gamma", "beta")}


def layer_specs(net: Network) -> list[dict[str, Any]]:
    """One dict per layer of ``net``, in order (activations as their full spec: ``"leaky_relu:0.2"``)."""
    specs: list[dict[str, Any]] = []
    for layer in net.layers:
        if isinstance(layer, Dense):
            specs.append({"kind": "Dense", "shape": list(layer.shape), "activation": layer.activation.spec})
        elif isinstance(layer, Dropout):
            specs.append({"kind": "Dropout", "p": layer.p})
        elif isinstance(layer, BatchNorm):
            specs.append({"kind": "BatchNorm", "size": layer.size, "eps": layer.eps, "momentum": layer.momentum})
        elif isinstance(layer, LayerNorm):
            specs.append({"kind": "LayerNorm", "size": layer.size, "eps": layer.eps})
        else:
            raise ValueError(
                f"layer_specs: a {type(layer).__name__} layer has no saved form (Dense, Dropout, BatchNorm and "
                "LayerNorm do)"
            )
    return specs


def param_shapes(specs: Any) -> dict[str, tuple[int, ...]]:
    """The name and shape of every parameter and buffer of the network ``specs`` describe (named as
    ``Network.params`` and ``Network.buffers``: ``"0.W"``, ``"1.running_mean"``); ValueError for a bad list."""
    _check(specs)
    shapes: dict[str, tuple[int, ...]] = {}
    for i, spec in enumerate(specs):
        if spec["kind"] == "Dense":
            n_in, n_out = spec["shape"]
            shapes[param_name(i, "W")], shapes[param_name(i, "b")] = (n_in, n_out), (n_out,)
        for key in NORM_ARRAYS.get(spec["kind"], ()):
            shapes[param_name(i, key)] = (spec["size"],)
    return shapes


def from_specs(specs: Any, dtype: str | np.dtype = "float32") -> Network:
    """The network ``specs`` describe, every parameter 0 and every buffer at its start (load the saved arrays into
    ``net.params`` and ``net.buffers``)."""
    _check(specs)
    dtype = np.dtype(dtype)
    layers: list[Layer] = []
    for spec in specs:
        kind = spec["kind"]
        if kind == "Dense":
            n_in, n_out = spec["shape"]
            layers.append(Dense(n_in, n_out, spec["activation"], "zeros", rng=weights_rng(0), dtype=dtype))
        elif kind == "BatchNorm":
            momentum = float(spec.get("momentum", 0.1))
            layers.append(BatchNorm(spec["size"], eps=float(spec.get("eps", 1e-5)), momentum=momentum, dtype=dtype))
        elif kind == "LayerNorm":
            layers.append(LayerNorm(spec["size"], eps=float(spec.get("eps", 1e-5)), dtype=dtype))
        else:
            layers.append(Dropout(float(spec["p"])))
    return Network(layers)


def _check(specs: Any) -> None:
    if not isinstance(specs, list) or not specs:
        raise ValueError(f"layers must be a non-empty list of layers, not {_short(specs)}")
    width = None
    for i, spec in enumerate(specs):
        where = f"layer {i}"
        if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
            raise ValueError(f"{where} must be a Dense, Dropout, BatchNorm or LayerNorm layer, not {_short(spec)}")
        if spec["kind"] == "Dropout":
            p = spec.get("p")
            if not (_number(p) and 0 <= p < 1):
                raise ValueError(f"{where}: a Dropout needs p in [0, 1), not {_short(p)}")
            continue
        if spec["kind"] in NORM_ARRAYS:
            width = _check_norm(where, spec, width)
            continue
        shape = spec.get("shape")
        if not (isinstance(shape, list) and len(shape) == 2 and all(map(_size, shape))):
            raise ValueError(f"{where}: a Dense needs shape [n_in, n_out] of positive sizes, not {_short(shape)}")
        if width is not None and shape[0] != width:
            raise ValueError(f"{where}: takes {shape[0]} inputs, but the layer before gives {width}")
        width = shape[1]
        activation = spec.get("activation")
        if not isinstance(activation, str):
            raise ValueError(f"{where}: activation must be a name, not {_short(activation)}")
        get_activation(activation)  # ValueError names the activations there are
    if specs[-1]["kind"] != "Dense":
        raise ValueError(f"the last layer must be a Dense layer (the outputs), not a {specs[-1]['kind']}")


def _check_norm(where: str, spec: dict[str, Any], width: int | None) -> int:
    """A BatchNorm's or a LayerNorm's size (that of the layer before, if any), eps and momentum -> its width."""
    kind, size = spec["kind"], spec.get("size")
    if not _size(size):
        raise ValueError(f"{where}: a {kind} needs a positive integer size, not {_short(size)}")
    if width is not None and size != width:
        raise ValueError(f"{where}: a {kind} of size {size}, but the layer before gives {width}")
    eps = spec.get("eps", 1e-5)
    if not (_number(eps) and 0 < eps < 1e300):  # not NaN, Inf, nor an integer too large for a float
        raise ValueError(f"{where}: a {kind} needs eps a finite number > 0, not {_short(eps)}")
    momentum = spec.get("momentum", 0.1)
    if kind == "BatchNorm" and not (_number(momentum) and 0 <= momentum <= 1):
        raise ValueError(f"{where}: a BatchNorm needs momentum in [0, 1], not {_short(momentum)}")
    return int(size)


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _size(n: object) -> TypeGuard[int]:
    return type(n) is int and 1 <= n <= MAX_UNITS


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
