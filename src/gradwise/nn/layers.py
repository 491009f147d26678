"""Layers: ``forward(x, train, rng) -> (y, backprop)``; ``backprop(dy) -> dx`` fills ``grads``.

Rows are samples (as in the seed): ``x`` is (batch, n_in), ``y`` is (batch, n_out). The
backward pass is a closure over exactly what it needs, so it cannot read a stale cache,
and the chain rule sits beside the forward it differentiates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from gradwise.nn.activations import Activation, get_activation
from gradwise.nn.init import Initializer, default_initializer, get_initializer

Array = np.ndarray
Backprop = Callable[..., Array | None]  # backprop(dy, need_dx=True) -> dx, or None when need_dx is False
Observer = Callable[[str, Array], None]  # observe(tensor name, value): how the health monitor looks inside


class Layer(Protocol):
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

    @property
    def shape(self) -> tuple[int, int]:
        return self.params["W"].shape  # type: ignore[return-value]

    def forward(
        self,
        x: Array,
        train: bool = False,
        rng: np.random.Generator | None = None,
        *,
        logits: bool = False,
        observe: Observer | None = None,
    ) -> tuple[Array, Backprop]:
        """``logits=True`` returns the pre-activation z, for a loss fused with this activation.

        ``observe``, when given, is shown z and a on the way forward and delta = dL/dz on the way back.
        """
        W, b = self.params["W"], self.params["b"]
        z = x @ W + b
        a = z if logits else self.activation.forward(z)
        if observe is not None:
            observe("z", z)
            observe("a", a)

        def backprop(da: Array, need_dx: bool = True) -> Array | None:
            dz = da if logits else self.activation.backward(z, a, da)  # dL/dz = dL/da * da/dz
            if observe is not None:
                observe("delta", dz)
            np.matmul(x.T, dz, out=self.grads["W"])  # dL/dW = x^T dz (summed over the batch)
            np.sum(dz, axis=0, out=self.grads["b"])  # dL/db = sum over the batch of dz
            return dz @ W.T if need_dx else None  # dL/dx = dz W^T; the input layer needs none

        return a, backprop


class Dropout:
    """Inverted dropout: in training, zero each unit with probability p and scale the rest by 1/(1-p)."""

    def __init__(self, p: float) -> None:
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}

    def forward(
        self, x: Array, train: bool = False, rng: np.random.Generator | None = None
    ) -> tuple[Array, Backprop]:
        if not train or self.p == 0:
            return x, lambda dy, need_dx=True: dy  # identity at evaluation
        if rng is None:
            raise ValueError("Dropout needs an rng in training: pass rng= to forward/grad")
        # The scale keeps E[output] equal to the input, so evaluation needs no rescaling.
        mask = (rng.random(x.shape, dtype=x.dtype) >= self.p) * x.dtype.type(1 / (1 - self.p))
        return x * mask, lambda dy, need_dx=True: dy * mask
