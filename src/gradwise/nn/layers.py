"""Layers: ``forward(x, train, rng) -> (y, backprop)``; ``backprop(dy) -> dx`` fills ``grads``.

Rows are samples (as in the seed): ``x`` is (batch, n_in), ``y`` is (batch, n_out). The
backward pass is a closure over exactly what it needs, so it cannot read a stale cache,
and the chain rule sits beside the forward it differentiates.

Speed: with ``reuse=True`` (what ``network.grad`` passes) a Dense layer writes z, a, dz and
dx into work arrays it allocated once, instead of four fresh arrays per step. The closure
then captures views of those arrays, so one rule holds: call ``backprop`` of a reused
forward before the next reused forward of the same layer (a training step does), and copy
any output you want to keep. A forward without ``reuse`` (``predict``, evaluation) allocates
as before and leaves those arrays alone, so it may run between a step's forward and backprop.

Speed: ``backprop`` may be given a ``GradientSink``: the weight gradient then goes straight from the GEMM
into an optimizer's array (``momentum = x^T dz + beta momentum``, or ``W = -lr x^T dz + W`` for plain SGD),
so no gradient array is written and read back. ``grads`` is then left as it was. And where ``backprop`` may
overwrite ``da`` (the network says so for the arrays it passes between layers), the activation's
derivative is applied to it in place.

Every product here goes through ``blas.gemm``: the backend ``--blas`` chose (numpy's OpenBLAS or MKL) runs
the forward pass, dW, dx and evaluation alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol

import numpy as np

from gradwise.blas import axpby, gemm
from gradwise.nn.activations import Activation, get_activation
from gradwise.nn.init import Initializer, default_initializer, get_initializer

Array = np.ndarray
Backprop = Callable[..., Array | None]  # backprop(dy, need_dx=True) -> dx, or None when need_dx is False
Observer = Callable[[str, Array], None]  # observe(tensor name, value): how the health monitor looks inside


class GradientSink(NamedTuple):
    """Where a backward pass puts each gradient g instead of ``grads``: ``into[name] = scale g + decay into[name]``."""

    into: Mapping[str, Array]  # by parameter name: the layer's own ("W") or the network's ("0.W")
    scale: float = 1.0
    decay: float = 0.0

    def of_layer(self, position: int, names: list[str]) -> GradientSink:
        """The part of a network's sink (named "0.W", ...) that belongs to the layer at ``position``."""
        return GradientSink({name: self.into[f"{position}.{name}"] for name in names}, self.scale, self.decay)


class Layer(Protocol):
    """What a network needs of a layer; it may also hold ``buffers``, arrays that are state but not parameters
    (BatchNorm's running statistics): saved and restored with the weights, never moved by an optimizer."""

    params: dict[str, Array]
    grads: dict[str, Array]

    def forward(
        self, x: Array, train: bool = False, rng: np.random.Generator | None = None
    ) -> tuple[Array, Backprop]: ...


