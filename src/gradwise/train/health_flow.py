"""One flow of health events: after each step the loop takes what the monitor and the guard found and acts.

The monitor and the guard only report (``take_new()``); neither calls into the other. This callback,
placed after both, records each diagnosis once, asks the guard to roll back for a blow-up the monitor
saw (under ``--on-nan rollback``), makes the monitor forget its trend after the guard restored an
earlier state, and stops the run for a diagnosis the caller wants to act on (``--repair``'s probes).
"""

from __future__ import annotations

from collections.abc import Callable

from gradwise.health.diagnosis import Diagnosis
from gradwise.health.guard import NonFiniteGuard
from gradwise.health.monitor import HealthMonitor
from gradwise.health.symptoms import SYMPTOMS
from gradwise.train.callbacks import Callback, Session
from gradwise.train.stopping import Progress


class HealthFlow(Callback):
    """After every step: the guard's and the monitor's new findings, acted on in that order."""

    def __init__(
        self,
        guard: NonFiniteGuard,
        monitor: HealthMonitor | None,
        record: Callable[[Diagnosis], None],
        stop_for: Callable[[Diagnosis], bool] | None = None,
        *,
        before_training: list[Diagnosis] | None = None,
    ) -> None:
        self.guard, self.monitor, self.record, self.stop_for = guard, monitor, record, stop_for
        self.before_training = before_training or []  # the static checks' findings: may stop before step 1
        self.session: Session | None = None

    def on_begin(self, session: Session) -> None:
        self.session = session
        self._maybe_stop(self.before_training)

    def on_step(self, progress: Progress, loss: float) -> None:
        guard, monitor = self.guard, self.monitor
        if not (guard.pending or guard.pending_events or (monitor is not None and monitor.pending)):
            return  # the usual case, every step
        found, events = guard.take_new()
        for diagnosis in found:
            self.record(diagnosis)
        alarms = monitor.take_new() if monitor is not None else []
        restored = any(e["event"] in ("rollback", "skip") for e in events)
        for diagnosis in alarms:
            if SYMPTOMS[diagnosis.symptom].blow_up and not restored and guard.rollback_for(diagnosis):
                restored = True
        if restored and monitor is not None:
            monitor.reset()  # the run goes on from an earlier state: the trend and streaks start over
            guard.take_new()  # the rollback's own event is in guard.events already
        self._maybe_stop([*found, *alarms])

    def _maybe_stop(self, diagnoses: list[Diagnosis]) -> None:
        if self.stop_for is None or self.session is None or self.session.stop is not None:
            return
        for diagnosis in diagnoses:
            if self.stop_for(diagnosis):
                self.session.stop = f"stopped to repair {diagnosis.headline()}"
                return
