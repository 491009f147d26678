"""One assembly of a run's moving parts from its configuration, shared by the runner (``gradwise train``,
``gw.train``, the doctor's probes) and the scikit-learn estimators: the batches, and what watches the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradwise.data.stream import Stream, batch, shuffle, source
from gradwise.files import append_line
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.monitor import HealthMonitor
from gradwise.health.static import static_checks
from gradwise.nn.network import Network
from gradwise.train.callbacks import Callback
from gradwise.train.config import TrainConfig, settings_of
from gradwise.train.recovery import HealthFlow, NonFiniteGuard

Array = np.ndarray
STATIC_SAMPLE = 2000  # rows the checks before training look at


def static_rows(count: int) -> slice | Array:
    """Which of ``count`` rows the checks before training look at: at most ``STATIC_SAMPLE``, evenly spaced over all
    of them, so that data sorted by class is judged by every class, not by its first."""
    if count <= STATIC_SAMPLE:
        return slice(None)
    return np.linspace(0, count - 1, STATIC_SAMPLE).round().astype(np.intp)


def training_batches(config: TrainConfig, x: Array, t: Array) -> Stream[tuple[Array, Array]]:
    """The training data as ``fit`` takes it: a fresh order each epoch from the seed, ``batch_size`` at a time."""
    # Speed: each batch is gathered into the same two arrays; nothing keeps a batch past its step.
    return source(x, t) | shuffle(config.seed) | batch(config.batch_size, reuse_buffer=True)


@dataclass
class Watch:
    """What watches a run: the guard, the monitor (unless ``config.monitor`` is off) and the flow between them.

    Each diagnosis reaches ``report`` once; with a ``log_path`` it is also a line of the health log.
    """

    config: TrainConfig
    guard: NonFiniteGuard
    monitor: HealthMonitor | None
    flow: HealthFlow

    @classmethod
    def of(
        cls,
        config: TrainConfig,
        report: Callable[[Diagnosis], None],
        *,
        log_path: Path | None = None,
        on_event: Callable[[str], None] | None = None,
        stop_for: Callable[[Diagnosis], bool] | None = None,
    ) -> Watch:
        settings = settings_of(config)
        guard = NonFiniteGuard(config.on_nan, settings=settings, log_path=log_path, on_event=on_event)
        monitor = None
        if config.monitor:
            monitor = HealthMonitor(settings, interval=config.health_interval, log_path=log_path, on_diagnosis=report)

        def unmonitored(diagnosis: Diagnosis) -> None:  # without a monitor, the guard's finding is logged here
            if log_path is not None:
                append_line(log_path, json.dumps({"diagnosis": diagnosis.to_json()}, default=str))
            report(diagnosis)

        flow = HealthFlow(guard, monitor, monitor.add if monitor is not None else unmonitored, stop_for)
        return cls(config, guard, monitor, flow)

    @property
    def callbacks(self) -> list[Callback]:
        """For ``fit``, in this order: the monitor, the guard, then the flow that acts on what they found."""
        return [*([self.monitor] if self.monitor is not None else []), self.guard, self.flow]  # type: ignore[list-item]

    def check_before_training(
        self,
        net: Network,
        x: Array,
        t: Array,
        features: Sequence[str] | None = None,
        classes: Sequence[str] | None = None,
    ) -> list[Diagnosis]:
        """The checks before the first step on ``static_rows``' rows (with the monitor only); what they find is
        reported, and may stop the run before step 1 (the flow's ``stop_for``). ``features`` and ``classes`` name
        a table's columns and label texts, for the checks that name them."""
        if self.monitor is None:
            return []
        rows = static_rows(len(x))
        sample_x, sample_t = x[rows], t[rows]
        found = static_checks(
            net, self.config.loss, sample_x, sample_t, self.monitor.settings, features=features, classes=classes
        )
        for diagnosis in found:
            self.monitor.add(diagnosis)
        self.flow.before_training = found
        return found

    def restore(self, health_state: dict[str, Any]) -> None:
        """Go on judging a resumed run as if it had never stopped (``state()``'s, from its checkpoint)."""
        self.guard.restore_state = health_state.get("guard")
        if self.monitor is not None:
            self.monitor.restore_state = health_state.get("monitor")

    def state(self) -> dict[str, Any]:
        """The guard's and the monitor's state, for a checkpoint."""
        return {"guard": self.guard.state(), **({"monitor": self.monitor.state()} if self.monitor is not None else {})}
