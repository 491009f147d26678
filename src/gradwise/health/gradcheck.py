"""Gradient check: analytic gradients against central finite differences, in float64.

The finite difference is the 4-point stencil
``f'(x) ~ [8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))] / 12h``, whose truncation error is
O(h^4): with h = 1e-3 both it and the round-off stay near 1e-12, so a relative error
above 1e-6 means a wrong derivative, not a noisy check.

The relative error of an entry is ``|a - n| / max(|a|, |n|, floor)``. Below the floor an
entry is compared on the floor's scale instead of its own, because there the difference
quotient's round-off (about 3e-13 x the loss at h = 1e-3) would dominate. The floor is the
larger of 1e-3 x the parameter's largest gradient entry and 1e-5 x max(1, loss).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from gradwise.nn.activations import ACTIVATIONS
from gradwise.nn.losses import Loss, get_loss
from gradwise.nn.network import Network, fused_loss, grad, mlp

Array = np.ndarray

TOLERANCE = 1e-6  # relative error above which a gradient is reported wrong
STEP = 1e-3  # finite-difference step h
ROUNDOFF_FLOOR = 1e-5  # x max(1, loss): smaller entries are compared on this scale
KINK_MARGIN = 0.05  # pre-activations this close to a kink are resampled: 2h steps must not cross it


def relative_error(analytic: Array, numeric: Array, floor: float = 0.0) -> float:
    """Largest entry-wise relative error between two gradients of one parameter."""
    if analytic.size == 0:
        return 0.0
    scale = max(float(np.abs(analytic).max()), float(np.abs(numeric).max()))
    floor = max(1e-3 * scale, floor, 1e-300)
    denominator = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    return float((np.abs(analytic - numeric) / denominator).max())


def loss_value(net: Network, loss: Loss, x: Array, t: Array, seed: int = 0, fuse: bool = True) -> float:
    """The loss of one batch as ``grad`` computes it (same dropout masks for the same seed)."""
    fused = fused_loss(net, loss) if fuse else None
    y, _ = net.forward(x, train=True, rng=np.random.default_rng(seed), logits=fused is not None)
    return (fused or loss)(y, t)[0]


def numeric_gradient(net: Network, loss: Loss, x: Array, t: Array, name: str, seed: int = 0) -> Array:
    """d loss / d params[name] by finite differences (perturbs the parameter in place and restores it)."""
    p = net.params[name]
    g = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        original = p[i]
        values = []
        for k in (1, -1, 2, -2):
            p[i] = original + k * STEP
            values.append(loss_value(net, loss, x, t, seed))
        p[i] = original
        g[i] = (8 * (values[0] - values[1]) - (values[2] - values[3])) / (12 * STEP)
    return g


def gradcheck(
    net: Network, loss: str | Loss, x: Array, t: Array, *, seed: int = 0, fuse: bool = True
) -> dict[str, float]:
    """Max relative error of the analytic gradient, per parameter name. The network must be float64."""
    if net.dtype != np.float64:
        raise ValueError(f"gradcheck needs a float64 network (float32 hides errors), got {net.dtype}")
    loss = get_loss(loss)
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    value, grads = grad(net, loss, x, t, rng=np.random.default_rng(seed), fuse=fuse)
    analytic = {k: v.copy() for k, v in grads.items()}
    floor = ROUNDOFF_FLOOR * max(1.0, abs(value))
    return {
        name: relative_error(analytic[name], numeric_gradient(net, loss, x, t, name, seed), floor)
        for name in net.params
    }


@dataclass(frozen=True)
class Case:
    """One network/loss pairing of the full check."""

    hidden: str
    output: str
    loss: str
    fuse: bool
    sizes: tuple[int, ...]
    errors: dict[str, float]

    @property
    def worst(self) -> float:
        return max(self.errors.values())


# Output/loss pairings checked under every hidden activation: the fused pairs both ways,
# and unfused pairs that exercise the output activations' own backward (softmax's JVP).
PAIRINGS: tuple[tuple[str, str, bool], ...] = (
    ("identity", "mse", True),
    ("sigmoid", "mse", True),
    ("tanh", "mse", True),
    ("softmax", "mse", True),
    ("sigmoid", "bce", True),
    ("sigmoid", "bce", False),
    ("identity", "bce_logits", True),
    ("softmax", "ce", True),
    ("softmax", "ce", False),
    ("identity", "softmax_ce", True),
)


def _targets(rng: np.random.Generator, loss: str, shape: tuple[int, int]) -> Array:
    if loss in ("ce", "softmax_ce"):
        return rng.dirichlet(np.ones(shape[1]), size=shape[0])  # rows are distributions
    if loss in ("bce", "bce_logits"):
        return rng.uniform(0, 1, size=shape)
    return rng.normal(size=shape)


def _away_from_kinks(net: Network, x: Array) -> bool:
    h = x
    for layer in net.layers:
        z = h @ layer.params["W"] + layer.params["b"]
        act = layer.activation  # type: ignore[attr-defined]
        if any(np.abs(z - k).min() < KINK_MARGIN for k in act.kinks):
            return False
        h = act.forward(z)
    return True


def random_case(rng: np.random.Generator, hidden: str, output: str, loss: str, depth: int, fuse: bool = True) -> Case:
    """Gradient-check a random small network with ``depth`` hidden layers, resampled away from kinks."""
    for _ in range(1000):
        sizes = (int(rng.integers(2, 6)), *rng.integers(2, 6, size=depth).tolist(), int(rng.integers(2, 5)))
        batch = int(rng.integers(2, 5))
        net = mlp(sizes, hidden, output, init="glorot_normal", rng=rng, dtype=np.float64)
        for layer in net.layers:
            layer.params["b"][...] = rng.normal(0, 0.5, size=layer.params["b"].shape)
        x = rng.normal(size=(batch, sizes[0]))
        if _away_from_kinks(net, x):
            break
    else:
        raise RuntimeError("could not sample a network away from the activations' kinks")
    t = _targets(rng, loss, (batch, sizes[-1]))
    return Case(hidden, output, loss, fuse, sizes, gradcheck(net, loss, x, t, fuse=fuse))


def check_all(seed: int = 0, depths: tuple[int, ...] = (1, 2, 3)) -> Iterator[Case]:
    """Every hidden activation x every output/loss pairing x 1-3 hidden layers, random shapes."""
    rng = np.random.default_rng(seed)
    for hidden in ACTIVATIONS:
        for output, loss, fuse in PAIRINGS:
            for depth in depths:
                yield random_case(rng, hidden, output, loss, depth, fuse)


__all__ = ["TOLERANCE", "Case", "check_all", "gradcheck", "numeric_gradient", "relative_error"]
