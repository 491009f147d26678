# mypy: disable-error-code="no-any-return"
# (numpy's stubs type most array expressions as Any; every function here returns an array.)
"""The float64 reference: every tensor of one step recomputed from the user's own W, b, x and t.

Rows are samples. Each function is one link of the chain rule, so the verifier can feed it the user's own
upstream values (a "local" reference) as well as the reference's. ``delta`` is dL/dz with the batch
reduction in it: ``s * D`` where D is the per-sample delta and s is 1/B for a mean, 1 for a sum.

A normalized layer (see ``verify.norm``) adds three links: ``normalize`` (BatchNorm over the batch, LayerNorm over
the units, biased variance), ``scale_shift`` (gamma, beta), and their backward, ``norm_backward``,
``gamma_gradient`` and ``bias_gradient`` (beta's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gradwise.nn.activations import Activation
from gradwise.nn.losses import get_loss
from gradwise.verify.network import TraceNetwork
from gradwise.verify.trace import Trace

Array = np.ndarray
NORM_AXIS = {"batch": 0, "layer": 1}  # BatchNorm's statistics are each unit's over the batch; LayerNorm's each sample's


def fused(output: Activation, loss: str) -> bool:
    """The pair's per-sample output delta is exactly a − t (softmax with ce, sigmoid with bce): nn's fused pairs."""
    return output.name in get_loss(loss).fused


def forward(a_prev: Array, W: Array, b: Array, activation: Activation) -> tuple[Array, Array]:
    """One layer: a_prev (B, n_in), W (n_in, n_out), b (n_out,) -> z, a (B, n_out)."""
    z = a_prev @ W + b
    with np.errstate(all="ignore"):
        return z, activation.forward(z)


def normalize(kind: str, v: Array, eps: float) -> tuple[Array, Array]:
    """v (B, n) -> (xhat = (v − mean) / std, std = sqrt(var + eps)), over the batch ("batch") or the units ("layer");
    the variance is the biased one (divided by the count), as in training mode. std is (1, n) or (B, 1)."""
    axis = NORM_AXIS[kind]
    with np.errstate(all="ignore"):
        mean = v.mean(axis=axis, keepdims=True)
        std = np.sqrt(((v - mean) ** 2).mean(axis=axis, keepdims=True) + eps)
        return (v - mean) / std, std


def scale_shift(xhat: Array, gamma: Array, beta: Array) -> Array:
    """y = gamma xhat + beta: xhat (B, n), gamma and beta (n,)."""
    with np.errstate(all="ignore"):
        return gamma * xhat + beta


def norm_backward(kind: str, dy: Array, xhat: Array, std: Array, gamma: Array) -> Array:
    """dL/dv from dL/dy (B, n), through y = gamma xhat + beta and the normalization (its mean and variance depend on
    v too): (g − mean(g) − xhat · mean(g xhat)) / std with g = gamma dy, the means over the normalized axis."""
    axis = NORM_AXIS[kind]
    with np.errstate(all="ignore"):
        g = gamma * dy
        return (g - g.mean(axis=axis, keepdims=True) - xhat * (g * xhat).mean(axis=axis, keepdims=True)) / std


def gamma_gradient(dy: Array, xhat: Array) -> Array:
    """dgamma = the sum over the batch of dL/dy ⊙ xhat (n,)."""
    with np.errstate(all="ignore"):
        return (dy * xhat).sum(axis=0)


@dataclass
class Normalized:
    """A norm's forward values: xhat (B, n), std ((1, n) for BatchNorm, (B, 1) for LayerNorm), y (B, n)."""

    xhat: Array
    std: Array
    y: Array


@dataclass
class Layer:
    """One layer's forward values: z, a, and the norm's, if any; ``out`` feeds the next layer."""

    z: Array
    a: Array
    out: Array
    norm: Normalized | None = None


