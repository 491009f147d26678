"""The activations of scikit-learn's MLP by name: each entry holds the function and its derivative together.

Every function works in place on a (n_samples, n_units) array. A derivative is computed from the layer's
*output* a (all four hidden activations allow it) and multiplies delta = dL/da into dL/dz in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit  # type: ignore[import-untyped]

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """``forward(z)`` turns z into a in place; ``backward(a, delta)`` turns dL/da into dL/dz in place."""

    name: str
    forward: Callable[[Array], None]
    backward: Callable[[Array, Array], None]
    gradwise_name: str  # the same function's name in gradwise.nn, for the health monitor's mirror network


def _nothing(*_: Array) -> None:
    """identity: a = z and da/dz = 1."""


def _logistic(z: Array) -> None:
    expit(z, out=z)


def _logistic_backward(a: Array, delta: Array) -> None:
    delta *= a  # da/dz = a (1 - a)
    delta *= 1 - a


def _tanh(z: Array) -> None:
    np.tanh(z, out=z)


def _tanh_backward(a: Array, delta: Array) -> None:
    delta *= 1 - a**2  # da/dz = 1 - a^2


def _relu(z: Array) -> None:
    np.maximum(z, 0, out=z)


def _relu_backward(a: Array, delta: Array) -> None:
    delta[a == 0] = 0  # da/dz = 1 where z > 0, else 0 (0 at the kink, as scikit-learn)


def _softmax(z: Array) -> None:
    z -= z.max(axis=1, keepdims=True)  # exp only sees values <= 0: no overflow
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)


def _exp(z: Array) -> None:
    np.exp(z, out=z)


HIDDEN: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("identity", _nothing, _nothing, "identity"),
        Activation("logistic", _logistic, _logistic_backward, "sigmoid"),
        Activation("tanh", _tanh, _tanh_backward, "tanh"),
        Activation("relu", _relu, _relu_backward, "relu"),
    )
}

# Output activations: their derivative never runs, the loss they are paired with gives dL/dz = a - y directly
# (identity + squared error, logistic + binary log loss, softmax + log loss, exp + Poisson deviance).
OUTPUT: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("identity", _nothing, _nothing, "identity"),
        Activation("logistic", _logistic, _nothing, "sigmoid"),
        Activation("softmax", _softmax, _nothing, "softmax"),
        Activation("exp", _exp, _nothing, "identity"),
    )
}
