"""Repair: probe a configuration, apply fixes causes first, never the same change twice, then say how it went.

``find_repair`` probes the configuration for a few hundred steps with the health monitor. While a probe
finds problems it applies a fix and probes again, at most ``MAX_ATTEMPTS`` times:

- the fixes of checks before the first step (output/loss pairing, labels, input, initialization) all
  apply at once, before any step of the next attempt;
- otherwise the one fix first in the repair order (``health/fixes.py``: pairing, input, init, activation,
  optimizer, dropout) among every diagnosis the probe raised;
- a fix the run already has, or one applied before, is never applied; the hidden sizes are the user's
  choice and are never changed;
- each attempt starts from fresh weights (a changed loss, init or activation needs them; a changed
  learning rate is simplest to judge from the same start).

``verdict`` compares the first probe with the full run of the repaired configuration, honestly:
"repaired: accuracy X -> Y after N attempts (changes ...)" or "not repaired: tried ...; what remains is ...".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gradwise.health.diagnosis import Diagnosis
from gradwise.health.explain import effective
from gradwise.health.fixes import Fix
from gradwise.train.config import ConfigError, TrainConfig

if TYPE_CHECKING:
    from gradwise.train.runner import Result

PROBE_STEPS = 300  # enough for the rules' 100-step window and three probes in a row after the warm-up
PROBE_SECONDS = 30.0
MAX_ATTEMPTS = 5  # probes after the first


@dataclass
class Attempt:
    """One probe: the configuration, what it changed over the previous one, and what it found."""

    config: TrainConfig
    applied: list[tuple[Diagnosis, Fix]]  # the fixes this attempt added (none for the first)
    diagnoses: list[Diagnosis]
    accuracy: float  # test accuracy at the end of the probe
    steps: int

    @property
    def healthy(self) -> bool:
        return not self.diagnoses


@dataclass
class RepairPlan:
    """The probes, in order; the last one's configuration is the one to train."""

    attempts: list[Attempt] = field(default_factory=list)

    @property
    def config(self) -> TrainConfig:
        return self.attempts[-1].config

    @property
    def applied(self) -> list[tuple[Diagnosis, Fix]]:
        return [pair for attempt in self.attempts for pair in attempt.applied]


@dataclass
class RepairReport:
    """The verdict: whether the run was repaired, from what accuracy to what, by which changes."""

    repaired: bool
    verdict: str
    before: float  # the first probe's test accuracy
    after: float  # the full run's
    attempts: int
    changes: list[dict[str, Any]]  # each applied fix: symptom, layer, step, changes, flags
    remaining: list[str] = field(default_factory=list)  # headlines of what the full run still found

    def to_json(self) -> dict[str, Any]:
        return {
            "repaired": self.repaired,
            "verdict": self.verdict,
            "before": self.before,
            "after": self.after,
            "attempts": self.attempts,
            "changes": self.changes,
            "remaining": self.remaining,
        }


Probe = Callable[[TrainConfig, Callable[[Diagnosis], bool]], "Result"]


def probe_config(config: TrainConfig, steps: int = PROBE_STEPS, seconds: float = PROBE_SECONDS) -> TrainConfig:
    """The configuration's first ``steps`` steps, watched: monitor on, a blow-up stops it, nothing saved."""
    return config.with_overrides(
        max_steps=min(steps, config.max_steps or steps),
        time_budget=min(seconds, config.time_budget or seconds),
        epochs=max(config.epochs, 1),
        monitor=True,
        on_nan="stop",
        repair=False,
        checkpoint_every=None,
        patience=None,
    )


def _key(fix: Fix) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in fix.changes.items()))


def _usable(fix: Fix, settings: dict[str, Any], tried: set[tuple[tuple[str, str], ...]]) -> bool:
    return bool(fix.changes) and "hidden" not in fix.changes and _key(fix) not in tried and not fix.in_effect(settings)


def choose_fixes(
    diagnoses: Sequence[Diagnosis], config: TrainConfig, tried: set[tuple[tuple[str, str], ...]]
) -> list[tuple[Diagnosis, Fix]]:
    """What to change next: every pre-training check's first usable fix, else the first fix in repair order."""
    settings = effective(config_settings(config))
    usable = [(d, f) for d in diagnoses for f in d.fix if _usable(f, settings, tried)]
    before_training: list[tuple[Diagnosis, Fix]] = []
    for diagnosis in (d for d in diagnoses if d.step == 0):
        first = next((f for d, f in usable if d is diagnosis), None)
        changed = {k for _, f in before_training for k in f.changes}
        if first is not None and not changed & set(first.changes):
            before_training.append((diagnosis, first))
    if before_training:
        return sorted(before_training, key=lambda pair: pair[1].rank)
    usable.sort(key=lambda pair: pair[1].rank)  # stable: the diagnoses' own order breaks ties
    return usable[:1]


def config_settings(config: TrainConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(config)


def find_repair(config: TrainConfig, probe: Probe, *, max_attempts: int = MAX_ATTEMPTS,
                on_event: Callable[[str], None] | None = None) -> RepairPlan:  # fmt: skip
    """Probe ``config`` and apply fixes until a probe is healthy, no usable fix is left, or the attempts run out."""
    plan = RepairPlan()
    tried: set[tuple[tuple[str, str], ...]] = set()
    applied: list[tuple[Diagnosis, Fix]] = []
    while True:

        def stop_for(diagnosis: Diagnosis, current: TrainConfig = config, first: bool = not plan.attempts) -> bool:
            # The first probe runs on past the checks before training: its accuracy is the verdict's baseline.
            return (diagnosis.step > 0 or not first) and bool(choose_fixes([diagnosis], current, tried))

        result = probe(config, stop_for)
        last = result.history.last
        plan.attempts.append(Attempt(config, applied, list(result.diagnoses), result.test_accuracy,
                                     last.step if last else 0))  # fmt: skip
        if not result.diagnoses or len(plan.attempts) > max_attempts:
            return plan
        applied = []
        for diagnosis, fix in choose_fixes(result.diagnoses, config, tried):
            tried.add(_key(fix))
            try:
                config = config.with_overrides(**fix.changes)
            except (ConfigError, TypeError):
                continue  # a change this configuration cannot take; it counts as tried
            applied.append((diagnosis, fix))
            if on_event is not None:
                on_event(f"repair: {diagnosis.headline()} -> {fix.flags()}")
        if not applied:
            return plan


def verdict(plan: RepairPlan, final: Result) -> RepairReport:
    """The honest summary of a repair: the first probe against the full run of the chosen configuration."""
    before, after = plan.attempts[0].accuracy, final.test_accuracy
    changes = [
        {"symptom": d.symptom, "layer": d.layer, "step": d.step, "changes": dict(f.changes), "flags": f.flags()}
        for d, f in plan.applied
    ]
    remaining = [d.headline() for d in final.diagnoses]
    flags = "; ".join(c["flags"] for c in changes)
    count = len(plan.attempts) - 1
    if not changes and not remaining:
        text = f"nothing to repair: no problem found (accuracy {after:.4f})"
        return RepairReport(False, text, before, after, count, changes)
    if changes and not remaining and after > before:
        text = f"repaired: accuracy {before:.4f} -> {after:.4f} after {count} attempt{'s' * (count != 1)} ({flags})"
        return RepairReport(True, text, before, after, count, changes)
    tried = f"tried {flags}" if changes else "found no change to try"
    left = ", ".join(remaining) if remaining else f"accuracy {before:.4f} -> {after:.4f}, no better"
    text = f"not repaired: {tried}; what remains is {left}"
    return RepairReport(False, text, before, after, count, changes, remaining)
