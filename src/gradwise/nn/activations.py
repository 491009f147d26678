"""Activation functions, each stored with its derivative so the two cannot drift apart.

An activation maps pre-activations ``z`` (batch, units) to activations ``a`` of the same
shape. Its ``backward(z, a, da)`` returns ``dz`` (the vector-Jacobian product): for
element-wise functions that is ``da * f'(z)``, computed from the output ``a`` where the
maths allows; softmax mixes units, so it carries its real Jacobian-vector product and can
be paired with any loss.

Every function here is finite for every finite input: ``exp`` is only ever taken of a
non-positive number, which is what the seed's unstabilized softmax and ``inf / inf``
sigmoid derivative got wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Array = np.ndarray
Forward = Callable[[Array], Array]
Backward = Callable[[Array, Array, Array], Array]  # (z, a, da) -> dz


@dataclass(frozen=True)
class Activation:
    """A named activation: ``forward(z) -> a`` and ``backward(z, a, da) -> dz``.

    ``family`` groups activations that need the same care: ``"relu"`` (units can die;
    He initialization), ``"saturating"`` (units can saturate; Glorot initialization),
    ``"linear"``, ``"softmax"``. ``kinks`` lists the inputs where the derivative jumps,
    so a finite-difference check can keep away from them.
    """

    name: str
    forward: Forward
    backward: Backward
    family: str
    kinks: tuple[float, ...] = ()
    params: dict[str, float] = field(default_factory=dict)

    def __call__(self, z: Array) -> Array:
        return self.forward(z)


def _identity_forward(z: Array) -> Array:
    return z


def _identity_backward(z: Array, a: Array, da: Array) -> Array:
    return da


def _sigmoid_forward(z: Array) -> Array:
    # exp(-|z|) never overflows; both branches of the logistic are then exact.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def _sigmoid_backward(z: Array, a: Array, da: Array) -> Array:
    return da * a * (1.0 - a)  # sigma' = a (1 - a): finite, unlike exp(z) / (1 + exp(z))^2


def _tanh_forward(z: Array) -> Array:
    return np.tanh(z)


def _tanh_backward(z: Array, a: Array, da: Array) -> Array:
    return da * (1.0 - a * a)


def _relu_forward(z: Array) -> Array:
    return np.maximum(z, 0)


def _relu_backward(z: Array, a: Array, da: Array) -> Array:
    return da * (a > 0)


def leaky_relu(alpha: float = 0.01) -> Activation:
    """Leaky ReLU: ``z`` for ``z > 0``, ``alpha * z`` otherwise; ``0 <= alpha < 1``."""
    if not 0 <= alpha < 1:
        raise ValueError(f"leaky_relu alpha must be in [0, 1), got {alpha}")

    def forward(z: Array) -> Array:
        return np.where(z > 0, z, z * z.dtype.type(alpha))

    def backward(z: Array, a: Array, da: Array) -> Array:
        # alpha >= 0 keeps the sign of z in a, so the slope is readable from the output.
        return da * np.where(a > 0, 1, a.dtype.type(alpha))

    return Activation("leaky_relu", forward, backward, "relu", kinks=(0.0,), params={"alpha": alpha})


def elu(alpha: float = 1.0) -> Activation:
    """ELU: ``z`` for ``z > 0``, ``alpha * (exp(z) - 1)`` otherwise; ``alpha > 0``."""
    if not alpha > 0:
        raise ValueError(f"elu alpha must be > 0, got {alpha}")

    def forward(z: Array) -> Array:
        # expm1 of min(z, 0) never overflows and is exact near 0.
        return np.where(z > 0, z, z.dtype.type(alpha) * np.expm1(np.minimum(z, 0)))

    def backward(z: Array, a: Array, da: Array) -> Array:
        return da * np.where(a > 0, 1, a + a.dtype.type(alpha))  # d/dz alpha(e^z - 1) = a + alpha

    return Activation("elu", forward, backward, "relu", kinks=(0.0,), params={"alpha": alpha})


def _softplus_forward(z: Array) -> Array:
    # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow at z = 1000.
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _softplus_backward(z: Array, a: Array, da: Array) -> Array:
    return da * -np.expm1(-a)  # sigmoid(z) = 1 - exp(-softplus(z)), exact for tiny a too


def _softmax_forward(z: Array) -> Array:
    e = np.exp(z - z.max(axis=-1, keepdims=True))  # the shift makes every exponent <= 0
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_backward(z: Array, a: Array, da: Array) -> Array:
    # J = diag(a) - a a^T per row, so J^T da = a * (da - <da, a>).
    return a * (da - (da * a).sum(axis=-1, keepdims=True))


identity = Activation("identity", _identity_forward, _identity_backward, "linear")
sigmoid = Activation("sigmoid", _sigmoid_forward, _sigmoid_backward, "saturating")
tanh = Activation("tanh", _tanh_forward, _tanh_backward, "saturating")
relu = Activation("relu", _relu_forward, _relu_backward, "relu", kinks=(0.0,))
softplus = Activation("softplus", _softplus_forward, _softplus_backward, "relu")
softmax = Activation("softmax", _softmax_forward, _softmax_backward, "softmax")

ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in (identity, sigmoid, tanh, relu, leaky_relu(), elu(), softplus, softmax)
}
ALIASES: dict[str, str] = {"linear": "identity", "logistic": "sigmoid", "leaky": "leaky_relu"}


def get_activation(spec: str | Activation) -> Activation:
    """Look up an activation by name (``"relu"``, ``"leaky_relu:0.2"``, ``"elu:0.5"``) or pass one through."""
    if isinstance(spec, Activation):
        return spec
    name, _, arg = spec.strip().lower().replace("-", "_").partition(":")
    name = ALIASES.get(name, name)
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {spec!r}; choose one of: {', '.join(ACTIVATIONS)}")
    if not arg:
        return ACTIVATIONS[name]
    factories: dict[str, Callable[[float], Activation]] = {"leaky_relu": leaky_relu, "elu": elu}
    if name not in factories:
        raise ValueError(f"activation {name!r} takes no parameter (got {spec!r})")
    try:
        value = float(arg)
    except ValueError:
        raise ValueError(f"activation {spec!r}: parameter {arg!r} is not a number") from None
    return factories[name](value)
