"""Normalization layers: ``BatchNorm`` (each feature over the batch) and ``LayerNorm`` (each row over its features).

Both follow the layer protocol of ``gradwise.nn.layers``: ``forward(x, train, rng) -> (y, backprop)`` with x and y
(batch, n), and ``backprop(dy, need_dx=True) -> dx`` filling ``grads``. Both learn a scale ``gamma`` (ones) and a
shift ``beta`` (zeros) per feature: ``y = gamma xhat + beta``, xhat the normalized input.

BatchNorm also keeps running statistics in ``buffers`` (``running_mean``, ``running_var``), which evaluation uses
in place of the batch's. They are not parameters: no optimizer moves them, training updates them in the forward
pass, and a model file and a checkpoint store them (``Network.buffers`` names them as ``params`` are named).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from gradwise.nn.layers import Array, Backprop


def _check(kind: str, n: int, eps: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{kind} size must be an integer >= 1, got {n!r}")
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"{kind} eps must be a finite number > 0, got {eps!r}")


def _normalized_gradient(dxhat: Array, xhat: Array, inv_std: Array, axis: int) -> Array:
    """dL/dx of ``xhat = (x - mean) inv_std`` where mean and variance are taken along ``axis`` of x itself.

    With m the count along ``axis``, mean = sum(x)/m, var = sum((x - mean)^2)/m, s = (var + eps)^-1/2:
    d mean/dx_j = 1/m, d var/dx_j = 2 (x_j - mean)/m, so ds/dx_j = -s^3 (x_j - mean)/m = -s^2 xhat_j/m, and
    dL/dx_j = sum_i dxhat_i [(delta_ij - 1/m) s + (x_i - mean) ds/dx_j]
            = s [dxhat_j - mean(dxhat) - xhat_j mean(dxhat xhat)].
    """
    mean_g = dxhat.mean(axis=axis, keepdims=True)
    mean_gx = (dxhat * xhat).mean(axis=axis, keepdims=True)
    dx: Array = inv_std * (dxhat - mean_g - xhat * mean_gx)
    return dx


class BatchNorm:
    """Batch normalization (Ioffe & Szegedy 2015) of n features: each feature over the batch in training (biased
    variance), over the running statistics at evaluation; running_var takes the unbiased batch variance and
    ``momentum`` weights the new value, as PyTorch's ``BatchNorm1d`` does."""

    def __init__(
        self, n: int, *, momentum: float = 0.1, eps: float = 1e-5, dtype: np.dtype | type = np.float32
    ) -> None:
        _check("BatchNorm", n, eps)
        if not (math.isfinite(momentum) and 0 <= momentum <= 1):
            raise ValueError(f"BatchNorm momentum must be in [0, 1], got {momentum!r}")
        self.size, self.momentum, self.eps = int(n), float(momentum), float(eps)
        self.params: dict[str, Array] = {"gamma": np.ones(n, dtype=dtype), "beta": np.zeros(n, dtype=dtype)}
        self.grads: dict[str, Array] = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.buffers: dict[str, Array] = {
            "running_mean": np.zeros(n, dtype=dtype),
            "running_var": np.ones(n, dtype=dtype),
        }

    def forward(self, x: Array, train: bool = False, rng: np.random.Generator | None = None) -> tuple[Array, Backprop]:
        """Normalize x (batch, n) per feature: by the batch's statistics in training, the running ones otherwise."""
        if train:
            mean = x.mean(axis=0, keepdims=True)
            centred = x - mean
            var = (centred * centred).mean(axis=0, keepdims=True)  # biased: what the batch is normalized by
            self._update_running(mean[0], var[0], len(x))
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
            centred = x - mean
        inv_std = 1 / np.sqrt(var + self.eps)  # a batch of one row: var 0, so centred 0 and xhat 0, never NaN
        xhat = centred * inv_std
        if not train:  # the running statistics are constants: xhat is affine in x
            return _scale_and_shift(self, xhat, lambda dxhat: dxhat * inv_std)
        return _scale_and_shift(self, xhat, lambda dxhat: _normalized_gradient(dxhat, xhat, inv_std, axis=0))

    def _update_running(self, mean: Array, var: Array, batch: int) -> None:
        """running = (1 - momentum) running + momentum batch value, in place (``Network.buffers`` are these arrays).

        The variance recorded is the unbiased one, var B / (B - 1); a batch of one row says nothing about the
        spread, so it leaves running_var as it was (PyTorch refuses such a batch).
        """
        m = self.momentum
        running_mean, running_var = self.buffers["running_mean"], self.buffers["running_var"]
        running_mean *= 1 - m
        running_mean += m * mean
        if batch > 1:
            running_var *= 1 - m
            running_var += (m * batch / (batch - 1)) * var


class LayerNorm:
    """Layer normalization (Ba, Kiros & Hinton 2016) of n features: each row over its own features, the same in
    training and at evaluation, as PyTorch's ``LayerNorm(n)``."""

    def __init__(self, n: int, *, eps: float = 1e-5, dtype: np.dtype | type = np.float32) -> None:
        _check("LayerNorm", n, eps)
        self.size, self.eps = int(n), float(eps)
        self.params: dict[str, Array] = {"gamma": np.ones(n, dtype=dtype), "beta": np.zeros(n, dtype=dtype)}
        self.grads: dict[str, Array] = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.buffers: dict[str, Array] = {}

    def forward(self, x: Array, train: bool = False, rng: np.random.Generator | None = None) -> tuple[Array, Backprop]:
        """Normalize each row of x (batch, n) by its own mean and (biased) variance."""
        mean = x.mean(axis=1, keepdims=True)
        centred = x - mean
        inv_std = 1 / np.sqrt((centred * centred).mean(axis=1, keepdims=True) + self.eps)
        xhat = centred * inv_std
        # As BatchNorm's, with the statistics taken along each row instead of down each column.
        return _scale_and_shift(self, xhat, lambda dxhat: _normalized_gradient(dxhat, xhat, inv_std, axis=1))


def _scale_and_shift(
    layer: BatchNorm | LayerNorm, xhat: Array, dx_of: Callable[[Array], Array]
) -> tuple[Array, Backprop]:
    """y = gamma xhat + beta, and its backprop: dL/dbeta = the batch's sum of dy, dL/dgamma = the sum of dy xhat,
    and dx from dL/dxhat = dy gamma through ``dx_of`` (the normalization's own derivative)."""
    gamma = layer.params["gamma"]
    y = xhat * gamma + layer.params["beta"]

    def backprop(dy: Array, need_dx: bool = True) -> Array | None:
        np.sum(dy, axis=0, out=layer.grads["beta"])
        np.sum(dy * xhat, axis=0, out=layer.grads["gamma"])
        return dx_of(dy * gamma) if need_dx else None

    return y, backprop
