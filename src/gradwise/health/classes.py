"""What the targets' class counts say before training: a label that looks like an index or an ID
(``id_like_label``), and one class so large that accuracy misleads (``imbalanced_classes``).

Both read the rows per class of one-hot targets (or of one 0/1 column); targets that are not classes (a
regression's) are not judged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradwise.health import thresholds as T

Evidence = dict[str, float | int | str]
SHARES_LISTED = 5  # up to this many classes the words list every class's share; beyond, the two extremes


def class_counts(t: np.ndarray) -> np.ndarray | None:
    """(C,) rows per class of targets t: one-hot rows (N, C), or one 0/1 column (N, 1) for two classes; None
    when t holds something else (a regression's values, several labels per row)."""
    t = np.asarray(t)
    if t.ndim != 2 or len(t) == 0 or not np.isin(t, (0, 1)).all():
        return None
    if t.shape[1] == 1:
        return np.bincount(t[:, 0].astype(np.int64), minlength=2)
    if not (t.sum(axis=1) == 1).all():
        return None
    counts: np.ndarray = t.sum(axis=0).astype(np.int64)
    return counts


def class_name(index: int, classes: Sequence[str] | None) -> str:
    """``'setosa'`` when the classes have names, else the class number."""
    return repr(str(classes[index])) if classes is not None and index < len(classes) else str(index)


def _percent(share: float) -> str:
    return f"{100 * share:.3g}%"


def id_like_label(counts: np.ndarray) -> tuple[Evidence, str] | None:
    """(evidence, words) when nearly every row has a class of its own: at least ``T.ID_CLASSES_PER_ROW``
    classes per row, most of them (``T.ID_SINGLE_ROW_SHARE``) with a single row. Else None."""
    rows, present = int(counts.sum()), counts[counts > 0]
    single = int(np.sum(present == 1))
    if rows < T.LABEL_MIN_ROWS or len(present) < T.ID_CLASSES_PER_ROW * rows:
        return None
    if single <= T.ID_SINGLE_ROW_SHARE * len(present):
        return None
    evidence: Evidence = {"rows": rows, "classes": len(present), "single_row_classes": single}
    words = f"{rows} rows hold {len(present)} different classes, {single} of them with a single row"
    return evidence, words


def imbalanced_classes(counts: np.ndarray, classes: Sequence[str] | None = None) -> tuple[Evidence, str] | None:
    """(evidence, words) when the largest class holds ``T.IMBALANCE_SHARE`` of the rows or more, or (with enough
    rows per class to compare them) ``T.IMBALANCE_RATIO`` times the rows of the smallest class present. Else
    None; one class alone is not judged here (``bad_labels`` says it)."""
    rows, present = int(counts.sum()), np.flatnonzero(counts)
    if rows < T.LABEL_MIN_ROWS or len(present) < 2:
        return None
    largest = int(present[np.argmax(counts[present])])
    smallest = int(present[np.argmin(counts[present])])
    share, ratio = counts[largest] / rows, counts[largest] / counts[smallest]
    comparable = rows / len(present) >= T.IMBALANCE_ROWS_PER_CLASS
    if share < T.IMBALANCE_SHARE and not (comparable and ratio >= T.IMBALANCE_RATIO):
        return None
    evidence: Evidence = {
        "largest_class": class_name(largest, classes),
        "largest_share": round(float(share), 4),
        "smallest_class": class_name(smallest, classes),
        "smallest_share": round(float(counts[smallest] / rows), 4),
        "class_ratio": float(f"{ratio:.3g}"),
    }
    return evidence, _share_words(counts, present, largest, smallest, classes)


def _share_words(
    counts: np.ndarray, present: np.ndarray, largest: int, smallest: int, classes: Sequence[str] | None
) -> str:
    rows = counts.sum()
    if len(present) <= SHARES_LISTED:
        order = present[np.argsort(-counts[present], kind="stable")]
        listed = ", ".join(f"{class_name(int(i), classes)} {_percent(counts[i] / rows)}" for i in order)
        return f"class shares of the rows: {listed}"
    return (
        f"class {class_name(largest, classes)} holds {_percent(counts[largest] / rows)} of the rows, class "
        f"{class_name(smallest, classes)} {_percent(counts[smallest] / rows)}"
    )
