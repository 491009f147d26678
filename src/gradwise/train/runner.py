"""A whole run from a configuration: load the data, build, fit, evaluate on the test split, save."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gradwise import blas
from gradwise.data.datasets import Dataset, Split, load_dataset, one_hot
from gradwise.data.idx import IdxError
from gradwise.data.stream import batch, shuffle, source
from gradwise.files import append_line, atomic_open, remove_temporaries
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.monitor import HealthMonitor
from gradwise.health.static import static_checks
from gradwise.nn.network import Network
from gradwise.optim.base import Transform
from gradwise.seeds import dropout_rng
from gradwise.train.callbacks import Callback, Run
from gradwise.train.checkpoint import (
    HEALTH_FILE,
    MODEL_FILE,
    REPAIR_FILE,
    CheckpointError,
    RunFolder,
    architecture,
    save_model,
)
from gradwise.train.config import (
    ConfigError,
    TrainConfig,
    build_network,
    build_optimizer,
    build_stop,
    settings_of,
)
from gradwise.train.evaluation import evaluate
from gradwise.train.history import EpochRecord, History
from gradwise.train.loop import fit
from gradwise.train.recovery import HealthFlow, NonFiniteGuard
from gradwise.train.repair import MAX_ATTEMPTS, find_repair, probe_config, verdict
from gradwise.train.result import Result
from gradwise.train.resume import CHECKPOINT_FILE, Checkpoint, Checkpointer, load_checkpoint, read_health_state
from gradwise.train.stopping import Progress


class MetricsLog(Callback):
    """Appends each epoch's record to the run folder's metrics.jsonl."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder

    def on_epoch(self, progress: Progress, record: EpochRecord) -> None:
        self.folder.append_metrics(record)


def load_data(config: TrainConfig) -> Dataset:
    """The configured data set, with the training split cut to ``limit_train`` rows if set."""
    try:
        data = load_dataset(
            config.dataset,
            config.data_dir,
            validation=config.validation,
            normalize=config.normalize,
            dtype=config.dtype,
        )
    except IdxError:
        raise
    except ValueError as error:  # a setting that does not fit this data set, e.g. --validation too large
        raise ConfigError(str(error)) from None
    if config.limit_train is not None and config.limit_train < len(data.train):
        n = config.limit_train
        data = replace(data, train=Split(data.train.x[:n], data.train.y[:n]))
    return data


