"""Per-layer statistics of one probed training step: what the health rules read."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gradwise.health import thresholds as T

Array = np.ndarray


def _nonfinite(v: Array, total: float | None = None) -> int:
    """How many entries are NaN or Inf. ``total``: v's sum or sum of squares, if already computed.

    Speed: NaN and Inf survive a sum, so a finite sum proves there are none in one pass without a copy;
    only a non-finite one (or an overflowing one) pays for the exact count.
    """
    if math.isfinite(float(v.sum()) if total is None else total):
        return 0
    return int(v.size - np.count_nonzero(np.isfinite(v)))


def _tiny_fraction(v: Array) -> float:
    """Fraction of entries with 0 < |v| < TINY: below it, x^2 and products underflow in float32."""
    zeros = v.size - np.count_nonzero(v)
    return float(np.count_nonzero(np.abs(v) < T.TINY) - zeros) / max(v.size, 1)


def _squared_norm(v: Array) -> float:
    return float(np.vdot(v, v).real) if v.size else 0.0


# Activation histograms: fixed bins per activation, so probes line up into a heat strip over time.
# Bounded activations use their range; unbounded ones (relu family, elu, softplus, identity) a symmetric
# log scale, s = sign(a) * log10(1 + |a| / 0.01) over [-5, 5]: |a| from 0 to 1000, with exact zeros (dead or
# collapsed units) in a bin of their own width (0 <= a < 0.02) and blow-ups visible in the outer bins.
# Values beyond the range count in the end bins; non-finite values are left out (``nonfinite`` counts them).
HIST_BINS = 20
HIST_SAMPLE = 8192  # at most this many activations (whole rows of the batch) per layer and probe
HIST_LINEAR = {"sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0)}
HIST_SYMLOG = (-5.0, 5.0, 0.01)  # lo, hi, linear threshold of the "symlog" scale


def symlog(a: Array) -> Array:
    """The histogram's scale for unbounded activations: sign(a) * log10(1 + |a| / 0.01)."""
    return np.sign(a) * np.log10(1.0 + np.abs(a) / HIST_SYMLOG[2])


