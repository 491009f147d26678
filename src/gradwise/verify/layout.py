"""How a trace lays out its tensors: samples as rows or columns, W in × out or out × in, the bias inside W or not.

Each function reads one layout question off the shapes, and says when the shapes cannot tell (a square
matrix): then the trace builder records the question as open, and the verifier keeps the reading under which
the tensors agree with each other.
"""

from __future__ import annotations

import numpy as np

from gradwise.verify import bias as B
from gradwise.verify.files import TraceError

Array = np.ndarray
ORIENTATIONS = ("in_out", "out_in")


def matrix_shape(array: Array) -> tuple[int, ...]:
    return tuple(array.shape) if array.ndim == 2 else (1, array.size) if array.ndim == 1 else (1, 1)


def weight_fits(shape: tuple[int, ...], n_in: int, n_out: int, form: str) -> dict[str, bool]:
    """{orientation: whether the bias is inside} for each orientation the shape of W fits under this bias form."""
    fits: dict[str, bool] = {}
    plain = form in ("separate", "none", "")
    augmented = form in ("first", "last", "inside", "")
    for orientation in ORIENTATIONS:
        rows, columns = (n_in, n_out) if orientation == "in_out" else (n_out, n_in)
        extra = (1, 0) if orientation == "in_out" else (0, 1)
        if plain and shape == (rows, columns):
            fits[orientation] = False
        elif augmented and shape == (rows + extra[0], columns + extra[1]):
            fits[orientation] = True
    return fits


def samples_fit(x: Array, n_in: int, with_ones: bool) -> list[str]:
    """The layouts ("rows", "columns") in which x holds samples of n_in inputs (n_in + 1 with the constant 1)."""
    widths = (n_in, n_in + 1) if with_ones else (n_in,)
    shape = matrix_shape(x)
    return [layout for layout, axis in (("rows", 1), ("columns", 0)) if shape[axis] in widths]


def read_input(x: Array, n_in: int, rows: bool, bias_end: str, name: str) -> Array:
    """x as (B, n_in); a constant-1 column for a bias inside W0 is taken off (it must be all ones)."""
    widths = (n_in, n_in + 1) if B.inside(bias_end) else (n_in,)
    if x.ndim < 2:  # one sample, or (one input) one number per sample
        x = x.reshape(-1, 1) if n_in == 1 else x.reshape(1, -1)
    if 1 in x.shape and x.size in widths:
        samples = x.reshape(1, -1)  # one sample, as a row or a column
    elif (rows and x.shape[1] in widths) or (not rows and x.shape[0] in widths):
        samples = x if rows else x.T
    else:
        layout = "rows" if rows else "columns"
        raise TraceError(
            f"{name}: shape {x.shape} does not hold samples of {n_in} inputs as {layout}; {_hint(x, n_in, rows)}"
        )
    if samples.shape[1] == n_in + 1:
        if not B.ones_at(samples, bias_end):
            raise TraceError(
                f"{name}: has {n_in + 1} inputs per sample for a layer of {n_in}, but its {bias_end} column is not "
                "all ones (the constant input of a bias inside W0); write x with or without that column of ones"
            )
        samples = B.drop_unit(samples, bias_end)
    return samples


def _hint(x: Array, n_in: int, rows: bool) -> str:
    other = "columns" if rows else "rows"
    fits_other = matrix_shape(x)[0 if rows else 1] == n_in
    return f'it fits "samples": "{other}"' if fits_other else f"the first size in network.json is {n_in}"


def one_hot(t: Array, classes: int, batch: int) -> tuple[Array, int] | None:
    """Class labels (B whole numbers 0 .. classes − 1, or 1 .. classes as in Octave code) -> (one-hot rows, the
    first label); None when t is not labels."""
    if classes < 2 or t.size != batch or (t.ndim == 2 and 1 not in t.shape) or t.size == batch * classes:
        return None
    labels = t.reshape(-1)
    if not np.all(labels == np.round(labels)):
        return None
    first = 0 if labels.min() >= 0 and labels.max() < classes else 1
    if labels.min() < first or labels.max() >= classes + first:
        return None
    rows: Array = np.eye(classes)[labels.astype(int) - first]
    return rows, first


def per_sample(array: Array, n: int, batch: int, rows: bool) -> tuple[Array, bool | None]:
    """A per-sample tensor as (B, n) rows -> (array, read in the other layout: True / False / None if square).

    As given, with False, when it fits neither layout (that is a finding, not bad input).
    """
    v = array.reshape(1, 1) if array.ndim == 0 else array
    if v.ndim == 1:
        if v.size == n * batch and (batch == 1 or n == 1):
            return v.reshape(batch, n), False
        return v, False
    if batch == 1 and v.size == n and 1 in v.shape:
        return v.reshape(1, n), False  # one sample: a row or a column vector
    expected = (batch, n) if rows else (n, batch)
    if v.shape == expected and n == batch:
        return (v if rows else v.T), None  # square: the layout cannot be told from the shape
    if v.shape == expected:
        return (v if rows else v.T), False
    if v.shape == expected[::-1]:
        return (v.T if rows else v), True
    return v, False
