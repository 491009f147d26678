"""The run folder (``train --out``) and the names of its files: the configuration, the model, a line of metrics per
epoch, the health log, the repair verdict and the checkpoint. Each file's format lives with its writer: the model
in ``train.model_file``, the checkpoint in ``train.checkpoint``, the health log in ``health.monitor`` and
``train.recovery``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gradwise.files import WriteFailed, append_line, atomic_write_text, read_jsonl, remove_temporaries
from gradwise.train.archive import CheckpointError
from gradwise.train.history import EpochRecord

CONFIG_FILE = "config.json"
MODEL_FILE = "model.npz"
METRICS_FILE = "metrics.jsonl"
HEALTH_FILE = "health.jsonl"
REPAIR_FILE = "repair.json"  # --repair's verdict and changes
CHECKPOINT_FILE = "checkpoint.npz"


class RunFolder:
    """``runs/<name>/``: the configuration, the model and a line of metrics per epoch."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def create(self, config_json: str) -> None:
        """Start a fresh run here (replacing an earlier run's files)."""
        if self.path.exists() and not self.path.is_dir():
            raise CheckpointError(f"{self.path}: is a file, not a folder; choose another --out")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # a file where a parent folder belongs, no permission, a read-only disk
            raise CheckpointError(
                f"{self.path}: cannot create the run folder ({error.strerror or error}); choose another --out"
            ) from None
        try:
            atomic_write_text(self.path / CONFIG_FILE, config_json)
            atomic_write_text(self.path / METRICS_FILE, "")
            atomic_write_text(self.path / HEALTH_FILE, "")
            (self.path / MODEL_FILE).unlink(missing_ok=True)
            (self.path / CHECKPOINT_FILE).unlink(missing_ok=True)  # --resume must never continue an earlier run
            remove_temporaries(self.path)  # half-written files of an earlier run killed mid-write
        except WriteFailed:
            raise  # a full or read-only disk: said as such
        except OSError as error:
            raise CheckpointError(
                f"{self.path}: cannot write the run folder ({error.strerror or error}); choose another --out"
            ) from None

    def rewrite_metrics(self, records: list[EpochRecord]) -> None:
        """Replace metrics.jsonl with exactly these epochs (a resumed run's history)."""
        atomic_write_text(self.path / METRICS_FILE, "".join(json.dumps(r.to_json()) + "\n" for r in records))

    def append_metrics(self, record: EpochRecord) -> None:
        append_line(self.path / METRICS_FILE, json.dumps(record.to_json()))

    def read_metrics(self) -> list[EpochRecord]:
        """Every epoch recorded; a line that does not parse or lacks a field (a crash's torn last line, an older
        file) is skipped."""
        records = []
        for line in read_jsonl(self.path / METRICS_FILE):
            try:
                records.append(EpochRecord.from_json(line))
            except TypeError:
                continue
        return records

    def read_health(self) -> list[dict[str, Any]]:
        """The lines of health.jsonl: probes, diagnoses and events (``gradwise.health.log``)."""
        return read_jsonl(self.path / HEALTH_FILE)

    def read_repair(self) -> dict[str, Any] | None:
        """--repair's verdict, or None when there is none or it cannot be read (the readers go on without it)."""
        try:
            data = json.loads((self.path / REPAIR_FILE).read_text())
        except (OSError, ValueError, RecursionError):
            return None
        return data if isinstance(data, dict) else None

    def read_config(self) -> dict[str, Any]:
        path = self.path / CONFIG_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise CheckpointError(f"{path}: does not exist; is {self.path} a run folder?") from None
        except OSError as error:  # a folder where the file belongs, no permission
            raise CheckpointError(f"{path}: cannot read it ({error.strerror or error}); is it a file?") from None
        # ValueError: JSONDecodeError, UnicodeDecodeError, an integer too long to convert; RecursionError: deep nesting
        except (ValueError, RecursionError) as error:
            raise CheckpointError(f"{path}: malformed JSON ({error}); fix or delete it") from None
        if not isinstance(data, dict):
            raise CheckpointError(f"{path}: must hold a JSON object")
        return data
