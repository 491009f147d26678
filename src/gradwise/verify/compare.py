"""How close a user's tensor is to a reference: one relative error on the scale of the whole tensor.

``||u - r|| / max(||r||, noise / tolerance)``. On the norm, not entry by entry: a program rounds every entry by
about u of itself (u, the unit round-off: 1.1e-16 in float64, 6e-8 in float32; see ``precision``), and a sum
of K products accumulates about sqrt(K) such errors, while entries that nearly cancel (a − t near the target)
can be wrong in every digit and still be right on the scale of the tensor. The tolerance, 1e-3, sits well
above that and far below what any bug does (a factor, a missing term, a transpose: errors of order 1).

``magnitude`` is the size the tensor would have without cancellation or a vanishing factor: |a||W| for z,
the incoming gradient for a delta (before a saturated layer's f′ ≈ 0), |a| + |t| for a − t, the weights and
the step for an update. A result is only known to about ROUNDING · u of that, its noise; below it, two
tensors agree. Sized by the trace's own u, so a float64 gradient 13 times too small in a saturated layer is
not hidden by a floor meant for float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gradwise.verify.precision import U32

Array = np.ndarray
TOLERANCE = 1e-3
# Round-off of a sum of products, in units of u times the magnitude: the magnitude is already a norm of the
# products' absolute values, so this covers sums of thousands of terms. For float32 it gives the 1e-6 of the
# magnitude that float32 traces have always been judged by.
ROUNDING = 16.0
COARSE = 4.0  # text with few digits: a relative error below 4 u is rounding, whatever the tolerance
_TINY = 1e-300


def norm(a: Array) -> float:
    with np.errstate(all="ignore"):
        return float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))


@dataclass(frozen=True)
class Tolerance:
    """How closely two tensors of a trace written with unit round-off ``u`` must agree."""

    u: float = U32

    @property
    def relative(self) -> float:
        return max(TOLERANCE, COARSE * self.u)

    def noise(self, magnitude: float) -> float:
        return ROUNDING * self.u * magnitude

    def error(self, user: Array, ref: Array, magnitude: float = 0.0) -> float:
        """||user - ref|| / max(||ref||, noise / tolerance); inf for a shape that differs or a non-finite entry."""
        if user.shape != ref.shape or not np.isfinite(user).all() or not np.isfinite(ref).all():
            return math.inf
        with np.errstate(all="ignore"):
            error = norm(user - ref) / max(norm(ref), self.noise(magnitude) / self.relative, _TINY)
        return error if math.isfinite(error) else math.inf

    def matches(self, user: Array, ref: Array, magnitude: float = 0.0) -> bool:
        return self.error(user, ref, magnitude) <= self.relative

    def near(self, value: float, target: float) -> bool:
        """value equals target to the relative tolerance."""
        return abs(value - target) <= self.relative * max(abs(target), 1e-12)


def own_error(user: Array, ref: Array) -> float:
    """||user - ref|| / ||ref||: how far off a tensor is on its own scale (what a finding reports)."""
    if user.shape != ref.shape or not np.isfinite(user).all():
        return math.inf
    difference, size = norm(user - ref), norm(ref)
    if difference == 0:
        return 0.0
    return difference / size if size > 0 else math.inf


def fitted_scale(user: Array, ref: Array) -> float | None:
    """The constant c that makes c * ref closest to user (least squares), or None when ref is zero."""
    if user.shape != ref.shape or not np.isfinite(user).all() or not np.isfinite(ref).all():
        return None
    rr = float(np.vdot(ref, ref))
    if not rr > 0 or not math.isfinite(rr):
        return None
    return float(np.vdot(user, ref)) / rr


def least_squares(columns: Array, target: Array) -> tuple[Array, int] | None:
    """(coefficients, rank) minimising ||columns @ coefficients − target||; None for non-finite input or when LAPACK
    cannot solve it (a user's overflowing tensors must end in a finding, never an exception)."""
    if not (np.isfinite(columns).all() and np.isfinite(target).all()):
        return None
    try:
        coefficients, _, rank, _ = np.linalg.lstsq(columns, target, rcond=None)
    except np.linalg.LinAlgError:
        return None
    return coefficients, int(rank)


def magnitude_of_product(left: Array, right: Array) -> float:
    """||(|left| @ |right|)||: how large left @ right would be without cancellation."""
    with np.errstate(all="ignore"):
        return norm(np.abs(left) @ np.abs(right))
