"""A network is an ordered sequence of layers; ``grad`` is forward, loss and backward in one.

Parameters and gradients are ``{"0.W": array, "0.b": array, "2.W": ...}`` dicts whose
values are the layers' own arrays, so an optimizer that updates them in place updates
the network. The prefix is the layer's position (as in PyTorch's ``Sequential``).
``buffers`` are named the same way (``"1.running_mean"``): layer state that is not a parameter.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import numpy as np

from gradwise import looks
from gradwise.blas import axpby
from gradwise.nn.activations import Activation
from gradwise.nn.init import Initializer
from gradwise.nn.layers import Backprop, Dense, Dropout, GradientSink, Layer
from gradwise.nn.losses import Loss, get_loss
from gradwise.nn.normalization import BatchNorm, LayerNorm
from gradwise.seeds import generator, weights_rng

Array = np.ndarray
NORMS: dict[str, type[BatchNorm] | type[LayerNorm]] = {"batch": BatchNorm, "layer": LayerNorm}  # mlp(norm=)


class Probe(Protocol):
    """Sees every Dense layer's tensors during one forward/backward pass (the health monitor is one)."""

    def observe(self, layer: int, tensor: str, value: Array) -> None: ...


@dataclass(frozen=True)
class LayerInfo:
    """One layer as outsiders see it: its position, kind, activation, (n_in, n_out) if it has weights."""

    index: int
    kind: str  # "Dense", "Dropout", ...
    activation: str  # "" for a layer without one
    shape: tuple[int, int] | None  # (n_in, n_out) for a layer with weights
    parameters: int
    detail: str = ""  # Dropout's p; a norm layer's size and eps (and BatchNorm's momentum)

    @property
    def weighted(self) -> bool:
        return self.shape is not None


def param_name(layer: int, key: str) -> str:
    """A parameter's name in ``Network.params`` and ``grads``: the layer's position and its own key (``"0.W"``)."""
    return f"{layer}.{key}"