class Dense:
    """Fully connected layer ``a = f(x W + b)``; W is (n_in, n_out), b is (n_out,)."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        activation: str | Activation = "relu",
        init: str | Initializer | None = None,
        *,
        rng: np.random.Generator,
        bias: float = 0.0,
        dtype: np.dtype | type = np.float32,
    ) -> None:
        if n_in < 1 or n_out < 1:
            raise ValueError(f"Dense sizes must be >= 1, got {n_in} -> {n_out}")
        self.activation = get_activation(activation)
        initializer = default_initializer(self.activation) if init is None else get_initializer(init)
        self.params: dict[str, Array] = {
            "W": np.ascontiguousarray(initializer(rng, n_in, n_out), dtype=dtype),
            "b": np.full(n_out, bias, dtype=dtype),
        }
        self.grads: dict[str, Array] = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.buffers: dict[str, Array] = {}  # state that is not a parameter (BatchNorm's running statistics): none
        self._work: dict[str, Array] = {}  # speed: z, a, dz, dx buffers, allocated once and reused every step

    @property
    def shape(self) -> tuple[int, int]:
        return self.params["W"].shape  # type: ignore[return-value, unused-ignore]  # numpy < 2.2 stubs: tuple[int, ...]

    def forward(
        self,
        x: Array,
        train: bool = False,
        rng: np.random.Generator | None = None,
        *,
        logits: bool = False,
        observe: Observer | None = None,
        reuse: bool = False,
    ) -> tuple[Array, Backprop]:
        """``logits=True`` returns the pre-activation z, for a loss fused with this activation.

        ``observe``, when given, is shown z and a on the way forward and delta = dL/dz on the way back
        (views valid during the call). ``reuse=True`` computes into this layer's work arrays (see the
        module docstring): the output and dx are then overwritten by the next reused forward.
        """
        W, b = self.params["W"], self.params["b"]
        n = len(x)
        z = gemm(x, W, self._buffer("z", n, reuse))
        z += b
        a = z if logits else self.activation.forward_into(z, self._buffer("a", n, reuse))
        if observe is not None:
            observe("z", z)
            observe("a", a)

        def backprop(
            da: Array, need_dx: bool = True, *, sink: GradientSink | None = None, overwrite: bool = False
        ) -> Array | None:
            # dL/dz = dL/da * da/dz; in da's own memory where the caller allows it
            in_place = overwrite and self.activation.backward_in_place
            out = da if in_place else self._buffer("dz", n, reuse)
            dz = da if logits else self.activation.backward_into(z, a, da, out)
            if observe is not None:
                observe("delta", dz)
            # dL/dx = dz W^T, before a sink may write W itself (plain SGD updates the weights in the GEMM)
            dx = gemm(dz, W.T, self._buffer("dx", n, reuse)) if need_dx else None
            self._weight_gradients(x, dz, sink)
            return dx  # None for the input layer, which needs no dx

        return a, backprop

    def _weight_gradients(self, x: Array, dz: Array, sink: GradientSink | None) -> None:
        """dL/dW = x^T dz and dL/db = the batch's sum of dz, into ``grads`` or through ``sink``."""
        if len(x) == 1:
            # Speed: OpenBLAS's sgemm is ~10x slower at k=1 than at k=2 (784x1000: 1.7 ms), and numpy's
            # outer product ~2x; a zero second sample adds nothing: x^T dz = [x; 0]^T [dz; 0].
            x, dz = self._padded("x", x), self._padded("dz", dz)
        if sink is None:
            gemm(x.T, dz, self.grads["W"])
            np.sum(dz, axis=0, out=self.grads["b"])
            return
        gemm(x.T, dz, sink.into["W"], sink.scale, sink.decay)
        axpby(sink.scale, dz.sum(axis=0), sink.decay, sink.into["b"])

    def _padded(self, name: str, row: Array) -> Array:
        """``row`` (1, n) on top of a zero row: a (2, n) work array whose second row is never written."""
        padded = self._work.get(f"{name} padded")  # filled and used within one backprop call
        if padded is None:
            padded = self._work[f"{name} padded"] = np.zeros((2, row.shape[1]), self.params["W"].dtype)
        padded[0] = row[0]
        return padded

    def _buffer(self, name: str, rows: int, reuse: bool) -> Array | None:
        """The first ``rows`` rows of work array ``name`` (grown for a larger batch), or None without reuse."""
        if not reuse:
            return None
        n_in, n_out = self.shape
        buffer = self._work.get(name)
        if buffer is None or len(buffer) < rows:
            buffer = self._work[name] = np.empty((rows, n_in if name == "dx" else n_out), self.params["W"].dtype)
        return buffer[:rows]


class Dropout:
    """Inverted dropout: in training, zero each unit with probability p and scale the rest by 1/(1-p)."""

    def __init__(self, p: float) -> None:
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.buffers: dict[str, Array] = {}

    def forward(self, x: Array, train: bool = False, rng: np.random.Generator | None = None) -> tuple[Array, Backprop]:
        if not train or self.p == 0:
            return x, lambda dy, need_dx=True: dy  # identity at evaluation
        if rng is None:
            raise ValueError("Dropout needs an rng in training: pass rng= to forward/grad")
        # The scale keeps E[output] equal to the input, so evaluation needs no rescaling.
        mask = (rng.random(x.shape, dtype=x.dtype) >= self.p) * x.dtype.type(1 / (1 - self.p))
        return x * mask, lambda dy, need_dx=True: dy * mask
