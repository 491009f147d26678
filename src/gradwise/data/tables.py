"""A CSV or TSV table as a Dataset: a stratified, seeded train / validation / test split, columns scaled alike.

``load_table("iris.csv", label="species")`` reads the file with ``load_csv``, cuts each class's rows by the
fractions (a class too small to share stays in training), and scales every column with statistics of the
training rows only: x = (raw - shift) / scale, shift and scale one float64 per column. ``scale_columns`` is the
one place that scaling is applied, here and for a saved model's new rows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from gradwise.data.csv import CSVError, Table, load_csv
from gradwise.data.datasets import NORMALIZE_MODES, Dataset, Split, SplitRecipe

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")


def is_table(name_or_path: str | os.PathLike[str]) -> bool:
    """Whether this names a table file (.csv, .tsv or .txt) rather than an IDX data set."""
    return Path(os.fspath(name_or_path)).suffix.lower() in TABLE_SUFFIXES


def load_table(
    path: str | os.PathLike[str],
    label: str | int | None = None,
    *,
    features: Sequence[str] | None = None,
    test_path: str | os.PathLike[str] | None = None,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    normalize: str = "unit",
    seed: int = 0,
    dtype: DTypeLike = np.float32,
) -> Dataset:
    """Read ``path`` -> Dataset split by class, seeded; with ``test_path`` the test rows are that file's.

    ``normalize``: "unit" (each column min-max to [0, 1]), "standard" (mean 0, deviation 1) or "none", the
    statistics from the training rows only. CSVError (a ValueError) for a bad file, one class, or too few rows
    for the splits asked for.
    """
    _check_options(normalize, val_fraction, 0.0 if test_path is not None else test_fraction)
    path = Path(path)
    table = load_csv(path, label, features=features, dtype=np.float64)
    if len(table.classes) < 2:
        raise CSVError(
            f"{path}: every one of its {len(table)} rows has the label {table.classes[0]!r} in column "
            f"{table.label!r}; a classifier needs two classes or more: choose another label column"
        )
    if test_path is not None:
        test_fraction = 0.0  # the test rows are the other file's: only validation rows are cut from this one
        test_x, test_y = _test_rows(Path(test_path), path, table)
    train, val, test = _stratified_split(path, table, val_fraction, test_fraction, seed)
    if test_path is None:
        test_x, test_y = table.x[test], table.y[test]
    shift, scale = column_statistics(table.x[train], normalize)
    return Dataset(
        name=path.name,
        train=Split(scale_columns(table.x[train], shift, scale, dtype), table.y[train]),
        val=Split(scale_columns(table.x[val], shift, scale, dtype), table.y[val]),
        test=Split(scale_columns(test_x, shift, scale, dtype), test_y),
        num_classes=len(table.classes),
        image_shape=None,
        normalize=normalize,
        shift=shift,
        scale=scale,
        classes=table.classes,
        features=table.features,
        label=table.label,
        split=SplitRecipe(seed, val_fraction, test_fraction, None if test_path is None else os.fspath(test_path)),
    )


def scale_columns(x_raw: ArrayLike, shift: ArrayLike, scale: ArrayLike, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Raw rows (N, F) -> features (N, F) in ``dtype``: (raw - shift) / scale, column by column."""
    raw = np.asarray(x_raw, dtype=np.float64)
    shift, scale = np.asarray(shift, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    if raw.ndim != 2 or shift.shape not in ((), (raw.shape[1],)) or shift.shape != scale.shape:
        raise ValueError(
            f"rows of shape {raw.shape} do not fit a scaling of {shift.size} shifts and {scale.size} scales; "
            "give one of each per column"
        )
    return np.ascontiguousarray((raw - shift) / scale, dtype=dtype)


def column_statistics(x_raw: np.ndarray, normalize: str) -> tuple[np.ndarray, np.ndarray]:
    """(shift, scale), float64 (F,) each, of the training rows: min and range, mean and deviation, or 0 and 1."""
    width = x_raw.shape[1]
    if normalize == "none" or len(x_raw) == 0:
        return np.zeros(width), np.ones(width)
    if normalize == "unit":
        shift, spread = x_raw.min(axis=0), x_raw.max(axis=0) - x_raw.min(axis=0)
    else:
        shift, spread = x_raw.mean(axis=0), x_raw.std(axis=0)
    return shift, np.where(spread > 0, spread, 1.0)  # a constant column: shifted to 0, not divided by 0


def split_summary(data: Dataset) -> str:
    """One line: the rows, columns and classes, and how many rows each split got, and how they were cut."""
    sizes = f"{len(data.train)} train, {len(data.val)} validation, {len(data.test)} test"
    if data.split is None:
        return f"{data.name}: {data.num_features} features, {data.num_classes} classes -> {sizes}"
    rows = len(data.train) + len(data.val) + (0 if data.split.test_path else len(data.test))
    if data.split.test_path:
        sizes += f" (from {Path(data.split.test_path).name})"
    return (
        f"{data.name}: {rows} rows, {data.num_features} features, label {data.label!r} ({data.num_classes} "
        f"classes) -> {sizes}, stratified, seed {data.split.seed}"
    )


def _check_options(normalize: str, val_fraction: float, test_fraction: float) -> None:
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f"unknown normalize={normalize!r}; use one of {', '.join(NORMALIZE_MODES)}")
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= fraction < 1:
            raise ValueError(f"{name}={fraction} is out of range; give a fraction from 0 up to (not including) 1")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} leave no training rows; "
            "make them add up to less than 1"
        )


