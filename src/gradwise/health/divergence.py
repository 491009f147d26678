"""Diverging: the one definition the guard, the ``lr_too_high`` rule, the sweep's early stop and its outcome share.

The loss is smoothed as means over chunks of steps, long enough to hold ``TREND_SAMPLES`` samples, so
the tenfold swings of batch-1 losses average out. The run diverges when

- a chunk's mean stays above ``DIVERGING_RISE`` x the reference at ``DIVERGING_CHUNKS`` chunk ends in a
  row; the reference is the best of the first steps' mean and every chunk mean so far, counted as at
  least ``DIVERGING_FLOOR`` x the first steps' mean (a rise from 0.001 to 0.004 is noise, not a blow-up);
- or one step's loss passes what the output can represent: a cross-entropy above -ln(smallest normal
  float) gives the true class a probability that underflows (87 in float32), which a healthy batch
  never reaches, whatever its size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradwise.health import thresholds as T
from gradwise.nn.pairing import pairing


def trend_chunk(batch_size: int) -> int:
    """Steps per chunk for this batch size: 500 at batches 1 and 2, 32 at 32, 8 at 128, 1 from 1000 up."""
    return int(min(T.TREND_CHUNK_MAX, max(T.TREND_CHUNK_MIN, math.ceil(T.TREND_SAMPLES / max(batch_size, 1)))))


HEAD_SAMPLES = 100  # where the run began: the mean loss of its first 100 samples (one step at batch 100)


def for_batch(batch_size: int, ceiling: float = math.inf) -> LossTrend:
    """A trend sized for this batch size: chunks of ``TREND_SAMPLES`` samples, a start of ``HEAD_SAMPLES``."""
    return LossTrend(trend_chunk(batch_size), ceiling, head=math.ceil(HEAD_SAMPLES / max(batch_size, 1)))


ASSUMED_BATCH = 32  # the batch size of a run whose stream and settings both leave it unsaid


def for_run(session: Any, settings_batch: int | None = None) -> tuple[LossTrend, int]:
    """(trend, batch size) for the run a callback watches: its loss's ceiling, its batch size as its stream
    declares it (``batch(n)``), else as ``settings_batch`` says, else ``ASSUMED_BATCH``."""
    batch = int(session.batch_size or settings_batch or ASSUMED_BATCH)
    return for_batch(batch, loss_ceiling(session.loss.name, session.net.dtype)), batch


def loss_ceiling(loss_name: str, dtype: np.dtype) -> float:
    """The largest loss a healthy step can have: -ln(tiny) for cross-entropies, else unbounded."""
    return -math.log(float(np.finfo(dtype).tiny)) if pairing(loss_name).cross_entropy else math.inf


def rose(recent: float, best: float, start: float) -> bool:
    """A smoothed loss ``recent`` that has left the basin: above the rise over its reference, the lower of
    ``best`` and ``start``, floored at ``DIVERGING_FLOOR`` x ``start``."""
    if not math.isfinite(recent):
        return True
    reference = min(best, start)
    if math.isfinite(start):
        reference = max(reference, T.DIVERGING_FLOOR * start)
    return math.isfinite(reference) and reference > 0 and recent > T.DIVERGING_RISE * reference


class LossTrend:
    """The training loss as chunk means; ``diverging`` says whether it has left the basin.

    Speed: ``add`` is an addition and a comparison per step; the rest runs once a chunk.
    """

    def __init__(self, chunk: int = 50, ceiling: float = math.inf, head: int = 10) -> None:
        self.chunk = chunk
        self.head = head  # steps whose mean is the start
        self.ceiling = ceiling  # a single loss at or above this has diverged (see loss_ceiling)
        self.start = math.nan  # the first ``head`` steps' mean
        self.best = math.inf  # the lowest finite chunk mean so far
        self.recent = math.nan  # the newest chunk's mean
        self.rising_chunks = 0  # chunk ends in a row where the mean rose
        self.onset: int | None = None  # the first step of the current rise
        self.steps = 0
        self.overflowed = False  # a loss reached the ceiling
        self._sum = 0.0
        self._count = 0
        self._head_sum = 0.0
        self._head_count = 0

    def add(self, loss: float) -> bool:
        """Take one step's loss; True when ``diverging`` may have changed (a chunk ended, or the ceiling)."""
        self.steps += 1
        self._sum += loss
        self._count += 1
        if loss >= self.ceiling:
            self.overflowed = True
            self.onset = self.onset or self.steps
            return True
        if self._head_count < self.head:  # where the run began: the first steps before any trouble
            self._head_sum += loss
            self._head_count += 1
            self.start = self._head_sum / self._head_count
        if self._count < self.chunk:
            return False
        self._end_chunk()
        return True

    def _end_chunk(self) -> None:
        mean, self._sum, self._count = self._sum / self._count, 0.0, 0
        self.recent = mean
        if math.isnan(self.start):
            self.start = mean if math.isfinite(mean) else math.inf
        if rose(mean, self.best, self.start):
            self.rising_chunks += 1
            if self.rising_chunks == 1:
                self.onset = self.steps - self.chunk + 1
        else:
            self.rising_chunks, self.onset = 0, None
        if math.isfinite(mean):
            self.best = min(self.best, mean)

    @property
    def diverging(self) -> bool:
        return self.overflowed or self.rising_chunks >= T.DIVERGING_CHUNKS

    def rise(self) -> float:
        """The newest chunk's mean over the best so far (inf when non-finite, nan before two chunks)."""
        if not math.isfinite(self.recent):
            return math.inf if not math.isnan(self.start) else math.nan
        return self.recent / self.best if self.best > 0 and math.isfinite(self.best) else math.nan

    def restart(self) -> None:
        """Start the chunks over, keeping where the run began and its best (after a rollback to an earlier
        state, the same references still say where a healthy run is)."""
        self.recent, self.rising_chunks, self.onset, self.overflowed = math.nan, 0, None, False
        self._sum, self._count = 0.0, 0
        if self._head_count:
            self._head_count = self.head  # the start stays what it was before the trouble

    def state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items()}

    def load_state(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            if key in vars(self):
                setattr(self, key, value)
