"""The non-finite guard: every step, a free check of the loss; on NaN/Inf, find the source and apply a policy.

Every ``snapshot_every`` steps of healthy-looking training it keeps the weights, the optimizer
state and the dropout generator in memory. When the loss turns non-finite, a cross-entropy
overflows what an unfused softmax could represent, or the loss reaches 5x its initial value
(diverged: the next steps overflow), it replays the steps since that snapshot with a probe
attached to find the first bad tensor, then:

- ``stop``: stops the run with the diagnosis (non-finite weights are never saved);
- ``rollback``: restores the snapshot, multiplies the learning rate by ``lr_factor`` and goes on
  (at most ``max_retries`` times);
- ``skip``: restores the state just before the bad step, dropping that batch (or the snapshot, when
  the replay shows the trouble began earlier); at most ``max_retries`` times.
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
from gradwise.health import thresholds as T
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.explain import Settings, explain
from gradwise.health.trace import FirstNonFinite
from gradwise.nn.network import grad
from gradwise.optim.base import move
from gradwise.optim.transforms import learning_rate_scale, scale_learning_rate
from gradwise.train.loop import Callback, Session
from gradwise.train.stopping import Progress

Array = np.ndarray
POLICIES = ("stop", "rollback", "skip")
KEEP_SNAPSHOTS = 4


@dataclass
class Snapshot:
    step: int
    params: dict[str, Array]
    opt_state: dict[str, Array]
    rng_state: Mapping[str, Any]  # the dropout generator, as numpy returns it
    batches: list[tuple[int, int]] = field(default_factory=list)  # (epoch, position) of each step since


class NonFiniteGuard(Callback):
    """Catches the first non-finite loss, explains it, and stops, rolls back or skips."""

    def __init__(
        self,
        policy: str = "stop",
        *,
        snapshot_every: int = 50,
        lr_factor: float = 0.5,
        max_retries: int = 10,
        settings: Settings | None = None,
        log_path: str | Path | None = None,
        on_diagnosis: Callable[[Diagnosis], None] | None = None,
        on_event: Callable[[str], None] | None = None,
        on_rollback: Callable[[], None] | None = None,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"--on-nan: unknown policy {policy!r}; choose one of: {', '.join(POLICIES)}")
        self.policy, self.snapshot_every, self.lr_factor, self.max_retries = (
            policy,
            snapshot_every,
            lr_factor,
            max_retries,
        )
        self.settings = settings or {}
        self.log_path = Path(log_path) if log_path is not None else None
        self.on_diagnosis, self.on_event, self.on_rollback = on_diagnosis, on_event, on_rollback
        self.retries = 0
        self.events: list[dict[str, Any]] = []
        self.diagnosis: Diagnosis | None = None
        self.session: Session | None = None
        self.snapshots: list[Snapshot] = []  # newest last; a rollback that fails again falls back further
        self.restored_since_snapshot = False
        self.recent: list[float] = []
        self.initial_loss: float | None = None
        self.limit = -math.inf  # set from the first loss; until then every loss takes the slow path

    @property
    def snapshot(self) -> Snapshot | None:
        return self.snapshots[-1] if self.snapshots else None

    def on_begin(self, session: Session) -> None:
        self.session = session
        self._take_snapshot(session.run.step)

    def _take_snapshot(self, step: int) -> None:
        assert self.session is not None
        s = self.session
        snapshot = Snapshot(
            step,
            {k: v.copy() for k, v in s.net.params.items()},
            {k: v.copy() for k, v in s.run.opt_state.items()},
            s.rng.bit_generator.state,
        )
        self.snapshots = [*self.snapshots[-(KEEP_SNAPSHOTS - 1) :], snapshot]
        self.restored_since_snapshot = False

    def _looks_healthy(self) -> bool:
        """Snapshot only training that is not on its way up: a rollback must land somewhere good."""
        assert self.session is not None
        if len(self.recent) < self.snapshot_every:
            return False
        recent = float(np.mean(self.recent[-self.snapshot_every :]))
        first = float(np.mean(self.recent[: min(10, len(self.recent))]))
        params_finite = all(np.isfinite(p).all() for p in self.session.net.params.values())
        return math.isfinite(recent) and recent <= 1.5 * first and params_finite

    def on_step(self, progress: Progress, loss: float) -> None:
        # The hot path: one comparison per step (NaN fails it too); everything else only on trouble.
        assert self.session is not None and self.snapshot is not None
        run = self.session.run
        self.snapshot.batches.append((run.epoch, run.position - 1))
        if not loss <= self.limit:
            if self.initial_loss is None and math.isfinite(loss):
                self._set_limit(loss)
                if loss <= self.limit:
                    self.recent.append(loss)
                    return
            self._handle(progress.step, loss)
            return
        self.recent.append(loss)
        if progress.step % self.snapshot_every == 0 and self._looks_healthy():
            self._take_snapshot(progress.step)
            self.recent = self.recent[-self.snapshot_every :]

    def _set_limit(self, initial: float) -> None:
        """The loss above which the run counts as blown up: diverged, or past what exp could represent."""
        assert self.session is not None
        self.initial_loss = initial
        self.limit = T.DIVERGED * initial
        if "cross_entropy" in self.session.loss.name:
            self.limit = min(self.limit, -math.log(float(np.finfo(self.session.net.dtype).tiny)))

    # -- what happened -----------------------------------------------------------------------
    def _replay(self, until: int) -> tuple[FirstNonFinite, dict[str, Array] | None, dict[str, Array] | None]:
        """Re-run the steps since the snapshot with a probe; also return the state just before step ``until``."""
        assert self.session is not None and self.snapshot is not None
        s, snap = self.session, self.snapshot
        self._restore(snap)
        tracer = FirstNonFinite(s.net)
        state = {k: v.copy() for k, v in snap.opt_state.items()}
        before_params = before_state = None
        for offset, (epoch, position) in enumerate(snap.batches):
            step = snap.step + offset + 1
            tracer.step = step
            x, t = next(iter(s.batches.epoch(epoch, start=position)))
            if step == until:
                before_params = {k: v.copy() for k, v in s.net.params.items()}
                before_state = {k: v.copy() for k, v in state.items()}
            with np.errstate(all="ignore"):
                value, grads = grad(s.net, s.loss, x, t, rng=s.rng, probe=tracer)
                tracer.check_loss(value, s.loss.name)
                tracer.check_arrays(grads, "gradient", "backward")
                state = move(s.net.params, grads, s.optimizer, state)
                tracer.check_arrays(s.net.params, "weight", "update")
            if tracer.found is not None or step >= until:
                break
        return tracer, before_params, before_state

    def _restore(self, snap: Snapshot) -> None:
        assert self.session is not None
        for name, value in snap.params.items():
            self.session.net.params[name][...] = value
        self.session.run.opt_state = {k: v.copy() for k, v in snap.opt_state.items()}
        self.session.rng.bit_generator.state = snap.rng_state

    def request_rollback(self, diagnosis: Diagnosis) -> None:
        """A monitor diagnosis that means the run blew up without a NaN (e.g. most ReLUs died at once)."""
        if self.policy == "rollback" and self.session is not None and self.session.run.step <= diagnosis.step + 200:
            self._rollback(self.session.run.step, reason=diagnosis.symptom, before=diagnosis.step)

    def _handle(self, step: int, loss: float) -> None:
        assert self.session is not None and self.snapshot is not None
        s = self.session
        rng_now = s.rng.bit_generator.state
        found = before_params = before_state = None
        if self.diagnosis is None or self.policy == "skip":  # a rollback that fails again needs no new trace
            tracer, before_params, before_state = self._replay(step)
            found = tracer.found
        evidence: dict[str, float | int | str] = {"loss": loss if math.isfinite(loss) else str(loss)}
        if self.initial_loss is not None and math.isfinite(loss):
            evidence["times_initial_loss"] = round(loss / self.initial_loss, 2)
        if found is not None:
            evidence = {"first_bad": found.sentence(), "tensor": found.tensor, "direction": found.direction,
                        **found.evidence}  # fmt: skip
        if self.diagnosis is None:
            # Nothing overflowed and the loss is finite: the run diverged, which is the learning rate's doing.
            symptom = "non_finite" if found is not None or not math.isfinite(loss) else "lr_too_high"
            cause, fix = explain(symptom, found.layer if found else None, self.settings)
            onset = found.step if found else step
            self.diagnosis = Diagnosis(symptom, found.layer if found else None, onset, evidence, cause, fix)
            if self.on_diagnosis is not None:
                self.on_diagnosis(self.diagnosis)
        if self.policy == "stop":
            what = "non-finite values" if found is not None or not math.isfinite(loss) else "the loss diverged"
            s.stop = f"{what} at step {step}: {found.sentence() if found else f'loss {loss:.4g}'}"
            self._log("stop", step)
            return
        if self.policy == "skip":
            self.retries += 1
            if self.retries > self.max_retries:
                s.stop = f"non-finite values again after {self.max_retries} skipped batches; giving up at step {step}"
                self._log("give_up", step)
                return
            if before_params is not None and before_state is not None:
                for name, value in before_params.items():
                    s.net.params[name][...] = value
                s.run.opt_state = before_state
                s.rng.bit_generator.state = rng_now
            else:  # the trouble began at an earlier step of the replay: back to the snapshot
                self._restore(self.snapshot)
                self.snapshot.batches = []
            self._log("skip", step)
            return
        self._rollback(step, reason="non_finite")

    def _rollback(self, step: int, reason: str, before: int | None = None) -> None:
        """Restore the newest snapshot (older than step ``before`` when given: the trouble's onset)."""
        assert self.session is not None
        s = self.session
        self.retries += 1
        if self.retries > self.max_retries:
            s.stop = f"training blew up again after {self.max_retries} rollbacks; giving up at step {step}"
            self._log("give_up", step)
            return
        if self.restored_since_snapshot and len(self.snapshots) > 1:
            self.snapshots.pop()  # restored once and failed again before a new snapshot: go further back
        while before is not None and len(self.snapshots) > 1 and self.snapshots[-1].step >= before:
            self.snapshots.pop()  # taken after the trouble began: not a good state
        snapshot = self.snapshots[-1]
        lr_scale = learning_rate_scale(s.run.opt_state) * self.lr_factor
        self._restore(snapshot)
        scale_learning_rate(s.run.opt_state, lr_scale / learning_rate_scale(s.run.opt_state))
        snapshot.batches = []
        self.restored_since_snapshot = True
        self.recent = []
        self._log("rollback", step, reason)
        if self.on_rollback is not None:
            self.on_rollback()

    def _log(self, action: str, step: int, reason: str = "non_finite") -> None:
        assert self.session is not None and self.snapshot is not None
        event = {
            "event": action,
            "reason": reason,
            "step": step,
            "restored_step": self.snapshot.step if action in ("rollback", "skip") else None,
            "lr_scale": learning_rate_scale(self.session.run.opt_state),
            "retry": self.retries,
        }
        self.events.append(event)
        if self.log_path is not None:
            append_line(self.log_path, json.dumps(event))
        if self.on_event is not None:
            self.on_event(_describe(event))


def _describe(event: dict[str, Any]) -> str:
    if event["event"] == "rollback":
        return (
            f"rollback {event['retry']}: {event['reason']} at step {event['step']}, "
            f"restored step {event['restored_step']}, learning rate x{event['lr_scale']:g}"
        )
    if event["event"] == "skip":
        return f"skipped the batch of step {event['step']} (non-finite)"
    return f"{event['event']} at step {event['step']}"
