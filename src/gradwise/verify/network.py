"""What ``network.json`` says: the network, and the conventions of the code that wrote the trace.

Only ``sizes``, ``activations`` and ``loss`` are required. Every convention a key can declare (how W is stored,
where the samples are, mean or sum, where the bias lives, the update's sign, L2, the optimizer) is otherwise
worked out from the tensors; a key that is present is taken as the truth. So are the normalization layers
(``norm``, ``norm_at``, ``eps``): see ``gradwise.verify.norm``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gradwise.nn.activations import ACTIVATIONS, Activation, get_activation
from gradwise.nn.pairing import pairing
from gradwise.verify.files import TraceError

HINT = "see `gradwise verify --example DIR` for a complete trace"
SHORT_LOSS = {"categorical": "ce", "binary": "bce", "squared": "mse"}  # the verifier's three, by nn.pairing's kind
# Where each layer's bias lives: a vector b{i} ("separate"), nowhere ("none"), or inside W{i} as its first or last
# row (in × out; column for out × in), with a constant 1 at the same end of the layer's input ("first", "last").
BIAS_FORMS = ("separate", "none", "first", "last")
BIAS_WORDS = {True: "separate", False: "none", "inside": "inside"}  # "inside": in W, the end worked out
SGD_NAMES = ("sgd", "gd", "gradient_descent", "plain")
# A hidden layer's normalization: BatchNorm (over the batch) or LayerNorm (over the units), by the names code uses.
NORM_WORDS = {"batch": "batch", "batchnorm": "batch", "batch_norm": "batch", "bn": "batch", "layer": "layer"}
NORM_WORDS |= {"layernorm": "layer", "layer_norm": "layer", "ln": "layer", "none": "none"}
NORM_NAMES = {"batch": "BatchNorm", "layer": "LayerNorm"}


@dataclass(frozen=True)
class TraceNetwork:
    """network.json, parsed: sizes (n_in, ..., n_out), one activation per weight layer, loss, and conventions.

    A convention left out is "" (or None): the verifier works it out from the tensors.
    """

    sizes: tuple[int, ...]
    activations: tuple[Activation, ...]
    loss: str  # "mse", "ce" or "bce"
    reduction: str = ""  # "mean" or "sum"
    samples: str = ""  # "rows" or "columns"
    weights: str = ""  # "in_out" or "out_in": how the user stores W (and dW, W.after)
    lr: float | None = None  # the step size
    bias: tuple[str, ...] = ()  # per layer: a BIAS_FORMS entry, "inside" (end unknown) or "" (not declared)
    update: str = ""  # "subtract" (W − lr·dW) or "add" (W + lr·dW)
    l2: float | None = None  # dW = dL/dW + l2·W
    optimizer: str = ""  # "sgd" checks the update; any other name skips it
    # "batch" or "layer" for the layers that hold gamma/beta (all hidden ones if none does), or one per layer
    # ("none" for a layer without); "" when not declared. Resolved to one per layer when the trace is built.
    norm: str | tuple[str, ...] = ""
    norm_at: str = ""  # "pre": z -> norm -> f (the BatchNorm paper's); "post": f(z) -> norm
    eps: float | None = None  # inside the square root: sqrt(var + eps)

    @property
    def layers(self) -> int:
        return len(self.sizes) - 1

    def norm_of(self, i: int) -> str:
        """Layer i's normalization, once resolved: "batch", "layer", or "" for none."""
        kinds = self.norm if isinstance(self.norm, tuple) else ()
        return kinds[i] if i < len(kinds) and kinds[i] != "none" else ""

    def norm_before_activation(self, i: int) -> bool:
        """Layer i normalizes z{i}, before its activation."""
        return bool(self.norm_of(i)) and self.norm_at == "pre"

    def norm_after_activation(self, i: int) -> bool:
        """Layer i normalizes a{i}, after its activation: the next layer's input is the norm's output y{i}."""
        return bool(self.norm_of(i)) and self.norm_at == "post"

    def describe(self) -> str:
        names = "/".join(a.name for a in self.activations)
        normalized = [i for i in range(self.layers) if self.norm_of(i)]
        norms = "".join(
            f", {NORM_NAMES[self.norm_of(i)]} on {'z' if self.norm_at == 'pre' else 'a'}{i}" for i in normalized
        )
        return f"{'-'.join(map(str, self.sizes))} {names}, {self.loss} ({self.reduction or 'mean'}){norms}"

    @property
    def plain_sgd(self) -> bool:
        return not self.optimizer or self.optimizer in SGD_NAMES


