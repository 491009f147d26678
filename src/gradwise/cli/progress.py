"""Terminal output of a training run: a progress bar per epoch and a line per epoch."""

from __future__ import annotations

import sys
from typing import Any

from gradwise.train.history import EpochRecord, History
from gradwise.train.loop import Callback
from gradwise.train.stopping import Progress


class ConsoleProgress(Callback):
    """A tqdm bar over each epoch's batches (only on a terminal) and one summary line per epoch."""

    def __init__(self, epochs: int, steps_per_epoch: int, stream: Any = None) -> None:
        self.epochs, self.steps_per_epoch, self.stream = epochs, steps_per_epoch, stream
        self.bar: Any = None

    def _open_bar(self, epoch: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=self.steps_per_epoch,
            desc=f"epoch {epoch}/{self.epochs}",
            unit="batch",
            leave=False,
            disable=None,  # None: off when stderr is not a terminal (CI logs stay clean)
            mininterval=0.2,
        )

    def on_step(self, progress: Progress, loss: float) -> None:
        if self.bar is None:
            self._open_bar(progress.epoch + 1)
        self.bar.update(1)
        if self.bar.n % 50 == 0:
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def on_epoch(self, progress: Progress, record: EpochRecord) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        print(format_record(record, self.epochs), file=self.stream or sys.stdout, flush=True)

    def on_end(self, history: History) -> None:
        if self.bar is not None:
            self.bar.close()
        print(f"stopped: {history.stop_reason}", file=self.stream or sys.stdout, flush=True)


def format_record(record: EpochRecord, epochs: int) -> str:
    width = len(str(epochs))
    return (
        f"epoch {record.epoch:>{width}}/{epochs}  loss {record.train_loss:.4f}  acc {record.train_accuracy:.4f}  "
        f"val loss {record.val_loss:.4f}  val acc {record.val_accuracy:.4f}  {record.seconds:.1f}s"
    )
