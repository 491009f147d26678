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

    def ratios(self) -> Array:
        """found / right over the entries where f′ is not 0."""
        usable = self.right != 0
        ratios: Array = self.found[usable] / self.right[usable]
        return ratios

    def ratio(self) -> float:
        """The median of found / right over the entries where f′ is not 0."""
        ratios = self.ratios()
        return float(np.median(ratios)) if ratios.size else math.nan

    def is_wrong(self) -> bool:
        """The factor differs from f′ somewhere it matters (by more than 1 %): f′ itself can be blamed."""
        ratios = self.ratios()
        return bool(ratios.size) and bool(np.all(np.isfinite(ratios))) and float(np.max(np.abs(ratios - 1))) > 0.01

    def describe(self) -> str:
        """'0.5 times the right one', or 'between 0.57 and 3.4 times the right one (median 1)'."""
        ratios = self.ratios()
        low, high, median = float(ratios.min()), float(ratios.max()), self.ratio()
        if high - low <= 0.01 * max(abs(median), 1e-12):
            return f"{median:.4g} times the right one"
        return f"between {low:.3g} and {high:.3g} times the right one (median {median:.3g})"

    def is_function_of_z(self) -> bool:
        """Entries ordered by z have close factors: one function of z, not noise."""
        if self.found.size < 4:
            return True
        ordered = self.found[np.argsort(self.z, kind="stable")]
        low, high = np.quantile(ordered, [0.1, 0.9])  # a robust range: a few outliers must not widen it
        spread = float(high - low)
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
