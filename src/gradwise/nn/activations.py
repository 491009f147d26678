# mypy: disable-error-code="no-any-return"
# (numpy's stubs type a ufunc given ``out: Array | None`` as returning Any; every function here returns an Array.)
"""Activation functions, each stored with its derivative so the two cannot drift apart.

An activation maps pre-activations ``z`` (batch, units) to activations ``a`` of the same
shape. Its ``backward(z, a, da)`` returns ``dz`` (the vector-Jacobian product): for
element-wise functions that is ``da * f'(z)``, computed from the output ``a`` where the
maths allows; softmax mixes units, so it carries its real Jacobian-vector product and can
be paired with any loss.

Both may take an optional ``out``: a scratch array shaped like ``z`` that the result may
be written into instead of a fresh one (the training step passes a layer's reused buffer
through ``forward_into`` / ``backward_into``). Always use the returned array: identity
returns its input, and the rarely used functions allocate as before. Functions without an
``out`` parameter (a user's own, say) still work; they are called without it.

Every function here is finite for every finite input: ``exp`` is only ever taken of a
non-positive number, which is what the seed's unstabilized softmax and ``inf / inf``
sigmoid derivative got wrong.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Array = np.ndarray
Forward = Callable[..., Array]  # (z, out=None) -> a
Backward = Callable[..., Array]  # (z, a, da, out=None) -> dz


@dataclass(frozen=True)
class Activation:
    """A named activation: ``forward(z, out=None) -> a`` and ``backward(z, a, da, out=None) -> dz``.

    ``family`` groups activations that need the same care: ``"relu"`` (units can die;
    He initialization), ``"saturating"`` (units can saturate; Glorot initialization),
    ``"linear"``, ``"softmax"``. ``kinks`` lists the inputs where the derivative jumps,
    so a finite-difference check can keep away from them. Activations compare and hash by
    their fields; ``leaky_relu(0.2)`` is one object however often it is asked for.
    """

    name: str
    forward: Forward
    backward: Backward
    family: str
    kinks: tuple[float, ...] = ()
    params: dict[str, float] = field(default_factory=dict)
    # backward(z, a, da, out=da) is correct: every function here reads da before it writes out. A function
    # written elsewhere may not, so its derivative goes into a buffer of its own.
    backward_in_place: bool = field(default=False, compare=False)
    takes_out: bool = field(init=False, repr=False, compare=False, default=False)  # read from the signatures

    def __post_init__(self) -> None:
        object.__setattr__(self, "takes_out", _takes_out(self.forward) and _takes_out(self.backward))

    def __hash__(self) -> int:  # params is a dict, so the generated hash would fail
        return hash((self.name, tuple(sorted(self.params.items()))))

    @property
    def spec(self) -> str:
        """The text ``get_activation`` turns back into this activation: ``"relu"``, ``"leaky_relu:0.2"``."""
        return ":".join([self.name, *(repr(value) for value in self.params.values())])

    def __call__(self, z: Array) -> Array:
        return self.forward(z)

    def forward_into(self, z: Array, out: Array | None) -> Array:
        """``forward(z)``, written into ``out`` where the function takes it; use the returned array."""
        return self.forward(z, out=out) if out is not None and self.takes_out else self.forward(z)

    def backward_into(self, z: Array, a: Array, da: Array, out: Array | None) -> Array:
        """``backward(z, a, da)``, written into ``out`` where the function takes it; use the returned array."""
        if out is not None and self.takes_out:
            return self.backward(z, a, da, out=out)
        return self.backward(z, a, da)


def _takes_out(fn: Callable[..., Array]) -> bool:
    try:
        return "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # no signature to read (a C function): call it plainly
        return False


def _identity_forward(z: Array, out: Array | None = None) -> Array:
    return z


def _identity_backward(z: Array, a: Array, da: Array, out: Array | None = None) -> Array:
    return da


def _sigmoid_forward(z: Array, out: Array | None = None) -> Array:
    # exp(-|z|) never overflows; then 1 / (1 + e) for z >= 0 and e / (1 + e) below are both exact.
    e = np.exp(-np.abs(z))
    return np.divide(np.where(z >= 0, 1, e), 1 + e, out=out).astype(z.dtype, copy=False)


def _sigmoid_backward(z: Array, a: Array, da: Array, out: Array | None = None) -> Array:
    # sigma' = a (1 - a): finite, unlike exp(z) / (1 + exp(z))^2
    return np.multiply(da * a, 1 - a, out=out)


def _tanh_forward(z: Array, out: Array | None = None) -> Array:
    return np.tanh(z, out=out)


def _tanh_backward(z: Array, a: Array, da: Array, out: Array | None = None) -> Array:
    return np.multiply(da, 1 - a * a, out=out)


def _relu_forward(z: Array, out: Array | None = None) -> Array:
    # Speed: against an array numpy's maximum runs its SIMD loop; against the scalar 0 it is ~2x slower.
    return np.maximum(z, np.zeros(z.shape[-1:], z.dtype), out=out)


def _relu_backward(z: Array, a: Array, da: Array, out: Array | None = None) -> Array:
    return np.multiply(da, a > 0, out=out)


def leaky_relu(alpha: float = 0.01) -> Activation:
    """Leaky ReLU: ``z`` for ``z > 0``, ``alpha * z`` otherwise; ``0 <= alpha < 1``."""
    if not 0 <= alpha < 1:
        raise ValueError(f"leaky_relu alpha must be in [0, 1), got {alpha}")
    return _leaky_relu(float(alpha))


@functools.cache  # one object per alpha: equal activations are the same functions, so they compare equal
def _leaky_relu(alpha: float) -> Activation:
    def forward(z: Array, out: Array | None = None) -> Array:
        return np.where(z > 0, z, z * z.dtype.type(alpha))

    def backward(z: Array, a: Array, da: Array, out: Array | None = None) -> Array:
        # alpha >= 0 keeps the sign of z in a, so the slope is readable from the output.
        return np.multiply(da, np.where(a > 0, 1, a.dtype.type(alpha)), out=out)

    return Activation(
        "leaky_relu", forward, backward, "relu", kinks=(0.0,), params={"alpha": alpha}, backward_in_place=True
    )


def elu(alpha: float = 1.0) -> Activation:
    """ELU: ``z`` for ``z > 0``, ``alpha * (exp(z) - 1)`` otherwise; ``alpha > 0``."""
    if not alpha > 0:
        raise ValueError(f"elu alpha must be > 0, got {alpha}")
    return _elu(float(alpha))


@functools.cache  # as _leaky_relu
def _elu(alpha: float) -> Activation:
    def forward(z: Array, out: Array | None = None) -> Array:
        # expm1 of min(z, 0) never overflows and is exact near 0.
        return np.where(z > 0, z, z.dtype.type(alpha) * np.expm1(np.minimum(z, 0)))

    def backward(z: Array, a: Array, da: Array, out: Array | None = None) -> Array:
        # d/dz alpha (e^z - 1) = a + alpha
        return np.multiply(da, np.where(a > 0, 1, a + a.dtype.type(alpha)), out=out)

    return Activation("elu", forward, backward, "relu", kinks=(0.0,), params={"alpha": alpha}, backward_in_place=True)


def _softplus_forward(z: Array, out: Array | None = None) -> Array:
    # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow at z = 1000.
    return np.add(np.maximum(z, 0), np.log1p(np.exp(-np.abs(z))), out=out)


def _softplus_backward(z: Array, a: Array, da: Array, out: Array | None = None) -> Array:
    # sigmoid(z) = 1 - exp(-softplus(z)), exact for tiny a too
    return np.multiply(da, -np.expm1(-a), out=out)


def _softmax_forward(z: Array, out: Array | None = None) -> Array:
    e = np.exp(z - z.max(axis=-1, keepdims=True), out=out)  # the shift makes every exponent <= 0
    e /= e.sum(axis=-1, keepdims=True)
    return e


def _softmax_backward(z: Array, a: Array, da: Array, out: Array | None = None) -> Array:
    # J = diag(a) - a a^T per row, so J^T da = a * (da - <da, a>).
    return np.multiply(a, da - (da * a).sum(axis=-1, keepdims=True), out=out)


identity = Activation("identity", _identity_forward, _identity_backward, "linear", backward_in_place=True)
sigmoid = Activation("sigmoid", _sigmoid_forward, _sigmoid_backward, "saturating", backward_in_place=True)
tanh = Activation("tanh", _tanh_forward, _tanh_backward, "saturating", backward_in_place=True)
relu = Activation("relu", _relu_forward, _relu_backward, "relu", kinks=(0.0,), backward_in_place=True)
softplus = Activation("softplus", _softplus_forward, _softplus_backward, "relu", backward_in_place=True)
softmax = Activation("softmax", _softmax_forward, _softmax_backward, "softmax", backward_in_place=True)

ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in (identity, sigmoid, tanh, relu, leaky_relu(), elu(), softplus, softmax)
}
ALIASES: dict[str, str] = {"linear": "identity", "logistic": "sigmoid", "leaky": "leaky_relu"}


def get_activation(spec: str | Activation) -> Activation:
    """Look up an activation by name (``"relu"``, ``"leaky_relu:0.2"``, ``"elu:0.5"``) or pass one through."""
    if isinstance(spec, Activation):
        return spec
    name, _, arg = spec.strip().lower().partition(":")
    name = name.replace("-", "_")
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
