"""Repair: probe a configuration, apply fixes causes first, never the same change twice, then say how it went.

``find_repair`` probes the configuration for a few hundred steps with the health monitor. While a probe
finds problems it applies a fix and probes again, at most ``MAX_ATTEMPTS`` times:

- the fixes of checks before the first step (output/loss pairing, labels, input, initialization) all
  apply at once, before any step of the next attempt;
- otherwise the one fix first among every diagnosis the probe raised: causes before symptoms, i.e. a
  suspect in the settings (raw input, weights that ignore the fan-in, heavy dropout) before a remedy of
  the symptom (a smaller rate), each group in the repair order (``health/fixes.py``: pairing, input, init,
  activation, optimizer, dropout);
- a fix the run already has, or one applied before, is never applied; the hidden sizes are the user's
  choice and are never changed;
- each attempt starts from fresh weights (a changed loss, init or activation needs them; a changed
  learning rate is simplest to judge from the same start);
- once a probe is healthy, the attempts left try the diagnoses' other fixes on it, one at a time, and
  keep one only when its probe is healthy and more accurate (by ``BETTER``): each change is probed
  before the run commits to it.

``verdict`` compares the first probe with the full run of the repaired configuration, honestly:
"repaired: accuracy X -> Y after N attempts (changes ...)" or "not repaired: tried ...; what remains is ...".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gradwise.health.diagnosis import Diagnosis
from gradwise.health.fixes import Fix
from gradwise.health.settings import Settings
from gradwise.train.config import ConfigError, TrainConfig, settings_of
from gradwise.train.result import RepairReport, Result

PROBE_STEPS = 300  # enough for the rules' 100-step window and three probes in a row after the warm-up
PROBE_SECONDS = 30.0
MAX_ATTEMPTS = 5  # probes after the first


@dataclass
class Attempt:
    """One probe: the configuration, the fixes that lead to it from the given one, and what it found."""

    config: TrainConfig
    lineage: list[tuple[Diagnosis, Fix]]  # every fix from the given configuration to this one, in order
    diagnoses: list[Diagnosis]
    accuracy: float  # validation accuracy at the end of the probe (training accuracy without a validation split)
    test_accuracy: float
    steps: int
    added: int = 0  # how many fixes at the end of the lineage this attempt added over the one it was built on
    kept: bool = False  # committed to: healthy, and better than every healthy attempt before it

    @property
    def healthy(self) -> bool:
        return not self.diagnoses

    @property
    def applied(self) -> list[tuple[Diagnosis, Fix]]:
        """The fixes this attempt added over the one it was built on."""
        return self.lineage[len(self.lineage) - self.added :] if self.added else []


@dataclass
class RepairPlan:
    """The probes, in order, and the configuration to train: the best healthy one, else the last one."""

    attempts: list[Attempt] = field(default_factory=list)

    @property
    def chosen(self) -> Attempt:
        kept = [a for a in self.attempts if a.kept]
        return kept[-1] if kept else self.attempts[-1]

    @property
    def config(self) -> TrainConfig:
        return self.chosen.config

    @property
    def applied(self) -> list[tuple[Diagnosis, Fix]]:
        """The fixes from the given configuration to the chosen one, in the order applied."""
        return self.chosen.lineage


Probe = Callable[[TrainConfig, Callable[[Diagnosis], bool]], Result]
OnFix = Callable[[Diagnosis, Fix], None]  # told of each fix repair applies, for the diagnosis it answers


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


def _usable(fix: Fix, settings: Settings, tried: set[tuple[tuple[str, str], ...]]) -> bool:
    if not fix.changes or "hidden" in fix.changes or _key(fix) in tried:
        return False
    return not fix.in_effect(settings) and fix.fits(settings)


def choose_fixes(
    diagnoses: Sequence[Diagnosis], config: TrainConfig, tried: set[tuple[tuple[str, str], ...]], every: bool = False
) -> list[tuple[Diagnosis, Fix]]:
    """What to change next: every pre-training check's first usable fix, else the first fix in repair order
    (``every``: all usable fixes, in repair order)."""
    settings = settings_of(config)
    usable = [(d, f) for d in diagnoses for f in d.fix if _usable(f, settings, tried)]
    if every:
        return sorted(usable, key=lambda pair: pair[1].order)
    before_training: list[tuple[Diagnosis, Fix]] = []
    for diagnosis in (d for d in diagnoses if d.step == 0):
        first = next((f for d, f in usable if d is diagnosis), None)
        changed = {k for _, f in before_training for k in f.changes}
        if first is not None and not changed & set(first.changes):
            before_training.append((diagnosis, first))
    if before_training:
        return sorted(before_training, key=lambda pair: pair[1].order)
    usable.sort(key=lambda pair: pair[1].order)  # stable: the diagnoses' own order breaks ties
    return usable[:1]


BETTER = 0.005  # a healthy alternative is kept when its probe's accuracy is higher by at least this much


def find_repair(config: TrainConfig, probe: Probe, *, max_attempts: int = MAX_ATTEMPTS,
                on_fix: OnFix | None = None) -> RepairPlan:  # fmt: skip
    """Probe ``config``; fix it causes first until a probe is healthy; then, while attempts remain, probe the
    diagnoses' other fixes on the healthy configuration and keep one only when its probe does better."""
    plan = RepairPlan()
    tried: set[tuple[tuple[str, str], ...]] = set()
    seen: list[Diagnosis] = []  # every diagnosis of every probe: the alternatives come from here
    current, lineage, added = config, [], 0
    while True:
        attempt = _probe(probe, current, lineage, tried, first=not plan.attempts)
        attempt.added = added
        plan.attempts.append(attempt)
        best = [a for a in plan.attempts if a.kept]
        if attempt.healthy and (not best or attempt.accuracy >= best[-1].accuracy + BETTER):
            attempt.kept = True
        if not best:  # until a probe is healthy each attempt builds on the last: its diagnoses are the lineage's
            seen += [d for d in attempt.diagnoses if d not in seen]
        if len(plan.attempts) > max_attempts:
            return plan
        base = plan.chosen if any(a.kept for a in plan.attempts) else attempt
        if base.healthy:  # look for better among the fixes not tried yet, one at a time
            candidates = [pair for pair in choose_fixes(seen, base.config, tried, every=True)][:1]
        else:
            candidates = choose_fixes(attempt.diagnoses, base.config, tried)
        current, lineage, added = base.config, list(base.lineage), 0
        for diagnosis, fix in candidates:
            tried.add(_key(fix))
            try:
                current = current.with_overrides(**fix.changes)
            except (ConfigError, TypeError):
                continue  # a change this configuration cannot take; it counts as tried
            lineage.append((diagnosis, fix))
            added += 1
            if on_fix is not None:
                on_fix(diagnosis, fix)
        if not added:
            return plan


