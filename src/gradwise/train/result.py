"""What a run produced (``Result``), and what ``--repair`` did to it (``RepairReport``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradwise import looks
from gradwise.health.diagnosis import Diagnosis
from gradwise.nn.network import Network
from gradwise.train.config import TrainConfig
from gradwise.train.history import History


@dataclass
class RepairReport:
    """The verdict: whether the run was repaired, from what accuracy to what, by which changes."""

    repaired: bool
    verdict: str
    before: float  # the first probe's test accuracy
    after: float  # the full run's
    attempts: int
    changes: list[dict[str, Any]]  # each applied fix: symptom, layer, step, changes (TrainConfig fields)
    remaining: list[str] = field(default_factory=list)  # headlines of what the full run still found
    yardstick: float | None = None  # the healthy recipe's probe's test accuracy, when repair measured it

    def to_json(self) -> dict[str, Any]:
        return {
            "repaired": self.repaired,
            "verdict": self.verdict,
            "before": self.before,
            "after": self.after,
            "attempts": self.attempts,
            "changes": self.changes,
            "remaining": self.remaining,
            "yardstick": self.yardstick,
        }


@dataclass
class Result:
    """What a run produced; ``model_error`` says why model.npz was not written, if it was not."""

    config: TrainConfig
    history: History
    net: Network
    test_loss: float
    test_accuracy: float
    seconds: float
    run_dir: Path | None
    model_error: str | None = None
    diagnoses: list[Diagnosis] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # rollbacks and skips
    repair: RepairReport | None = None  # with --repair: what it changed and its verdict

    @property
    def repairs(self) -> list[dict[str, Any]]:
        """The changes --repair applied, in order (empty without --repair)."""
        return self.repair.changes if self.repair is not None else []

    def __repr__(self) -> str:
        return looks.text(self)

    def _repr_html_(self) -> str:
        return looks.html(self)

    def summary(self) -> dict[str, Any]:
        last = self.history.last
        return {
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "epochs": len(self.history),
            "steps": last.step if last else 0,
            "seconds": round(self.seconds, 3),
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "stop_reason": self.history.stop_reason,
            "val_accuracy": last.val_accuracy if last else None,
            "model_saved": self.model_error is None and self.run_dir is not None,
            "healthy": not self.diagnoses,
            "diagnoses": [d.to_json() for d in self.diagnoses],
            "rollbacks": sum(e["event"] == "rollback" for e in self.events),
            "repairs": self.repairs,
            "repaired": self.repair.repaired if self.repair is not None else None,
            "verdict": self.repair.verdict if self.repair is not None else None,
            "yardstick": self.repair.yardstick if self.repair is not None else None,
        }
