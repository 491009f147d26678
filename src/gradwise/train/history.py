"""What a training run returns: one record per epoch."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from gradwise import looks

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class EpochRecord:
    """Metrics at the end of one epoch (``val_*`` are NaN without a validation split)."""

    epoch: int  # 1 for the first epoch
    step: int  # optimizer steps taken so far
    train_loss: float  # mean over the epoch's batches, measured while training
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float  # wall time of this epoch

    def to_json(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EpochRecord:
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: (math.nan if v is None else v) for k, v in data.items() if k in names}
        return cls(**values)

    def numbers(self) -> tuple[float, ...]:
        """Everything but the wall time: what the same seed must reproduce exactly."""
        return (self.epoch, self.step, self.train_loss, self.train_accuracy, self.val_loss, self.val_accuracy)


@dataclass
class History:
    """The epochs of a run, and why it stopped."""

    epochs: list[EpochRecord] = field(default_factory=list)
    stop_reason: str = ""

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def last(self) -> EpochRecord | None:
        return self.epochs[-1] if self.epochs else None

    def metric(self, name: str) -> list[float]:
        """One metric over the epochs, e.g. ``history.metric("val_accuracy")``."""
        return [getattr(record, name) for record in self.epochs]

    def numbers(self) -> list[tuple[float, ...]]:
        return [record.numbers() for record in self.epochs]

    def plot(self) -> Figure:
        """Loss and accuracy per epoch, the report's chart (a matplotlib Figure; a notebook shows it)."""
        figure: Figure = looks.plot(self)
        return figure

    def __repr__(self) -> str:
        return looks.text(self)

    def _repr_html_(self) -> str:
        return looks.html(self)
