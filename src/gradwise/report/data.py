"""What a report reads: a run folder (config, metrics, health log, model) or a sweep folder (results, map).

Everything is read tolerantly: a torn last line of a ``.jsonl`` file (a crash mid-write) is skipped, and a
missing model or data set becomes a note on the page instead of an error. Only a folder that is neither a
run nor a sweep is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradwise.sweep.results import MAP_FILE, RESULTS_FILE, Results
from gradwise.train.archive import CheckpointError
from gradwise.train.history import EpochRecord
from gradwise.train.model_data import is_table_model, recorded_test_rows
from gradwise.train.run_folder import CONFIG_FILE, METRICS_FILE, MODEL_FILE, RunFolder


def number(value: Any) -> float:
    """A finite or non-finite float from a JSON value ("nan", "inf" strings and null become NaN/Inf)."""
    if isinstance(value, bool) or value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass
class Probes:
    """The probe lines of health.jsonl as arrays: ``steps`` (P,), and per layer (P,) columns."""

    steps: np.ndarray
    loss: np.ndarray
    layers: list[int]  # Dense layer positions, as in "0.W"
    activations: dict[int, str]
    columns: dict[str, dict[int, np.ndarray]]  # stat name -> layer -> (P,) values, NaN where not recorded
    hist: dict[int, np.ndarray]  # layer -> (P, bins) counts of the probes that recorded one (others are zeros)
    hist_range: dict[int, tuple[float, float, str]]  # layer -> (lo, hi, scale)

    def __len__(self) -> int:
        return len(self.steps)


STATS = ("grad_norm", "weight_norm", "update_ratio", "saturated", "dead", "delta_rms", "a_mean", "a_std")


def probes_from_lines(lines: list[dict[str, Any]]) -> Probes:
    """Collect the probe lines (those with "layers") in step order."""
    rows = [line for line in lines if isinstance(line.get("layers"), list) and "step" in line]
    layers: dict[int, str] = {}
    for row in rows:
        for stats in row["layers"]:
            if isinstance(stats, dict) and isinstance(stats.get("layer"), int):
                layers.setdefault(stats["layer"], str(stats.get("activation", "")))
    order = sorted(layers)
    columns = {name: {i: np.full(len(rows), np.nan) for i in order} for name in STATS}
    hist: dict[int, np.ndarray] = {}
    hist_range: dict[int, tuple[float, float, str]] = {}
    for p, row in enumerate(rows):
        for stats in row["layers"]:
            if not isinstance(stats, dict) or stats.get("layer") not in layers:
                continue
            i = stats["layer"]
            for name in STATS:
                columns[name][i][p] = number(stats.get(name))
            counts, bins = stats.get("a_hist"), stats.get("a_bins")
            if isinstance(counts, list) and counts and isinstance(bins, list) and len(bins) == 2:
                if i not in hist:
                    hist[i] = np.zeros((len(rows), len(counts)))
                    hist_range[i] = (number(bins[0]), number(bins[1]), str(stats.get("a_scale", "linear")))
                if len(counts) == hist[i].shape[1]:
                    hist[i][p] = [number(c) for c in counts]
    return Probes(
        steps=np.array([number(row["step"]) for row in rows]),
        loss=np.array([number(row.get("loss")) for row in rows]),
        layers=order,
        activations=layers,
        columns=columns,
        hist=hist,
        hist_range=hist_range,
    )


@dataclass
class RunData:
    """One run folder, as much of it as could be read."""

    path: Path
    config: dict[str, Any]
    metrics: list[EpochRecord]
    probes: Probes
    diagnoses: list[dict[str, Any]]  # Diagnosis.to_json each, in the order found
    events: list[dict[str, Any]]  # rollback, skip, stop, give_up
    notes: list[str] = field(default_factory=list)
    repair: dict[str, Any] | None = None  # repair.json: --repair's verdict and changes

    @property
    def name(self) -> str:
        return self.path.resolve().name


def is_run(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() or (path / METRICS_FILE).is_file()


def is_sweep(path: Path) -> bool:
    return (path / RESULTS_FILE).is_file()


def not_a_report_folder(path: Path) -> CheckpointError:
    wanted = "give a run folder (train --out) or a sweep folder (sweep --out)"
    if not path.exists():
        return CheckpointError(f"{path}: does not exist; {wanted}")
    if not path.is_dir():
        return CheckpointError(f"{path}: is a file; {wanted}")
    return CheckpointError(
        f"{path}: neither a run folder (no {CONFIG_FILE} or {METRICS_FILE}) nor a sweep folder (no {RESULTS_FILE}); "
        "give the folder gradwise train --out or gradwise sweep --out wrote"
    )


def read_run(path: str | Path) -> RunData:
    """Read a run folder; CheckpointError if ``path`` is not one."""
    path = Path(path)
    if not path.is_dir() or not is_run(path):
        raise not_a_report_folder(path)
    folder = RunFolder(path)
    notes = []
    try:
        config = folder.read_config()
    except CheckpointError as error:
        config, notes = {}, [str(error)]
    lines = folder.read_health()
    diagnoses = [line["diagnosis"] for line in lines if isinstance(line.get("diagnosis"), dict)]
    events = [line for line in lines if isinstance(line.get("event"), str)]
    probes = probes_from_lines(lines)
    return RunData(path, config, folder.read_metrics(), probes, diagnoses, events, notes, folder.read_repair())


@dataclass
class TestSet:
    """The model's view of its test split: inputs scaled as in training, labels, predicted probabilities."""

    images: np.ndarray | None  # (N, rows, cols) raw pixels 0-255; None for a table's rows
    labels: np.ndarray  # (N,)
    probabilities: np.ndarray  # (N, classes) the network's outputs
    classes: int
    names: tuple[str, ...] | None = None  # a table's class names (None: a class's number is its name)

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        return float((self.predicted == self.labels).mean()) if len(self.labels) else math.nan