def _test_rows(test_path: Path, path: Path, table: Table) -> tuple[np.ndarray, np.ndarray]:
    """The separate test file's raw features and class indices, in the training file's columns and classes."""
    test = load_csv(test_path, table.label, features=table.features, header=table.header, dtype=np.float64)
    return test.x, labels_among(test, table.classes, test_path, f"a class of {path.name}")


def labels_among(table: Table, classes: Sequence[str], path: str | os.PathLike[str], whose: str) -> np.ndarray:
    """``table``'s labels as indices into ``classes`` (equal numbers are one class: "1" and "1.0"); a label not
    among them is a CSVError naming its line in ``path`` (``whose`` says whose classes they are)."""
    index = {_class_key(name): i for i, name in enumerate(classes)}
    y = np.empty(len(table), dtype=np.int64)
    for row, (line, class_index) in enumerate(zip(table.lines.tolist(), table.y.tolist(), strict=True)):
        name = table.classes[class_index]
        if _class_key(name) not in index:
            raise CSVError(
                f"{path}: line {line}, column {table.label!r}: {name!r} is not {whose} ({', '.join(classes)}); "
                "fix the label or drop the row"
            )
        y[row] = index[_class_key(name)]
    return y


def _class_key(name: str) -> str | float:
    """What makes two label texts one class: equal finite numbers ("1" and "1.0"), else equal text."""
    try:
        value = float(name)
    except ValueError:
        return name
    return value if math.isfinite(value) else name


def _stratified_split(
    path: Path, table: Table, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices (train, val, test), each in file order: every class cut by the fractions, seeded."""
    rng = np.random.default_rng(seed)
    fractions = (val_fraction, test_fraction)
    taken: list[list[np.ndarray]] = [[], [], []]
    spare: list[np.ndarray] = []  # per class, its shuffled rows left for training
    for c in range(len(table.classes)):
        rows = rng.permutation(np.flatnonzero(table.y == c))
        counts = [int(np.floor(f * len(rows) + 0.5)) for f in fractions]
        while counts[0] + counts[1] > len(rows) - 1:  # the class keeps a training row: the largest cut gives
            counts[int(counts[1] > counts[0])] -= 1
        taken[1].append(rows[: counts[0]])
        taken[2].append(rows[counts[0] : counts[0] + counts[1]])
        spare.append(rows[counts[0] + counts[1] :])
    for split, fraction in ((1, val_fraction), (2, test_fraction)):  # a split asked for gets a row, if any is free
        if fraction > 0 and not sum(len(rows) for rows in taken[split]):
            source = spare if max(len(rows) for rows in spare) > 1 else taken[3 - split]  # else the other cut's
            donor = max(range(len(source)), key=lambda c: len(source[c]))  # the first class with most rows there
            if source is not spare and sum(len(rows) for rows in source) < 2:
                raise CSVError(_too_few(path, table, val_fraction, test_fraction))
            taken[split].append(source[donor][:1])
            source[donor] = source[donor][1:]
    taken[0] = spare
    train, val, test = (np.sort(np.concatenate(parts)).astype(np.intp) for parts in taken)
    return train, val, test


def _too_few(path: Path, table: Table, val_fraction: float, test_fraction: float) -> str:
    """The one line saying the rows are too few for the splits asked for, and how to ask for fewer."""
    counts = np.bincount(table.y, minlength=len(table.classes))
    per_class = ", ".join(f"{n} {name!r}" for name, n in zip(table.classes, counts.tolist(), strict=True))
    asked = [flag for flag, f in (("--val-fraction", val_fraction), ("--test-fraction", test_fraction)) if f > 0]
    splits = " and a ".join(flag.removeprefix("--").removesuffix("-fraction") for flag in asked)
    splits = splits.replace("val", "validation")
    both = len(table) == len(table.classes)  # no class has a row to spare: neither split can have one
    return (
        f"{path}: {len(table)} rows ({per_class}) are too few for a training row of each class and a "
        f"{splits} row; add rows, or pass {(' and ' if both else ' or ').join(f'{flag} 0' for flag in asked)}"
    )