def layer(net: TraceNetwork, i: int, a_prev: Array, W: Array, b: Array, norm: tuple[Array, Array] | None) -> Layer:
    """Layer i of the network from its input: z = a_prev W + b, then the norm (``norm`` is (gamma, beta)) on z
    before the activation or on a after it."""
    activation, kind = net.activations[i], net.norm_of(i)
    if not kind or norm is None:
        z, a = forward(a_prev, W, b, activation)
        return Layer(z, a, a)
    z = a_prev @ W + b
    before = net.norm_at == "pre"
    with np.errstate(all="ignore"):
        xhat, std = normalize(kind, z if before else activation.forward(z), net.eps or 0.0)
        y = scale_shift(xhat, *norm)
        a = activation.forward(y if before else z)
    return Layer(z, a, a if before else y, Normalized(xhat, std, y))


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
    """db = the sum of delta over the batch (n_out,); dbeta likewise, of dL/dy."""
    with np.errstate(all="ignore"):
        return delta.sum(axis=0)


def normalized_delta(
    net: TraceNetwork, i: int, incoming: Array, za: tuple[Array, Array], norm: Normalized, gamma: Array
) -> tuple[Array, Array]:
    """(delta_i = dL/dz_i, dL/dy_i) of a normalized hidden layer from ``incoming`` = dL/d(its output) and its
    (z, a): the norm's backward after the activation's derivative at y (norm before f), or before it (after f)."""
    activation, kind = net.activations[i], net.norm_of(i)
    z, a = za
    with np.errstate(all="ignore"):
        if net.norm_at == "pre":
            dy = activation.backward(norm.y, a, incoming)
            return norm_backward(kind, dy, norm.xhat, norm.std, gamma), dy
        dv = norm_backward(kind, incoming, norm.xhat, norm.std, gamma)
        return activation.backward(z, a, dv), incoming


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
    xhat: dict[int, Array] = field(default_factory=dict)  # a normalized layer's values, by layer
    y: dict[int, Array] = field(default_factory=dict)
    dgamma: dict[int, Array] = field(default_factory=dict)
    dbeta: dict[int, Array] = field(default_factory=dict)


def reduction_scale(trace: Trace) -> float:
    return 1.0 / trace.batch if trace.network.reduction == "mean" else 1.0


def reference(trace: Trace) -> Reference:
    """The correct step for this trace's W, b, x, t (and gamma, beta)."""
    net = trace.network
    layers: list[Layer] = []
    for i in range(net.layers):
        affine = (trace.gamma[i], trace.beta[i]) if i in trace.gamma else None
        layers.append(layer(net, i, layers[-1].out if layers else trace.x, trace.W[i], trace.b[i], affine))
    zs, as_ = [v.z for v in layers], [v.a for v in layers]
    s = reduction_scale(trace)
    output = net.activations[-1]
    loss = float(sample_losses(net.loss, output, zs[-1], as_[-1], trace.t).sum() * s)
    ref = Reference(zs, as_, loss, [s * output_delta(net.loss, output, zs[-1], as_[-1], trace.t)], [], [], s)
    for i in range(net.layers - 2, -1, -1):
        norm = layers[i].norm
        if norm is None:
            ref.delta.insert(0, hidden_delta(ref.delta[0], trace.W[i + 1], net.activations[i], zs[i], as_[i]))
            continue
        incoming = ref.delta[0] @ trace.W[i + 1].T
        delta, dy = normalized_delta(net, i, incoming, (zs[i], as_[i]), norm, trace.gamma[i])
        ref.delta.insert(0, delta)
        ref.xhat[i], ref.y[i] = norm.xhat, norm.y
        ref.dgamma[i], ref.dbeta[i] = gamma_gradient(dy, norm.xhat), bias_gradient(dy)
    inputs = [trace.x, *(v.out for v in layers[:-1])]
    ref.dW = [weight_gradient(inputs[i], ref.delta[i]) for i in range(net.layers)]
    ref.db = [bias_gradient(d) for d in ref.delta]
    return ref
