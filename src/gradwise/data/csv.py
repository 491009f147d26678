"""Tables of numbers with a label column, from a CSV file: features x (N, F) and class indices y (N,).

``load_csv("iris.csv", label="species")`` reads a header row when there is one (a first row whose feature
fields are not all numbers), turns every other column (or those named in ``features=``) into float features
and the label column's values, whatever their text, into class indices 0..C-1 in sorted order (numerically
when every label is a number). A ``.tsv`` file is tab-separated; fields may be quoted. A bad cell is a one-line
CSVError naming the file, line and column; missing values (empty, NA, NaN, Inf) are counted and the first few
named. Splitting and scaling a table into a Dataset is ``gradwise.data.tables.load_table``.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

LABEL_NAMES = ("label", "class", "target")  # label=None picks the first column of these names, else the last
MISSING_TEXTS = ("", "na", "n/a", "nan", "null", "none", "?")  # feature cells that mean "no value"
SHOWN = 3  # how many bad cells a message about missing values lists
_UNNAMED = re.compile(r"column [1-9][0-9]*")  # the names of a file's columns when it has no header row


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
    lines: np.ndarray  # (N,) int64: each row's line number in the file, for messages about a row
    header: bool  # whether the file's first row named the columns

    def __len__(self) -> int:
        return len(self.y)


def load_csv(
    path: str | os.PathLike[str],
    label: str | int | None = None,
    *,
    features: Sequence[str] | None = None,
    header: bool | None = None,
    delimiter: str | None = None,
    dtype: DTypeLike = np.float32,
) -> Table:
    """Read ``path`` into a Table; ``label`` is the label column's name or index (negative counts from the end).

    ``features`` names the feature columns (None: every column but the label). ``header=None`` detects a header
    row; ``delimiter=None`` means tab for a ``.tsv`` file, else the most used of ``,``, ``;``, tab or ``|``.
    """
    path = Path(path)
    rows = _rows(path, _delimiter(path, delimiter))
    first = rows[0][1]
    if header is None:
        header = _has_header(path, first, label, features)
    names, rows = _named_rows(path, rows, header)
    column = _label_column(path, label, names, header, features)
    chosen = _feature_columns(path, features, names, column)
    x = _features(path, rows, chosen, names)
    classes, y = _labels(path, rows, column, names)
    lines = np.array([number for number, _ in rows], dtype=np.int64)
    return Table(x.astype(dtype), y, classes, tuple(names[i] for i in chosen), names[column], lines, header)


def load_features(
    path: str | os.PathLike[str],
    features: Sequence[str],
    *,
    header: bool | None = None,
    delimiter: str | None = None,
    dtype: DTypeLike = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Only the columns named in ``features``, as rows to predict (a label column may be there or not):
    (x (N, F) in ``dtype``, each row's line number (N,) int64). ``header=None``: the file has a header row unless
    the names are ``column 1``, ``column 2``... (a file without one) and its first row does not hold them.
    """
    path = Path(path)
    rows = _rows(path, _delimiter(path, delimiter), least=1)
    first = rows[0][1]
    if header is None:
        header = any(name in first for name in features) or not all(_UNNAMED.fullmatch(name) for name in features)
    names, rows = _named_rows(path, rows, header)
    chosen = _feature_columns(path, features, names, None)
    x = _features(path, rows, chosen, names)
    return x.astype(dtype), np.array([number for number, _ in rows], dtype=np.int64)