def activation_histogram(activation: str, a: Array, logits: bool = False) -> tuple[list[int], list[float], str]:
    """Counts over ``HIST_BINS`` fixed bins of a subsample of ``a`` (batch, units); the range and its scale.

    ``logits``: ``a`` is still z (an output layer fused with its loss); the activation is applied to the sample.
    """
    rows = max(1, HIST_SAMPLE // max(a.shape[-1], 1))
    sample = np.asarray(a[:rows], dtype=np.float64)
    with np.errstate(all="ignore"):  # a blown-up batch holds Inf and NaN; they are dropped below
        if logits and activation == "softmax":
            sample = np.exp(sample - sample.max(axis=-1, keepdims=True))
            sample /= sample.sum(axis=-1, keepdims=True)
        elif logits and activation == "sigmoid":
            sample = 0.5 * (1.0 + np.tanh(0.5 * sample))  # sigmoid without overflow in exp
    sample = sample.ravel()
    sample = sample[np.isfinite(sample)]
    if activation in HIST_LINEAR:
        lo, hi = HIST_LINEAR[activation]
        scale = "linear"
    else:
        lo, hi, _ = HIST_SYMLOG
        sample, scale = symlog(sample), "symlog"
    # Speed: np.histogram's general path costs ~10x this for 20 equal bins.
    index = np.clip((sample - lo) * (HIST_BINS / (hi - lo)), 0, HIST_BINS - 1).astype(np.intp)
    return np.bincount(index, minlength=HIST_BINS).tolist(), [lo, hi], scale


@dataclass
class LayerStats:
    """One Dense layer at one probed step (z: pre-activation, a: activation, delta: dL/dz)."""

    layer: int
    activation: str
    z_mean: float = 0.0
    z_std: float = 0.0
    z_max_abs: float = 0.0
    a_mean: float = 0.0
    a_std: float = 0.0
    saturated: float = 0.0  # fraction of unit-samples with |z| > 5 (sigmoid/tanh only)
    dead: float = 0.0  # fraction of units zero for each of the last ``dead_samples`` samples seen (ReLU only)
    dead_samples: int = 0  # how many samples ``dead`` covers: the monitor adds up probes to DEAD_SAMPLES
    tiny_a: float = 0.0  # fraction of non-zero |a| below 1e-30
    tiny_delta: float = 0.0
    delta_rms: float = 0.0
    nonfinite: dict[str, int] = field(default_factory=dict)  # tensor -> count
    grad_norm: float = 0.0  # of W
    weight_norm: float = 0.0
    update_ratio: float = float("nan")  # ||W_after - W_before|| / ||W_before||
    a_hist: list[int] = field(default_factory=list)  # activation counts over HIST_BINS bins of a_bins
    a_bins: list[float] = field(default_factory=list)  # [lo, hi] of the bins, on the scale a_scale names
    a_scale: str = ""  # "linear" or "symlog" (see activation_histogram)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: (round(v, 8) if isinstance(v, float) and np.isfinite(v) else v) for k, v in data.items()}


def forward_stats(stats: LayerStats, z: Array, a: Array) -> Array | None:
    """Fill the forward half from the layer's z and a (batch, units); return which units were active (ReLU)."""
    z_total = float(z.sum())  # each sum serves the non-finite check and the mean
    a_total = z_total if a is z else float(a.sum())
    stats.nonfinite["z"] = _nonfinite(z, z_total)
    stats.nonfinite["a"] = _nonfinite(a, a_total)
    finite_z = z[np.isfinite(z)] if stats.nonfinite["z"] else z
    if not finite_z.size:
        stats.z_mean = stats.z_std = stats.z_max_abs = float("nan")
    else:
        stats.z_mean = float(finite_z.mean()) if stats.nonfinite["z"] else z_total / z.size
        stats.z_std = float(finite_z.std())
        stats.z_max_abs = float(max(finite_z.max(), -finite_z.min()))
    if stats.nonfinite["a"]:
        stats.a_mean, stats.a_std = float(np.nanmean(a)), float(np.nanstd(a))
    else:
        stats.a_mean, stats.a_std = a_total / max(a.size, 1), float(a.std())
    if stats.activation in ("sigmoid", "tanh"):
        stats.saturated = float(np.count_nonzero(np.abs(z) > T.SATURATION_Z)) / max(z.size, 1)
    alive = None
    if stats.activation == "relu":
        alive = a.max(axis=0) > 0 if not stats.nonfinite["a"] else (a > 0).any(axis=0)  # NaN > 0 is False
        stats.dead = float(alive.size - np.count_nonzero(alive)) / max(a.shape[1], 1)
        stats.dead_samples = int(a.shape[0])
    stats.tiny_a = _tiny_fraction(a)
    stats.a_hist, stats.a_bins, stats.a_scale = activation_histogram(stats.activation, a, logits=a is z)
    return alive


class DeadUnits:
    """Per layer, which units were active in the newest probes' batches, back to ``DEAD_SAMPLES`` samples.

    A unit is dead when it was zero for every one of those samples: a test that does not depend on the
    batch size (a whole batch of 1 leaves a healthy ReLU layer 40 % "dead"; a batch of 128 none).
    """

    def __init__(self, samples: int = T.DEAD_SAMPLES) -> None:
        self.samples = samples
        self._seen: dict[int, list[tuple[int, Array]]] = {}  # layer -> [(rows, active units)], newest last

    def update(self, stats: LayerStats, alive: Array) -> None:
        """Add this probe's active units and set ``stats.dead`` over the newest ``samples`` samples."""
        seen = self._seen.setdefault(stats.layer, [])
        if seen and seen[-1][1].shape != alive.shape:
            seen.clear()
        seen.append((stats.dead_samples, alive))
        rows, union, keep = 0, np.zeros_like(alive), 0
        for count, mask in reversed(seen):
            union |= mask
            rows += count
            keep += 1
            if rows >= self.samples:
                break
        del seen[: len(seen) - keep]
        stats.dead = float(union.size - np.count_nonzero(union)) / max(union.size, 1)
        stats.dead_samples = rows

    def reset(self) -> None:
        self._seen.clear()


def backward_stats(stats: LayerStats, delta: Array) -> None:
    """Fill the backward half from delta = dL/dz (batch, units)."""
    squares = _squared_norm(delta)
    if not (math.isfinite(squares) and squares > 1e-30):  # overflowed or near underflow: sum in float64
        squares = float(np.sum(np.square(delta, dtype=np.float64)))
    stats.delta_rms = math.sqrt(squares / delta.size) if delta.size else 0.0
    stats.tiny_delta = _tiny_fraction(delta)
    stats.nonfinite["delta"] = _nonfinite(delta, squares)


def parameter_stats(stats: LayerStats, grad_w: Array, grad_b: Array, weight: Array) -> None:
    squares = _squared_norm(grad_w)
    stats.grad_norm = math.sqrt(squares) if squares >= 0 else float("nan")
    stats.weight_norm = math.sqrt(_squared_norm(weight))
    stats.nonfinite["gradient"] = _nonfinite(grad_w, squares) + _nonfinite(grad_b)


def update_stats(stats: LayerStats, before: Array, after: Array) -> None:
    """The update/weight ratio and the weights' health after the step; overwrites ``before`` with the update."""
    update = np.subtract(after, before, out=before)
    stats.update_ratio = math.sqrt(_squared_norm(update)) / max(stats.weight_norm, 1e-30)
    stats.nonfinite["weight"] = _nonfinite(after)


@dataclass
class StepStats:
    """All layers at one probed step, plus the loss: one line of health.jsonl."""

    step: int
    loss: float
    layers: list[LayerStats]

    @property
    def gradient_ratio(self) -> float:
        """First-layer / last-layer gradient norm: tiny means the gradient vanishes on its way down."""
        first, last = self.layers[0].grad_norm, self.layers[-1].grad_norm
        return first / last if last > 0 else float("nan")

    def to_json(self) -> dict[str, Any]:
        loss = self.loss if np.isfinite(self.loss) else str(self.loss)
        ratio = self.gradient_ratio
        return {
            "step": self.step,
            "loss": loss,
            "gradient_ratio": ratio if np.isfinite(ratio) else None,
            "layers": [s.to_json() for s in self.layers],
        }