def parse_network(config: dict[str, Any], name: str) -> TraceNetwork:
    """network.json's object -> TraceNetwork; a missing key, an unknown name or a bad value raises TraceError."""
    for key in ("sizes", "activations", "loss"):
        if key not in config:
            raise TraceError(f"{name}: needs {key!r} ({HINT})")
    sizes = config["sizes"]
    if not isinstance(sizes, list) or len(sizes) < 2 or not all(type(s) is int and s >= 1 for s in sizes):
        raise TraceError(f"{name}: sizes must be a list of at least two positive integers, e.g. [784, 100, 10]")
    layers = len(sizes) - 1
    return TraceNetwork(
        tuple(sizes),
        _activations(config["activations"], layers, sizes, name),
        _loss(config["loss"], name),
        _choice(config, "reduction", ("mean", "sum"), name),
        _choice(config, "samples", ("rows", "columns"), name),
        _choice(config, "weights", ("in_out", "out_in"), name),
        _number(config, "lr", name, allow_negative=True),
        _bias(config.get("bias"), layers, name),
        _choice(config, "update", ("subtract", "add"), name),
        _number(config, "l2", name, allow_negative=False),
        _optimizer(config.get("optimizer"), name),
        _norm(config.get("norm"), layers, name),
        _choice(config, "norm_at", ("pre", "post"), name),
        _number(config, "eps", name, allow_negative=False),
    )


def _activations(activations: Any, layers: int, sizes: list[int], name: str) -> tuple[Activation, ...]:
    if not isinstance(activations, list) or len(activations) != layers:
        raise TraceError(f"{name}: activations must list one name per weight layer ({layers} for {sizes})")
    parsed = []
    for i, spec in enumerate(activations):
        try:
            parsed.append(get_activation(str(spec)))
        except ValueError:
            raise TraceError(
                f"{name}: unknown activation {spec!r} in activations[{i}]; choose one of: {', '.join(ACTIVATIONS)}"
            ) from None
    return tuple(parsed)


def _loss(spec: Any, name: str) -> str:
    try:
        return SHORT_LOSS[pairing(str(spec)).kind]
    except (ValueError, KeyError):
        raise TraceError(f"{name}: unknown loss {spec!r}; choose mse, ce or bce") from None


def _choice(config: dict[str, Any], key: str, allowed: tuple[str, ...], name: str) -> str:
    if key not in config:
        return ""
    if config[key] not in allowed:
        raise TraceError(f"{name}: {key} must be {' or '.join(map(repr, allowed))}, got {config[key]!r}")
    return str(config[key])


def _number(config: dict[str, Any], key: str, name: str, *, allow_negative: bool) -> float | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TraceError(f"{name}: {key} must be a number, got {value!r}")
    if value < 0 and not allow_negative:
        raise TraceError(f"{name}: {key} must be 0 or more, got {value!r}")
    return float(value)


def _bias(spec: Any, layers: int, name: str) -> tuple[str, ...]:
    """ "bias": true / false / "first" / "last" / "inside", or a list of those, one per layer -> per-layer forms."""
    if spec is None:
        return ("",) * layers
    specs = spec if isinstance(spec, list) else [spec] * layers
    if len(specs) != layers:
        raise TraceError(f"{name}: bias must be one value or a list of {layers} (one per weight layer)")
    forms = []
    for value in specs:
        form = BIAS_WORDS.get(value, value) if isinstance(value, bool | str) else None
        if form not in (*BIAS_FORMS, "inside"):
            raise TraceError(
                f'{name}: bias must be true, false, "first", "last" or "inside" (or a list of those), got {value!r}'
            )
        forms.append(str(form))
    return tuple(forms)


def _optimizer(spec: Any, name: str) -> str:
    if spec is None:
        return ""
    if not isinstance(spec, str) or not spec.strip():
        raise TraceError(f'{name}: optimizer must be a name such as "sgd", "momentum" or "adam", got {spec!r}')
    return spec.strip().lower().replace("-", "_")


def _norm(spec: Any, layers: int, name: str) -> str | tuple[str, ...]:
    """ "norm": "batch" / "layer" (the layers holding gamma/beta), or a list with one per layer (null for none)."""
    if spec is None:
        return ""
    specs = spec if isinstance(spec, list) else [spec]
    if isinstance(spec, list) and len(specs) != layers:
        raise TraceError(f"{name}: norm must be one name or a list of {layers} (one per weight layer, null for none)")
    kinds = []
    for value in specs:
        kind = NORM_WORDS.get(value.lower().replace("-", "_"), "") if isinstance(value, str) else ""
        if value is None or value is False:
            kind = "none"
        if not kind or (kind == "none" and not isinstance(spec, list)):
            raise TraceError(f'{name}: norm must be "batch" or "layer" (or a list of those and null), got {value!r}')
        kinds.append(kind)
    if isinstance(spec, list) and kinds[-1] != "none":
        raise TraceError(
            f"{name}: norm on the output layer ({layers - 1}) is not read; normalize hidden layers only (null last)"
        )
    return tuple(kinds) if isinstance(spec, list) else kinds[0]