def _probe(probe: Probe, config: TrainConfig, lineage: list[tuple[Diagnosis, Fix]],
           tried: set[tuple[tuple[str, str], ...]], first: bool) -> Attempt:  # fmt: skip
    settings = settings_of(config)

    def stop_for(diagnosis: Diagnosis) -> bool:
        """Stop the probe at a diagnosis repair can act on (which fix to take is chosen once, after the probe).

        The first probe runs on past the checks before training: its accuracy is the verdict's baseline."""
        return (diagnosis.step > 0 or not first) and any(_usable(f, settings, tried) for f in diagnosis.fix)

    result = probe(config, stop_for)
    last = result.history.last
    accuracy = math.nan
    if last is not None:
        accuracy = last.val_accuracy if math.isfinite(last.val_accuracy) else last.train_accuracy
    steps = last.step if last else 0
    return Attempt(config, lineage, list(result.diagnoses), accuracy, result.test_accuracy, steps)


LEARNED = 0.1  # a repaired run ends at least this far above chance (1 / classes)
DEEP_AND_NARROW = (10, 16)  # at least 10 hidden layers of at most 16 units: hard to train from any start


def architecture_limit(hidden: Sequence[int], classes: int) -> str | None:
    """A sentence when the hidden sizes themselves may keep the network from learning (repair keeps them)."""
    narrowest = min(hidden, default=classes)
    if narrowest < classes:
        return (
            f"the architecture may be the limit: a hidden layer of {narrowest} units is narrower than the "
            f"{classes} classes"
        )
    if len(hidden) >= DEEP_AND_NARROW[0] and max(hidden) <= DEEP_AND_NARROW[1]:
        return f"the architecture may be the limit: {len(hidden)} hidden layers of at most {max(hidden)} units"
    return None


def verdict(plan: RepairPlan, final: Result) -> RepairReport:
    """The honest summary of a repair: the first probe against the full run of the chosen configuration."""
    before, after = plan.attempts[0].test_accuracy, final.test_accuracy
    changes = [
        {"symptom": d.symptom, "layer": d.layer, "step": d.step, "changes": dict(f.changes)} for d, f in plan.applied
    ]
    remaining = [d.headline() for d in final.diagnoses]
    flags = "; ".join(f.python() for _, f in plan.applied)  # the TrainConfig arguments it changed
    count = len(plan.attempts) - 1  # probes after the first
    if not changes and not remaining:
        text = f"nothing to repair: no problem found (accuracy {after:.4f})"
        return RepairReport(False, text, before, after, count, changes)
    classes = final.net.n_outputs
    if changes and not remaining and after >= before + BETTER and after >= 1 / classes + LEARNED:
        text = f"repaired: accuracy {before:.4f} -> {after:.4f} after {count} attempt{'s' * (count != 1)} ({flags})"
        return RepairReport(True, text, before, after, count, changes)
    tried = f"tried {flags}" if changes else "found no change to try"
    left = ", ".join(remaining) if remaining else f"accuracy {before:.4f} -> {after:.4f}, no better"
    text = f"not repaired: {tried}; what remains is {left}"
    if (limit := architecture_limit(final.config.hidden, classes)) is not None:
        text = f"{text}; {limit}"
    return RepairReport(False, text, before, after, count, changes, remaining)
