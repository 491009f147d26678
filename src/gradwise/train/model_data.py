"""The rows a saved table model reads: the test split its model file records, or another file with the same
columns, scaled with the statistics saved in the model (``gradwise evaluate``, ``predict`` and ``report``).

Labels come back as indices into the model's own classes, so the names it was trained with are the names it gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from gradwise.data.csv import CSVError, first_row, load_csv, load_features
from gradwise.data.tables import labels_among, load_table, scale_columns


@dataclass(frozen=True, eq=False)
class Rows:
    """x (N, F) scaled as in training; y (N,) indices into ``classes``, or None when the file has no label column."""

    x: np.ndarray
    y: np.ndarray | None
    classes: tuple[str, ...]  # the model's class names: class i is classes[i]
    source: str  # the file the rows came from

    def __len__(self) -> int:
        return len(self.x)


def is_table_model(meta: dict[str, Any]) -> bool:
    """Whether the model file's meta describes a model trained on a table (it names its columns)."""
    return "features" in meta


def recorded_test_rows(meta: dict[str, Any], dtype: DTypeLike) -> Rows:
    """The test rows the model was tested on after training: its split recipe applied to its file again."""
    split, classes = meta["split"], tuple(meta["classes"])
    data = load_table(
        split["dataset"],
        meta["label"],
        features=meta["features"],
        test_path=split["test_data"],
        val_fraction=split["val_fraction"],
        test_fraction=split["test_fraction"],
        normalize="none",
        seed=split["seed"],
        dtype=np.float64,
    )
    if tuple(data.classes or ()) != classes:
        raise CSVError(
            f"{split['dataset']}: holds the classes {', '.join(data.classes or ())}, but the model was trained on "
            f"{', '.join(classes)}; the file changed since training: give the test rows with --data FILE"
        )
    return Rows(_scaled(data.test.x, meta, dtype), data.test.y, classes, split["dataset"])


def file_rows(meta: dict[str, Any], path: str, label: str | None, dtype: DTypeLike, *, labeled: bool) -> Rows:
    """Every row of the table ``path``, read with the model's feature columns. Its ``label`` column (default the
    model's) must be there when ``labeled``; otherwise a file without it gives rows with ``y`` None."""
    label = label or meta["label"]
    classes = tuple(meta["classes"])
    if not labeled and label not in first_row(path):
        x, _lines = load_features(path, meta["features"], dtype=np.float64)
        return Rows(_scaled(x, meta, dtype), None, classes, path)
    table = load_csv(path, label, features=meta["features"], dtype=np.float64)
    y = labels_among(table, classes, path, "a class the model knows")
    return Rows(_scaled(table.x, meta, dtype), y, classes, path)


def _scaled(raw: np.ndarray, meta: dict[str, Any], dtype: DTypeLike) -> np.ndarray:
    scaling = meta["input"]
    return scale_columns(raw, np.asarray(scaling["shift"]), np.asarray(scaling["scale"]), dtype)
