import re

import numpy as np
import pytest

from gradwise import mlp, optim
from gradwise.data.stream import batch, from_epochs, shuffle, source
from gradwise.nn.network import grad
from gradwise.train.evaluation import evaluate
from gradwise.train.loop import Callback, Run, fit
from gradwise.train.stopping import max_epochs, max_steps, no_improvement, target


def blobs(n=600, seed=0, classes=3, dims=5):
    """Gaussian blobs: easy enough to learn in a few epochs, hard enough to need them."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2, size=(classes, dims))
    labels = rng.integers(0, classes, size=n)
    x = (centres[labels] + rng.normal(size=(n, dims))).astype(np.float32)
    return x, np.eye(classes, dtype=np.float32)[labels]


def train_once(seed=0, dtype=np.float32, epochs=3, dropout=0.2, stop=None, validation=True):
    x, t = blobs()
    net = mlp([5, 16, 3], "relu", "softmax", dropout=dropout, rng=seed, dtype=dtype)
    batches = source(x[:500], t[:500]) | shuffle(seed) | batch(32)
    history = fit(
        net,
        "ce",
        optim.adam(0.01),
        batches,
        stop or max_epochs(epochs),
        validation=(x[500:], t[500:]) if validation else None,
        rng=seed,
    )
    return net, history


def test_learns_and_records_every_epoch():
    _, history = train_once(epochs=5)
    assert len(history) == 5 and history.stop_reason == "reached 5 epochs"
    assert [r.epoch for r in history.epochs] == [1, 2, 3, 4, 5]
    assert [r.step for r in history.epochs] == [16, 32, 48, 64, 80]  # ceil(500 / 32) = 16 steps per epoch
    assert history.epochs[-1].train_loss < history.epochs[0].train_loss
    assert history.epochs[-1].val_accuracy > 0.9


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_seed_same_history_and_weights(dtype):
    net_a, history_a = train_once(seed=3, dtype=dtype)
    net_b, history_b = train_once(seed=3, dtype=dtype)
    assert history_a.numbers() == history_b.numbers()
    for name in net_a.params:
        np.testing.assert_array_equal(net_a.params[name], net_b.params[name])
    _, history_c = train_once(seed=4, dtype=dtype)
    assert history_c.numbers() != history_a.numbers()


def test_max_steps_stops_inside_an_epoch_and_records_it():
    _, history = train_once(stop=max_epochs(10) | max_steps(20))
    assert history.stop_reason == "reached 20 steps"
    assert [r.step for r in history.epochs] == [16, 20]


def test_target_stops_early():
    _, history = train_once(stop=max_epochs(50) | target(0.9))
    assert len(history) < 50 and history.epochs[-1].val_accuracy >= 0.9
    assert all(r.val_accuracy < 0.9 for r in history.epochs[:-1])


def test_no_improvement_restores_the_best_weights():
    x, t = blobs()
    net = mlp([5, 64, 3], "relu", "softmax", rng=0)
    # A learning rate this high makes validation loss bounce, so the best epoch is rarely the last.
    batches = source(x[:500], t[:500]) | shuffle(0) | batch(16)
    snapshots = []

    class Snapshot(Callback):
        def on_epoch(self, progress, record):
            snapshots.append({k: v.copy() for k, v in net.params.items()})

    history = fit(
        net,
        "ce",
        optim.sgd(2.0),
        batches,
        max_epochs(30) | no_improvement(patience=2),
        validation=(x[500:], t[500:]),
        callbacks=[Snapshot()],
    )
    best = int(np.nanargmin(history.metric("val_loss")))
    assert "did not improve for 2 epochs" in history.stop_reason
    assert best < len(history) - 1
    assert history.stop_reason.endswith(f"restored the weights of epoch {best + 1}")
    for name, value in net.params.items():
        np.testing.assert_array_equal(value, snapshots[best][name])


def test_callbacks_see_every_step_and_epoch():
    events = []

    class Recorder(Callback):
        def on_step(self, progress, loss):
            events.append(("step", progress.step, progress.epoch_done))

        def on_epoch(self, progress, record):
            events.append(("epoch", record.epoch, progress.epoch_done))

        def on_end(self, history):
            events.append(("end", len(history), None))

    x, t = blobs(n=64)
    fit(mlp([5, 4, 3], rng=0), "ce", optim.sgd(0.1), source(x, t) | batch(32), max_epochs(2), callbacks=[Recorder()])
    assert events == [
        ("step", 1, False),
        ("step", 2, False),
        ("epoch", 1, True),
        ("step", 3, False),
        ("step", 4, False),
        ("epoch", 2, True),
        ("end", 2, None),
    ]


def test_run_continues_where_it_stopped():
    x, t = blobs()
    batches = source(x, t) | shuffle(1) | batch(50)
    opt = optim.momentum(0.05)

    straight = mlp([5, 8, 3], rng=0)
    fit(straight, "ce", opt, batches, max_epochs(4))

    resumed = mlp([5, 8, 3], rng=0)
    run = Run(opt.init(resumed.params))
    fit(resumed, "ce", opt, batches, max_epochs(2), run=run)
    history = fit(resumed, "ce", opt, batches, max_epochs(4), run=run)
    assert len(history) == 4 and run.step == 48
    for name in straight.params:
        np.testing.assert_array_equal(straight.params[name], resumed.params[name])


def test_empty_stream_stops_instead_of_spinning():
    stream = from_epochs(lambda epoch: [], length=0)
    history = fit(mlp([2, 2], rng=0), "ce", optim.sgd(0.1), stream, max_epochs(5))
    assert history.stop_reason == "the data stream is empty" and len(history) == 1


def test_epochs_are_numbered_by_data_passes_after_a_stop_inside_one():
    x, t = blobs()
    batches = source(x[:500], t[:500]) | shuffle(2) | batch(32)  # 16 steps an epoch
    opt = optim.adam(0.01)

    def start(seed: int):
        net = mlp([5, 16, 3], dropout=0.2, rng=seed)
        return net, Run(opt.init(net.params)), np.random.default_rng(seed)

    straight, run, rng = start(5)
    expected = fit(straight, "ce", opt, batches, max_epochs(3), validation=(x[500:], t[500:]), rng=rng, run=run)

    stopped, run, rng = start(5)
    first = fit(stopped, "ce", opt, batches, max_steps(20), validation=(x[500:], t[500:]), rng=rng, run=run)
    assert [(r.epoch, r.step) for r in first.epochs] == [(1, 16), (2, 20)]  # the partial epoch is the second pass
    history = fit(stopped, "ce", opt, batches, max_epochs(3), validation=(x[500:], t[500:]), rng=rng, run=run)
    assert [(r.epoch, r.step) for r in history.epochs] == [(1, 16), (2, 32), (3, 48)]
    assert history.numbers() == expected.numbers()  # the whole second epoch, as if it had never stopped
    for name in straight.params:
        np.testing.assert_array_equal(stopped.params[name], straight.params[name])


# One confident mistake: logits (80, 0) for a sample of class 1. Softmax cross-entropy is log(1 + e^80) = 80
# (to float32); binary cross-entropy of two sigmoid units is softplus(80) + softplus(0) - 0 = 80 + log 2.
# Clipping p at 1e-7 before the log would cap either near -log(1e-7) = 16.1 (15.94 in float32).
@pytest.mark.parametrize(("output", "loss", "expected"), [("softmax", "ce", 80.0), ("sigmoid", "bce", 80 + np.log(2))])
def test_evaluation_and_training_compute_one_loss(output, loss, expected):
    net = mlp([2, 2], "identity", output, rng=0)
    net.params["0.W"][...] = [[80.0, 0.0], [0.0, 0.0]]
    net.params["0.b"][...] = 0.0
    x, t = np.array([[1.0, 0.0]], np.float32), np.array([[0.0, 1.0]], np.float32)
    training_loss, _ = grad(net, loss, x, t)
    validation_loss, _ = evaluate(net, loss, x, t)
    assert training_loss == pytest.approx(expected, rel=1e-6)
    assert validation_loss == training_loss


@pytest.mark.parametrize(
    ("stop", "name", "metric"),
    [(no_improvement(2), "no_improvement", "val_loss"), (max_epochs(9) | target(0.9), "target", "val_accuracy")],
)
def test_a_condition_on_validation_metrics_without_validation_data_is_refused(stop, name, metric):
    # It used to stop after `patience` epochs of NaN while the training loss still fell.
    x, t = blobs(n=64)
    train_metric = metric.replace("val_", "train_")
    message = (
        f"{name} watches {metric}, but fit was given no validation data; pass validation=(x, t), "
        f"or watch the training data with metric='{train_metric}'"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        fit(mlp([5, 4, 3], rng=0), "ce", optim.sgd(0.1), source(x, t) | batch(32), stop)
