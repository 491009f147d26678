"""``--tensorboard DIR``: a run's scalars and activation histograms as TensorBoard event files.

Written with tensorboardX (``pip install 'gradwise[tensorboard]'``: pure Python, protobuf and numpy), never
torch. What is written, by global step:

- ``loss/train``, ``loss/val``, ``accuracy/train``, ``accuracy/val`` at the end of every epoch;
- ``loss/probed`` and, per Dense layer ``k``, ``grad_norm/layer_k``, ``update_ratio/layer_k``,
  ``saturated/layer_k`` (sigmoid, tanh) or ``dead/layer_k`` (relu) and the histogram ``activations/layer_k``
  at every step the health monitor probed (read from the run folder's health.jsonl as it grows);
- the diagnoses and the guard's rollbacks as text (``diagnoses``, ``events``).

During training the health log is read at each epoch's end and every ``sync_seconds``, so TensorBoard
follows a long epoch too. ``export_run`` writes the same from a finished run folder.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from gradwise.health.stats import HIST_SYMLOG
from gradwise.report.data import number
from gradwise.train.archive import CheckpointError
from gradwise.train.callbacks import Callback, Session
from gradwise.train.history import EpochRecord
from gradwise.train.run_folder import HEALTH_FILE, METRICS_FILE, RunFolder
from gradwise.train.stopping import Progress

INSTALL_HINT = "pip install 'gradwise[tensorboard]' (tensorboardX)"


def missing() -> str | None:
    """Why TensorBoard files cannot be written here (tensorboardX is not installed), or None."""
    try:
        import tensorboardX  # type: ignore[import-untyped]  # noqa: F401
    except ImportError as error:
        return f"tensorboardX is not installed ({error}); {INSTALL_HINT}"
    return None


def bucket_edges(lo: float, hi: float, scale: str, bins: int) -> np.ndarray:
    """The bins' edges in activation units (the symlog scale mapped back: a = sign(s) 0.01 (10^|s| - 1))."""
    edges = np.linspace(lo, hi, bins + 1)
    if scale == "symlog":
        edges = np.sign(edges) * HIST_SYMLOG[2] * (10.0 ** np.abs(edges) - 1.0)
    return edges


class TensorBoardWriter:
    """Turns run-folder records (epoch records, health.jsonl lines) into TensorBoard summaries."""

    def __init__(self, log_dir: str | Path) -> None:
        from tensorboardX import SummaryWriter  # type: ignore[import-untyped]

        self.log_dir = Path(log_dir)
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CheckpointError(f"--tensorboard {log_dir}: cannot create it ({error.strerror or error})") from None
        self.writer = SummaryWriter(logdir=str(self.log_dir), flush_secs=30)

    def epoch(self, record: EpochRecord) -> None:
        for name in ("loss", "accuracy"):
            for split in ("train", "val"):
                value = getattr(record, f"{split}_{name}")
                if math.isfinite(value):
                    self.writer.add_scalar(f"{name}/{split}", value, record.step)

    def health_line(self, line: dict[str, Any]) -> None:
        if isinstance(line.get("diagnosis"), dict):
            d = line["diagnosis"]
            text = f"**{d.get('symptom')}** (layer {d.get('layer')}) since step {d.get('step')}: {d.get('cause', '')}"
            self.writer.add_text("diagnoses", text, _step(d))
        elif isinstance(line.get("event"), str):
            self.writer.add_text("events", json.dumps(line), _step(line))
        elif isinstance(line.get("layers"), list):
            self._probe(line)

    def _probe(self, line: dict[str, Any]) -> None:
        step_number = number(line.get("step"))
        if not math.isfinite(step_number):
            return
        step, loss = int(step_number), number(line.get("loss"))
        if math.isfinite(loss):
            self.writer.add_scalar("loss/probed", loss, step)
        for stats in line["layers"]:
            if not isinstance(stats, dict):
                continue
            layer = f"layer_{stats.get('layer')}"
            wanted = ["grad_norm", "update_ratio"]
            if stats.get("activation") in ("sigmoid", "tanh"):
                wanted.append("saturated")
            elif stats.get("activation") == "relu":
                wanted.append("dead")
            for name in wanted:
                value = number(stats.get(name))
                if math.isfinite(value):
                    self.writer.add_scalar(f"{name}/{layer}", value, step)
            self._histogram(f"activations/{layer}", stats, step)

    def _histogram(self, tag: str, stats: dict[str, Any], step: int) -> None:
        counts, bins = stats.get("a_hist"), stats.get("a_bins")
        if not (isinstance(counts, list) and counts and isinstance(bins, list) and len(bins) == 2):
            return
        counts = [number(c) for c in counts]
        total = sum(counts)
        if not total or not all(math.isfinite(c) for c in counts):
            return
        edges = bucket_edges(number(bins[0]), number(bins[1]), str(stats.get("a_scale", "linear")), len(counts))
        mean, std = number(stats.get("a_mean")), number(stats.get("a_std"))
        mean = mean if math.isfinite(mean) else 0.0
        std = std if math.isfinite(std) else 0.0
        self.writer.add_histogram_raw(
            tag,
            min=float(edges[0]),
            max=float(edges[-1]),
            num=int(total),
            sum=mean * total,  # the batch's mean and spread: the histogram saw a subsample of it
            sum_squares=(std**2 + mean**2) * total,
            bucket_limits=edges[1:].tolist(),  # each bucket's right edge
            bucket_counts=counts,
            global_step=step,
        )

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _step(line: dict[str, Any]) -> int:
    step = number(line.get("step"))
    return int(step) if math.isfinite(step) else 0


