"""What ``fit`` changes as it goes (``Run``), what its callbacks may read and change (``Session``), and the hooks
they hang on (``Callback``): the health monitor, the guard, progress bars, reports and checkpoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradwise.data.stream import Stream
from gradwise.nn.losses import Loss
from gradwise.nn.network import Network, Probe
from gradwise.optim.base import State, Transform
from gradwise.train.history import EpochRecord, History
from gradwise.train.stopping import Progress

Array = np.ndarray


@dataclass
class Run:
    """Everything ``fit`` changes as it goes: the optimizer state, the position, the history."""

    opt_state: State
    epoch: int = 0  # completed epochs
    position: int = 0  # batches done in the current epoch
    step: int = 0  # optimizer steps taken
    history: History = field(default_factory=History)
    # The current epoch's running totals, so a run resumed mid-epoch records the same epoch line.
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    discarded: int = 0  # batches of the current epoch whose step a callback dropped (the guard's skip)

    def to_json(self) -> dict[str, Any]:
        """Everything but the optimizer state's arrays, as JSON (the checkpoint stores those as arrays)."""
        return {
            "epoch": self.epoch,
            "position": self.position,
            "step": self.step,
            "loss_sum": self.loss_sum,
            "correct": self.correct,
            "seen": self.seen,
            "discarded": self.discarded,
            "history": [record.to_json() for record in self.history.epochs],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], opt_state: State) -> Run:
        """The Run ``to_json`` described, with ``opt_state``; KeyError, TypeError or ValueError when incomplete."""
        return cls(
            opt_state,
            epoch=int(data["epoch"]),
            position=int(data["position"]),
            step=int(data["step"]),
            history=History([EpochRecord.from_json(record) for record in data["history"]]),
            loss_sum=float(data["loss_sum"]),
            correct=int(data["correct"]),
            seen=int(data["seen"]),
            discarded=int(data.get("discarded", 0)),  # absent from older checkpoints: none
        )

    def drop_partial_record(self) -> None:
        """Forget the record of the epoch the run stopped inside: it is recorded again, whole, when that epoch ends."""
        if self.history.epochs and self.history.epochs[-1].epoch > self.epoch:
            self.history.epochs.pop()


@dataclass
class Session:
    """What callbacks may read and change while ``fit`` runs (a rollback restores params and opt_state).

    A callback asks ``fit`` to stop by setting ``stop`` to a sentence saying why.
    """

    net: Network
    loss: Loss
    optimizer: Transform
    batches: Stream[tuple[Array, Array]]
    rng: np.random.Generator
    run: Run
    stop: str | None = None
    _totals: tuple[float, int, int] = (0.0, 0, 0)  # the epoch's running totals before the current step

    @property
    def batch_size(self) -> int | None:
        """Samples per step, as the stream's ``batch`` stage declares it (None for a stream that does not)."""
        return self.batches.batch_size

    def discard_step(self) -> None:
        """Drop the current step's batch from the epoch's loss and accuracy (its step was undone)."""
        self.run.loss_sum, self.run.correct, self.run.seen = self._totals
        self.run.discarded += 1


class Callback:
    """Hooks around steps and epochs; the health monitor, the guard and reports hang here."""

    def on_begin(self, session: Session) -> None:
        """Once, before the first step."""

    def probe(self, step: int) -> Probe | None:
        """A probe to look inside step ``step`` (1-based), or None (the usual case: no cost)."""
        return None

    def on_gradients(self, step: int, grads: dict[str, Array]) -> None:
        """On probed steps only: the gradients, before the optimizer consumes them."""

    def on_step(self, progress: Progress, loss: float) -> None:
        """After every optimizer step."""

    def on_epoch(self, progress: Progress, record: EpochRecord) -> None:
        """After every epoch (and after a partial epoch the run stopped in)."""

    def on_end(self, history: History) -> None:
        """Once, when the run stops."""
