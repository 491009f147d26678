"""The doctor: a short probe run of a configuration with the health monitor, and with ``repair`` the fixes.

``gradwise doctor`` prints what ``doctor`` returns; ``gw.doctor`` returns it to a notebook, which shows it
as HTML. Without ``repair`` it is one probe; with it, ``find_repair``'s attempts in the repair order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gradwise import looks
from gradwise.health.diagnosis import Diagnosis, problems
from gradwise.train.config import TrainConfig
from gradwise.train.repair import OnFix, RepairPlan, find_repair
from gradwise.train.result import Result
from gradwise.train.runner import probe

# The doctor's runs are longer than a --repair probe (repair.PROBE_STEPS): six of the loss-trend rules'
# 100-step windows, so a stall that starts after the first few hundred steps still shows.
CHECKUP_STEPS = 600
CHECKUP_SECONDS = 20.0


@dataclass
class DoctorReport:
    """What the doctor found: the given configuration's probe, and with repair every attempt and the choice."""

    given: TrainConfig
    probe: Result | None = None  # without repair: the one probe run
    plan: RepairPlan | None = None  # with repair: the attempts, the chosen configuration

    @property
    def diagnoses(self) -> list[Diagnosis]:
        """What the first probe of the given configuration found."""
        if self.plan is not None:
            return list(self.plan.attempts[0].diagnoses)
        return list(self.probe.diagnoses) if self.probe is not None else []

    @property
    def healthy(self) -> bool:
        """The given configuration probed healthy, or (with repair) the chosen one did."""
        if self.plan is not None:
            return self.plan.chosen.healthy
        return not problems(self.diagnoses)

    @property
    def config(self) -> TrainConfig:
        """The configuration to train: the repaired one with repair, else the given one."""
        return self.plan.config if self.plan is not None else self.given

    @property
    def changes(self) -> dict[str, Any]:
        """The ``TrainConfig`` fields repair changed, in the order applied (empty without repair)."""
        applied = self.plan.applied if self.plan is not None else []
        return {name: value for _, fix in applied for name, value in fix.changes.items()}

    def __repr__(self) -> str:
        return looks.text(self)

    def _repr_html_(self) -> str:
        return looks.html(self)


def doctor(
    config: TrainConfig,
    *,
    steps: int = CHECKUP_STEPS,
    seconds: float = CHECKUP_SECONDS,
    repair: bool = False,
    on_probe: Callable[[TrainConfig], None] | None = None,
    on_fix: OnFix | None = None,
) -> DoctorReport:
    """Probe ``config`` for ``steps`` steps (at most ``seconds``); with ``repair``, fix it causes first.

    ``on_probe`` hears each configuration before it is probed, ``on_fix`` each fix repair applies.
    """
    if steps < 1 or seconds <= 0:
        raise ValueError("steps must be >= 1 and seconds > 0")
    steps = min(steps, config.max_steps or steps)
    seconds = min(seconds, config.time_budget or seconds)
    given = config.with_overrides(repair=False)

    def probe_briefly(candidate: TrainConfig, stop_for: Callable[[Diagnosis], bool] | None = None) -> Result:
        if on_probe is not None:
            on_probe(candidate)
        return probe(candidate, stop_for, steps=steps, seconds=seconds)

    if repair or config.repair:
        return DoctorReport(given, plan=find_repair(given, probe_briefly, on_fix=on_fix))
    return DoctorReport(given, probe=probe_briefly(given))
