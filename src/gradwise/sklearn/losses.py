"""The losses of scikit-learn's MLP by name: ``loss(y, p, sample_weight) -> float`` (weighted mean over rows).

Each is paired with an output activation so that dL/dz = p - y (see ``passes.backprop``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import xlogy  # type: ignore[import-untyped]

Array = np.ndarray
LossFn = Callable[[Array, Array, "Array | None"], float]


def _clipped(p: Array) -> Array:
    eps = np.finfo(p.dtype).eps
    return np.clip(p, eps, 1 - eps)  # type: ignore[no-any-return]


def half_squared_error(y: Array, p: Array, sample_weight: Array | None = None) -> float:
    """0.5 (y - p)^2, averaged over rows (weighted) and then over outputs."""
    return float(0.5 * np.average((y - p) ** 2, weights=sample_weight, axis=0).mean())


def log_loss(y: Array, p: Array, sample_weight: Array | None = None) -> float:
    """-sum_k y_k log p_k per row (softmax outputs), weighted mean over rows."""
    return float(-np.average(xlogy(y, _clipped(p)), weights=sample_weight, axis=0).sum())


def binary_log_loss(y: Array, p: Array, sample_weight: Array | None = None) -> float:
    """-[y log p + (1 - y) log(1 - p)] summed over the logistic outputs, weighted mean over rows."""
    q = _clipped(p)
    return float(-np.average(xlogy(y, q) + xlogy(1 - y, 1 - q), weights=sample_weight, axis=0).sum())


def half_poisson_deviance(y: Array, p: Array, sample_weight: Array | None = None) -> float:
    """y log(y / p) - y + p summed over outputs, weighted mean over rows (p = exp(z) > 0)."""
    return float(np.average(xlogy(y, y / p) - y + p, weights=sample_weight, axis=0).sum())


# output activation -> its matched loss
LOSS_OF_OUTPUT: dict[str, LossFn] = {
    "identity": half_squared_error,
    "softmax": log_loss,
    "logistic": binary_log_loss,
    "exp": half_poisson_deviance,
}