class Network:
    """Layers applied in order; float32 by default, float64 end to end on request."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = list(layers)
        _check_layout(self.layers)
        dtypes = {p.dtype for layer in self.layers for p in layer.params.values()}
        if len(dtypes) > 1:
            raise ValueError(f"all layers must share one dtype, got {sorted(map(str, dtypes))}")
        self.dtype = np.dtype(dtypes.pop()) if dtypes else np.dtype(np.float32)

    @property
    def params(self) -> dict[str, Array]:
        return {param_name(i, k): v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    @property
    def grads(self) -> dict[str, Array]:
        return {param_name(i, k): v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    @property
    def buffers(self) -> dict[str, Array]:
        """The layers' state that is not a parameter (``"1.running_mean"``), their own arrays: write into them to
        restore it. No optimizer sees these; a model file and a checkpoint store them beside ``params``."""
        return {
            param_name(i, k): v
            for i, layer in enumerate(self.layers)
            for k, v in getattr(layer, "buffers", {}).items()  # a layer from elsewhere may have none
        }

    def by_layer(self, flat: Mapping[str, Array]) -> dict[int, dict[str, Array]]:
        """A dict named as ``params`` (``grads``, weights) by layer position: ``{0: {"W": ..., "b": ...}, ...}``."""
        return {
            i: {k: flat[param_name(i, k)] for k in layer.params if param_name(i, k) in flat}
            for i, layer in enumerate(self.layers)
            if layer.params
        }

    @property
    def n_outputs(self) -> int:
        """Units of the output layer (the classes of a classifier)."""
        return next(info.shape[1] for info in reversed(self.layer_info()) if info.shape is not None)

    @property
    def macs_per_sample(self) -> int:
        """Multiply-adds of one sample's forward pass: the Dense layers' weights (a step of B costs ~3B times this)."""
        return sum(layer.params["W"].size for layer in self.layers if isinstance(layer, Dense))

    def layer_info(self) -> list[LayerInfo]:
        """What each layer is, for whoever describes or watches the network without knowing its classes."""
        found = []
        for i, layer in enumerate(self.layers):
            parameters = sum(p.size for p in layer.params.values())
            if isinstance(layer, Dense):
                found.append(LayerInfo(i, "Dense", layer.activation.name, layer.shape, parameters))
            else:
                found.append(LayerInfo(i, type(layer).__name__, "", None, parameters, _detail(layer)))
        return found

    @property
    def output_activation(self) -> Activation | None:
        dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        return dense[-1].activation if dense else None

    def forward(
        self,
        x: Array,
        train: bool = False,
        rng: np.random.Generator | None = None,
        *,
        logits: bool = False,
        probe: Probe | None = None,
        reuse: bool = False,
    ) -> tuple[Array, Backprop]:
        """Run every layer; return the output and ``backprop(dy)`` that fills every layer's grads.

        ``logits=True`` stops the last layer before its activation (for a fused loss). A ``probe``
        is shown each Dense layer's z, a and delta, tagged with the layer's position. ``reuse=True``
        computes into the layers' work arrays: call ``backprop`` before the next reused forward, and
        copy the output to keep it (see ``gradwise.nn.layers``).
        """
        x = np.asarray(x, dtype=self.dtype)
        backprops: list[Backprop] = []
        last = len(self.layers) - 1
        if logits and not isinstance(self.layers[last], Dense):
            raise ValueError("logits=True needs a Dense layer last")
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                observe = partial(probe.observe, i) if probe is not None else None
                x, backprop = layer.forward(x, train, rng, logits=logits and i == last, observe=observe, reuse=reuse)
            else:
                x, backprop = layer.forward(x, train, rng)
            backprops.append(backprop)

        def backprop_all(dy: Array, need_dx: bool = True, *, sink: GradientSink | None = None) -> Array | None:
            """Fill every layer's grads (or put them through ``sink``, named as ``params``); return dx, as a
            layer's backprop does (None with ``need_dx=False``)."""
            for i in range(last, -1, -1):
                layer, need = self.layers[i], need_dx or i > 0
                own = sink.of_layer(i, list(layer.params)) if sink is not None and layer.params else None
                if isinstance(layer, Dense):
                    # Below the last layer, dy is a work array of the layer above: it may be overwritten.
                    dy = backprops[i](dy, need, sink=own, overwrite=i < last)  # type: ignore[assignment]
                    continue
                dy = backprops[i](dy, need)  # type: ignore[assignment]  # None only from the last call
                if own is not None:  # a layer of another kind fills its grads: they go through the sink here
                    for name, g in layer.grads.items():
                        axpby(own.scale, g, own.decay, own.into[name])
            return dy

        return x, backprop_all

    def predict(self, x: Array, batch_size: int = 4096) -> Array:
        """Outputs (batch, n_out) at evaluation (dropout off), computed in chunks to bound memory."""
        x = np.asarray(x, dtype=self.dtype)
        chunks = [self.forward(x[i : i + batch_size])[0] for i in range(0, len(x), batch_size)]
        return np.concatenate(chunks) if chunks else self.forward(x)[0]  # no rows: (0, n_out) from the layers

    def __repr__(self) -> str:
        return looks.text(self)

    def _repr_html_(self) -> str:
        return looks.html(self)

    def __call__(self, x: Array) -> Array:
        return self.predict(x)


def _detail(layer: Layer) -> str:
    """What sets a layer without weights apart: Dropout's p, a norm layer's size and eps."""
    if isinstance(layer, Dropout):
        return f"{layer.p}"
    if isinstance(layer, BatchNorm):
        return f"{layer.size} eps={layer.eps:g} momentum={layer.momentum:g}"
    if isinstance(layer, LayerNorm):
        return f"{layer.size} eps={layer.eps:g}"
    return ""