def _named_rows(
    path: Path, rows: list[tuple[int, list[str]]], header: bool
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The column names (the header's, else ``column 1``, ``column 2``...; a header's empty name too, as a table
    saved with its row index has) and the rows of data after them."""
    first = rows[0][1]
    names = [name if header and name else f"column {i + 1}" for i, name in enumerate(first)]  # unnamed: by number
    data = rows[1:] if header else rows
    if not data:
        raise CSVError(f"{path}: has a header but no rows of data")
    return names, data


def first_row(path: str | os.PathLike[str], *, delimiter: str | None = None) -> list[str]:
    """The first row's fields: the column names, in a file with a header row."""
    path = Path(path)
    return _rows(path, _delimiter(path, delimiter), least=1)[0][1]


def _delimiter(path: Path, delimiter: str | None) -> str | None:
    """The delimiter asked for, else tab for a ``.tsv`` file, else None (sniffed from the first line)."""
    return delimiter or ("\t" if path.suffix.lower() == ".tsv" else None)


def _has_header(path: Path, first: list[str], label: str | int | None, features: Sequence[str] | None) -> bool:
    """Whether the first row is a header: columns asked for by name, or text where a data row has numbers."""
    if isinstance(label, str) or features is not None:
        return True
    probe = len(first) - 1 if label is None else _label_column(path, label, first, False, None)
    return any(not _is_number(field) for i, field in enumerate(first) if i != probe)


def _feature_columns(path: Path, features: Sequence[str] | None, names: list[str], column: int | None) -> list[int]:
    """The indices of the feature columns: those named in ``features``, else every column but the label."""
    if features is None:
        return [i for i in range(len(names)) if i != column]
    if isinstance(features, str) or not features:
        raise CSVError(f"{path}: features={features!r} must name one column or more, e.g. ['a', 'b']")
    for name in features:
        if name not in names:
            raise CSVError(f"{path}: no column named {name!r}; the header has: {', '.join(names)}")
        if column is not None and name == names[column]:
            raise CSVError(
                f"{path}: column {name!r} is the label and cannot also be a feature; leave it out of the "
                "features or choose another label"
            )
    twice = next((name for i, name in enumerate(features) if name in features[:i]), None)
    if twice is not None:
        raise CSVError(f"{path}: column {twice!r} is listed twice in the features; name each column once")
    return [names.index(name) for name in features]


def _rows(path: Path, delimiter: str | None, least: int = 2) -> list[tuple[int, list[str]]]:
    """The file's non-blank lines split into stripped fields, with their line numbers; all of one width (>= least)."""
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
    if width < least:
        raise CSVError(f"{path}: line {rows[0][0]} has one column; a CSV needs features and a label column")
    for number, fields in rows:
        if len(fields) != width:
            raise CSVError(f"{path}: line {number} has {len(fields)} fields, but line {rows[0][0]} has {width}")
    return rows


def _features(path: Path, rows: list[tuple[int, list[str]]], columns: list[int], names: list[str]) -> np.ndarray:
    """The feature columns as float64; text raises CSVError naming the cell, missing values all at once."""
    cells = np.array([[fields[i] for i in columns] for _, fields in rows], dtype=str).reshape(len(rows), -1)
    try:
        x = cells.astype(np.float64)  # numpy parses the text in C; Python looks again only to name a bad cell
    except ValueError:
        x = _parse_cells(path, rows, cells, columns, names)
    bad = np.argwhere(~np.isfinite(x)).tolist()
    if bad:
        places = [
            f"line {rows[r][0]} column {names[columns[c]]!r} ({rows[r][1][columns[c]]!r})" for r, c in bad[:SHOWN]
        ]
        more = f", and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
        count, fix = (
            ("1 cell is", "it in or drop the row")
            if len(bad) == 1
            else (f"{len(bad)} cells are", "them in or drop those rows")
        )
        raise CSVError(f"{path}: {count} empty, NaN or Inf: {', '.join(places)}{more}; fill {fix}")
    return x


_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")  # 5,1: a number written with a decimal comma


def _parse_cells(
    path: Path, rows: list[tuple[int, list[str]]], cells: np.ndarray, columns: list[int], names: list[str]
) -> np.ndarray:
    """The cells as float64, missing ones (empty, NA, ...) as NaN; CSVError at the first cell holding text."""
    missing = np.isin(np.char.lower(np.char.strip(cells)), MISSING_TEXTS)
    try:
        return np.where(missing, "nan", cells).astype(np.float64)
    except ValueError:
        r, c = next((r, c) for (r, c), text in np.ndenumerate(cells) if not missing[r, c] and _float(text) is None)
    text = str(cells[r, c])
    if _DECIMAL_COMMA.fullmatch(text.strip()):
        fix = f"write decimals with a point ({text.strip().replace(',', '.')}): save the file with '.' as decimal mark"
    else:
        fix = "fix the value, leave the column out of the features, or make it the label"
    raise CSVError(f"{path}: line {rows[r][0]}, column {names[columns[c]]!r}: {text!r} is not a number; {fix}")


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


def _label_column(
    path: Path, label: str | int | None, names: list[str], header: bool, features: Sequence[str] | None
) -> int:
    """The label column's index: by name, by index, or the first of LABEL_NAMES, else the last non-feature."""
    width = len(names)
    if label is None:
        lowered = [name.lower() for name in names] if header else []
        known = next((lowered.index(n) for n in LABEL_NAMES if n in lowered), None)
        spare = [i for i, name in enumerate(names) if features is None or name not in features]
        return known if known is not None else (spare or [width - 1])[-1]
    if isinstance(label, str):
        if label in names:
            return names.index(label)
        if not header:
            raise CSVError(f"{path}: label={label!r} names a column, but the file has no header row; give its index")
        raise CSVError(f"{path}: no column named {label!r}; the header has: {', '.join(names)}")
    if not -width <= label < width:
        raise CSVError(f"{path}: label column {label} is out of range for {width} columns")
    return label % width


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _is_number(text: str) -> bool:
    value = _float(text)
    return value is not None and math.isfinite(value)
