"""Where a layer's bias lives: a vector b{i}, nowhere, or inside W{i} as its first or last row.

The augmented form is [b ; W] or [W ; b] (in × out: one row per input, plus one for the bias), and the layer's
input carries a constant 1 at the same end, so that [1, a] [b ; W] = a W + b. The verifier always works with W
and b apart; these functions take an augmented matrix apart and put one together again, in × out.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray
INSIDE = ("first", "last")


def inside(form: str) -> bool:
    """The bias is a row of W (its first or last)."""
    return form in INSIDE


def split(matrix: Array, form: str) -> tuple[Array, Array]:
    """An augmented (n_in + 1, n_out) matrix -> (W (n_in, n_out), b (n_out,))."""
    if form == "first":
        return matrix[1:], matrix[0]
    return matrix[:-1], matrix[-1]


def join(W: Array, b: Array, form: str) -> Array:
    """(W (n_in, n_out), b (n_out,)) -> the augmented (n_in + 1, n_out) matrix, with b at the form's end."""
    row = np.reshape(b, (1, -1))
    return np.vstack([row, W] if form == "first" else [W, row])


def drop_unit(per_sample: Array, form: str) -> Array:
    """A (B, n + 1) per-sample tensor -> (B, n) without the bias unit's column at the form's end."""
    return per_sample[:, 1:] if form == "first" else per_sample[:, :-1]


def ones_at(per_sample: Array, form: str) -> bool:
    """The (B, n + 1) tensor's column at the form's end is all ones."""
    column = per_sample[:, 0] if form == "first" else per_sample[:, -1]
    return bool(np.all(column == 1))


def constant_one_at(per_sample: Array) -> str | None:
    """Which end of a (B, n + 1) tensor holds a column of ones: "first", "last", or None (neither, or both)."""
    ends = [end for end in INSIDE if ones_at(per_sample, end)]
    return ends[0] if len(ends) == 1 else None