def _check_layout(layers: list[Layer]) -> None:
    """ValueError for layer sequences whose gradients or outputs would be silently wrong."""
    first_position: dict[int, int] = {}
    width = None  # the outputs of the last Dense layer so far
    for i, layer in enumerate(layers):
        j = first_position.setdefault(id(layer), i)
        if j != i:
            raise ValueError(
                f"Network: layers {j} and {i} are the same {type(layer).__name__} object; a layer keeps one set of "
                "work arrays and gradients, so it can appear once: give each position its own layer"
            )
        if isinstance(layer, Dense):
            width = layer.shape[1]
        elif isinstance(layer, BatchNorm | LayerNorm) and width is not None and layer.size != width:
            raise ValueError(
                f"Network: layer {i} is a {type(layer).__name__} of {layer.size} features, but the layer before "
                f"gives {width}; make it {type(layer).__name__}({width})"
            )
    if layers and isinstance(layers[-1], Dropout | BatchNorm | LayerNorm):
        kind = type(layers[-1]).__name__
        what = "drop the outputs themselves" if kind == "Dropout" else "rescale the outputs themselves"
        raise ValueError(
            f"Network: the last layer is a {kind}, which would {what}; put {kind} between layers, before the "
            "output layer"
        )


def fused_loss(net: Network, loss: Loss) -> Loss | None:
    """The fused form of ``loss`` for this network's output activation, if the pair is matched."""
    out = net.output_activation
    return loss.fused.get(out.name) if out is not None else None


def grad(
    net: Network,
    loss: str | Loss,
    x: Array,
    t: Array,
    *,
    rng: np.random.Generator | None = None,
    fuse: bool = True,
    with_output: bool = False,
    probe: Probe | None = None,
    sink: GradientSink | None = None,
) -> Any:
    """Loss value and gradients of every parameter for one batch (the seed's ``grad``).

    x is (batch, n_in), t is (batch, n_out). The returned gradient arrays, and the output,
    belong to the layers and are overwritten by the next call: copy them to keep them.
    ``fuse=False`` runs a matched pair unfused (same gradient, used to test the fusion).
    ``with_output`` also returns the network's output (the logits when the loss is fused).
    A ``probe`` sees every layer's tensors (see ``Network.forward``). With a ``sink`` the gradients go
    through it (``sink.into`` named as ``net.params``) and the gradients returned are ``{}``.
    """
    loss = get_loss(loss)
    fused = fused_loss(net, loss) if fuse else None
    # Speed: forward and backward run in the layers' reused work arrays; backprop follows at once.
    y, backprop = net.forward(x, train=True, rng=rng, logits=fused is not None, probe=probe, reuse=True)
    value, dy = (fused or loss)(y, np.asarray(t, dtype=net.dtype))
    backprop(dy, need_dx=False, sink=sink)  # speed: no product with the first layer's weights for an input gradient
    grads = net.grads if sink is None else {}
    return (value, grads, y) if with_output else (value, grads)


def mlp(
    sizes: Sequence[int],
    activation: str | Activation = "relu",
    output: str | Activation = "softmax",
    *,
    init: str | Initializer | None = None,
    bias: float = 0.0,
    dropout: float = 0.0,
    norm: str | None = None,
    rng: np.random.Generator | int | None = 0,
    dtype: np.dtype | type = np.float32,
) -> Network:
    """A multilayer perceptron: ``mlp([784, 100, 10])`` is 784-100-10, ReLU hidden units, softmax output.

    ``norm`` ``"batch"`` or ``"layer"`` puts a BatchNorm or a LayerNorm after each hidden layer's activation
    (before its Dropout); never after the output layer. An int ``rng`` is a seed: the weights come from its
    weights stream (``gradwise.seeds``).
    """
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least input and output sizes, got {list(sizes)}")
    if norm is not None and norm not in NORMS:
        raise ValueError(f"mlp: unknown norm {norm!r}; choose one of: None, {', '.join(map(repr, NORMS))}")
    rng = generator(rng, weights_rng)
    layers: list[Layer] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        last = i == len(sizes) - 2
        layers.append(Dense(n_in, n_out, output if last else activation, init, rng=rng, bias=bias, dtype=dtype))
        if norm is not None and not last:
            layers.append(NORMS[norm](n_out, dtype=dtype))
        if dropout and not last:
            layers.append(Dropout(dropout))
    return Network(layers)
