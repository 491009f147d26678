"""The local factor of a delta that no hypothesis explains: delta / (incoming gradient), entry by entry.

If the user's delta{i} is the incoming gradient times some function of z{i}, the activation derivative is
wrong (``wrong_derivative``) and the ratio to the right f′ says by how much; if the factor scatters among
entries with nearly equal z, the incoming gradient itself is wrong (``wrong_upstream``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gradwise.nn.activations import Activation

Array = np.ndarray
NEGLIGIBLE = 1e-3  # incoming-gradient entries below this x the largest say nothing about the factor
SCATTER = 0.15  # a function of z: neighbours in z differ by at most this share of the factor's range (median)


@dataclass(frozen=True)
class LocalFactor:
    """The user's factor and the right f′ where the incoming gradient is not negligible, with their z."""

    found: Array
    right: Array
    z: Array

    def ratio(self) -> float:
        """The median of found / right over the entries where f′ is not 0."""
        usable = self.right != 0
        return float(np.median(self.found[usable] / self.right[usable])) if usable.any() else math.nan

    def is_function_of_z(self) -> bool:
        """Entries ordered by z have close factors: one function of z, not noise."""
        if self.found.size < 4:
            return True
        ordered = self.found[np.argsort(self.z, kind="stable")]
        spread = float(np.ptp(ordered))
        return spread == 0 or float(np.median(np.abs(np.diff(ordered)))) <= SCATTER * spread


def local_factor(
    user: Array, upstream: Array, scales: tuple[float, ...], activation: Activation, z: Array, a: Array
) -> LocalFactor | None:
    """user / upstream entry by entry, under the delta convention nearest the right f′; None if it cannot be told."""
    if user.shape != upstream.shape or not np.isfinite(user).all() or not np.any(upstream):
        return None
    keep = np.abs(upstream) > NEGLIGIBLE * np.abs(upstream).max()
    if keep.sum() < 2:
        return None
    with np.errstate(all="ignore"):
        right = activation.backward(z, a, np.ones_like(z))[keep]
        candidates = [LocalFactor(user[keep] / k / upstream[keep], right, z[keep]) for k in scales]
    return min(candidates, key=_distance_from_one)


def _distance_from_one(factor: LocalFactor) -> float:
    ratio = factor.ratio()
    return abs(math.log(abs(ratio))) if math.isfinite(ratio) and ratio != 0 else math.inf
