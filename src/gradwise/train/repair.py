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
- once a probe is quiet (healthy, or only stalling: a loss that falls too slowly), the attempts left try the
  diagnoses' other fixes on it, one at a time, and keep one only when its probe is quiet and more accurate
  (by ``BETTER``): each change is probed
  before the run commits to it;
- a quiet probe is not yet a repaired one: it is measured against the **yardstick**, a probe of the same
  data, hidden sizes and batch trained with the healthy recipe for them (``health.suspects.yardstick_changes``:
  matched softmax and cross-entropy, the initializer made for the units, Adam at 1e-3). A probe that learned
  less than ``YARDSTICK_SHARE`` of what the yardstick learned (above chance) is diagnosed ``slow_learning``, whose
  fixes (the recipe's settings, causes first) are tried like the others;
- never worse than doing nothing: when the configuration repair would choose probes below the given one (by
  more than ``BETTER``), the given one is trained, and the verdict says so.

``verdict`` compares the first probe with the full run of the repaired configuration, honestly:
"repaired: accuracy X -> Y after N attempts (changes ...)" or "not repaired: tried ...; what remains is ...".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from gradwise.health import thresholds as T
from gradwise.health.diagnosis import Diagnosis, problems
from gradwise.health.explain import explain
from gradwise.health.fixes import Fix
from gradwise.health.settings import Settings
from gradwise.health.suspects import yardstick_changes
from gradwise.health.symptoms import SYMPTOMS
from gradwise.train.config import ConfigError, TrainConfig, settings_of
from gradwise.train.result import RepairReport, Result

PROBE_STEPS = 300  # enough for the rules' 100-step window and three probes in a row after the warm-up
PROBE_SECONDS = 30.0
MAX_ATTEMPTS = 5  # probes after the first
BETTER = 0.005  # a quiet alternative is kept when its probe's accuracy is higher by at least this much
LEARNED = 0.1  # a repaired run ends at least this far above chance (1 / classes)


@dataclass
class Attempt:
    """One probe: the configuration, the fixes that lead to it from the given one, and what it found."""

    config: TrainConfig
    lineage: list[tuple[Diagnosis, Fix]]  # every fix from the given configuration to this one, in order
    diagnoses: list[Diagnosis]
    accuracy: float  # validation accuracy at the end of the probe (training accuracy without a validation split)
    test_accuracy: float
    steps: int
    classes: int = 0  # the network's outputs: chance is 1 / classes
    added: int = 0  # how many fixes at the end of the lineage this attempt added over the one it was built on
    kept: bool = False  # committed to: quiet, and better than every attempt kept before it

    @property
    def healthy(self) -> bool:
        """Nothing found, or only notes on the data."""
        return not problems(self.diagnoses)

    @property
    def quiet(self) -> bool:
        """No alarm but slowness (a stall: the loss falls too slowly) or notes on the data: a run to build on."""
        return all(SYMPTOMS[d.symptom].family == "stalling" for d in problems(self.diagnoses))

    @property
    def applied(self) -> list[tuple[Diagnosis, Fix]]:
        """The fixes this attempt added over the one it was built on."""
        return self.lineage[len(self.lineage) - self.added :] if self.added else []

    @property
    def score(self) -> float:
        """The probe's accuracy, a probe that ended with none counting as the worst."""
        return self.accuracy if math.isfinite(self.accuracy) else -math.inf

    def share_of(self, yardstick: Attempt) -> float:
        """How much of what the yardstick learned above chance this probe learned (1: as much)."""
        chance = 1 / max(self.classes, 1)
        return (self.score - chance) / (yardstick.accuracy - chance)


@dataclass
class RepairPlan:
    """The probes, in order, and the configuration to train: the best quiet one, else the last one (but never
    one that probed below the given configuration)."""

    attempts: list[Attempt] = field(default_factory=list)
    yardstick: Attempt | None = None  # the healthy recipe's probe; None until a quiet probe needed it

    @property
    def best(self) -> Attempt:
        """The last attempt kept (quiet and better than those before), else the last one."""
        kept = [a for a in self.attempts if a.kept]
        return kept[-1] if kept else self.attempts[-1]

    @property
    def reverted(self) -> bool:
        """True when the best attempt probed below the given configuration: repair then trains the given one."""
        first, best = self.attempts[0], self.best
        return best is not first and best.score + BETTER < first.score

    @property
    def chosen(self) -> Attempt:
        return self.attempts[0] if self.reverted else self.best

    def far_below(self, attempt: Attempt) -> bool:
        """True when a quiet ``attempt`` is short of the yardstick: the given configuration when it learned less
        than ``YARDSTICK_SHARE`` of what the yardstick learned, a changed one below ``YARDSTICK_SHARE_REPAIRING``
        of it or below the given one's probe (a repair is not done while it is worse than doing nothing)."""
        yardstick = self.yardstick
        if yardstick is None or not yardstick.healthy or not math.isfinite(yardstick.accuracy):
            return False
        chance = 1 / max(attempt.classes, 1)
        if yardstick.accuracy < chance + LEARNED:
            return False  # the recipe itself learns nothing here: no yardstick
        if attempt is self.attempts[0]:
            return attempt.share_of(yardstick) < T.YARDSTICK_SHARE
        worse = attempt.score < self.attempts[0].score
        return worse or attempt.share_of(yardstick) < T.YARDSTICK_SHARE_REPAIRING

    @property
    def config(self) -> TrainConfig:
        return self.chosen.config

    @property
    def applied(self) -> list[tuple[Diagnosis, Fix]]:
        """The fixes from the given configuration to the chosen one, in the order applied."""
        return self.chosen.lineage


Probe = Callable[[TrainConfig, Callable[[Diagnosis], bool]], Result]
OnFix = Callable[[Diagnosis, Fix], None]  # told of each fix repair applies, for the diagnosis it answers


def probe_config(config: TrainConfig, seconds: float = PROBE_SECONDS) -> TrainConfig:
    """The configuration watched for at most ``seconds``: monitor on, a blow-up stops it, nothing saved.

    Its length stays the full run's, so the learning-rate schedule is the one the run will follow; the probe's
    caller stops it after its first steps (``runner.probe``)."""
    return config.with_overrides(
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




def find_repair(config: TrainConfig, probe: Probe, *, max_attempts: int = MAX_ATTEMPTS,
                on_fix: OnFix | None = None) -> RepairPlan:  # fmt: skip
    """Probe ``config``; fix it causes first until a probe is quiet; then, while attempts remain, probe the
    diagnoses' other fixes (and the recipe's, while it is short of the yardstick) on the quiet configuration and
    keep one only when its probe does better."""
    plan = RepairPlan()
    tried: set[tuple[tuple[str, str], ...]] = set()
    seen: list[Diagnosis] = []  # every diagnosis of every probe: the alternatives come from here
    current, lineage, added = config, [], 0
    while True:
        attempt = _probe(probe, current, lineage, tried, first=not plan.attempts)
        attempt.added = added
        plan.attempts.append(attempt)
        best = [a for a in plan.attempts if a.kept]
        if attempt.quiet and (not best or attempt.accuracy >= best[-1].accuracy + BETTER):
            attempt.kept = True
        if not best:  # until a probe is quiet each attempt builds on the last: its diagnoses are the lineage's
            seen += [d for d in attempt.diagnoses if d not in seen]
        if len(plan.attempts) > max_attempts:
            return plan
        base = plan.best if any(a.kept for a in plan.attempts) else attempt
        if base.quiet:  # look for better among the fixes not tried yet, one at a time
            pool = [*base.diagnoses, *_bracket(plan, base), *seen, *_slow(plan, probe, base)]
            candidates = choose_fixes(pool, base.config, tried, every=True)[:1]
        else:
            candidates = choose_fixes(base.diagnoses, base.config, tried)
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


def yardstick_config(config: TrainConfig) -> TrainConfig | None:
    """The healthy recipe for ``config``'s data, hidden sizes and batch (None when it cannot take the recipe)."""
    try:
        return config.with_overrides(**yardstick_changes(settings_of(config)))
    except (ConfigError, TypeError):
        return None


def _slow(plan: RepairPlan, probe: Probe, quiet: Attempt) -> list[Diagnosis]:
    """``slow_learning`` when the quiet attempt is far below the yardstick (probed once, when first needed)."""
    if plan.yardstick is None and (recipe := yardstick_config(plan.attempts[0].config)) is not None:
        result = probe(recipe, lambda diagnosis: False)
        plan.yardstick = _attempt_of(recipe, [], result)
    if not plan.far_below(quiet):
        return []
    assert plan.yardstick is not None
    evidence: dict[str, float | int | str] = {
        "accuracy": round(quiet.accuracy, 4),
        "yardstick": round(plan.yardstick.accuracy, 4),
        "steps": quiet.steps,
    }
    cause, fixes = explain("slow_learning", None, settings_of(quiet.config))
    return [Diagnosis("slow_learning", None, quiet.steps, evidence, cause, fixes)]


BLEW_UP = ("diverging", "non_finite")  # the families of a rate too high


def _bracket(plan: RepairPlan, quiet: Attempt) -> list[Diagnosis]:
    """After a cut rate quieted a run that blew up, the rate halfway (geometrically) between the two, as a fix for
    the blow-up: a tenfold cut overshoots by up to ten, and a rate too small learns too slowly."""
    rate = quiet.config.lr
    failed = [
        (a.config.lr, d)
        for a in plan.attempts
        if a.config.lr > rate and a.config.with_overrides(lr=rate) == quiet.config
        for d in a.diagnoses
        if SYMPTOMS[d.symptom].family in BLEW_UP
    ]
    if not failed:
        return []
    lowest, blow_up = min(failed, key=lambda pair: pair[0])
    middle = float(f"{math.sqrt(rate * lowest):.3g}")
    fix = Fix({"lr": middle}, "between the rate that blew up and the one that is quiet", basis={"lr": rate})
    return [replace(blow_up, fix=(fix,))]


def _attempt_of(config: TrainConfig, lineage: list[tuple[Diagnosis, Fix]], result: Result) -> Attempt:
    last = result.history.last
    accuracy = math.nan
    if last is not None:
        accuracy = last.val_accuracy if math.isfinite(last.val_accuracy) else last.train_accuracy
    steps = last.step if last else 0
    classes = result.net.n_outputs
    return Attempt(config, lineage, list(result.diagnoses), accuracy, result.test_accuracy, steps, classes)


def _probe(probe: Probe, config: TrainConfig, lineage: list[tuple[Diagnosis, Fix]],
           tried: set[tuple[tuple[str, str], ...]], first: bool) -> Attempt:  # fmt: skip
    settings = settings_of(config)

    def stop_for(diagnosis: Diagnosis) -> bool:
        """Stop the probe at a diagnosis repair can act on (which fix to take is chosen once, after the probe).

        The first probe runs on past the checks before training: its accuracy is the verdict's baseline."""
        return (diagnosis.step > 0 or not first) and any(_usable(f, settings, tried) for f in diagnosis.fix)

    return _attempt_of(config, lineage, probe(config, stop_for))


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
    """The honest summary of a repair: the first probe against the full run of the chosen configuration, with
    the yardstick's probe beside them when repair measured one."""
    before, after = plan.attempts[0].test_accuracy, final.test_accuracy
    changes = [
        {"symptom": d.symptom, "layer": d.layer, "step": d.step, "changes": dict(f.changes)} for d, f in plan.applied
    ]
    remaining = [d.headline() for d in problems(final.diagnoses)]
    flags = "; ".join(f.python() for _, f in plan.applied)  # the TrainConfig arguments it changed
    count = len(plan.attempts) - 1  # probes after the first
    yardstick = plan.yardstick.test_accuracy if plan.yardstick is not None else None
    beside = f" (yardstick {yardstick:.4f})" if yardstick is not None else ""

    def report(repaired: bool, text: str) -> RepairReport:
        return RepairReport(repaired, text + beside, before, after, count, changes, remaining, yardstick)

    if plan.reverted:
        tried = "; ".join(f.python() for a in plan.attempts[1:] for _, f in a.applied)
        first, best = plan.attempts[0].accuracy, plan.best.accuracy
        return report(False, f"not repaired: the changes tried ({tried}) probed below the given configuration "
                      f"({best:.4f} against {first:.4f}), so it trained as given: accuracy {after:.4f}")  # fmt: skip
    if not changes and not remaining:
        return report(False, f"nothing to repair: no problem found (accuracy {after:.4f})")
    classes = final.net.n_outputs
    slow = plan.far_below(plan.chosen)
    if changes and not remaining and not slow and after >= before + BETTER and after >= 1 / classes + LEARNED:
        return report(True, f"repaired: accuracy {before:.4f} -> {after:.4f} after {count} attempt{'s' * (count != 1)} "
                      f"({flags})")  # fmt: skip
    tried = f"tried {flags}" if changes else "found no change to try"
    left = ", ".join(remaining) if remaining else f"accuracy {before:.4f} -> {after:.4f}, no better"
    if slow and not remaining:
        left = f"accuracy {before:.4f} -> {after:.4f}, still far below the healthy recipe"
    text = f"not repaired: {tried}; what remains is {left}"
    if (limit := architecture_limit(final.config.hidden, classes)) is not None:
        text = f"{text}; {limit}"
    return report(False, text)
