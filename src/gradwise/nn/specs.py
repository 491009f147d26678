"""A network as data: the list of its layers, which a model file records, and the network built back from it.

``layer_specs(net)`` is one JSON-ready dict per layer, in order::

    {"kind": "Dense", "shape": [784, 100], "activation": "leaky_relu:0.2"}
    {"kind": "Dropout", "p": 0.2}

``from_specs(specs, dtype)`` builds that network again, every parameter at 0, ready for saved weights: any
network of Dense and Dropout layers, whatever its activations, reloads. ``param_shapes(specs)`` names and
sizes its parameters as ``Network.params`` will, without allocating them, so a loader can check a file's
arrays first. A list from a file is checked whole: ``ValueError`` says which layer is wrong and how.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwise.nn.activations import get_activation
from gradwise.nn.layers import Dense, Dropout, Layer
from gradwise.nn.network import Network, param_name
from gradwise.seeds import weights_rng

MAX_UNITS = 2**31 - 1  # a layer size beyond this is a damaged file, not a network
KINDS = ("Dense", "Dropout")


def layer_specs(net: Network) -> list[dict[str, Any]]:
    """One dict per layer of ``net``, in order (activations as their full spec: ``"leaky_relu:0.2"``)."""
    specs: list[dict[str, Any]] = []
    for layer in net.layers:
        if isinstance(layer, Dense):
            specs.append({"kind": "Dense", "shape": list(layer.shape), "activation": layer.activation.spec})
        elif isinstance(layer, Dropout):
            specs.append({"kind": "Dropout", "p": layer.p})
        else:
            raise ValueError(f"layer_specs: a {type(layer).__name__} layer has no saved form (Dense and Dropout do)")
    return specs


def param_shapes(specs: Any) -> dict[str, tuple[int, ...]]:
    """The name and shape of every parameter of the network ``specs`` describe; ValueError for a bad list."""
    _check(specs)
    shapes: dict[str, tuple[int, ...]] = {}
    for i, spec in enumerate(specs):
        if spec["kind"] == "Dense":
            n_in, n_out = spec["shape"]
            shapes[param_name(i, "W")], shapes[param_name(i, "b")] = (n_in, n_out), (n_out,)
    return shapes


def from_specs(specs: Any, dtype: str | np.dtype = "float32") -> Network:
    """The network ``specs`` describe, every parameter 0 (load weights into ``net.params``)."""
    _check(specs)
    layers: list[Layer] = []
    for spec in specs:
        if spec["kind"] == "Dense":
            n_in, n_out = spec["shape"]
            layers.append(Dense(n_in, n_out, spec["activation"], "zeros", rng=weights_rng(0), dtype=np.dtype(dtype)))
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
            raise ValueError(f"{where} must be a Dense or a Dropout layer, not {_short(spec)}")
        if spec["kind"] == "Dropout":
            p = spec.get("p")
            if not (isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p < 1):
                raise ValueError(f"{where}: a Dropout needs p in [0, 1), not {_short(p)}")
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
        raise ValueError("the last layer must be a Dense layer (the outputs), not a Dropout")


def _size(n: object) -> bool:
    return type(n) is int and 1 <= n <= MAX_UNITS


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
