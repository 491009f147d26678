"""The run folder: ``config.json``, ``model.npz`` and ``metrics.jsonl``.

``model.npz`` is the parameter dict (``"0.W"``, ``"0.b"``, ...) saved with ``np.savez`` plus
one string array, ``__meta__``, holding the architecture and the input scaling as JSON, so
a model file alone is enough to predict. It is read with ``allow_pickle=False``: an object
array is refused, never unpickled. Non-finite weights are never written.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from gradwise.files import append_line, atomic_open, atomic_write_text
from gradwise.nn.network import Network, mlp
from gradwise.train.history import EpochRecord

CONFIG_FILE = "config.json"
MODEL_FILE = "model.npz"
METRICS_FILE = "metrics.jsonl"
META_KEY = "__meta__"
FORMAT = "gradwise-model-1"


class CheckpointError(ValueError):
    """A model file or run folder that cannot be used: one line naming the file, what is wrong, what to do."""


def save_model(path: str | Path, net: Network, meta: dict[str, Any]) -> None:
    """Write the network's parameters and ``meta`` (architecture, input scaling) atomically.

    Raises CheckpointError, and writes nothing, when a weight is NaN or infinite.
    """
    path = Path(path)
    bad = [name for name, value in net.params.items() if not np.isfinite(value).all()]
    if bad:
        raise CheckpointError(f"{path}: not written: parameters {', '.join(bad)} hold NaN or Inf")
    arrays = dict(net.params)
    arrays[META_KEY] = np.array(json.dumps({"format": FORMAT, **meta}))
    with atomic_open(path) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def architecture(net: Network, sizes: list[int], dropout: float) -> dict[str, Any]:
    """What ``load_model`` needs to rebuild ``net``."""
    hidden = net.layers[0].activation.name if len(sizes) > 2 else None  # type: ignore[attr-defined]
    output = net.output_activation
    assert output is not None
    return {"sizes": sizes, "activation": hidden, "output": output.name, "dropout": dropout, "dtype": str(net.dtype)}


def load_model(path: str | Path) -> tuple[Network, dict[str, Any]]:
    """Rebuild the network saved at ``path`` (a model.npz or a run folder); return it and its meta."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise CheckpointError(f"{path}: {what}; give a run folder or its {MODEL_FILE}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise CheckpointError(f"{path}: holds object arrays, which are never unpickled; re-save it") from None
        raise CheckpointError(f"{path}: not a readable model file ({error}); re-save it") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as error:
        raise CheckpointError(f"{path}: damaged or not a model file ({type(error).__name__}); re-save it") from None
    meta = _meta(path, arrays.pop(META_KEY, None))
    try:
        hidden = meta["activation"] or "identity"  # None when there is no hidden layer
        net = mlp(meta["sizes"], hidden, meta["output"], dropout=meta["dropout"], dtype=meta["dtype"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its architecture is unusable ({error}); re-save the model") from None
    _check_arrays(path, net.params, arrays)
    for name, value in arrays.items():
        net.params[name][...] = value
    return net, meta


def _meta(path: Path, raw: np.ndarray | None) -> dict[str, Any]:
    if raw is None or raw.shape != () or raw.dtype.kind != "U":
        raise CheckpointError(f"{path}: no {META_KEY} entry: not a gradwise model file")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: {META_KEY} is not valid JSON; re-save the model") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown model format; expected {FORMAT}")
    return meta


def _check_arrays(path: Path, expected: dict[str, np.ndarray], found: dict[str, np.ndarray]) -> None:
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing:
        raise CheckpointError(f"{path}: missing arrays {', '.join(missing)} for the architecture it declares")
    if extra:
        raise CheckpointError(f"{path}: unexpected arrays {', '.join(extra)} for the architecture it declares")
    for name, want in expected.items():
        got = found[name]
        if got.shape != want.shape:
            raise CheckpointError(f"{path}: array {name} has shape {got.shape}, the architecture needs {want.shape}")
        if got.dtype.kind != "f":
            raise CheckpointError(f"{path}: array {name} has dtype {got.dtype}, expected floats")
        if not np.isfinite(got).all():
            raise CheckpointError(f"{path}: array {name} holds NaN or Inf")


class RunFolder:
    """``runs/<name>/``: the configuration, the model and a line of metrics per epoch."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def create(self, config_json: str) -> None:
        """Start a fresh run here (replacing an earlier run's files)."""
        if self.path.exists() and not self.path.is_dir():
            raise CheckpointError(f"{self.path}: is a file, not a folder; choose another --out")
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path / CONFIG_FILE, config_json)
        atomic_write_text(self.path / METRICS_FILE, "")
        (self.path / MODEL_FILE).unlink(missing_ok=True)

    def append_metrics(self, record: EpochRecord) -> None:
        append_line(self.path / METRICS_FILE, json.dumps(record.to_json()))

    def read_metrics(self) -> list[EpochRecord]:
        """Every complete line; a torn last line (a crash mid-write) is ignored."""
        records = []
        path = self.path / METRICS_FILE
        lines = path.read_text().splitlines() if path.exists() else []
        for i, line in enumerate(lines):
            try:
                records.append(EpochRecord.from_json(json.loads(line)))
            except (json.JSONDecodeError, TypeError) as error:
                if i == len(lines) - 1:
                    break
                raise CheckpointError(f"{path}: line {i + 1} is damaged ({error})") from None
        return records

    def read_config(self) -> dict[str, Any]:
        path = self.path / CONFIG_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise CheckpointError(f"{path}: does not exist; is {self.path} a run folder?") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CheckpointError(f"{path}: malformed JSON ({error}); fix or delete it") from None
        if not isinstance(data, dict):
            raise CheckpointError(f"{path}: must hold a JSON object")
        return data
