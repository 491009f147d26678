"""The precision a trace was computed and written in: the unit round-off u that sizes every tolerance.

A float64 program's tensors are known to about 1e-16 of their size, a float32 program's to about 6e-8, and text
written with d significant digits to 5·10^-d. Tolerances sized for the coarsest of these would let a float64
gradient that is 13 times too small in a saturated layer pass as round-off; sized for the finest, they would
call float32 round-off a bug. So u is read off the trace itself:

- how each file stores its numbers: a dtype, or text with some number of significant digits;
- how the user's program computed: tensors it produced (z, a, delta, dW, db, the updated weights) whose every
  value is a float32 number were computed in float32.
"""

from __future__ import annotations

import re

import numpy as np

U64 = float(np.finfo(np.float64).eps) / 2  # 1.1e-16
U32 = float(np.finfo(np.float32).eps) / 2  # 6.0e-8
U16 = float(np.finfo(np.float16).eps) / 2  # 4.9e-4
SHORT_REPR_DIGITS = 9  # float32 round-trips in 9 digits: text this short may hold float32 values
HAND_TYPED_DIGITS = 3
FULL_DIGITS = 16  # inputs written with at most 3 digits (0.05, 0.15) are taken as the exact values used
SIMPLE_BITS = 11  # float16's significant bits: numbers with no more are simple, whatever their exponent
_INPUT = re.compile(r"x|t|W\d+|b\d+|gamma\d+|beta\d+")  # what the step starts from


def dtype_rounding(dtype: np.dtype) -> float:
    """The unit round-off of an array stored with this dtype (0 for integers: they are exact)."""
    if dtype.kind != "f":
        return 0.0
    return float(np.finfo(dtype).eps) / 2


def text_rounding(
    name: str, significant_digits: int, decimals: int | None = None, values: np.ndarray | None = None
) -> tuple[float, float]:
    """(relative, absolute) rounding of a text tensor whose longest number has this many significant digits, and
    whose numbers all have ``decimals`` digits after the point when the format is fixed-point (C's %f).

    Fixed-point text rounds every entry by the same amount, 0.5·10^-decimals, however small the entry: for a
    tensor the program computed that is an absolute noise of its own; for an input it is folded into the relative
    rounding, on the scale of the input. Integers only and short hand-typed inputs are exact.
    """
    if significant_digits == 0 or (significant_digits <= HAND_TYPED_DIGITS and _INPUT.fullmatch(name)):
        return 0.0, 0.0
    if decimals is not None and values is not None:
        step = 0.5 * 10.0**-decimals
        if not _INPUT.fullmatch(name):
            return 0.0, step
        size = float(np.linalg.norm(values))
        return (step * np.sqrt(values.size) / size if size > 0 else 0.0), 0.0
    if significant_digits >= FULL_DIGITS:
        return 0.0, 0.0  # every digit a float64 has (%.17g drops the trailing zeros of 0.25)
    rounding = 0.5 * 10.0 ** (1 - significant_digits)
    return (max(rounding, U32) if significant_digits <= SHORT_REPR_DIGITS else rounding), 0.0


def arithmetic_rounding(name: str, values: np.ndarray) -> float:
    """U32 when a tensor the program computed holds only float32 numbers, some of them beyond float16 (so not
    just simple numbers such as 0.25 or 1); else U64.

    Simple is counted in significant bits, at any exponent: a float64 sum that cancels to its last few bits (the
    bias gradient before a BatchNorm, 2⁻⁵⁵ and the like) is round-off, not float32 arithmetic.
    """
    if _INPUT.fullmatch(name):
        return U64
    finite = values[np.isfinite(values)]
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond float16 or float32 simply are not such
        as_float16 = finite.astype(np.float16).astype(np.float64)
        as_float32 = finite.astype(np.float32).astype(np.float64)
    mantissa = np.frexp(finite)[0] * 2.0 ** SIMPLE_BITS
    if finite.size == 0 or np.all(as_float16 == finite) or np.all(mantissa == np.round(mantissa)):
        return U64
    return U32 if bool(np.all(as_float32 == finite)) else U64


def unit_roundoff(tensors: dict[str, np.ndarray], storage: dict[str, float]) -> float:
    """The coarsest rounding among the trace's files and its program's arithmetic."""
    u = max([U64, *storage.values()])
    for name, values in tensors.items():
        u = max(u, arithmetic_rounding(name, values))
    return u


def precision_words(u: float) -> str:
    """'float64', 'float32', 'float16' or 'about N significant digits' for the unit round-off u."""
    for name, unit in (("float64", U64), ("float32", U32), ("float16", U16)):
        if abs(u - unit) <= 1e-3 * unit:
            return name
    return f"about {max(1, round(-np.log10(2 * u)) + 1)} significant digits"
