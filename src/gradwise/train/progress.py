"""A run's progress as it trains: a bar over each epoch's batches and one line per epoch.

The CLI and ``fit`` share it. The bar is ``tqdm.auto``'s: a widget in Jupyter, text on a terminal, and
nothing when stderr is neither (a log file, CI). ``fit`` adds it only where output is read as it comes
(``interactive()``), unless told ``progress=True`` or ``False``.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from gradwise.train.callbacks import Callback, Session
from gradwise.train.history import EpochRecord, History
from gradwise.train.stopping import Progress

LOSS_EVERY = 50  # steps between updates of the bar's loss figure: formatting it every step would cost more


def interactive() -> bool:
    """True in a Jupyter kernel or when stderr is a terminal: where progress is watched, not logged."""
    if "ipykernel" in sys.modules:
        shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
        if shell is not None and getattr(shell, "kernel", None) is not None:
            return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class EpochProgress(Callback):
    """A training callback: a tqdm bar over each epoch's batches and a summary line per epoch.

    ``epochs`` and ``steps_per_epoch`` may be None when unknown: the bar then counts without a total
    (``steps_per_epoch`` is read from the batch stream's length when it knows one).
    """

    def __init__(self, epochs: int | None, steps_per_epoch: int | None = None, stream: Any = None) -> None:
        self.epochs, self.steps_per_epoch, self.stream = epochs, steps_per_epoch, stream
        self.bar: Any = None

    def on_begin(self, session: Session) -> None:
        if self.steps_per_epoch is None:
            try:
                self.steps_per_epoch = len(session.batches)
            except TypeError:
                pass  # a stream that does not know its length: the bar counts without a total

    def _open_bar(self, epoch: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tqdm.auto's notice that it picked the notebook widget
            from tqdm.auto import tqdm

        self.bar = tqdm(
            total=self.steps_per_epoch,
            desc=f"epoch {epoch}/{self.epochs}" if self.epochs else f"epoch {epoch}",
            unit="batch",
            leave=False,
            disable=None,  # None: a widget in Jupyter, text on a terminal, off otherwise (CI logs stay clean)
            mininterval=0.2,
        )

    def on_step(self, progress: Progress, loss: float) -> None:
        if self.bar is None:
            self._open_bar(progress.epoch + 1)
        if self.bar.disable:  # stderr is a log: a disabled bar counts nothing, and its loss figure goes unread
            return
        self.bar.update(1)
        if self.bar.n % LOSS_EVERY == 0:
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def on_epoch(self, progress: Progress, record: EpochRecord) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        print(format_record(record, self.epochs), file=self.stream or sys.stdout, flush=True)

    def on_end(self, history: History) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        print(f"stopped: {history.stop_reason}", file=self.stream or sys.stdout, flush=True)


def format_record(record: EpochRecord, epochs: int | None) -> str:
    """One epoch as a line: ``epoch 3/10  loss 0.1234  acc 0.9612  val loss ...  1.2s``."""
    width = len(str(epochs)) if epochs else 1
    total = f"/{epochs}" if epochs else ""
    return (
        f"epoch {record.epoch:>{width}}{total}  loss {record.train_loss:.4f}  acc {record.train_accuracy:.4f}  "
        f"val loss {record.val_loss:.4f}  val acc {record.val_accuracy:.4f}  {record.seconds:.1f}s"
    )
