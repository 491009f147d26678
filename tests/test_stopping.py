import math

import pytest

from gradwise.train.history import EpochRecord, History
from gradwise.train.stopping import (
    Progress,
    close_enough,
    max_epochs,
    max_steps,
    no_improvement,
    target,
    time_budget,
)


def history(val_losses=(), train_losses=None, val_accuracies=None):
    n = len(val_losses) if val_losses else len(train_losses or val_accuracies)
    train_losses = train_losses or [1.0] * n
    val_accuracies = val_accuracies or [0.5] * n
    val_losses = val_losses or [math.nan] * n
    return History(
        [
            EpochRecord(i + 1, 10 * (i + 1), train_losses[i], 0.5, val_losses[i], val_accuracies[i], 1.0)
            for i in range(n)
        ]
    )


def at_epoch_end(h, seconds=0.0):
    return Progress(len(h), h.last.step if h.last else 0, seconds, h, epoch_done=True)


def test_max_epochs_and_max_steps():
    h = history([1, 1, 1])
    assert max_epochs(3).reason(at_epoch_end(h)) == "reached 3 epochs"
    assert max_epochs(4).reason(at_epoch_end(h)) is None
    mid = Progress(epoch=2, step=25, seconds=0, history=h, epoch_done=False)
    assert max_epochs(2).reason(mid) is None  # only at an epoch's end
    assert max_steps(25).reason(mid) == "reached 25 steps"
    assert max_steps(26).reason(mid) is None


def test_time_budget():
    h = history([1])
    assert time_budget(5).reason(Progress(0, 3, 5.0, h, False)) == "used the time budget of 5 s"
    assert time_budget(5).reason(Progress(0, 3, 4.9, h, False)) is None


def test_close_enough_compares_the_last_two_epoch_losses():
    assert close_enough(0.01).reason(at_epoch_end(history(train_losses=[0.5, 0.495]))) is not None
    assert close_enough(0.01).reason(at_epoch_end(history(train_losses=[0.5, 0.48]))) is None
    assert close_enough(0.01).reason(at_epoch_end(history(train_losses=[0.5]))) is None


def test_no_improvement_counts_epochs_since_the_best():
    # Best at epoch 2 (0.5); epochs 3 and 4 are worse: 2 epochs without improvement.
    h = history([0.9, 0.5, 0.6, 0.7])
    assert no_improvement(patience=2).reason(at_epoch_end(h)) == "val_loss did not improve for 2 epochs"
    assert no_improvement(patience=3).reason(at_epoch_end(h)) is None
    assert no_improvement().best_epoch(h) == 1


def test_no_improvement_min_delta_and_accuracy_direction():
    # 0.499 beats 0.5 by less than min_delta 0.01: not an improvement.
    h = history([0.5, 0.499, 0.498])
    assert no_improvement(patience=2, min_delta=0.01).reason(at_epoch_end(h)) is not None
    assert no_improvement(patience=2).reason(at_epoch_end(h)) is None
    acc = history(val_accuracies=[0.90, 0.95, 0.94], train_losses=[1, 1, 1])
    assert no_improvement(patience=1, metric="val_accuracy").best_epoch(acc) == 1
    assert no_improvement(patience=1, metric="val_accuracy").reason(at_epoch_end(acc)) is not None


def test_target():
    h = history(val_accuracies=[0.97, 0.981], train_losses=[1, 1])
    assert target(0.98).reason(at_epoch_end(h)) == "val_accuracy reached 0.981"
    assert target(0.99).reason(at_epoch_end(h)) is None
    assert target(0.5, metric="train_loss").reason(at_epoch_end(history(train_losses=[0.4]))) is not None


def test_or_and_and_combine():
    h = history([1, 1, 1])
    p = at_epoch_end(h)
    assert (max_epochs(10) | max_epochs(3)).reason(p) == "reached 3 epochs"
    assert (max_epochs(10) | max_epochs(5)).reason(p) is None
    assert (max_epochs(3) & no_improvement(patience=2)).reason(p) == (
        "reached 3 epochs and val_loss did not improve for 2 epochs"
    )
    assert (max_epochs(3) & target(0.9)).reason(p) is None
    combined = max_epochs(3) | (target(0.9) & no_improvement(2))
    assert [type(c).__name__ for c in combined.parts()].count("no_improvement") == 1


def test_unknown_metric():
    with pytest.raises(ValueError, match="no_improvement: unknown metric 'val_acc'; choose one of: train_loss"):
        no_improvement(metric="val_acc")
