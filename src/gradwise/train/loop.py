"""The training loop: ``grad`` and ``move`` composed over a stream of batches until a stop condition holds."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from gradwise import blas
from gradwise.data.stream import Stream
from gradwise.nn.layers import GradientSink
from gradwise.nn.losses import Loss, get_loss
from gradwise.nn.network import Network, Probe, grad
from gradwise.optim.base import State, Transform, move
from gradwise.seeds import dropout_rng, generator
from gradwise.train.evaluation import evaluate
from gradwise.train.history import EpochRecord, History
from gradwise.train.stopping import Progress, StopCondition, max_epochs, no_improvement

Array = np.ndarray


@dataclass
class Run:
    """Everything ``fit`` changes as it goes: the optimizer state, the position, the history."""

    opt_state: State
    epoch: int = 0  # completed epochs
    position: int = 0  # batches done in the current epoch
    step: int = 0  # optimizer steps taken
    history: History = field(default_factory=History)
    # The current epoch's running totals, so a run resumed mid-epoch records the same epoch line.
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    discarded: int = 0  # batches of the current epoch whose step a callback dropped (the guard's skip)

    def drop_partial_record(self) -> None:
        """Forget the record of the epoch the run stopped inside: it is recorded again, whole, when that epoch ends."""
        if self.history.epochs and self.history.epochs[-1].epoch > self.epoch:
            self.history.epochs.pop()


@dataclass
class Session:
    """What callbacks may read and change while ``fit`` runs (a rollback restores params and opt_state).

    A callback asks ``fit`` to stop by setting ``stop`` to a sentence saying why.
    """

    net: Network
    loss: Loss
    optimizer: Transform
    batches: Stream[tuple[Array, Array]]
    rng: np.random.Generator
    run: Run
    stop: str | None = None
    _totals: tuple[float, int, int] = (0.0, 0, 0)  # the epoch's running totals before the current step

    def discard_step(self) -> None:
        """Drop the current step's batch from the epoch's loss and accuracy (its step was undone)."""
        self.run.loss_sum, self.run.correct, self.run.seen = self._totals
        self.run.discarded += 1


class Callback:
    """Hooks around steps and epochs; the health monitor, the guard and reports hang here."""

    def on_begin(self, session: Session) -> None:
        """Once, before the first step."""

    def probe(self, step: int) -> Probe | None:
        """A probe to look inside step ``step`` (1-based), or None (the usual case: no cost)."""
        return None

    def on_gradients(self, step: int, grads: dict[str, Array]) -> None:
        """On probed steps only: the gradients, before the optimizer consumes them."""

    def on_step(self, progress: Progress, loss: float) -> None:
        """After every optimizer step."""

    def on_epoch(self, progress: Progress, record: EpochRecord) -> None:
        """After every epoch (and after a partial epoch the run stopped in)."""

    def on_end(self, history: History) -> None:
        """Once, when the run stops."""


def _check_watched_metrics(stop: StopCondition, validation: tuple[Array, Array] | None) -> None:
    """ValueError for a condition on a validation metric in a run without validation data (it would see NaN)."""
    if validation is not None:
        return
    for condition in stop.parts():
        metric = getattr(condition, "metric", "")
        if metric.startswith("val_"):
            raise ValueError(
                f"{type(condition).__name__} watches {metric}, but fit was given no validation data; pass "
                f"validation=(x, t), or watch the training data with metric='{metric.replace('val_', 'train_')}'"
            )


def train_step(
    net: Network,
    loss: Loss,
    optimizer: Transform,
    state: State,
    x: Array,
    t: Array,
    *,
    rng: np.random.Generator | None = None,
    probe: Probe | None = None,
    show: Callable[[dict[str, Array]], None] | None = None,
) -> tuple[float, Array, State]:
    """One step of ``fit`` on the batch (x, t): ``grad``, then ``move``; returns (loss, output, new state).

    A step with a ``probe`` computes the gradients into ``net.grads`` and ``show``s them before the update.
    Speed: a step without one puts them straight into the optimizer's arrays where the optimizer offers a
    sink (``Transform.sink``), so which path a step takes depends on whether it is probed: on its number.
    The output is the network's work array (the logits for a fused loss): read it before the next step.
    """
    direct = optimizer.sink if probe is None else None
    sink = GradientSink(*direct.target(net.params, state)) if direct is not None else None
    with blas.threads_for(len(x) * net.macs_per_sample):  # a small step runs on one BLAS thread
        value, grads, y = grad(net, loss, x, t, rng=rng, with_output=True, probe=probe, sink=sink)
        if direct is not None:
            return value, y, direct.finish(net.params, state)
        if probe is not None and show is not None:
            show(grads)
        return value, y, move(net.params, grads, optimizer, state)


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
    progress: bool | None = None,
) -> History:
    """Train ``net`` on ``batches`` (epochs of (x, one-hot t)) until ``stop``; return the History.

    ``validation`` is (x, one-hot t) for the ``val_*`` metrics. ``rng`` drives dropout (an int is a
    seed: its dropout stream, see ``gradwise.seeds``). Pass a
    ``run`` to continue one (its optimizer state, position and history are updated in place).
    A record's ``epoch`` is the data pass it closes (or stopped inside); a run continued inside an
    epoch replaces that epoch's partial record with the whole one. ``progress`` shows a bar and a line
    per epoch; None: only where output is watched (Jupyter, a terminal).
    """
    from gradwise.train.progress import EpochProgress, interactive  # progress.py subclasses Callback

    _check_watched_metrics(stop, validation)
    if progress or (progress is None and interactive()):
        epochs = min((c.n for c in stop.parts() if isinstance(c, max_epochs)), default=None)
        callbacks = [*callbacks, EpochProgress(epochs)]
    session = Session(
        net,
        get_loss(loss),
        optimizer,
        batches,
        generator(rng, dropout_rng),
        run if run is not None else Run(optimizer.init(net.params)),
    )
    run, history = session.run, session.run.history
    run.drop_partial_record()
    restoring = _restoring_condition(stop)
    best_params: dict[str, Array] | None = None
    started = time.perf_counter()
    for callback in callbacks:
        callback.on_begin(session)

    def progress_at(epoch_done: bool) -> Progress:
        return Progress(run.epoch, run.step, time.perf_counter() - started, history, epoch_done)

    def show(grads: dict[str, Array]) -> None:
        """A probed step's gradients, before the update, to every callback (run.step is the step before)."""
        for callback in callbacks:
            callback.on_gradients(run.step + 1, grads)

    reason: str | None = session.stop  # a callback may refuse to start (a resumed run that had stopped)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        while reason is None:
            epoch_started = time.perf_counter()
            for x, t in batches.epoch(run.epoch, start=run.position):
                probe = next((found for c in callbacks if (found := c.probe(run.step + 1)) is not None), None)
                session._totals = (run.loss_sum, run.correct, run.seen)
                value, y, run.opt_state = train_step(
                    net, session.loss, optimizer, run.opt_state, x, t, rng=session.rng, probe=probe, show=show
                )
                # Accuracy from the training forward pass: free, and argmax of logits is argmax of p.
                run.correct += int((y.argmax(axis=1) == t.argmax(axis=1)).sum())
                run.seen += len(x)
                run.loss_sum += value
                run.step += 1
                run.position += 1
                p = progress_at(epoch_done=False)
                for callback in callbacks:
                    callback.on_step(p, value)
                if (reason := session.stop or stop.reason(p)) is not None:
                    break
            batches_done, data_pass = run.position, run.epoch + 1
            if reason is None:
                run.epoch += 1
                run.position = 0
            val_loss, val_accuracy = evaluate(net, session.loss, *validation) if validation else (np.nan, np.nan)
            record = EpochRecord(
                epoch=data_pass,
                step=run.step,
                train_loss=run.loss_sum / max(batches_done - run.discarded, 1),
                train_accuracy=run.correct / run.seen if run.seen else np.nan,
                val_loss=val_loss,
                val_accuracy=val_accuracy,
                seconds=time.perf_counter() - epoch_started,
            )
            history.epochs.append(record)
            if reason is None:
                run.loss_sum, run.correct, run.seen, run.discarded = 0.0, 0, 0, 0
            if restoring is not None and restoring.best_epoch(history) == len(history.epochs) - 1:
                best_params = {k: v.copy() for k, v in net.params.items()}
            p = progress_at(epoch_done=True)
            for callback in callbacks:
                callback.on_epoch(p, record)
            if reason is None:
                reason = session.stop or stop.reason(p)
            if reason is None and batches_done == 0:
                reason = "the data stream is empty"
    if best_params is not None and restoring is not None:
        best = restoring.best_epoch(history)
        if best is not None and best != len(history.epochs) - 1:
            for name, saved in best_params.items():
                net.params[name][...] = saved
            reason += f"; restored the weights of epoch {best + 1}"
    history.stop_reason = reason
    for callback in callbacks:
        callback.on_end(history)
    return history
