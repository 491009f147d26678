# mypy: disable-error-code="no-any-return"
# (numpy's stubs type most array expressions as Any; every function here returns an array.)
"""The float64 reference: every tensor of one step recomputed from the user's own W, b, x and t.

Rows are samples. Each function is one link of the chain rule, so the verifier can feed it the user's own
upstream values (a "local" reference) as well as the reference's. ``delta`` is dL/dz with the batch
reduction in it: ``s * D`` where D is the per-sample delta and s is 1/B for a mean, 1 for a sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradwise.nn.activations import Activation
from gradwise.nn.losses import get_loss
from gradwise.verify.trace import Trace

Array = np.ndarray
def fused(output: Activation, loss: str) -> bool:
    """The pair's per-sample output delta is exactly a − t (softmax with ce, sigmoid with bce): nn's fused pairs."""
    return output.name in get_loss(loss).fused


def forward(a_prev: Array, W: Array, b: Array, activation: Activation) -> tuple[Array, Array]:
    """One layer: a_prev (B, n_in), W (n_in, n_out), b (n_out,) -> z, a (B, n_out)."""
    z = a_prev @ W + b
    with np.errstate(all="ignore"):
        return z, activation.forward(z)


def sample_losses(loss: str, output: Activation, z: Array, a: Array, t: Array, *, logits: bool = True) -> Array:
    """The per-sample loss (B,): ½‖a − t‖², −Σ t log a, or the summed binary cross-entropy.

    ``logits=True`` computes ce of a softmax and bce of a sigmoid from z, exact where a rounds to 0 or 1;
    ``False`` takes the user's own a.
    """
    with np.errstate(all="ignore"):
        if loss == "mse":
            return 0.5 * ((a - t) ** 2).sum(axis=1)
        if (
            loss == "ce" and output.name == "softmax" and logits
        ):  # log-softmax from the logits: exact where a rounds to 0
            shifted = z - z.max(axis=1, keepdims=True)
            return -(t * (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))).sum(axis=1)
        if loss == "ce":
            return -(t * np.log(a)).sum(axis=1)
        if output.name == "sigmoid" and logits:  # log(1 + e^z) - t z, stable for any z
            return (np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))).sum(axis=1)
        return -(t * np.log(a) + (1 - t) * np.log1p(-a)).sum(axis=1)


def output_gradient(loss: str, a: Array, t: Array) -> Array:
    """dE/da per sample (B, n_out): what the loss alone gives, before the output activation."""
    with np.errstate(all="ignore"):
        if loss == "mse":
            return a - t
        if loss == "ce":
            return -t / a
        return (a - t) / (a * (1 - a))


def output_delta(loss: str, output: Activation, z: Array, a: Array, t: Array) -> Array:
    """The per-sample output delta D = dE/dz (B, n_out); a − t for the fused pairs."""
    if fused(output, loss):
        return a - t
    with np.errstate(all="ignore"):
        return output.backward(z, a, output_gradient(loss, a, t))


def hidden_delta(delta_next: Array, W_next: Array, activation: Activation, z: Array, a: Array) -> Array:
    """delta_i = (delta_{i+1} W_{i+1}^T) ⊙ f′(z_i): delta_next (B, n_next), W_next (n, n_next) -> (B, n)."""
    with np.errstate(all="ignore"):
        return activation.backward(z, a, delta_next @ W_next.T)


def weight_gradient(a_prev: Array, delta: Array) -> Array:
    """dW = a_prev^T delta: (n_in, n_out), summed over the batch."""
    with np.errstate(all="ignore"):  # a hypothesis may carry an Inf; it is then simply not accepted
        return a_prev.T @ delta


def bias_gradient(delta: Array) -> Array:
    """db = the sum of delta over the batch (n_out,)."""
    with np.errstate(all="ignore"):
        return delta.sum(axis=0)


@dataclass
class Reference:
    """Every tensor of the step in float64, rows layout, W in × out; delta carries the batch reduction."""

    z: list[Array]
    a: list[Array]
    loss: float
    delta: list[Array]
    dW: list[Array]
    db: list[Array]
    scale: float  # s: 1/B for a mean, 1 for a sum


def reduction_scale(trace: Trace) -> float:
    return 1.0 / trace.batch if trace.network.reduction == "mean" else 1.0


def reference(trace: Trace) -> Reference:
    """The correct step for this trace's W, b, x and t."""
    net = trace.network
    zs, as_ = [], []
    a = trace.x
    for i, activation in enumerate(net.activations):
        z, a = forward(a, trace.W[i], trace.b[i], activation)
        zs.append(z)
        as_.append(a)
    s = reduction_scale(trace)
    output = net.activations[-1]
    loss = float(sample_losses(net.loss, output, zs[-1], as_[-1], trace.t).sum() * s)
    deltas = [s * output_delta(net.loss, output, zs[-1], as_[-1], trace.t)]
    for i in range(net.layers - 2, -1, -1):
        deltas.insert(0, hidden_delta(deltas[0], trace.W[i + 1], net.activations[i], zs[i], as_[i]))
    inputs = [trace.x, *as_[:-1]]
    dW = [weight_gradient(inputs[i], deltas[i]) for i in range(net.layers)]
    db = [bias_gradient(d) for d in deltas]
    return Reference(zs, as_, loss, deltas, dW, db, s)
