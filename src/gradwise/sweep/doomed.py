"""Stop a trial whose loss has diverged, so a sweep spends its time on the live ones.

A non-finite loss needs no help here: ``runner.train`` runs the NonFiniteGuard, which stops the run
(``--on-nan stop``, the default) with a ``non_finite`` diagnosis naming the first bad tensor.
"""

from __future__ import annotations

import math

from gradwise.health.diagnosis import Diagnosis
from gradwise.train.loop import Callback, Session
from gradwise.train.stopping import Progress

CHECK_EVERY = 10  # steps per check: the mean loss of a window, so batch-of-1 noise does not trip it
DIVERGED_FACTOR = 3.0  # a window's mean loss this many times the first window's ...
DIVERGED_CHECKS = 3  # ... at this many checks in a row


class Doomed(Callback):
    """Stops the run once its loss stayed above ``factor`` x its start for ``checks`` checks in a row.

    The start is the mean loss of the first ``every`` steps; each later window of ``every`` steps is
    one check. Non-finite losses are left out of the means (they are the guard's). What it found is an
    ``lr_too_high`` Diagnosis in ``finding``, and the run stops with ``stop_reason`` saying why.
    """

    def __init__(
        self,
        lr: float,
        every: int = CHECK_EVERY,
        factor: float = DIVERGED_FACTOR,
        checks: int = DIVERGED_CHECKS,
    ) -> None:
        self.lr, self.every, self.factor, self.checks = lr, every, factor, checks
        self.finding: Diagnosis | None = None
        self.start: float | None = None  # mean loss of the first window
        self.session: Session | None = None
        self._window: list[float] = []
        self._streak = 0
        self._onset = 0

    def on_begin(self, session: Session) -> None:
        self.session = session

    def on_step(self, progress: Progress, loss: float) -> None:
        if self.finding is not None or not math.isfinite(loss):
            return
        self._window.append(loss)
        if len(self._window) < self.every:
            return
        mean = math.fsum(self._window) / len(self._window)
        self._window.clear()
        if self.start is None:
            self.start = mean
            return
        if mean <= self.factor * self.start:
            self._streak = 0
            return
        self._streak += 1
        if self._streak == 1:
            self._onset = progress.step - self.every + 1
        if self._streak < self.checks:
            return
        cause = (
            f"the training loss rose above {self.factor:g}x its start ({self.start:.4g}) "
            f"for {self.checks} checks of {self.every} steps in a row"
        )
        self.finding = Diagnosis(
            "lr_too_high",
            None,
            self._onset,
            {"loss": mean, "start_loss": self.start, "factor": self.factor, "checks": self.checks},
            cause,
            (f"--lr {self.lr / 10:g}", "--clip-norm 1"),
        )
        if self.session is not None:
            self.session.stop = f"stopped early: {cause}, since step {self._onset}"
