"""Stop conditions as values, combined with ``|`` (any) and ``&`` (all).

``max_epochs(30) | no_improvement(patience=3)`` stops at 30 epochs or after three epochs
without a better validation loss. A condition is a pure function of the run's progress,
so it carries no state and can be saved with the run's configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gradwise.train.history import History

METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


@dataclass(frozen=True)
class Progress:
    """Where a run stands: completed epochs, optimizer steps, wall seconds, the history so far."""

    epoch: int
    step: int
    seconds: float
    history: History
    epoch_done: bool  # True at an epoch's end, False after a step inside it


class StopCondition:
    """``reason(progress)`` is a sentence when the run should stop, else None."""

    def reason(self, progress: Progress) -> str | None:
        raise NotImplementedError

    def __or__(self, other: StopCondition) -> StopCondition:
        return AnyOf((self, other))

    def __and__(self, other: StopCondition) -> StopCondition:
        return AllOf((self, other))

    def parts(self) -> tuple[StopCondition, ...]:
        """This condition and every condition inside it."""
        return (self,)


@dataclass(frozen=True)
class AnyOf(StopCondition):
    conditions: tuple[StopCondition, ...]

    def reason(self, progress: Progress) -> str | None:
        return next((r for c in self.conditions if (r := c.reason(progress))), None)

    def parts(self) -> tuple[StopCondition, ...]:
        return (self, *(p for c in self.conditions for p in c.parts()))


@dataclass(frozen=True)
class AllOf(StopCondition):
    conditions: tuple[StopCondition, ...]

    def reason(self, progress: Progress) -> str | None:
        reasons = [c.reason(progress) for c in self.conditions]
        return " and ".join(r for r in reasons if r) if all(reasons) else None

    def parts(self) -> tuple[StopCondition, ...]:
        return (self, *(p for c in self.conditions for p in c.parts()))


@dataclass(frozen=True)
class max_epochs(StopCondition):  # lower case: conditions read as values, max_epochs(10) | ...
    """Stop after ``n`` epochs."""

    n: int

    def reason(self, progress: Progress) -> str | None:
        return f"reached {self.n} epochs" if progress.epoch_done and progress.epoch >= self.n else None


@dataclass(frozen=True)
class max_steps(StopCondition):
    """Stop after ``n`` optimizer steps (checked after every step)."""

    n: int

    def reason(self, progress: Progress) -> str | None:
        return f"reached {self.n} steps" if progress.step >= self.n else None


@dataclass(frozen=True)
class time_budget(StopCondition):
    """Stop once ``seconds`` of wall time have passed (checked after every step)."""

    seconds: float

    def reason(self, progress: Progress) -> str | None:
        return f"used the time budget of {self.seconds:g} s" if progress.seconds >= self.seconds else None


@dataclass(frozen=True)
class close_enough(StopCondition):
    """Stop when the epoch's training loss changed by less than ``tol`` since the epoch before."""

    tol: float

    def reason(self, progress: Progress) -> str | None:
        losses = progress.history.metric("train_loss")
        if not progress.epoch_done or len(losses) < 2:
            return None
        change = abs(losses[-1] - losses[-2])
        return f"training loss changed by {change:.3g} < {self.tol:g}" if change < self.tol else None


def _higher_is_better(metric: str) -> bool:
    return metric.endswith("accuracy")


def _check_metric(condition: str, metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"{condition}: unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")


@dataclass(frozen=True)
class no_improvement(StopCondition):
    """Stop after ``patience`` epochs without ``metric`` improving by more than ``min_delta``.

    With ``restore_best`` the trainer puts back the weights of the best epoch when it stops.
    """

    patience: int = 3
    min_delta: float = 0.0
    metric: str = "val_loss"
    restore_best: bool = True

    def __post_init__(self) -> None:
        _check_metric("no_improvement", self.metric)

    def best_epoch(self, history: History) -> int | None:
        """Index of the epoch that set the best value so far (an improvement must beat it by min_delta)."""
        sign = 1.0 if _higher_is_better(self.metric) else -1.0
        best, best_index = -math.inf, None
        for i, value in enumerate(history.metric(self.metric)):
            if not math.isnan(value) and sign * value > best + self.min_delta:
                best, best_index = sign * value, i
        return best_index

    def reason(self, progress: Progress) -> str | None:
        if not progress.epoch_done:
            return None
        best = self.best_epoch(progress.history)
        waited = len(progress.history) - 1 - (best if best is not None else -1)
        if waited < self.patience:
            return None
        return f"{self.metric} did not improve for {waited} epochs"


@dataclass(frozen=True)
class target(StopCondition):
    """Stop when ``metric`` reaches ``value`` (>= for accuracies, <= for losses)."""

    value: float
    metric: str = "val_accuracy"

    def __post_init__(self) -> None:
        _check_metric("target", self.metric)

    def reason(self, progress: Progress) -> str | None:
        last = progress.history.last
        if not progress.epoch_done or last is None:
            return None
        value = getattr(last, self.metric)
        reached = value >= self.value if _higher_is_better(self.metric) else value <= self.value
        return f"{self.metric} reached {value:.4g}" if reached else None
