"""Losses bundled with their derivative (the seed's ``Evaluator f f'``).

A loss is called as ``loss(y, t) -> (value, dy)``: ``y`` is the network output (batch,
outputs), ``t`` the target of the same shape, ``value`` the mean over the batch of the
per-sample loss, and ``dy = d value / d y`` (so it carries the ``1 / B``).

Matched output/loss pairs are fused: the network then hands the loss the output layer's
pre-activation ``z`` (the logits) instead of ``y``, and the gradient skips the activation:

=====================  ============  =====================================  ==========
loss                   output        fused form                             d value/dz
=====================  ============  =====================================  ==========
``cross_entropy``      ``softmax``   ``softmax_cross_entropy`` (logits)     (p - t)/B
``binary_cross_entropy`` ``sigmoid`` ``binary_cross_entropy_from_logits``   (p - t)/B
=====================  ============  =====================================  ==========

Any other pairing runs the loss on the output and the activation's own backward, which is
correct but may be slow to learn (e.g. softmax + mse, as in the seed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Array = np.ndarray
LossFn = Callable[[Array, Array], tuple[float, Array]]

# Probabilities are clipped this far from 0 and 1 before a log, so log(0) never happens.
PROBABILITY_EPSILON = 1e-7


@dataclass(frozen=True)
class Loss:
    """A named loss ``fn(y, t) -> (value, dy)``; ``fused`` maps an output activation to its fused form."""

    name: str
    fn: LossFn
    fused: dict[str, Loss] = field(default_factory=dict)

    def __hash__(self) -> int:  # fused is a dict, so the generated hash would fail
        return hash((self.name, self.fn))

    def __call__(self, y: Array, t: Array) -> tuple[float, Array]:
        return self.fn(y, t)


def _mse(y: Array, t: Array) -> tuple[float, Array]:
    # 1/2 sum (y - t)^2 per sample, mean over the batch; d/dy = (y - t) / B.
    diff = y - t
    batch = y.shape[0]
    value = 0.5 * np.vdot(diff, diff) / batch
    diff /= y.dtype.type(batch)  # in place: the gradient reuses diff's memory
    return float(value), diff


def _clip(p: Array) -> Array:
    eps = max(PROBABILITY_EPSILON, float(np.finfo(p.dtype).eps))
    return np.clip(p, eps, 1 - eps)  # type: ignore[no-any-return, unused-ignore]  # numpy stubs: Any


def _binary_cross_entropy(p: Array, t: Array) -> tuple[float, Array]:
    # -sum [t log p + (1 - t) log(1 - p)] per sample on clipped p; d/dp = (p - t) / (p (1 - p)) / B.
    batch = p.shape[0]
    q = _clip(p)
    value = -(t * np.log(q) + (1 - t) * np.log1p(-q)).sum() / batch
    return float(value), ((q - t) / (q * (1 - q))) / q.dtype.type(batch)


def _binary_cross_entropy_from_logits(z: Array, t: Array) -> tuple[float, Array]:
    # log(1 + e^z) - t z, written so that exp only sees -|z|; d/dz = (sigmoid(z) - t) / B.
    batch = z.shape[0]
    e = np.exp(-np.abs(z))
    value = (np.maximum(z, 0) - z * t + np.log1p(e)).sum() / batch
    p = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    return float(value), (p - t) / z.dtype.type(batch)


def _cross_entropy(p: Array, t: Array) -> tuple[float, Array]:
    # -sum t log p per sample on clipped p; d/dp = -t / p / B.
    batch = p.shape[0]
    q = _clip(p)
    return float(-(t * np.log(q)).sum() / batch), (-t / q) / q.dtype.type(batch)


def _softmax_cross_entropy(z: Array, t: Array) -> tuple[float, Array]:
    # log_softmax = z - max - log sum exp(z - max): stable for logits 1e4 apart; d/dz = (p - t) / B.
    # Speed: every step runs this; after the three arrays below, everything happens in place.
    batch = z.shape[0]
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    sum_e = e.sum(axis=1, keepdims=True)
    log_p = np.subtract(shifted, np.log(sum_e), out=shifted)
    value = -np.vdot(t, log_p) / batch
    p = np.divide(e, sum_e, out=e)
    p -= t
    p /= z.dtype.type(batch)
    return float(value), p


mse = Loss("mse", _mse)
binary_cross_entropy_from_logits = Loss("binary_cross_entropy_from_logits", _binary_cross_entropy_from_logits)
binary_cross_entropy = Loss(
    "binary_cross_entropy", _binary_cross_entropy, fused={"sigmoid": binary_cross_entropy_from_logits}
)
softmax_cross_entropy = Loss("softmax_cross_entropy", _softmax_cross_entropy)
cross_entropy = Loss("cross_entropy", _cross_entropy, fused={"softmax": softmax_cross_entropy})

LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        mse,
        binary_cross_entropy,
        binary_cross_entropy_from_logits,
        cross_entropy,
        softmax_cross_entropy,
    )
}
ALIASES: dict[str, str] = {
    "quadratic": "mse",
    "bce": "binary_cross_entropy",
    "bce_logits": "binary_cross_entropy_from_logits",
    "ce": "cross_entropy",
    "nll": "cross_entropy",
    "softmax_ce": "softmax_cross_entropy",
    # What hand-written code and other libraries call them (a factor such as Keras's mean over the outputs is
    # a convention: gradwise verify reports it as one).
    "squared_error": "mse",
    "sse": "mse",
    "mean_squared_error": "mse",
    "crossentropy": "cross_entropy",
    "categorical_cross_entropy": "cross_entropy",
    "categorical_crossentropy": "cross_entropy",
    "log_loss": "cross_entropy",
    "binary_crossentropy": "binary_cross_entropy",
}


def get_loss(spec: str | Loss) -> Loss:
    """Look up a loss by name or alias (``"mse"``, ``"bce"``, ``"ce"``) or pass one through."""
    if isinstance(spec, Loss):
        return spec
    name = spec.strip().lower().replace("-", "_")
    name = ALIASES.get(name, name)
    if name not in LOSSES:
        raise ValueError(f"unknown loss {spec!r}; choose one of: mse, bce, ce ({', '.join(LOSSES)})")
    return LOSSES[name]
