"""A trial's outcome from constructed histories and diagnoses, and the doom watch on constructed losses."""

import math

import pytest

from gradwise.health.diagnosis import Diagnosis
from gradwise.sweep.outcome import Thresholds, classify, classify_record
from gradwise.train.history import EpochRecord, History


def history(*losses, steps_per_epoch=100):
    records = [
        EpochRecord(i + 1, (i + 1) * steps_per_epoch, loss, 0.5, loss, 0.5, 1.0) for i, loss in enumerate(losses)
    ]
    return History(records)


def found(symptom, step):
    return Diagnosis(symptom, None, step)


@pytest.mark.parametrize(
    ("losses", "diagnoses", "accuracy", "expected"),
    [
        # 1. non_finite: a diagnosis, or a NaN loss in the history (onset: that epoch's last step)
        ((2.3,), [found("non_finite", 17)], 0.1, ("non_finite", 17)),
        ((2.3, math.nan), [], 0.1, ("non_finite", 200)),
        ((2.3,), [found("saturation", 5), found("non_finite", 40)], 0.1, ("non_finite", 40)),
        # 2. diverged: the loss rose above 3x the first epoch's (2.0 x 3 = 6.0 < 6.5), or a diagnosis
        ((2.0, 6.5), [], 0.1, ("diverged", 200)),
        ((2.0, 5.9), [], 0.95, ("trained", None)),
        ((2.3,), [found("lr_too_high", 30)], 0.3, ("diverged", 30)),
        ((2.3,), [found("exploding_gradient", 60), found("lr_too_high", 30)], 0.3, ("diverged", 30)),
        ((2.3,), [found("lr_too_high", 30)], 0.89, ("slow", None)),  # a warning in a run that learns
        ((2.3,), [found("lr_too_high", 30)], 0.95, ("trained", None)),
        # 3. saturated, while the accuracy is below good
        ((2.3,), [found("output_loss_mismatch", 0), found("saturation", 50)], 0.11, ("saturated", 50)),
        ((2.3,), [found("vanishing_gradient", 70), found("dead_units", 20)], 0.45, ("saturated", 20)),
        ((2.3,), [found("saturation", 50)], 0.6, ("slow", None)),
        ((2.3,), [found("saturation", 50)], 0.93, ("trained", None)),
        # 4. stalled: within 0.1 of chance (0.1 for ten classes), with or without a plateau
        ((2.3,), [], 0.2, ("stalled", None)),
        ((2.3,), [found("plateau", 40)], 0.15, ("stalled", 40)),
        ((2.3,), [], math.nan, ("stalled", None)),
        ((2.3,), [], None, ("stalled", None)),
        # 5. slow and 6. trained
        ((2.3,), [found("plateau", 40)], 0.21, ("slow", None)),
        ((2.3,), [], 0.899, ("slow", None)),
        ((2.3,), [], 0.9, ("trained", None)),
    ],
)
def test_rules_in_order(losses, diagnoses, accuracy, expected):
    assert classify(history(*losses), diagnoses, accuracy) == expected


def test_thresholds_and_classes_move_the_lines():
    assert classify(history(0.5), [], 0.6, thresholds=Thresholds(good=0.5)) == ("trained", None)
    assert classify(history(0.5), [found("saturation", 9)], 0.6, thresholds=Thresholds(poor=0.7)) == ("saturated", 9)
    assert classify(history(0.5), [], 0.55, classes=2) == ("stalled", None)  # chance is 0.5 for two classes
    assert classify(history(0.5), [], 0.65, classes=2) == ("slow", None)


def test_a_record_is_classified_from_its_json():
    record = {
        "val_accuracy": None,  # no validation split: the training accuracy counts
        "train_accuracy": 0.95,
        "classes": 10,
        "history": [r.to_json() for r in history(2.3).epochs],
        "diagnoses": [found("lr_too_high", 30).to_json()],
    }
    assert classify_record(record) == ("trained", None)
    assert classify_record({**record, "train_accuracy": 0.4}) == ("diverged", 30)
    assert classify_record({**record, "train_accuracy": 0.4}, Thresholds(good=0.3)) == ("trained", None)
    assert classify_record({**record, "train_accuracy": 0.6}) == ("slow", None)


class FakeSession:
    stop = None
