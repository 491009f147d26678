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
from gradwise.data.csv import CSVError
from gradwise.data.datasets import Dataset, Split, load_dataset, one_hot
from gradwise.data.idx import IdxError
from gradwise.data.tables import load_table
from gradwise.files import WriteFailed, atomic_open, check_room, remove_temporaries
from gradwise.health.diagnosis import Diagnosis
from gradwise.nn.network import Network
from gradwise.optim.base import Transform
from gradwise.seeds import dropout_rng
from gradwise.train.archive import CheckpointError
from gradwise.train.assembly import Watch, training_batches
from gradwise.train.callbacks import Callback, Session
from gradwise.train.checkpoint import Checkpoint, Checkpointer, checkpoint_step, continue_gemms, load_checkpoint
from gradwise.train.config import (
    ConfigError,
    TrainConfig,
    build_network,
    build_optimizer,
    build_stop,
)
from gradwise.train.evaluation import evaluate
from gradwise.train.history import EpochRecord, History
from gradwise.train.loop import fit
from gradwise.train.model_file import architecture, data_meta, save_model
from gradwise.train.repair import MAX_ATTEMPTS, PROBE_SECONDS, PROBE_STEPS, OnFix, find_repair, probe_config, verdict
from gradwise.train.result import Result
from gradwise.train.run_folder import CHECKPOINT_FILE, HEALTH_FILE, MODEL_FILE, REPAIR_FILE, RunFolder
from gradwise.train.stopping import Progress


class MetricsLog(Callback):
    """Appends each epoch's record to the run folder's metrics.jsonl."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder

    def on_epoch(self, progress: Progress, record: EpochRecord) -> None:
        self.folder.append_metrics(record)


def load_data(config: TrainConfig) -> Dataset:
    """The configured data set (IDX images or a table), with the training split cut to ``limit_train`` rows if set.

    A file that cannot be read raises its own one-line error (IdxError, CSVError); a setting that does not fit the
    data, ConfigError.
    """
    try:
        if config.is_table:
            data = _load_table(config)
        else:
            data = load_dataset(
                config.dataset, config.data_dir, validation=config.validation, normalize=config.normalize,
                dtype=config.dtype,
            )  # fmt: skip
    except (IdxError, CSVError):
        raise
    except ValueError as error:  # a setting that does not fit this data set, e.g. --validation too large
        raise ConfigError(str(error)) from None
    if config.limit_train is not None and config.limit_train < len(data.train):
        n = config.limit_train
        data = replace(data, train=Split(data.train.x[:n], data.train.y[:n]))
    return data


def _load_table(config: TrainConfig) -> Dataset:
    """The table ``config.dataset``, split and scaled as the configuration says."""
    return load_table(
        config.dataset,
        config.label,
        features=config.features,
        test_path=config.test_data,
        val_fraction=config.val_fraction,
        test_fraction=config.test_fraction,
        normalize=config.normalize,
        seed=config.seed,
        dtype=config.dtype,
    )


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
    """A resumed run that had already stopped: say so and report its saved weights; train nothing, and write only
    the model file, when the disk refused it as the run ended."""
    missing = not (folder.path / MODEL_FILE).is_file()
    model_error = _save_model(config, data, net, folder) if missing else None
    if on_event is not None:
        written = "nothing was trained or written"
        if missing:
            written = f"nothing was trained; its {MODEL_FILE}, which the disk had refused, is written now"
        on_event(f"resume: {folder.path} finished earlier ({checkpoint.finished}); {written}")
    history = checkpoint.run.history
    history.stop_reason = str(checkpoint.finished)
    test_loss, test_accuracy = evaluate(net, config.loss, *targets(data.test, data, config.dtype))
    seconds = time.perf_counter() - started
    return Result(config, history, net, test_loss, test_accuracy, seconds, folder.path, model_error)


def train(
    config: TrainConfig,
    out: str | Path | None,
    callbacks: Sequence[Callback] = (),
    *,
    on_diagnosis: Callable[[Diagnosis], None] | None = None,
    on_event: Callable[[str], None] | None = None,
    on_fix: OnFix | None = None,
    max_repairs: int = MAX_ATTEMPTS,
    resume: bool = False,
) -> Result:
    """Run ``config`` to its stop condition; write the run folder ``out`` unless it is None.

    With ``config.repair`` the configuration is first probed and repaired (``repair.py``: fixes in the
    repair order, each probed, at most ``max_repairs``); the run then trains the repaired configuration
    from fresh weights, and ``Result.repair`` holds the verdict; ``on_fix`` hears each fix as repair applies it.
    ``on_event`` hears a sentence per guard event (a rollback, a skip). ``resume`` continues the run in ``out``
    from its checkpoint.npz, exactly where it was saved (a resumed run is not repaired again).
    """
    started = time.perf_counter()
    plan = None
    if config.repair and not resume:
        plan = find_repair(config, probe, max_attempts=max_repairs, on_fix=on_fix)
        config = plan.config
    try:
        result = _attempt(config, out, callbacks, on_diagnosis, on_event, resume)
        if plan is not None:
            result.repair = verdict(plan, result)
            if result.run_dir is not None:
                with atomic_open(result.run_dir / REPAIR_FILE) as f:
                    f.write((json.dumps(result.repair.to_json(), indent=2, default=str) + "\n").encode())
    except WriteFailed as error:
        raise _what_is_intact(error, out) from None
    result.seconds = time.perf_counter() - started
    return result


def probe(
    config: TrainConfig,
    stop_for: Callable[[Diagnosis], bool] | None = None,
    *,
    steps: int = PROBE_STEPS,
    seconds: float = PROBE_SECONDS,
) -> Result:
    """A short, watched run of ``config`` (``repair.probe_config``: its first ``steps`` steps, at most ``seconds``),
    with no run folder, stopped early for a diagnosis ``stop_for`` accepts."""
    return _attempt(probe_config(config, seconds), None, (FirstSteps(steps),), None, None, stop_for=stop_for)


class FirstSteps(Callback):
    """Stops a run after its first ``steps`` steps, leaving its length (and so its schedule) as configured."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.session: Session | None = None

    def on_begin(self, session: Session) -> None:
        self.session = session

    def on_step(self, progress: Progress, loss: float) -> None:
        if progress.step >= self.steps and self.session is not None:
            self.session.stop = f"reached {self.steps} steps"


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
    blas.use(config.blas)  # the run's GEMMs on the --blas backend (the configuration checked it is there)
    folder = RunFolder(out) if out is not None else None
    if folder is not None and not resume:
        folder.create(config.to_json())
    x, t = targets(data.train, data, config.dtype)
    batches = training_batches(config, x, t)
    optimizer = build_optimizer(config, len(batches))
    rng = dropout_rng(config.seed)
    run, health_state = None, None
    if resume:
        assert folder is not None
        checkpoint = _checkpoint(folder, net, optimizer, on_event)
        if checkpoint.finished is not None:
            return _already_finished(config, data, net, checkpoint, folder, on_event, started)
        run, rng.bit_generator.state, health_state = checkpoint.run, checkpoint.rng_state, checkpoint.health
        folder.rewrite_metrics(run.history.epochs)  # lines after the checkpoint are replayed, not duplicated
    diagnoses: list[Diagnosis] = []  # what this run found, in order, for its Result

    def report(diagnosis: Diagnosis) -> None:
        diagnoses.append(diagnosis)
        if on_diagnosis is not None:
            on_diagnosis(diagnosis)

    health_log = folder.path / HEALTH_FILE if folder is not None else None
    watch = Watch.of(config, report, log_path=health_log, on_event=on_event, stop_for=stop_for)
    if run is None:
        watch.check_before_training(net, x, t, features=data.features, classes=data.classes)
    if health_state is not None:
        watch.restore(health_state)
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
        diagnoses[:0] = [d for d in watch.monitor.diagnoses if d not in diagnoses]
    return _finish(config, data, net, folder, history, Found(diagnoses, watch.guard.events), started)


