"""Recovery: the one owner of changing a run that went wrong. The guard keeps snapshots and, on a non-finite or
diverging loss, replays, then stops, rolls back or skips; ``HealthFlow`` arbitrates between the guard and the
health monitor after each step.

Every ``snapshot_every`` steps of healthy-looking training the guard keeps the weights and the buffers
(BatchNorm's running statistics, which a bad batch damages too), the optimizer state and the dropout generator
in memory. When the loss turns non-finite, or the smoothed loss diverges (``health/divergence.py``: the one
definition, which batch-1 noise cannot trip), it replays the
steps since that snapshot through ``train_step`` (the step training takes) with a probe attached to find the
first bad tensor (``health/trace.py`` says what it means), then:

- ``stop``: stops the run with the diagnosis, its weights and optimizer state those of one step
  (the last finite one), so a checkpoint written at the stop is consistent;
- ``rollback``: restores the snapshot, multiplies the learning rate by ``lr_factor`` and goes on
  (at most ``max_retries`` times);
- ``skip``: restores the state just before the bad step, dropping that batch from the epoch's loss
  and from the replay (or goes back to the snapshot, when the replay shows the trouble began earlier);
  at most ``max_retries`` times.

The health package only observes and reports: the monitor's and the guard's findings wait in
``take_new()``, and ``HealthFlow``, after both, records each diagnosis once, asks the guard to roll back for
a blow-up the monitor saw (under ``--on-nan rollback``), makes the monitor forget its trend after the guard
restored an earlier state, and stops the run for a diagnosis the caller wants to act on (``--repair``'s
probes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradwise.files import append_line
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.divergence import LossTrend, for_run
from gradwise.health.monitor import HealthMonitor
from gradwise.health.settings import Settings
from gradwise.health.symptoms import SYMPTOMS
from gradwise.health.trace import FirstNonFinite, blow_up_diagnosis
from gradwise.nn.network import Network
from gradwise.optim.transforms import learning_rate_scale, scale_learning_rate
from gradwise.train.callbacks import Callback, Session
from gradwise.train.loop import train_step
from gradwise.train.stopping import Progress

Array = np.ndarray
POLICIES = ("stop", "rollback", "skip")
KEEP_SNAPSHOTS = 4
MAX_REPLAY = 20  # snapshot intervals: past this many steps since the last snapshot, take one if the weights are finite


def _copy_weights(net: Network) -> dict[str, Array]:
    """Copies of the network's parameters and buffers, by name (no name is both): what a restore writes back."""
    return {k: v.copy() for k, v in [*net.params.items(), *net.buffers.items()]}


@dataclass
class Snapshot:
    step: int
    params: dict[str, Array]  # the parameters and the buffers (``_copy_weights``)
    opt_state: dict[str, Array]
    rng_state: Mapping[str, Any]  # the dropout generator, as numpy returns it
    batches: list[tuple[int, int, int]] = field(default_factory=list)  # (step, epoch, position) replayed since


