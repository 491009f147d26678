"""A whole run from a configuration: load the data, build, fit, evaluate on the test split, save."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gradwise.data.datasets import Dataset, Split, load_dataset, one_hot
from gradwise.data.idx import IdxError
from gradwise.data.stream import batch, shuffle, source
from gradwise.files import append_line, remove_temporaries
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.monitor import HealthMonitor
from gradwise.health.static import static_checks
from gradwise.nn.network import Network
from gradwise.train.checkpoint import HEALTH_FILE, MODEL_FILE, CheckpointError, RunFolder, architecture, save_model
from gradwise.train.config import (
    ConfigError,
    TrainConfig,
    build_network,
    build_optimizer,
    build_stop,
    overrides_from_flags,
)
from gradwise.train.evaluation import evaluate
from gradwise.train.guard import NonFiniteGuard
from gradwise.train.history import EpochRecord, History
from gradwise.train.loop import Callback, Session, fit
from gradwise.train.resume import CHECKPOINT_FILE, Checkpointer, load_checkpoint
from gradwise.train.stopping import Progress


@dataclass
class Result:
    """What a run produced; ``model_error`` says why model.npz was not written, if it was not."""

    config: TrainConfig
    history: History
    net: Network
    test_loss: float
    test_accuracy: float
    seconds: float
    run_dir: Path | None
    model_error: str | None = None
    diagnoses: list[Diagnosis] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # rollbacks and skips
    repair: Diagnosis | None = None  # the diagnosis that stopped this attempt to be repaired
    repairs: list[str] = field(default_factory=list)  # what --repair changed

    def summary(self) -> dict[str, Any]:
        last = self.history.last
        return {
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "epochs": len(self.history),
            "steps": last.step if last else 0,
            "seconds": round(self.seconds, 3),
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "stop_reason": self.history.stop_reason,
            "val_accuracy": last.val_accuracy if last else None,
            "model_saved": self.model_error is None and self.run_dir is not None,
            "healthy": not self.diagnoses,
            "diagnoses": [d.to_json() for d in self.diagnoses],
            "rollbacks": sum(e["event"] == "rollback" for e in self.events),
            "repairs": self.repairs,
        }


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


def settings_of(config: TrainConfig) -> dict[str, Any]:
    """The hyperparameters the health rules read when they explain a cause and propose a fix."""
    return asdict(config)


class RepairTrigger(Callback):
    """With --repair: stops the run at the first diagnosis that has a flag fix, so it can be applied."""

    def __init__(self) -> None:
        self.session: Session | None = None
        self.pending: Diagnosis | None = None

    def on_begin(self, session: Session) -> None:
        self.session = session

    def __call__(self, diagnosis: Diagnosis) -> None:
        if self.pending is None and diagnosis.fix and diagnosis.fix[0].startswith("--") and self.session is not None:
            self.pending = diagnosis
            self.session.stop = f"repairing {diagnosis.headline()}"


# Diagnoses that mean the run blew up even without a NaN: with --on-nan rollback they roll back too.
BLOW_UPS = {"dead_units", "exploding_gradient", "lr_too_high"}


def _blow_up_alarm(guard: NonFiniteGuard) -> Callable[[Diagnosis], None]:
    def alarm(diagnosis: Diagnosis) -> None:
        if diagnosis.symptom in BLOW_UPS:
            guard.request_rollback(diagnosis)

    return alarm


def train(
    config: TrainConfig,
    out: str | Path | None,
    callbacks: Sequence[Callback] = (),
    *,
    on_diagnosis: Callable[[Diagnosis], None] | None = None,
    on_event: Callable[[str], None] | None = None,
    max_repairs: int = 3,
    resume: bool = False,
) -> Result:
    """Run ``config`` to its stop condition; write the run folder ``out`` unless it is None.

    With ``config.repair`` a diagnosis with a flag fix stops the attempt; the fix is applied to the
    configuration and training restarts from fresh weights (at most ``max_repairs`` times).
    ``resume`` continues the run in ``out`` from its checkpoint.npz, exactly where it was saved.
    """
    started = time.perf_counter()
    repairs: list[str] = []
    while True:
        result = _attempt(config, out, callbacks, on_diagnosis, on_event, resume and not repairs)
        trigger = result.repair
        if trigger is None or len(repairs) >= max_repairs:
            break
        fix = trigger.fix[0]
        try:
            config = config.with_overrides(**overrides_from_flags(fix))
        except (ConfigError, TypeError) as error:
            repairs.append(f"could not apply {fix!r} for {trigger.headline()}: {error}")
            break
        repairs.append(f"{trigger.headline()}: applied {fix}")
        if on_event is not None:
            on_event(f"repair: {trigger.symptom} -> {fix}; restarting")
    result.repairs = repairs
    result.seconds = time.perf_counter() - started
    return result


def _attempt(
    config: TrainConfig,
    out: str | Path | None,
    callbacks: Sequence[Callback],
    on_diagnosis: Callable[[Diagnosis], None] | None,
    on_event: Callable[[str], None] | None,
    resume: bool = False,
) -> Result:
    started = time.perf_counter()
    data = load_data(config)
    net = build_network(config, data.num_features, data.num_classes)  # before any file: a net too big writes nothing
    folder = RunFolder(out) if out is not None else None
    if folder is not None and not resume:
        folder.create(config.to_json())
    health_log = folder.path / HEALTH_FILE if folder is not None else None
    x, t = targets(data.train, data, config.dtype)
    # Speed: each batch is gathered into the same two arrays; nothing keeps a batch past its step.
    batches = source(x, t) | shuffle(config.seed) | batch(config.batch_size, reuse_buffer=True)
    optimizer = build_optimizer(config, len(batches))
    settings = settings_of(config)
    rng = np.random.default_rng([config.seed, 1])  # dropout masks: a stream apart from the init's
    run = None
    if resume:
        assert folder is not None
        remove_temporaries(folder.path)  # what a kill left half-written
        run, rng_state = load_checkpoint(folder.path / CHECKPOINT_FILE, net, optimizer.init(net.params))
        rng.bit_generator.state = rng_state
        folder.rewrite_metrics(run.history.epochs)  # lines after the checkpoint are replayed, not duplicated

    diagnoses: list[Diagnosis] = []
    repair = RepairTrigger() if config.repair else None

    def found(diagnosis: Diagnosis) -> None:
        diagnoses.append(diagnosis)
        if on_diagnosis is not None:
            on_diagnosis(diagnosis)
        if repair is not None:
            repair(diagnosis)

    def found_unmonitored(diagnosis: Diagnosis) -> None:  # without a monitor, the guard's finding is logged here
        if health_log is not None:
            append_line(health_log, json.dumps({"diagnosis": diagnosis.to_json()}, default=str))
        found(diagnosis)

    health: list[Callback] = [] if repair is None else [repair]
    guard = NonFiniteGuard(
        config.on_nan, settings=settings, log_path=health_log, on_diagnosis=found_unmonitored, on_event=on_event
    )
    monitor = None
    if config.monitor:
        monitor = HealthMonitor(
            settings,
            interval=config.health_interval,
            log_path=health_log,
            on_diagnosis=found,
            on_alarm=_blow_up_alarm(guard),
        )
        guard.on_diagnosis, guard.on_rollback = monitor.add, monitor.reset
        health.append(monitor)  # type: ignore[arg-type]  # a Callback by shape, see HealthMonitor
        for diagnosis in static_checks(net, config.loss, x[:2000], t[:2000], settings):
            monitor.add(diagnosis)
    health.append(guard)
    saving = [Checkpointer(folder.path, config.checkpoint_every)] if folder and config.checkpoint_every else []
    history = fit(
        net,
        config.loss,
        optimizer,
        batches,
        build_stop(config),
        validation=targets(data.val, data, config.dtype) if len(data.val) else None,
        callbacks=[*([MetricsLog(folder)] if folder else []), *health, *saving, *callbacks],
        rng=rng,
        run=run,
    )
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
        diagnoses=diagnoses,
        events=guard.events,
        repair=repair.pending if repair is not None else None,
    )
