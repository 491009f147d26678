"""Where did the first NaN/Inf come from? A probe that remembers the first bad tensor it is shown.

Replaying the steps since the last good snapshot with this probe attached names the step,
the layer, the tensor (z, a, delta, gradient, weight or loss), the direction, and the values
that led there, e.g. "non_finite_count = 640, max_abs_finite = 3.2e+38". gradwise's own
activations and fused losses never exponentiate a positive number, so a large finite z is not
an overflow in the making; only non-finite values, and magnitudes past ``OVERFLOW`` (which
overflow once squared), count as bad.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gradwise.health import thresholds as T
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.divergence import LossTrend
from gradwise.health.explain import explain
from gradwise.health.settings import Settings
from gradwise.nn.network import Network, param_name

Array = np.ndarray

@dataclass
class FirstBadTensor:
    step: int
    layer: int | None
    tensor: str  # z, a, delta, gradient, weight, loss
    direction: str  # forward, backward, update
    evidence: dict[str, float | int | str] = field(default_factory=dict)

    def sentence(self) -> str:
        where = f"layer {self.layer} " if self.layer is not None else ""
        details = ", ".join(
            f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in self.evidence.items()
        )
        return f"step {self.step}: {where}{self.tensor} ({self.direction}) first went bad: {details}"


class FirstNonFinite:
    """Probe: the first tensor that is non-finite, or that overflows what its consumer can take."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.step = 0
        self.found: FirstBadTensor | None = None

    def _record(self, layer: int | None, tensor: str, direction: str, evidence: dict[str, float | int | str]) -> None:
        if self.found is None:
            self.found = FirstBadTensor(self.step, layer, tensor, direction, evidence)

    def observe(self, layer: int, tensor: str, value: Array) -> None:
        if self.found is not None:
            return
        bad = value.size - int(np.count_nonzero(np.isfinite(value)))
        finite = value[np.isfinite(value)]
        largest = float(np.abs(finite).max()) if finite.size else math.nan
        direction = "backward" if tensor == "delta" else "forward"
        if bad:
            self._record(layer, tensor, direction, {"non_finite_count": bad, "max_abs_finite": largest})
            return
        if largest > T.OVERFLOW:
            self._record(layer, tensor, direction, {"max_abs": largest, "overflow_threshold": T.OVERFLOW})

    def check_loss(self, loss: float) -> None:
        if self.found is None and not math.isfinite(loss):
            self._record(None, "loss", "forward", {"loss": loss if math.isfinite(loss) else str(loss)})

    def check_arrays(self, arrays: dict[str, Array], tensor: str, direction: str) -> None:
        """Gradients (before the update) or weights (after it), named as ``Network.params``."""
        for layer, named in self.net.by_layer(arrays).items():
            for key, value in named.items():
                if self.found is not None:
                    return
                if not np.isfinite(value).all() or float(np.abs(value).max(initial=0)) > T.OVERFLOW:
                    finite = value[np.isfinite(value)]
                    self._record(
                        layer,
                        f"{tensor} {param_name(layer, key)}",
                        direction,
                        {"max_abs_finite": float(np.abs(finite).max()) if finite.size else math.nan},
                    )


def blow_up_diagnosis(step: int, loss: float, found: FirstBadTensor | None, trend: LossTrend,
                      settings: Settings) -> Diagnosis:  # fmt: skip
    """What a non-finite or diverging loss at ``step`` means, from the replay's first bad tensor (None when
    nothing overflowed) and the loss trend: ``non_finite`` at that tensor, else ``lr_too_high`` (a run that
    diverged with finite values is the learning rate's doing)."""
    evidence: dict[str, float | int | str] = {"loss": loss if math.isfinite(loss) else str(loss)}
    if math.isfinite(loss) and math.isfinite(trend.best):
        evidence.update(smoothed_loss=round(trend.recent, 4), best_smoothed_loss=round(trend.best, 4))
    if found is not None:
        evidence = {"first_bad": found.sentence(), "tensor": found.tensor, "direction": found.direction,
                    **found.evidence}  # fmt: skip
    symptom = "non_finite" if found is not None or not math.isfinite(loss) else "lr_too_high"
    layer = found.layer if found is not None else None
    cause, fix = explain(symptom, layer, settings)
    onset = found.step if found is not None else (trend.onset or step)
    return Diagnosis(symptom, layer, onset, evidence, cause, fix)
