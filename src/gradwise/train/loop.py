"""The training loop: ``grad`` and ``move`` composed over a stream of batches until a stop condition holds."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gradwise.data.stream import Stream
from gradwise.nn.losses import Loss, get_loss
from gradwise.nn.network import Network, grad
from gradwise.optim.base import State, Transform, move
from gradwise.train.evaluation import evaluate
from gradwise.train.history import EpochRecord, History
from gradwise.train.stopping import Progress, StopCondition, no_improvement

Array = np.ndarray


class Callback:
    """Hooks at the ends of steps and epochs; the health monitor and reports hang here."""

    def on_step(self, progress: Progress, loss: float) -> None:
        """After every optimizer step."""

    def on_epoch(self, progress: Progress, record: EpochRecord) -> None:
        """After every epoch (and after a partial epoch the run stopped in)."""

    def on_end(self, history: History) -> None:
        """Once, when the run stops."""


@dataclass
class Run:
    """Everything ``fit`` changes as it goes: the optimizer state, the position, the history."""

    opt_state: State
    epoch: int = 0  # completed epochs
    step: int = 0  # optimizer steps taken
    history: History | None = None

    def __post_init__(self) -> None:
        self.history = self.history if self.history is not None else History()


def _restoring_condition(stop: StopCondition) -> no_improvement | None:
    return next((c for c in stop.parts() if isinstance(c, no_improvement) and c.restore_best), None)


def fit(
    net: Network,
    loss: str | Loss,
    optimizer: Transform,
    batches: Stream[tuple[Array, Array]],
    stop: StopCondition,
    *,
    validation: tuple[Array, Array] | None = None,
    callbacks: Sequence[Callback] = (),
    rng: np.random.Generator | int | None = 0,
    run: Run | None = None,
) -> History:
    """Train ``net`` on ``batches`` (epochs of (x, one-hot t)) until ``stop``; return the History.

    ``validation`` is (x, one-hot t) for the ``val_*`` metrics. ``rng`` drives dropout. Pass a
    ``run`` to continue one (its optimizer state, position and history are updated in place).
    """
    loss = get_loss(loss)
    rng = np.random.default_rng(rng)
    run = run if run is not None else Run(optimizer.init(net.params))
    history = run.history
    assert history is not None
    restoring = _restoring_condition(stop)
    best_params: dict[str, Array] | None = None
    started = time.perf_counter()

    def progress(epoch_done: bool) -> Progress:
        return Progress(run.epoch, run.step, time.perf_counter() - started, history, epoch_done)

    reason: str | None = None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        while reason is None:
            epoch_started = time.perf_counter()
            loss_sum, correct, seen, batches_done = 0.0, 0, 0, 0
            for x, t in batches.epoch(run.epoch):
                value, grads, y = grad(net, loss, x, t, rng=rng, with_output=True)
                # Accuracy from the training forward pass: free, and argmax of logits is argmax of p.
                correct += int((y.argmax(axis=1) == t.argmax(axis=1)).sum())
                seen += len(x)
                loss_sum += value
                batches_done += 1
                run.opt_state = move(net.params, grads, optimizer, run.opt_state)
                run.step += 1
                p = progress(epoch_done=False)
                for callback in callbacks:
                    callback.on_step(p, value)
                if (reason := stop.reason(p)) is not None:
                    break
            run.epoch += 1 if reason is None else 0
            val_loss, val_accuracy = evaluate(net, loss, *validation) if validation else (np.nan, np.nan)
            record = EpochRecord(
                epoch=len(history.epochs) + 1,
                step=run.step,
                train_loss=loss_sum / max(batches_done, 1),
                train_accuracy=correct / seen if seen else np.nan,
                val_loss=val_loss,
                val_accuracy=val_accuracy,
                seconds=time.perf_counter() - epoch_started,
            )
            history.epochs.append(record)
            if restoring is not None and restoring.best_epoch(history) == len(history.epochs) - 1:
                best_params = {k: v.copy() for k, v in net.params.items()}
            p = progress(epoch_done=True)
            for callback in callbacks:
                callback.on_epoch(p, record)
            if reason is None:
                reason = stop.reason(p)
            if reason is None and batches_done == 0:
                reason = "the data stream is empty"
    if best_params is not None and restoring is not None:
        best = restoring.best_epoch(history)
        if best is not None and best != len(history.epochs) - 1:
            for name, value in best_params.items():
                net.params[name][...] = value
            reason += f"; restored the weights of epoch {best + 1}"
    history.stop_reason = reason
    for callback in callbacks:
        callback.on_end(history)
    return history
