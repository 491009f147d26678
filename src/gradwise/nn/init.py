"""Weight initializers: pure functions ``init(rng, fan_in, fan_out) -> (fan_in, fan_out) float64``.

Named after their papers. ``normal`` defaults to N(0, 1) (Nielsen's network.py) and
``uniform`` to U(0, 1) (the seed's code), so those runs can be reproduced; both make the
pre-activations of a 784-input layer hundreds of units wide, which is why they saturate.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gradwise.nn.activations import Activation

Initializer = Callable[[np.random.Generator, int, int], np.ndarray]


def zeros(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """All zeros (every unit then computes the same thing: only sensible for biases)."""
    return np.zeros((fan_in, fan_out))


def constant(value: float) -> Initializer:
    """Every weight equal to ``value``."""

    def init(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
        return np.full((fan_in, fan_out), float(value))

    return init


def normal(std: float = 1.0) -> Initializer:
    """N(0, std^2); std 1 reproduces Nielsen's network.py."""

    def init(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
        return rng.normal(0.0, std, size=(fan_in, fan_out))

    return init


def uniform(low: float = 0.0, high: float = 1.0) -> Initializer:
    """U(low, high); U(0, 1) reproduces the seed's code."""

    def init(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
        return rng.uniform(low, high, size=(fan_in, fan_out))

    return init


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot & Bengio (2010): U(-l, l), l = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def glorot_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot & Bengio (2010): N(0, 2 / (fan_in + fan_out))."""
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))


def he_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """He et al. (2015): N(0, 2 / fan_in), keeps ReLU activations' variance constant."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def he_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """He et al. (2015): U(-l, l), l = sqrt(6 / fan_in)."""
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def lecun_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """LeCun et al. (1998): N(0, 1 / fan_in)."""
    return rng.normal(0.0, np.sqrt(1.0 / fan_in), size=(fan_in, fan_out))


# Factories take one optional scale: the std of `normal`, the constant, or the upper bound of U(0, high).
_FACTORIES: dict[str, Callable[[float | None], Initializer]] = {
    "constant": lambda s: constant(0.0 if s is None else s),
    "normal": lambda s: normal(1.0 if s is None else s),
    "uniform": lambda s: uniform(0.0, 1.0 if s is None else s),
}
_FIXED: dict[str, Initializer] = {
    "zeros": zeros,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "lecun_normal": lecun_normal,
}
INITIALIZERS: tuple[str, ...] = (
    "zeros", "constant", "normal", "uniform",
    "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
)  # fmt: skip
ALIASES: dict[str, str] = {
    "zero": "zeros",
    "glorot": "glorot_uniform",
    "xavier": "glorot_uniform",
    "xavier_uniform": "glorot_uniform",
    "xavier_normal": "glorot_normal",
    "he": "he_normal",
    "kaiming": "he_normal",
    "lecun": "lecun_normal",
}


def init_name(spec: str) -> str:
    """The initializer's own name for a name as written (``"Kaiming"`` -> ``"he_normal"``)."""
    name = spec.strip().lower().replace("-", "_")
    return ALIASES.get(name, name)


def get_initializer(spec: str | Initializer, scale: float | None = None) -> Initializer:
    """Look up an initializer by name; ``scale`` sets normal's std, uniform's high, constant's value."""
    if callable(spec):
        return spec
    name = init_name(spec)
    if name in _FACTORIES:
        return _FACTORIES[name](scale)
    if name in _FIXED:
        if scale is not None:
            raise ValueError(f"initializer {name!r} takes no scale (scale applies to normal, uniform, constant)")
        return _FIXED[name]
    raise ValueError(f"unknown initializer {spec!r}; choose one of: {', '.join(INITIALIZERS)}")


def default_initializer(activation: Activation) -> Initializer:
    """He for the ReLU family (units that are half off need twice the variance), Glorot otherwise."""
    return he_normal if activation.family == "relu" else glorot_uniform
