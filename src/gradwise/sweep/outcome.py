"""A trial's outcome in one word, from its diagnoses and its history.

``acc`` is the final validation accuracy (the final training accuracy when there is no validation split;
NaN counts as 0). The first rule that holds names the outcome; the onset step is when it began:

1. ``non_finite``: a ``non_finite`` diagnosis, or a non-finite training loss in any epoch.
   Onset: the earliest such diagnosis, else the first epoch record with a non-finite loss.
2. ``diverged``: an epoch's training loss that rose above the best epoch before it, by the one
   definition of diverging (``health/divergence.rose``, the first epoch as the start); or an
   ``exploding_gradient`` or ``lr_too_high`` diagnosis while acc < poor. Onset: the earliest of either.
3. ``saturated``: a ``saturation``, ``dead_units``, ``vanishing_gradient`` or ``underflow`` diagnosis while
   acc < poor. Onset: the earliest such diagnosis.
4. ``stalled``: acc <= chance + margin, i.e. it learned next to nothing (with a ``plateau`` or
   ``lr_too_low`` diagnosis or none). Onset: the earliest such diagnosis, if any.
5. ``slow``: acc < good: it learns, but has not got there within the budget.
6. ``trained``: acc >= good.

A diagnosis names the outcome only while acc < poor: a run that reached 0.89 with a warning about its
learning rate (batches of one make the loss noisy enough to raise one) is slow, not diverged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gradwise.health.diagnosis import Diagnosis
from gradwise.health.divergence import rose
from gradwise.health.symptoms import of_family
from gradwise.train.history import EpochRecord, History

OUTCOMES = ("trained", "slow", "stalled", "saturated", "diverged", "non_finite")



@dataclass(frozen=True)
class Thresholds:
    """Accuracy at or above ``good`` is trained; below ``poor`` a failure diagnosis names the outcome;
    within ``margin`` of chance (1 / classes) the run stalled."""

    good: float = 0.9
    poor: float = 0.5
    margin: float = 0.1


def classify(
    history: History,
    diagnoses: Sequence[Diagnosis],
    final_val_accuracy: float | None,
    *,
    classes: int = 10,
    thresholds: Thresholds = Thresholds(),
) -> tuple[str, int | None]:
    """(outcome, onset step or None) by the rules in this module's docstring."""
    acc = final_val_accuracy if final_val_accuracy is not None and math.isfinite(final_val_accuracy) else 0.0
    failing = acc < min(thresholds.poor, thresholds.good)

    def onset(symptoms: Sequence[str]) -> int | None:
        return min((d.step for d in diagnoses if d.symptom in symptoms), default=None)

    non_finite_epoch = next((r.step for r in history.epochs if not math.isfinite(r.train_loss)), None)
    if (step := onset(("non_finite",))) is not None or non_finite_epoch is not None:
        return "non_finite", step if step is not None else non_finite_epoch

    rise = _diverged_epoch(history)
    diverging = onset(of_family("diverging")) if failing else None
    if rise is not None or diverging is not None:
        return "diverged", min(s for s in (rise, diverging) if s is not None)

    if failing and (step := onset(of_family("saturating"))) is not None:
        return "saturated", step
    if acc <= 1.0 / classes + thresholds.margin:
        return "stalled", onset(of_family("stalling"))
    return ("slow" if acc < thresholds.good else "trained"), None


def _diverged_epoch(history: History) -> int | None:
    """The step of the first epoch whose mean training loss rose out of the basin (divergence.rose)."""
    losses = history.metric("train_loss")
    for i, record in enumerate(history.epochs[1:], start=1):
        best = min((v for v in losses[:i] if math.isfinite(v)), default=math.inf)
        if math.isfinite(record.train_loss) and rose(record.train_loss, best, losses[0]):
            return record.step
    return None


def classify_record(record: dict[str, Any], thresholds: Thresholds = Thresholds()) -> tuple[str, int | None]:
    """``classify`` applied to a trial's JSON record (results.py), e.g. again with other thresholds."""
    history = History([EpochRecord.from_json(r) for r in record.get("history", [])], record.get("stop_reason", ""))
    diagnoses = [Diagnosis.from_json(d) for d in record.get("diagnoses", [])]
    accuracy = record.get("val_accuracy")  # None without a validation split
    if accuracy is None:
        accuracy = record.get("train_accuracy")
    return classify(history, diagnoses, accuracy, classes=record.get("classes", 10), thresholds=thresholds)
