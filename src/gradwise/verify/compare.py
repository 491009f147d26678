"""How close a user's tensor is to a reference: one relative error on the scale of the whole tensor.

``||u - r|| / max(||r||, FLOOR * magnitude)``. On the norm, not entry by entry: a float32 implementation
rounds every entry by about 6e-8 of itself, and a sum of K products accumulates about sqrt(K) such errors
(a few 1e-6 for K = 1000), while entries that nearly cancel (a − t near the target) can be wrong in every
digit and still be right on the scale of the tensor. TOLERANCE = 1e-3 sits well above that and the 6
significant digits of ``%g`` text (5e-7), and far below what any bug does (a factor, a missing term, a
transpose: errors of order 1).

``magnitude`` is the size the tensor would have without cancellation or a vanishing factor: |a||W| for z,
the incoming gradient for a delta (before a saturated layer's f′ ≈ 0), |a| + |t| for a − t, |W| for an
update. A float32 result is only known to about 1e-6 of that, so below FLOOR = 1e-3 of it a tensor is
compared on FLOOR's scale: the float32 user's exact 0 matches a reference of 1e-40, and a − t that cancels to
1e-6 is not called wrong for its last float32 digit. Bugs still show: they change a tensor by its own size.
"""

from __future__ import annotations

import math

import numpy as np

Array = np.ndarray
TOLERANCE = 1e-3
FLOOR = 1e-3
_TINY = 1e-300


def norm(a: Array) -> float:
    with np.errstate(all="ignore"):
        return float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))


def relative_error(user: Array, ref: Array, magnitude: float = 0.0) -> float:
    """||user - ref|| / max(||ref||, FLOOR * magnitude); inf for a shape that differs or a non-finite entry."""
    if user.shape != ref.shape or not np.isfinite(user).all() or not np.isfinite(ref).all():
        return math.inf
    with np.errstate(all="ignore"):
        error = norm(user - ref) / max(norm(ref), FLOOR * magnitude, _TINY)
    return error if math.isfinite(error) else math.inf


def matches(user: Array, ref: Array, magnitude: float = 0.0) -> bool:
    return relative_error(user, ref, magnitude) <= TOLERANCE


def fitted_scale(user: Array, ref: Array) -> float | None:
    """The constant c that makes c * ref closest to user (least squares), or None when ref is zero."""
    if user.shape != ref.shape or not np.isfinite(user).all():
        return None
    rr = float(np.vdot(ref, ref))
    if not rr > 0 or not math.isfinite(rr):
        return None
    return float(np.vdot(user, ref)) / rr


def near(value: float, target: float) -> bool:
    """value equals target to the comparison's tolerance."""
    return abs(value - target) <= TOLERANCE * max(abs(target), 1e-12)


def magnitude_of_product(left: Array, right: Array) -> float:
    """||(|left| @ |right|)||: how large left @ right would be without cancellation."""
    with np.errstate(all="ignore"):
        return norm(np.abs(left) @ np.abs(right))
