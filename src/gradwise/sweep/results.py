"""A sweep's ``results.jsonl``: one JSON object per finished trial, append-only, keyed by the config's hash.

A line holds ``key`` (16 hex digits of the SHA-256 of the configuration), ``axes`` (the trial's label on
each axis of the sweep that ran it), ``config`` (every TrainConfig field), ``outcome`` and ``onset_step``,
``val_accuracy``, ``train_accuracy``, ``train_loss``, ``steps``, ``epochs``, ``seconds``, ``stop_reason``,
``classes``, ``host``, ``diagnoses`` (Diagnosis.to_json each) and ``history`` (EpochRecord.to_json each).
Numbers that are not finite are written as null. A crash loses at most the torn last line, which reading
skips and the next append closes off.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from pathlib import Path
from typing import Any

from gradwise import looks
from gradwise.files import append_line, read_jsonl
from gradwise.train.config import TrainConfig

RESULTS_FILE = "results.jsonl"  # a sweep folder: one line per trial
MAP_FILE = "map.png"  # and the map of outcomes, drawn beside it


def config_key(config: TrainConfig) -> str:
    """16 hex digits of SHA-256 over every field but ``preset`` (a label: equal fields train the same)."""
    data = json.loads(config.to_json())
    data.pop("preset")
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def jsonable(value: Any) -> Any:
    """``value`` for strict JSON: non-finite numbers become None, NumPy scalars Python ones, the rest text."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return finite_or_none(float(value))
    return str(value)


class Results:
    """The append-only record of a sweep folder's finished trials."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / RESULTS_FILE
        self._tail_checked = False

    def load(self) -> dict[str, dict[str, Any]]:
        """Every finished trial by key; a line that does not parse (a crash's torn last line) is skipped."""
        records: dict[str, dict[str, Any]] = {}
        for record in read_jsonl(self.path):
            if isinstance(record.get("key"), str):
                records[record["key"]] = record  # a trial run again replaces its earlier line
        return records

    def __repr__(self) -> str:
        records = self.load().values()
        outcomes: dict[str, int] = {}
        for record in records:
            outcomes[str(record.get("outcome"))] = outcomes.get(str(record.get("outcome")), 0) + 1
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        return f"Results({str(self.path.parent)!r}): {len(records)} trials" + (f" ({counts})" if counts else "")

    def _repr_html_(self) -> str:
        """The sweep's map and trials, as its report page shows them."""
        return looks.html(self)

    def append(self, record: dict[str, Any]) -> None:
        """Add one finished trial; non-finite numbers are written as null (see ``jsonable``)."""
        line = json.dumps(jsonable(record), allow_nan=False, separators=(",", ":"))
        if not self._tail_checked:
            self._close_torn_line()
            self._tail_checked = True
        append_line(self.path, line)

    def _close_torn_line(self) -> None:
        # A crash mid-append leaves a last line without its newline; appending to it would spoil the next record.
        if self.path.exists() and self.path.stat().st_size:
            with open(self.path, "rb") as f:
                f.seek(-1, 2)
                if f.read(1) != b"\n":
                    append_line(self.path, "")
