"""The input's columns on scales far apart: one column varying 1000x as much as another (``unscaled_columns``).

Two columns are that far apart when both measures of their scale say so:

- the standard deviation (LeCun et al. 1998: inputs of similar variance). Alone it misleads on sparse columns:
  a border pixel that is 0 in nearly every image has a tiny deviation, though its values are pixels like the
  others;
- the typical departure: the median distance from the column's median over the rows where it differs from it.
  It measures a sparse column by its non-zero values, ignores a few outliers, and is at least one step of the
  data's grid: 8-bit pixels stay within 255x of each other under any scaling of the whole image. Alone it
  misleads on a sparse column standardized on its own, whose rare values become hundreds of deviations.

A standardized table has equal deviations, pixels of one image have departures within 255x: neither is named.
A constant column has no scale and is left out.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from gradwise.health import thresholds as T

Evidence = dict[str, float | int | str]
BLOCK = 512  # columns compared at a time: a block of pairs stays small however wide the table


def column_names(features: Sequence[str] | None, width: int) -> tuple[str, ...]:
    """The columns' names: ``features`` as given, or ``column 1`` ... ``column F`` (counted from 1)."""
    if features is None:
        return tuple(f"column {j + 1}" for j in range(width))
    if len(features) != width:
        raise ValueError(f"features names {len(features)} columns, but the input has {width}")
    return tuple(str(name) for name in features)


def typical_departures(x: np.ndarray) -> np.ndarray:
    """(F,) each column's typical departure (see the module's docstring); NaN for a constant column."""
    x64 = np.asarray(x, dtype=np.float64)
    if len(x64) == 0:
        return np.full(x64.shape[1], np.nan)
    # The lower median: a value the column holds, so a departure from it is at least one step of the data's
    # grid (one 8-bit level), never the half step an interpolated median would leave.
    deviation = np.abs(x64 - np.quantile(x64, 0.5, axis=0, method="lower"))
    deviation[~(deviation > 0)] = np.nan  # rows at the median (and non-finite cells) do not count
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a constant column: an all-NaN slice
        return np.nanmedian(deviation, axis=0)


def _farthest_pair(std: np.ndarray, departure: np.ndarray) -> tuple[int, int, float]:
    """(wide, narrow, ratio): the pair of columns whose smaller ratio of the two measures is the largest."""
    best = (0, 0, 0.0)
    for start in range(0, len(std), BLOCK):
        narrow = slice(start, start + BLOCK)
        ratio = np.minimum(std[:, None] / std[None, narrow], departure[:, None] / departure[None, narrow])
        wide, column = np.unravel_index(np.argmax(ratio), ratio.shape)
        if ratio[wide, column] > best[2]:
            best = (int(wide), start + int(column), float(ratio[wide, column]))
    return best


def unscaled_columns(x: np.ndarray, features: Sequence[str] | None = None) -> tuple[Evidence, str] | None:
    """(evidence, words) when one column's standard deviation and typical departure are both at least
    ``T.COLUMN_SCALE_RATIO`` times another's, else None. The words name both columns."""
    x64 = np.asarray(x, dtype=np.float64)
    if x64.ndim != 2 or x64.shape[1] < 2:
        return None
    names = column_names(features, x64.shape[1])
    departure = typical_departures(x64)
    varying = np.flatnonzero(np.isfinite(departure))
    if len(varying) < 2:
        return None
    std = x64[:, varying].std(axis=0)
    wide, narrow, ratio = _farthest_pair(std, departure[varying])
    if ratio < T.COLUMN_SCALE_RATIO * (1 - 1e-9):  # 1000x is far apart, whatever the last bit's rounding
        return None
    std_ratio = std[wide] / std[narrow]
    wide_name, narrow_name = names[varying[wide]], names[varying[narrow]]
    evidence: Evidence = {
        "widest_column": wide_name,
        "widest_std": _sig(std[wide]),
        "narrowest_column": narrow_name,
        "narrowest_std": _sig(std[narrow]),
        "std_ratio": _sig(std_ratio),
    }
    words = (
        f"column '{wide_name}' has a standard deviation of {std[wide]:.3g} and column '{narrow_name}' of "
        f"{std[narrow]:.3g}, {std_ratio:.3g}x less"
    )
    return evidence, words


def row_counter(x: np.ndarray, features: Sequence[str] | None = None) -> tuple[Evidence, str] | None:
    """(evidence, words) for the first column whose value rises with every row, among two or more columns and over
    at least ``T.ROW_COUNTER_ROWS`` rows: a row number, an ID, a time stamp in a file sorted by it. Rows in their
    file's order (a split keeps it; the checks' sample is spread over it in order)."""
    x64 = np.asarray(x, dtype=np.float64)
    if x64.ndim != 2 or x64.shape[1] < 2 or len(x64) < T.ROW_COUNTER_ROWS:
        return None
    rising = np.flatnonzero((np.diff(x64, axis=0) > 0).all(axis=0))
    if rising.size == 0:
        return None
    column = int(rising[0])
    name = column_names(features, x64.shape[1])[column]
    evidence: Evidence = {"column": name, "rows": len(x64)}
    return evidence, f"column '{name}' rises with every one of the {len(x64)} rows, as a row number or an ID does"


def _sig(value: float) -> float:
    return float(f"{value:.3g}")