def targets(split: Split, data: Dataset, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    return split.x, one_hot(split.y, data.num_classes, dtype)


def backend_changed(saved: str) -> str:
    """The line a resumed run prints when the checkpoint was written on the other BLAS path."""
    return (
        f"resume: the checkpoint was written on the {saved} BLAS path and this process takes the "
        f"{blas.backend()} path; the numbers can differ from an uninterrupted run in the last bits"
    )


def _already_finished(
    config: TrainConfig,
    data: Dataset,
    net: Network,
    checkpoint: Checkpoint,
    folder: RunFolder,
    on_event: Callable[[str], None] | None,
    started: float,
) -> Result:
    """A resumed run that had already stopped: say so and report its saved weights; train and write nothing."""
    if on_event is not None:
        on_event(f"resume: {folder.path} finished earlier ({checkpoint.finished}); nothing was trained or written")
    history = checkpoint.run.history
    history.stop_reason = str(checkpoint.finished)
    test_loss, test_accuracy = evaluate(net, config.loss, *targets(data.test, data, config.dtype))
    return Result(config, history, net, test_loss, test_accuracy, time.perf_counter() - started, folder.path)


def train(
    config: TrainConfig,
    out: str | Path | None,
    callbacks: Sequence[Callback] = (),
    *,
    on_diagnosis: Callable[[Diagnosis], None] | None = None,
    on_event: Callable[[str], None] | None = None,
    max_repairs: int = MAX_ATTEMPTS,
    resume: bool = False,
) -> Result:
    """Run ``config`` to its stop condition; write the run folder ``out`` unless it is None.

    With ``config.repair`` the configuration is first probed and repaired (``repair.py``: fixes in the
    repair order, each probed, at most ``max_repairs``); the run then trains the repaired configuration
    from fresh weights, and ``Result.repair`` holds the verdict. ``resume`` continues the run in ``out``
    from its checkpoint.npz, exactly where it was saved (a resumed run is not repaired again).
    """
    started = time.perf_counter()
    plan = None
    if config.repair and not resume:

        def probe_briefly(candidate: TrainConfig, stop_for: Callable[[Diagnosis], bool]) -> Result:
            return probe(probe_config(candidate), stop_for)

        plan = find_repair(config, probe_briefly, max_attempts=max_repairs, on_event=on_event)
        config = plan.config
    result = _attempt(config, out, callbacks, on_diagnosis, on_event, resume)
    if plan is not None:
        result.repair = verdict(plan, result)
        if result.run_dir is not None:
            with atomic_open(result.run_dir / REPAIR_FILE) as f:
                f.write((json.dumps(result.repair.to_json(), indent=2, default=str) + "\n").encode())
        if on_event is not None:
            on_event(result.repair.verdict)
    result.seconds = time.perf_counter() - started
    return result


def probe(config: TrainConfig, stop_for: Callable[[Diagnosis], bool] | None = None) -> Result:
    """``config`` trained as it is, with no run folder, stopped early for a diagnosis ``stop_for`` accepts."""
    return _attempt(config, None, (), None, None, stop_for=stop_for)


def _attempt(
    config: TrainConfig,
    out: str | Path | None,
    callbacks: Sequence[Callback],
    on_diagnosis: Callable[[Diagnosis], None] | None,
    on_event: Callable[[str], None] | None,
    resume: bool = False,
    stop_for: Callable[[Diagnosis], bool] | None = None,
) -> Result:
    """One run: build it (or resume it from its checkpoint), watch it, fit it, evaluate it and save it."""
    started = time.perf_counter()
    data = load_data(config)
    net = build_network(config, data.num_features, data.num_classes)  # before any file: a net too big writes nothing
    folder = RunFolder(out) if out is not None else None
    if folder is not None and not resume:
        folder.create(config.to_json())
    x, t = targets(data.train, data, config.dtype)
    # Speed: each batch is gathered into the same two arrays; nothing keeps a batch past its step.
    batches = source(x, t) | shuffle(config.seed) | batch(config.batch_size, reuse_buffer=True)
    optimizer = build_optimizer(config, len(batches))
    rng = dropout_rng(config.seed)
    run, health_state = None, None
    if resume:
        assert folder is not None
        checkpoint = _checkpoint(folder, net, optimizer, on_event)
        if checkpoint.finished is not None:
            return _already_finished(config, data, net, checkpoint, folder, on_event, started)
        run, rng.bit_generator.state = checkpoint.run, checkpoint.rng_state
        health_state = read_health_state(folder.path / CHECKPOINT_FILE)
        folder.rewrite_metrics(run.history.epochs)  # lines after the checkpoint are replayed, not duplicated
    watch = _Watch.of(config, net, (x, t), run, health_state, folder, _Hooks(on_diagnosis, on_event, stop_for))
    every = config.checkpoint_every
    saving = [Checkpointer(folder.path, every, watch.state)] if folder is not None and every else []
    history = fit(
        net,
        config.loss,
        optimizer,
        batches,
        build_stop(config),
        validation=targets(data.val, data, config.dtype) if len(data.val) else None,
        callbacks=[*([MetricsLog(folder)] if folder else []), *watch.callbacks, *saving, *callbacks],
        rng=rng,
        run=run,
        progress=False,  # the caller's callbacks show progress (the CLI's bar, gw.train's)
    )
    if watch.monitor is not None and resume:  # what was found before the resume comes first
        watch.diagnoses[:0] = [d for d in watch.monitor.diagnoses if d not in watch.diagnoses]
    return _finish(config, data, net, folder, history, watch, started)


def _checkpoint(
    folder: RunFolder, net: Network, optimizer: Transform, on_event: Callable[[str], None] | None
) -> Checkpoint:
    """The run folder's checkpoint, after clearing what a kill left half-written."""
    remove_temporaries(folder.path)
    checkpoint = load_checkpoint(folder.path / CHECKPOINT_FILE, net, optimizer.init(net.params))
    if checkpoint.backend and checkpoint.backend != blas.backend() and on_event is not None:
        on_event(backend_changed(checkpoint.backend))
    return checkpoint


@dataclass(frozen=True)
class _Hooks:
    """The caller's: told of each diagnosis, of each event, and asked whether a diagnosis stops the run."""

    on_diagnosis: Callable[[Diagnosis], None] | None
    on_event: Callable[[str], None] | None
    stop_for: Callable[[Diagnosis], bool] | None


@dataclass
class _Watch:
    """What watches a run: the guard, the monitor (unless turned off), the flow between them, and what they found."""

    guard: NonFiniteGuard
    monitor: HealthMonitor | None
    callbacks: list[Callback]
    diagnoses: list[Diagnosis]

    @classmethod
    def of(
        cls,
        config: TrainConfig,
        net: Network,
        train: tuple[np.ndarray, np.ndarray],
        run: Run | None,
        health_state: dict[str, Any] | None,
        folder: RunFolder | None,
        hooks: _Hooks,
    ) -> _Watch:
        settings = settings_of(config)
        health_log = folder.path / HEALTH_FILE if folder is not None else None
        diagnoses: list[Diagnosis] = []

        def found(diagnosis: Diagnosis) -> None:
            diagnoses.append(diagnosis)
            if hooks.on_diagnosis is not None:
                hooks.on_diagnosis(diagnosis)

        def found_unmonitored(diagnosis: Diagnosis) -> None:  # without a monitor, the guard's finding is logged here
            if health_log is not None:
                append_line(health_log, json.dumps({"diagnosis": diagnosis.to_json()}, default=str))
            found(diagnosis)

        guard = NonFiniteGuard(config.on_nan, settings=settings, log_path=health_log, on_event=hooks.on_event)
        monitor, before_training = None, []
        if config.monitor:
            monitor = HealthMonitor(settings, interval=config.health_interval, log_path=health_log, on_diagnosis=found)
            x, t = train
            before_training = static_checks(net, config.loss, x[:2000], t[:2000], settings) if run is None else []
            for diagnosis in before_training:
                monitor.add(diagnosis)
        if health_state is not None:
            guard.restore_state = health_state.get("guard")
            if monitor is not None:
                monitor.restore_state = health_state.get("monitor")
        report = monitor.add if monitor is not None else found_unmonitored
        flow = HealthFlow(guard, monitor, report, hooks.stop_for, before_training=before_training)
        watching: list[Callback] = [*([monitor] if monitor is not None else []), guard, flow]  # type: ignore[list-item]
        return cls(guard, monitor, watching, diagnoses)

    def state(self) -> dict[str, Any]:
        """The guard's and the monitor's state, for a checkpoint."""
        return {"guard": self.guard.state(), **({"monitor": self.monitor.state()} if self.monitor is not None else {})}


def _finish(
    config: TrainConfig,
    data: Dataset,
    net: Network,
    folder: RunFolder | None,
    history: History,
    watch: _Watch,
    started: float,
) -> Result:
    """The test split's loss and accuracy, the model saved (or why not), and the Result."""
    with np.errstate(all="ignore"):  # a run stopped as it blew up may overflow here: its numbers say so
        test_loss, test_accuracy = evaluate(net, config.loss, *targets(data.test, data, config.dtype))
    model_error = None
    if folder is not None:
        meta = {
            **architecture(net, [data.num_features, *config.hidden, data.num_classes], config.dropout),
            "loss": config.loss,
            "dataset": data.name,
            "input": {"shift": data.shift, "scale": data.scale, "image_shape": list(data.image_shape)},
        }
        try:
            save_model(folder.path / MODEL_FILE, net, meta)
        except CheckpointError as error:
            model_error = str(error)
    return Result(
        config,
        history,
        net,
        test_loss,
        test_accuracy,
        time.perf_counter() - started,
        folder.path if folder else None,
        model_error,
        diagnoses=watch.diagnoses,
        events=watch.guard.events,
    )