class HealthTail:
    """The complete lines appended to a health.jsonl since the last read (a torn last line waits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def new_lines(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(0, 2)
                if f.tell() < self.offset:  # the folder was started afresh (a --repair restart)
                    self.offset = 0
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        lines = []
        for raw in data[:end].splitlines():
            try:
                value = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                continue
            if isinstance(value, dict):
                lines.append(value)
        return lines


class TensorBoardLog(Callback):
    """A training callback: writes each epoch's metrics and the health log's new lines as the run goes.

    A ``--repair`` restart writes its attempt to ``DIR/repair-N``, a run of its own in TensorBoard.
    """

    def __init__(self, log_dir: str | Path, run_dir: str | Path, sync_seconds: float = 10.0) -> None:
        self.log_dir = Path(log_dir)
        self.tail = HealthTail(Path(run_dir) / HEALTH_FILE)
        self.sync_seconds = sync_seconds
        self.attempt = 0
        self.writer: TensorBoardWriter | None = None
        self._synced = time.monotonic()

    def on_begin(self, session: Session) -> None:
        if self.writer is not None:
            self.writer.close()
        self.attempt += 1
        where = self.log_dir if self.attempt == 1 else self.log_dir / f"repair-{self.attempt - 1}"
        self.writer = TensorBoardWriter(where)
        self._synced = time.monotonic()

    def on_step(self, progress: Progress, loss: float) -> None:
        if time.monotonic() - self._synced > self.sync_seconds:
            self._sync()

    def on_epoch(self, progress: Progress, record: EpochRecord) -> None:
        assert self.writer is not None
        self.writer.epoch(record)
        self._sync()

    def on_end(self, history: Any) -> None:
        self._sync()
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _sync(self) -> None:
        assert self.writer is not None
        for line in self.tail.new_lines():
            self.writer.health_line(line)
        self.writer.flush()
        self._synced = time.monotonic()


def export_run(run_dir: str | Path, log_dir: str | Path) -> Path:
    """Write a finished run folder's metrics and health log to TensorBoard event files in ``log_dir``."""
    run_dir = Path(run_dir)
    if not (run_dir / METRICS_FILE).is_file() and not (run_dir / HEALTH_FILE).is_file():
        raise CheckpointError(f"{run_dir}: no {METRICS_FILE} or {HEALTH_FILE}; give a run folder (train --out)")
    writer = TensorBoardWriter(log_dir)
    folder = RunFolder(run_dir)
    for line in folder.read_health():
        writer.health_line(line)
    for record in folder.read_metrics():
        writer.epoch(record)
    writer.close()
    return Path(log_dir)