def load_model_and_test_set(path: Path) -> tuple[Any, dict[str, Any] | None, TestSet | None, list[str]]:
    """The saved network, its meta and its predictions on the test split, or None each, with notes saying why."""
    from gradwise.data.datasets import load_dataset
    from gradwise.data.idx import IdxError
    from gradwise.train.model_file import load_model

    if not (path / MODEL_FILE).is_file():
        return (
            None,
            None,
            None,
            [
                f"no {MODEL_FILE} (a run that ended on non-finite weights saves none): "
                "the confusion matrix, misclassified digits and first-layer weights are left out"
            ],
        )
    try:
        net, meta = load_model(path)
    except CheckpointError as error:
        return None, None, None, [f"{error}: the test-set figures and the weights are left out"]
    if is_table_model(meta):
        return (net, meta, *_table_test_set(net, meta))
    name = meta.get("dataset", "mnist")
    try:
        data = load_dataset(name, validation=0, normalize="none")
    except (IdxError, ValueError, OSError) as error:  # DatasetNotFound is an OSError
        text = " ".join(str(error).split())
        return (
            net,
            meta,
            None,
            [f"data set {name!r} not loaded ({text}): the confusion matrix and the misclassified digits are left out"],
        )
    n_in, n_out = meta["sizes"][0], meta["sizes"][-1]
    if (n_in, n_out) != (data.num_features, data.num_classes):
        return (
            net,
            meta,
            None,
            [
                f"the model takes {n_in} inputs and {n_out} classes but {data.name} has "
                f"{data.num_features} and {data.num_classes}: the test-set figures are left out"
            ],
        )
    scaling = meta.get("input", {"shift": 0.0, "scale": 255.0})
    x = ((data.test.x - scaling["shift"]) / scaling["scale"]).astype(net.dtype)
    with np.errstate(all="ignore"):
        probabilities = net.predict(x)
    images = data.test.x.reshape(len(data.test), *data.image_shape)
    return net, meta, TestSet(images, data.test.y, probabilities, data.num_classes), []


def _table_test_set(net: Any, meta: dict[str, Any]) -> tuple[TestSet | None, list[str]]:
    """A table model's test rows, read again from the file its run recorded, and its predictions on them."""
    from gradwise.data.csv import CSVError

    try:
        rows = recorded_test_rows(meta, net.dtype)
    except CSVError as error:
        text = " ".join(str(error).split())
        return None, [f"test rows not read again ({text}): the confusion matrix is left out"]
    assert rows.y is not None
    with np.errstate(all="ignore"):
        probabilities = net.predict(rows.x)
    return TestSet(None, rows.y, probabilities, len(rows.classes), rows.classes), []


@dataclass
class SweepData:
    """A sweep folder: its finished trials (results.jsonl, in file order) and its map, if drawn."""

    path: Path
    records: list[dict[str, Any]]
    map_path: Path | None

    @property
    def name(self) -> str:
        return self.path.resolve().name


def read_sweep(path: str | Path) -> SweepData:
    path = Path(path)
    if not path.is_dir() or not is_sweep(path):
        raise not_a_report_folder(path)
    map_path = path / MAP_FILE
    return SweepData(path, list(Results(path).load().values()), map_path if map_path.is_file() else None)
