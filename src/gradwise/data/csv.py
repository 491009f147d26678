"""Tables of numbers with a label column, from a CSV file: features x (N, F) and class indices y (N,).

``load_csv("iris.csv", label="species")`` reads a header row when there is one (a first row whose feature
fields are not all numbers), turns every other column into float features and the label column's values,
whatever their text, into class indices 0..C-1 in sorted order (numerically when every label is a number).
A bad cell is a one-line CSVError naming the file, line and column.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

LABEL_NAMES = ("label", "class", "target")  # label=None picks the first column of these names, else the last


class CSVError(ValueError):
    """A CSV file that cannot be read as a table of numbers: one line naming the file, the line, what to do."""


@dataclass(frozen=True, eq=False)
class Table:
    """x (N, F) float features; y (N,) int64 class indices into ``classes`` (the label texts, sorted)."""

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    features: tuple[str, ...]  # column names (``column 1`` ... without a header)
    label: str  # the label column's name

    def __len__(self) -> int:
        return len(self.y)


def load_csv(
    path: str | os.PathLike[str],
    label: str | int | None = None,
    *,
    header: bool | None = None,
    delimiter: str | None = None,
    dtype: DTypeLike = np.float32,
) -> Table:
    """Read ``path`` into a Table; ``label`` is the label column's name or index (negative counts from the end).

    ``header=None`` detects a header row; ``delimiter=None`` detects ``,``, ``;``, tab or ``|``.
    """
    path = Path(path)
    rows = _rows(path, delimiter)
    width = len(rows[0][1])
    first = rows[0][1]
    if header is None:  # a header row has text where a data row has numbers: in some column but the label's
        if isinstance(label, str):
            header = True
        else:
            probe = width - 1 if label is None else _label_column(path, label, None, width)
            header = any(not _is_number(field) for i, field in enumerate(first) if i != probe)
    names = first if header else [f"column {i + 1}" for i in range(width)]
    column = _label_column(path, label, first if header else None, width)
    if header:
        rows = rows[1:]
    if not rows:
        raise CSVError(f"{path}: has a header but no rows of data")
    features = [i for i in range(width) if i != column]
    x = _features(path, rows, features, names)
    classes, y = _labels(path, rows, column, names)
    return Table(x.astype(dtype), y, classes, tuple(names[i] for i in features), names[column])


def _rows(path: Path, delimiter: str | None) -> list[tuple[int, list[str]]]:
    """The file's non-blank lines split into stripped fields, with their line numbers; all of one width (>= 2)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CSVError(f"{path}: does not exist; give the path of a CSV file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CSVError(f"{path}: cannot be read as UTF-8 text ({error}); save it as a UTF-8 CSV") from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise CSVError(f"{path}: is empty; a CSV needs rows of features and a label")
    delimiter = delimiter or _sniff(lines[0][1])
    rows = [(number, [field.strip() for field in fields]) for number, fields in _parse(lines, delimiter)]
    width = len(rows[0][1])
    if width < 2:
        raise CSVError(f"{path}: line {rows[0][0]} has one column; a CSV needs features and a label column")
    for number, fields in rows:
        if len(fields) != width:
            raise CSVError(f"{path}: line {number} has {len(fields)} fields, but line {rows[0][0]} has {width}")
    return rows


def _features(path: Path, rows: list[tuple[int, list[str]]], features: list[int], names: list[str]) -> np.ndarray:
    """The feature columns as float64; a cell that is not a finite number raises CSVError naming it."""
    cells = np.array([[fields[i] for i in features] for _, fields in rows], dtype=str).reshape(len(rows), -1)
    try:
        x = cells.astype(np.float64)  # numpy parses the text in C; Python looks again only to name a bad cell
        bad = np.argwhere(~np.isfinite(x)).tolist()
    except ValueError:
        bad = [next([r, c] for (r, c), text in np.ndenumerate(cells) if _number(str(text)) is None)]
    if bad:
        (number, fields), i = rows[bad[0][0]], features[bad[0][1]]
        raise CSVError(
            f"{path}: line {number}, column {names[i]!r}: {fields[i]!r} is not a finite number; "
            "fix the value, drop the column, or pass label= if it holds the labels"
        )
    return x


def _labels(
    path: Path, rows: list[tuple[int, list[str]]], column: int, names: list[str]
) -> tuple[tuple[str, ...], np.ndarray]:
    """(the classes in order, each row's class index); numeric labels sort as numbers ("9" before "10")."""
    texts = [fields[column] for _, fields in rows]
    empty = next((number for number, fields in rows if not fields[column]), None)
    if empty is not None:
        raise CSVError(f"{path}: line {empty} has no label in column {names[column]!r}; fill it in or drop the row")
    numeric = all(_is_number(t) for t in texts)
    classes = sorted(set(texts), key=float) if numeric else sorted(set(texts))
    index = {name: i for i, name in enumerate(classes)}
    return tuple(classes), np.array([index[t] for t in texts], dtype=np.int64)


def _parse(lines: list[tuple[int, str]], delimiter: str) -> list[tuple[int, list[str]]]:
    """Each non-blank line split into fields (quotes allowed), with its line number."""
    reader = csv.reader([line for _, line in lines], delimiter=delimiter)
    return [(number, fields) for (number, _), fields in zip(lines, reader, strict=True)]


def _sniff(line: str) -> str:
    """The delimiter the first line uses most among comma, semicolon, tab and bar (comma when none)."""
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _label_column(path: Path, label: str | int | None, header: list[str] | None, width: int) -> int:
    """The label column's index: by name (needs a header), by index, or the first of LABEL_NAMES, else the last."""
    if label is None:
        lowered = [name.lower() for name in header or []]
        return next((lowered.index(n) for n in LABEL_NAMES if n in lowered), width - 1)
    if isinstance(label, str):
        if header is None:
            raise CSVError(f"{path}: label={label!r} names a column, but the file has no header row; give its index")
        if label not in header:
            raise CSVError(f"{path}: no column named {label!r}; the header has: {', '.join(header)}")
        return header.index(label)
    if not -width <= label < width:
        raise CSVError(f"{path}: label column {label} is out of range for {width} columns")
    return label % width


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _is_number(text: str) -> bool:
    return _number(text) is not None
