"""Forward and backward passes of a multilayer perceptron held as scikit-learn holds it: lists of arrays.

``coefs[i]`` is (n_in, n_out), ``intercepts[i]`` (n_out,). X may be a scipy.sparse matrix: ``X @ W`` and
``X.T @ delta`` are its GEMMs too.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from gradwise.sklearn.activations import HIDDEN, OUTPUT
from gradwise.sklearn.losses import LOSS_OF_OUTPUT

Array = np.ndarray


class Probe(Protocol):
    """What the health monitor watches in a step (``gradwise.nn.network.Probe``)."""

    def observe(self, layer: int, tensor: str, value: Array) -> None: ...


def forward(
    coefs: list[Array], intercepts: list[Array], X: Any, hidden: str, output: str, probe: Probe | None = None
) -> list[Any]:
    """Activations of every layer: [X, a_1, ..., a_out]; a_out is (n_samples, n_outputs)."""
    activations = [X]
    last = len(coefs) - 1
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        a = activations[-1] @ W  # speed: one GEMM per layer; the activation then runs in place
        a += b
        if probe is not None:
            probe.observe(i, "z", a.copy())
        (OUTPUT[output] if i == last else HIDDEN[hidden]).forward(a)
        if probe is not None:
            probe.observe(i, "a", a)
        activations.append(a)
    return activations


def backprop(
    coefs: list[Array],
    intercepts: list[Array],
    X: Any,
    y: Array,
    *,
    hidden: str,
    output: str,
    alpha: float,
    sample_weight: Array | None = None,
    probe: Probe | None = None,
) -> tuple[float, list[Array], list[Array]]:
    """(loss, coef_grads, intercept_grads) of one batch: the weighted mean loss plus alpha/2 ||W||^2 / sum(w).

    y is (n_samples, n_outputs). The output and loss are matched, so dL/dz_out = (a_out - y) w / sum(w).
    """
    activations = forward(coefs, intercepts, X, hidden, output, probe)
    total = float(len(y)) if sample_weight is None else float(sample_weight.sum())
    loss = LOSS_OF_OUTPUT[output](y, activations[-1], sample_weight)
    loss += 0.5 * alpha * sum(float(np.vdot(W, W)) for W in coefs) / total
    delta = activations[-1] - y
    if sample_weight is not None:
        delta *= sample_weight[:, None]
    coef_grads: list[Array] = [np.empty(0)] * len(coefs)
    intercept_grads: list[Array] = [np.empty(0)] * len(coefs)
    for i in range(len(coefs) - 1, -1, -1):
        if probe is not None:
            probe.observe(i, "delta", delta)
        grad = np.asarray(activations[i].T @ delta)
        grad += alpha * coefs[i]  # L2 on the weights, not the intercepts
        grad /= total
        coef_grads[i] = grad
        intercept_grads[i] = delta.sum(axis=0) / total
        if i > 0:
            delta = delta @ coefs[i].T
            HIDDEN[hidden].backward(activations[i], delta)
    return loss, coef_grads, intercept_grads
