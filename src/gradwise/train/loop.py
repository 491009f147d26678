"""The training loop: ``grad`` and ``move`` composed over a stream of batches until a stop condition holds.

What the loop changes and what callbacks see (``Run``, ``Session``, ``Callback``) live in ``callbacks``.
"""

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
from gradwise.optim.subnormal import FLUSH_EVERY, flush_subnormals
from gradwise.seeds import dropout_rng, generator
from gradwise.train.callbacks import Callback, Run, Session
from gradwise.train.evaluation import evaluate
from gradwise.train.history import EpochRecord, History
from gradwise.train.progress import EpochProgress, interactive
from gradwise.train.stopping import Progress, StopCondition, max_epochs, no_improvement

Array = np.ndarray


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
    _check_watched_metrics(stop, validation)
    if progress or (progress is None and interactive()):
        epochs = min((c.n for c in stop.parts() if isinstance(c, max_epochs)), default=None)
        callbacks = [*callbacks, EpochProgress(epochs)]
    run = run if run is not None else Run(optimizer.init(net.params))
    session = Session(net, get_loss(loss), optimizer, batches, generator(rng, dropout_rng), run)
    run.drop_partial_record()
    loop = _Loop(session, stop, validation, list(callbacks))
    for callback in callbacks:
        callback.on_begin(session)
    reason: str | None = session.stop  # a callback may refuse to start (a resumed run that had stopped)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        while reason is None:
            reason = loop.epoch()
    run.history.stop_reason = loop.restore_best(reason)
    for callback in callbacks:
        callback.on_end(run.history)
    return run.history


@dataclass
class _Loop:
    """One ``fit``: its epochs, each closed by a record, and the best weights kept for ``no_improvement``."""

    session: Session
    stop: StopCondition
    validation: tuple[Array, Array] | None
    callbacks: list[Callback]
    started: float = field(default_factory=time.perf_counter)
    restoring: no_improvement | None = None
    best_params: dict[str, Array] | None = None

    def __post_init__(self) -> None:
        self.restoring = _restoring_condition(self.stop)

    def progress(self, epoch_done: bool) -> Progress:
        run = self.session.run
        return Progress(run.epoch, run.step, time.perf_counter() - self.started, run.history, epoch_done)

    def show(self, grads: dict[str, Array]) -> None:
        """A probed step's gradients, before the update, to every callback (run.step is the step before)."""
        for callback in self.callbacks:
            callback.on_gradients(self.session.run.step + 1, grads)

    def epoch(self) -> str | None:
        """One pass over the data (or the rest of one), then its record -> why to stop, or None."""
        session, run = self.session, self.session.run
        epoch_started = time.perf_counter()
        reason: str | None = None
        for x, t in session.batches.epoch(run.epoch, start=run.position):
            probe = next((found for c in self.callbacks if (found := c.probe(run.step + 1)) is not None), None)
            session._totals = (run.loss_sum, run.correct, run.seen)
            value, y, run.opt_state = train_step(
                session.net, session.loss, session.optimizer, run.opt_state, x, t,
                rng=session.rng, probe=probe, show=self.show,
            )  # fmt: skip
            # Accuracy from the training forward pass: free, and argmax of logits is argmax of p.
            run.correct += int((y.argmax(axis=1) == t.argmax(axis=1)).sum())
            run.seen += len(x)
            run.loss_sum += value
            run.step += 1
            run.position += 1
            if run.step % FLUSH_EVERY == 0:  # by the step's number, so a resumed run flushes where this one does
                flush_subnormals(run.opt_state)
            p = self.progress(epoch_done=False)
            for callback in self.callbacks:
                callback.on_step(p, value)
            if (reason := session.stop or self.stop.reason(p)) is not None:
                break
        return self.close_epoch(reason, epoch_started)

    def close_epoch(self, reason: str | None, epoch_started: float) -> str | None:
        """Record the epoch (whole, or the part before a stop), tell the callbacks -> why to stop, or None."""
        session, run = self.session, self.session.run
        batches_done, data_pass = run.position, run.epoch + 1
        if reason is None:
            run.epoch += 1
            run.position = 0
        validation = self.validation
        val_loss, val_accuracy = evaluate(session.net, session.loss, *validation) if validation else (np.nan, np.nan)
        record = EpochRecord(
            epoch=data_pass,
            step=run.step,
            train_loss=run.loss_sum / max(batches_done - run.discarded, 1),
            train_accuracy=run.correct / run.seen if run.seen else np.nan,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            seconds=time.perf_counter() - epoch_started,
        )
        run.history.epochs.append(record)
        if reason is None:
            run.loss_sum, run.correct, run.seen, run.discarded = 0.0, 0, 0, 0
        if self.restoring is not None and self.restoring.best_epoch(run.history) == len(run.history.epochs) - 1:
            # the weights and the running statistics (BatchNorm's): a restored epoch needs both
            self.best_params = {k: v.copy() for k, v in {**session.net.params, **session.net.buffers}.items()}
        p = self.progress(epoch_done=True)
        for callback in self.callbacks:
            callback.on_epoch(p, record)
        if reason is None:
            reason = session.stop or self.stop.reason(p)
        if reason is None and batches_done == 0:
            reason = "the data stream is empty"
        return reason

    def restore_best(self, reason: str) -> str:
        """With ``no_improvement``, the best epoch's weights back in place, when a later epoch ended the run."""
        history = self.session.run.history
        if self.best_params is None or self.restoring is None:
            return reason
        best = self.restoring.best_epoch(history)
        if best is not None and best != len(history.epochs) - 1:
            arrays = {**self.session.net.params, **self.session.net.buffers}
            for name, saved in self.best_params.items():
                arrays[name][...] = saved
            reason = f"{reason}; restored the weights of epoch {best + 1}"
        return reason