def _what_is_intact(error: WriteFailed, out: str | Path | None) -> WriteFailed:
    """A refused write during a run, saying what is intact: the last checkpoint (and so the run can resume), or
    nothing to resume from."""
    if out is None or error.resume is not None:
        return error
    step = checkpoint_step(Path(out) / CHECKPOINT_FILE)
    if step is None:
        return error.saying(f"{error.intact or 'nothing was written'}; the run kept no checkpoint to resume from")
    failed = error.saying(f"the last checkpoint, at step {step}, is intact")
    failed.resume = Path(out)
    return failed


def _checkpoint(
    folder: RunFolder, net: Network, optimizer: Transform, on_event: Callable[[str], None] | None
) -> Checkpoint:
    """The run folder's checkpoint, after clearing what a kill left half-written; a disk that cannot take the
    run's next checkpoint and model is named now, before any training."""
    remove_temporaries(folder.path)
    path = folder.path / CHECKPOINT_FILE
    checkpoint = load_checkpoint(path, net, optimizer.init(net.params))
    try:
        check_room(folder.path, 2 * path.stat().st_size, f"the checkpoint, at step {checkpoint.run.step}, is intact")
    except WriteFailed as error:
        error.resume = folder.path
        raise
    if checkpoint.backend and checkpoint.backend != blas.backend() and on_event is not None:
        on_event(backend_changed(checkpoint.backend))
    if (gemms_changed := continue_gemms(checkpoint)) is not None and on_event is not None:
        on_event(gemms_changed)
    return checkpoint


@dataclass(frozen=True)
class Found:
    """What watching a run found: its diagnoses and the guard's events."""

    diagnoses: list[Diagnosis]
    events: list[dict[str, Any]]


def _save_model(config: TrainConfig, data: Dataset, net: Network, folder: RunFolder) -> str | None:
    """Write the run's model file; why not, when its weights are not finite."""
    meta = {**architecture(net), "loss": config.loss, **data_meta(config, data)}
    try:
        save_model(folder.path / MODEL_FILE, net, meta)
    except CheckpointError as error:
        return str(error)
    return None


def _finish(
    config: TrainConfig,
    data: Dataset,
    net: Network,
    folder: RunFolder | None,
    history: History,
    found: Found,
    started: float,
) -> Result:
    """The test split's loss and accuracy, the model saved (or why not), and the Result."""
    with np.errstate(all="ignore"):  # a run stopped as it blew up may overflow here: its numbers say so
        test_loss, test_accuracy = evaluate(net, config.loss, *targets(data.test, data, config.dtype))
    model_error = _save_model(config, data, net, folder) if folder is not None else None
    return Result(
        config,
        history,
        net,
        test_loss,
        test_accuracy,
        time.perf_counter() - started,
        folder.path if folder else None,
        model_error,
        diagnoses=found.diagnoses,
        events=found.events,
    )
