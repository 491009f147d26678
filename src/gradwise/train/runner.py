"""A whole run from a configuration: load the data, build, fit, evaluate on the test split, save."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gradwise.data.datasets import Dataset, Split, load_dataset, one_hot
from gradwise.data.idx import IdxError
from gradwise.data.stream import batch, shuffle, source
from gradwise.nn.network import Network
from gradwise.train.checkpoint import MODEL_FILE, CheckpointError, RunFolder, architecture, save_model
from gradwise.train.config import ConfigError, TrainConfig, build_network, build_optimizer, build_stop
from gradwise.train.evaluation import evaluate
from gradwise.train.history import EpochRecord, History
from gradwise.train.loop import Callback, fit
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


def train(config: TrainConfig, out: str | Path | None, callbacks: Sequence[Callback] = ()) -> Result:
    """Run ``config`` to its stop condition; write the run folder ``out`` unless it is None."""
    started = time.perf_counter()
    data = load_data(config)
    folder = RunFolder(out) if out is not None else None
    if folder is not None:
        folder.create(config.to_json())
    net = build_network(config, data.num_features, data.num_classes)
    x, t = targets(data.train, data, config.dtype)
    batches = source(x, t) | shuffle(config.seed) | batch(config.batch_size)
    optimizer = build_optimizer(config, len(batches))
    history = fit(
        net,
        config.loss,
        optimizer,
        batches,
        build_stop(config),
        validation=targets(data.val, data, config.dtype) if len(data.val) else None,
        callbacks=[*([MetricsLog(folder)] if folder else []), *callbacks],
        rng=np.random.default_rng([config.seed, 1]),  # dropout masks: a stream apart from the init's
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
    )
