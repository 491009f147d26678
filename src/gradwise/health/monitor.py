"""The health monitor: looks inside every K-th training step and turns what it sees into diagnoses.

On a probed step it records, per Dense layer, statistics of z, a, delta, the gradients, the
weights and the update (see ``stats.py``), appends them to ``health.jsonl`` and runs the rules.
Every other step it only keeps the loss (free). K is chosen from the network's size so that
probing costs a few percent of the step time (see ``probe_interval``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gradwise import looks
from gradwise.files import append_line
from gradwise.health import thresholds as T
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.divergence import LossTrend, for_run
from gradwise.health.explain import explain
from gradwise.health.rules import Context
from gradwise.health.settings import Settings
from gradwise.health.stats import (
    DeadUnits,
    LayerStats,
    StepStats,
    backward_stats,
    forward_stats,
    parameter_stats,
    update_stats,
)
from gradwise.health.symptoms import RULES, silenced
from gradwise.nn.losses import Loss
from gradwise.nn.network import Network
from gradwise.nn.pairing import chance_loss

Array = np.ndarray


# Probing costs (ms), fitted on the reference machine (2 cores, 784-H-10 and 784-512x3-10, batch 1 to 512):
# a probe ~ 0.3 per Dense layer + 1.7e-6 per weight + 1e-5 per unit-sample (B x units); a training step
# ~ 0.1 per Dense layer + 7e-7 per weight (the update's passes) + 1.8e-8 per multiply-add of its GEMMs
# (3 B x weights). benchmarks/health_overhead.py measures what a choice costs.
OVERHEAD_BUDGET = 0.015  # of the step time in the steady state, by the model; measured costs run 1.5-2x the model
TIMELINE_PROBES = 5000  # probes kept in memory for plot(): a run of a few hundred thousand steps
EARLY_STEPS = 1000  # the first steps, where most failures start, are probed at the early interval


def _costs(net: Network, batch_size: int) -> tuple[float, float]:
    dense = [info for info in net.layer_info() if info.shape is not None]
    weights = sum(p.size for p in net.params.values())
    units = sum(info.shape[1] for info in dense if info.shape is not None)
    probe_ms = 0.3 * len(dense) + 1.7e-6 * weights + 1e-5 * batch_size * units
    step_ms = 0.1 * len(dense) + 7e-7 * weights + 1.8e-8 * 3 * batch_size * weights
    return probe_ms, step_ms


def probe_interval(net: Network, batch_size: int) -> int:
    """Steps between probes after the first ``EARLY_STEPS``: probing then costs about ``OVERHEAD_BUDGET``
    of the time, e.g. every 35 steps for 784-1000-10 at batch 128 and every 188 for 784-30-10 at batch 10
    (--health-interval overrides it)."""
    probe_ms, step_ms = _costs(net, batch_size)
    return int(np.clip(math.ceil(probe_ms / (OVERHEAD_BUDGET * step_ms)), 10, 250))


def early_probe_interval(net: Network, batch_size: int) -> int:
    """Steps between probes during the first ``EARLY_STEPS``: 10 to 50, denser than later, so even a short
    run gets the probes its rules need (a condition must hold at ``PERSISTENCE`` probes in a row)."""
    work = batch_size * sum(p.size for p in net.params.values())  # multiply-adds of one forward pass
    return min(probe_interval(net, batch_size), int(np.clip(round(5e8 / max(work, 1)), 10, 50)))


class _StepProbe:
    """Collects one step's per-layer statistics as the network shows them."""

    _z: Array  # the layer's z, shown just before its a

    def __init__(self, net: Network, step: int, dead: DeadUnits) -> None:
        self.step = step
        self.dead = dead
        self.layers = {
            info.index: LayerStats(info.index, info.activation) for info in net.layer_info() if info.weighted
        }
        self.weights_before: dict[int, Array] = {}

    def observe(self, layer: int, tensor: str, value: Array) -> None:
        stats = self.layers[layer]
        if tensor == "a":
            alive = forward_stats(stats, self._z, value)
            if alive is not None:
                self.dead.update(stats, alive)
        elif tensor == "z":
            self._z = value
        elif tensor == "delta":
            backward_stats(stats, value)



class _Watched(Protocol):
    """What the monitor reads of the run it watches (``gradwise.train.callbacks.Session``)."""

    net: Network
    loss: Loss
    batch_size: int | None