class NonFiniteGuard:
    """Catches the first non-finite or diverging loss, explains it, and stops, rolls back or skips."""

    def __init__(
        self,
        policy: str = "stop",
        *,
        snapshot_every: int = 50,
        lr_factor: float = 0.5,
        max_retries: int = 10,
        settings: Settings | Mapping[str, Any] | None = None,
        log_path: str | Path | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"--on-nan: unknown policy {policy!r}; choose one of: {', '.join(POLICIES)}")
        self.policy, self.snapshot_every, self.lr_factor = policy, snapshot_every, lr_factor
        self.max_retries = max_retries
        self.settings = Settings.of(settings)
        self.log_path = Path(log_path) if log_path is not None else None
        self.on_event = on_event  # a sentence per event, as it happens (printing only)
        self.retries = 0
        self.events: list[dict[str, Any]] = []
        self.diagnosis: Diagnosis | None = None
        self.stopped: str | None = None  # why the guard stopped the run, if it did
        self.session: Any = None  # gradwise.train.loop.Session
        self.snapshots: list[Snapshot] = []  # newest last; a rollback that fails again falls back further
        self.restored_since_snapshot = False
        self.trend = LossTrend()  # sized for the run in on_begin
        self.restore_state: dict[str, Any] | None = None  # from a checkpoint, loaded in on_begin
        self.pending: list[Diagnosis] = []
        self.pending_events: list[dict[str, Any]] = []

    @property
    def snapshot(self) -> Snapshot | None:
        return self.snapshots[-1] if self.snapshots else None

    # -- Callback hooks ------------------------------------------------------------------------
    def on_begin(self, session: Any) -> None:
        self.session = session
        self.trend, _ = for_run(session, self.settings.batch_size)
        self._take_snapshot(session.run.step)
        if self.restore_state is not None:
            self.load_state(self.restore_state)
            if self.stopped is not None:
                session.stop = self.stopped  # a run the guard stopped stays stopped

    def probe(self, step: int) -> None:
        return None

    def on_gradients(self, step: int, grads: dict[str, Array]) -> None:
        """Nothing: the guard reads only the loss."""

    def on_step(self, progress: Any, loss: float) -> None:
        # The hot path: a comparison and the trend's addition per step; everything else only on trouble.
        snapshot, run = self.snapshot, self.session.run
        assert snapshot is not None
        snapshot.batches.append((progress.step, run.epoch, run.position - 1))
        if not -math.inf < loss < math.inf:
            self._handle(progress.step, loss)
            return
        if self.trend.add(loss) and self.trend.diverging:
            self._handle(progress.step, loss)
            return
        if progress.step % self.snapshot_every == 0 and self._looks_healthy(len(snapshot.batches)):
            self._take_snapshot(progress.step)

    def on_epoch(self, progress: Any, record: Any) -> None:
        """Nothing per epoch."""

    def on_end(self, history: Any) -> None:
        """Nothing at the end."""

    def take_new(self) -> tuple[list[Diagnosis], list[dict[str, Any]]]:
        """The diagnoses and events since the last call, for the training loop to act on."""
        new, events = self.pending, self.pending_events
        self.pending, self.pending_events = [], []
        return new, events

    # -- snapshots -----------------------------------------------------------------------------
    def _take_snapshot(self, step: int) -> None:
        s = self.session
        snapshot = Snapshot(
            step,
            _copy_weights(s.net),
            {k: v.copy() for k, v in s.run.opt_state.items()},
            s.rng.bit_generator.state,
        )
        self.snapshots = [*self.snapshots[-(KEEP_SNAPSHOTS - 1) :], snapshot]
        self.restored_since_snapshot = False

    def _looks_healthy(self, steps_since: int) -> bool:
        """Snapshot only training that is not on its way up (a rollback must land somewhere good), unless the
        replay grew past ``MAX_REPLAY`` intervals; never non-finite weights."""
        net = self.session.net
        finite = all(np.isfinite(p).all() for p in [*net.params.values(), *net.buffers.values()])
        calm = self.trend.rising_chunks == 0 and math.isfinite(self.trend.recent)
        return finite and (calm or steps_since >= MAX_REPLAY * self.snapshot_every)

    def _restore(self, params: Mapping[str, Array], opt_state: Mapping[str, Array], rng_state: Any) -> None:
        """Write back ``params`` (parameters and buffers, from ``_copy_weights``), the optimizer and the generator."""
        targets = {**self.session.net.params, **self.session.net.buffers}
        for name, value in params.items():
            targets[name][...] = value
        self.session.run.opt_state = {k: v.copy() for k, v in opt_state.items()}
        self.session.rng.bit_generator.state = rng_state

    def _restore_snapshot(self, snap: Snapshot) -> None:
        self._restore(snap.params, snap.opt_state, snap.rng_state)

    # -- what happened -----------------------------------------------------------------------
    def _replay(self, until: int) -> tuple[FirstNonFinite, tuple[dict[str, Array], dict[str, Array]] | None]:
        """Re-run the steps since the snapshot with a probe; also return (params, opt_state) just before
        step ``until``. Leaves the network wherever the replay stopped: the caller restores a state."""
        s, snap = self.session, self.snapshot
        assert snap is not None
        self._restore_snapshot(snap)
        tracer = FirstNonFinite(s.net)
        state = {k: v.copy() for k, v in snap.opt_state.items()}
        before = None
        for step, epoch, position in snap.batches:
            tracer.step = step
            if step == until:
                before = (_copy_weights(s.net), {k: v.copy() for k, v in state.items()})
            x, t = next(iter(s.batches.epoch(epoch, start=position)))
            with np.errstate(all="ignore"):
                value, _, state = train_step(s.net, s.loss, s.optimizer, state, x, t, rng=s.rng, probe=tracer,
                                             show=lambda grads: tracer.check_arrays(grads, "gradient", "backward"))
                tracer.check_loss(value)
                tracer.check_arrays(s.net.params, "weight", "update")
            if tracer.found is not None or step >= until:
                break
        return tracer, before

    def _handle(self, step: int, loss: float) -> None:
        s = self.session
        now = (_copy_weights(s.net), {k: v.copy() for k, v in s.run.opt_state.items()})
        rng_now = s.rng.bit_generator.state
        one_step = not math.isfinite(loss) or loss >= self.trend.ceiling  # else a trend: no batch to blame
        policy = "stop" if self.policy == "skip" and not one_step else self.policy
        found = before = None
        if self.diagnosis is None or policy != "rollback":  # a rollback that fails again needs no new trace
            tracer, before = self._replay(step)
            found = tracer.found
            self._restore(now[0], now[1], rng_now)  # the replay moved the weights: back to where the run is
        if self.diagnosis is None:
            self.diagnosis = blow_up_diagnosis(step, loss, found, self.trend, self.settings)
            self.pending.append(self.diagnosis)
        if policy == "stop":
            finite = all(np.isfinite(p).all() for p in now[0].values()) and math.isfinite(loss)
            self._stop_at_consistent_state(now if finite else before, rng_now)
            what = "non-finite values" if found is not None or not math.isfinite(loss) else "the loss diverged"
            self.stopped = s.stop = f"{what} at step {step}: {found.sentence() if found else f'loss {loss:.4g}'}"
            self._log("stop", step)
        elif policy == "skip":
            self._skip(step, before, rng_now)
        else:
            self._rollback(step, reason="non_finite" if not math.isfinite(loss) else "diverged")

    def _stop_at_consistent_state(self, state: tuple[dict[str, Array], dict[str, Array]] | None, rng: Any) -> None:
        """Weights and optimizer state of the same step: the given one, else the snapshot's."""
        if state is not None:
            self._restore(state[0], state[1], rng)
        else:
            assert self.snapshot is not None
            self._restore_snapshot(self.snapshot)

    def _skip(self, step: int, before: tuple[dict[str, Array], dict[str, Array]] | None, rng_now: Any) -> None:
        s, snap = self.session, self.snapshot
        assert snap is not None
        self.retries += 1
        if self.retries > self.max_retries:
            self._stop_at_consistent_state(before, rng_now)
            self.stopped = s.stop = f"non-finite values again after {self.max_retries} skipped batches; giving up"
            self._log("give_up", step)
            return
        if before is not None:
            self._restore(before[0], before[1], rng_now)
            snap.batches = [b for b in snap.batches if b[0] != step]  # the dropped batch is not replayed again
        else:  # the trouble began at an earlier step of the replay: back to the snapshot
            self._restore_snapshot(snap)
            snap.batches = []
        self.trend.restart()
        s.discard_step()  # the dropped batch's loss does not count in the epoch's
        self._log("skip", step)

    def rollback_for(self, diagnosis: Diagnosis) -> bool:
        """Roll back for a monitor diagnosis that means the run blew up without a NaN (most ReLUs died at once,
        gradients exploding); True when it did. The training loop calls it after the step."""
        if self.policy != "rollback" or self.session is None or self.session.run.step > diagnosis.step + 200:
            return False
        return self._rollback(self.session.run.step, reason=diagnosis.symptom, before=diagnosis.step)

    def _rollback(self, step: int, reason: str, before: int | None = None) -> bool:
        """Restore the newest snapshot (older than step ``before`` when given: the trouble's onset)."""
        s = self.session
        self.retries += 1
        if self.retries > self.max_retries:
            assert self.snapshot is not None
            self._restore_snapshot(self.snapshot)  # the last good state, never the blown-up one
            self.stopped = s.stop = f"training blew up again after {self.max_retries} rollbacks; giving up"
            self._log("give_up", step)
            return False
        if self.restored_since_snapshot and len(self.snapshots) > 1:
            self.snapshots.pop()  # restored once and failed again before a new snapshot: go further back
        while before is not None and len(self.snapshots) > 1 and self.snapshots[-1].step >= before:
            self.snapshots.pop()  # taken after the trouble began: not a good state
        snapshot = self.snapshots[-1]
        lr_scale = learning_rate_scale(s.run.opt_state) * self.lr_factor
        self._restore_snapshot(snapshot)
        scale_learning_rate(s.run.opt_state, lr_scale / learning_rate_scale(s.run.opt_state))
        snapshot.batches = []
        self.restored_since_snapshot = True
        self.trend.restart()
        self._log("rollback", step, reason)
        return True

    def _log(self, action: str, step: int, reason: str = "non_finite") -> None:
        assert self.snapshot is not None
        event = {
            "event": action,
            "reason": reason,
            "step": step,
            "restored_step": self.snapshot.step if action in ("rollback", "skip") else None,
            "lr_scale": learning_rate_scale(self.session.run.opt_state),
            "retry": self.retries,
        }
        self.events.append(event)
        self.pending_events.append(event)
        if self.log_path is not None:
            append_line(self.log_path, json.dumps(event))
        if self.on_event is not None:
            self.on_event(describe_event(event))

    # -- resume ----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What a resumed run needs to go on guarding as if it had never stopped (JSON-ready)."""
        return {
            "retries": self.retries,
            "events": self.events,
            "diagnosis": self.diagnosis.to_json() if self.diagnosis is not None else None,
            "stopped": self.stopped,
            "trend": self.trend.state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.retries = int(state["retries"])
        self.events = list(state["events"])
        self.diagnosis = Diagnosis.from_json(state["diagnosis"]) if state["diagnosis"] else None
        self.stopped = state["stopped"]
        self.trend.load_state(state["trend"])


def describe_event(event: dict[str, Any]) -> str:
    """One sentence for a guard event (what the CLI prints)."""
    if event["event"] == "rollback":
        return (
            f"rollback {event['retry']}: {event['reason']} at step {event['step']}, "
            f"restored step {event['restored_step']}, learning rate x{event['lr_scale']:g}"
        )
    if event["event"] == "skip":
        return f"skipped the batch of step {event['step']} (non-finite)"
    return f"{event['event']} at step {event['step']}"


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