class _HasStep(Protocol):
    step: int


class HealthMonitor:
    """A training callback that diagnoses the run as it goes; ``diagnoses`` holds what it found.

    It has every hook of ``gradwise.train.loop.Callback`` without importing the training
    package, so the dependencies keep pointing one way (train -> health). It only reports:
    each new diagnosis waits in ``take_new()`` for the training loop to act on after the step.
    """

    def __init__(
        self,
        settings: Settings | Mapping[str, Any] | None = None,
        *,
        interval: int | None = None,
        log_path: str | Path | None = None,
        on_diagnosis: Callable[[Diagnosis], None] | None = None,
    ) -> None:
        self.settings = Settings.of(settings)
        self.pending: list[Diagnosis] = []  # fired since the last take_new(), also again after a reset
        self.restore_state: dict[str, Any] | None = None  # from a checkpoint, loaded in on_begin
        self._fired: set[tuple[str, int | None]] = set()  # fired since the last reset
        self.interval = interval  # steps between probes; None: chosen from the network's size
        self.early_interval = interval  # the same during the first EARLY_STEPS
        self.log_path = Path(log_path) if log_path is not None else None
        self.on_diagnosis = on_diagnosis
        self.diagnoses: list[Diagnosis] = []
        self.losses: list[float] = []  # the first 10 and the newest WINDOW_STEPS steps' losses (at least)
        self.trend = LossTrend()
        self._dead = DeadUnits()
        self.probes: list[StepStats] = []
        self.timeline: list[dict[str, Any]] = []  # every probe's statistics (the first TIMELINE_PROBES): plot()
        # (symptom, layer) -> [first step, probes] of the streak of consecutive probes where its rule holds
        self._streaks: dict[tuple[str, int | None], list[int]] = {}
        self._current: _StepProbe | None = None
        self._weights_before: dict[int, Array] = {}
        self._warmup_norms: list[float] | None = None
        self.net: Network | None = None
        self.chance_loss: float | None = None  # the loss of guessing (the pairing's; a regression sets its own)

    # -- Callback hooks ------------------------------------------------------------------------
    def on_begin(self, session: _Watched) -> None:
        self.net = session.net
        output = session.net.output_activation
        classes = session.net.n_outputs
        self.chance_loss = chance_loss(session.loss.name, output.name if output else "identity", classes)
        self.trend, batch = for_run(session, self.settings.batch_size)
        if self.interval is None:
            self.interval = probe_interval(session.net, batch)
            self.early_interval = early_probe_interval(session.net, batch)
        if self.restore_state is not None:
            self.load_state(self.restore_state)

    def probe(self, step: int) -> _StepProbe | None:
        interval = (self.early_interval if step <= EARLY_STEPS else self.interval) or 1
        if step % interval and step != 1:
            return None  # the usual case, every step: keep it to these two lines
        assert self.net is not None
        self._current = _StepProbe(self.net, step, self._dead)
        return self._current

    def on_gradients(self, step: int, grads: dict[str, Array]) -> None:
        assert self.net is not None and self._current is not None
        weights, grads_of = self.net.by_layer(self.net.params), self.net.by_layer(grads)
        for i, stats in self._current.layers.items():
            weight = weights[i]["W"]
            parameter_stats(stats, grads_of[i]["W"], grads_of[i]["b"], weight)
            before = self._weights_before.get(i)
            if before is None or before.shape != weight.shape or before.dtype != weight.dtype:
                before = self._weights_before[i] = np.empty_like(weight)  # reused by every probe
            np.copyto(before, weight)  # for the update/weight ratio after the step
            self._current.weights_before[i] = before

    def on_step(self, progress: _HasStep, loss: float) -> None:
        self.losses.append(loss)
        self.trend.add(loss)
        current = self._current
        if current is None:
            return  # the usual case, every step
        self._current = None
        if current.step != progress.step:
            return
        assert self.net is not None
        weights = self.net.by_layer(self.net.params)
        for i, stats in current.layers.items():
            update_stats(stats, current.weights_before[i], weights[i]["W"])
        step_stats = StepStats(progress.step, loss, list(current.layers.values()))
        self.probes = [*self.probes[-(T.PERSISTENCE + 1) :], step_stats]
        if self._warmup_norms is None and progress.step >= T.WARMUP_STEPS:
            self._warmup_norms = [s.grad_norm for s in step_stats.layers]
        line = step_stats.to_json()
        if len(self.timeline) < TIMELINE_PROBES:
            self.timeline.append(line)
        if self.log_path is not None:
            append_line(self.log_path, json.dumps(line), durable=False)  # a probe is expendable
        if len(self.losses) > 20 * T.WINDOW_STEPS:  # the rules read the first 10 and the newest WINDOW_STEPS
            del self.losses[10 : -T.WINDOW_STEPS]
        if progress.step >= T.WARMUP_STEPS:
            self._run_rules(progress.step)

    def on_epoch(self, progress: Any, record: Any) -> None:
        """Nothing per epoch: the rules run on probed steps."""

    def on_end(self, history: Any) -> None:
        """Nothing at the end: ``diagnoses`` is complete."""

    # -- rules -----------------------------------------------------------------------------------
    def _run_rules(self, step: int) -> None:
        context = Context(self.probes, self.losses, self._warmup_norms, self.chance_loss, self.trend)
        holding: set[tuple[str, int | None]] = set()
        evidence: dict[tuple[str, int | None], dict[str, float | int | str]] = {}
        for symptom, rule in RULES.items():
            for layer, found in rule(context):
                key = (symptom, layer)
                holding.add(key)
                evidence[key] = found
        for key in list(self._streaks):
            if key not in holding:
                del self._streaks[key]
        for key in holding:
            self._streaks.setdefault(key, [step, 0])[1] += 1
        for key in sorted(holding, key=lambda k: list(RULES).index(k[0])):
            first, count = self._streaks[key]
            if key in self._fired or count < T.PERSISTENCE:
                continue
            symptom, layer = key
            if silenced(symptom, {k[0] for k in holding | self._fired}):
                continue  # another symptom explains it better (the table's silenced_by)
            cause, fix = explain(symptom, layer, self.settings)
            diagnosis = Diagnosis(symptom, layer, first, evidence[key], cause, fix)
            self._fired.add(key)
            self.pending.append(diagnosis)  # also when add() has it already: after a rollback it fired again
            self.add(diagnosis)

    def add(self, diagnosis: Diagnosis) -> None:
        """Record a diagnosis (also used for static checks and the non-finite guard) and announce it."""
        if any((d.symptom, d.layer) == (diagnosis.symptom, diagnosis.layer) for d in self.diagnoses):
            return
        self.diagnoses.append(diagnosis)
        if self.log_path is not None:
            append_line(self.log_path, json.dumps({"diagnosis": diagnosis.to_json()}, default=str))
        if self.on_diagnosis is not None:
            self.on_diagnosis(diagnosis)

    def take_new(self) -> list[Diagnosis]:
        """The diagnoses the rules fired since the last call, for the training loop to act on."""
        new, self.pending = self.pending, []
        return new

    def reset(self) -> None:
        """Forget the trend and the streaks (after a rollback the run starts over from a snapshot)."""
        self._streaks.clear()
        self._fired.clear()
        self.probes = []
        self.losses = []
        self.trend.restart()
        self._dead.reset()

    def state(self) -> dict[str, Any]:
        """What a resumed run needs to go on judging as if it had never stopped (JSON-ready)."""
        return {
            "fired": [list(key) for key in sorted(self._fired, key=str)],
            "streaks": [[*key, *value] for key, value in self._streaks.items()],
            "diagnoses": [d.to_json() for d in self.diagnoses],
            "losses": list(self.losses),
            "trend": self.trend.state(),
            "warmup_norms": self._warmup_norms,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from ``state()`` (called after ``on_begin``); the diagnoses are not announced again."""
        self._fired = {(str(s), layer) for s, layer in state["fired"]}
        self._streaks = {(str(s), layer): [int(first), int(count)] for s, layer, first, count in state["streaks"]}
        self.diagnoses = [Diagnosis.from_json(d) for d in state["diagnoses"]]
        self.losses = [float(v) for v in state["losses"]]
        self.trend.load_state(state["trend"])
        self._warmup_norms = state["warmup_norms"]

    @property
    def healthy(self) -> bool:
        return not self.diagnoses

    def plot(self) -> Any:
        """The per-layer timelines of the report (gradient norms, saturated and dead share, update/weight ratio)
        in one matplotlib Figure, the diagnoses marked at their onset."""
        return looks.plot(self)

    def __repr__(self) -> str:
        return looks.text(self)

    def _repr_html_(self) -> str:
        return looks.html(self)
