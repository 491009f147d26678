"""Every hyperparameter of a run in one value, the named presets, and what to build from them.

A ``TrainConfig`` is what ``config.json`` holds; the CLI's flags override a preset's fields.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from gradwise import blas
from gradwise.data import tables
from gradwise.health.remedies import scaled_init_name
from gradwise.health.settings import Settings
from gradwise.nn.activations import get_activation
from gradwise.nn.init import get_initializer, init_name
from gradwise.nn.losses import get_loss
from gradwise.nn.network import Network, mlp
from gradwise.optim import schedules
from gradwise.optim.base import Transform
from gradwise.optim.optimizers import OPTIMIZERS
from gradwise.seeds import weights_rng
from gradwise.train import stopping

SCHEDULES = ("constant", "step", "exponential", "cosine")
NORMALIZE = ("unit", "standard", "none")
DTYPES = ("float32", "float64")
ON_NAN = ("stop", "rollback", "skip")
NORMS = ("none", "batch", "layer")  # a BatchNorm or a LayerNorm after each hidden layer, or neither
BLAS = blas.SETTINGS  # the GEMM backend: the faster per shape (timed), numpy's OpenBLAS, or MKL (gradwise[mkl])


class ConfigError(ValueError):
    """A hyperparameter out of range or a malformed configuration: one line naming the field.

    The message names ``TrainConfig`` fields between backticks (``"`lr` must be > 0, got 0"``), and
    ``phrased(name)`` writes each in the reader's terms: ``--lr`` for the command line, ``learning_rate_init``
    for the scikit-learn estimator; ``str()`` gives the field itself (``lr must be > 0, got 0``).
    """

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(self.phrased(str))

    def phrased(self, name: Callable[[str], str]) -> str:
        text = self.message
        for field_name in TrainConfig.__dataclass_fields__:
            text = text.replace(f"`{field_name}`", name(field_name))
        return text


@dataclass(frozen=True)
class TrainConfig:
    """A training run's every setting; defaults are the ``default`` preset."""

    dataset: str = "mnist"  # mnist, fashion-mnist, a folder of IDX files, or a table (.csv, .tsv, .txt)
    data_dir: str | None = None
    validation: int = 10_000  # the last N training images (a table's validation split is `val_fraction`)
    label: str | None = None  # a table's label column (None: one named label, class or target, else the last)
    features: tuple[str, ...] | None = None  # a table's feature columns (None: every column but the label)
    test_data: str | None = None  # a table's separate test file (None: `test_fraction` of the rows)
    val_fraction: float = 0.2  # a table's share of rows for validation, stratified and seeded
    test_fraction: float = 0.2  # a table's share of rows for testing, without `test_data`
    normalize: str = "unit"
    limit_train: int | None = None  # train on the first N training images only
    hidden: tuple[int, ...] = (1000,)
    activation: str = "relu"
    output: str = "softmax"
    loss: str = "ce"
    init: str | None = None  # None: He for the ReLU family, Glorot otherwise
    init_scale: float | None = None
    bias_init: float = 0.0
    dropout: float = 0.0
    norm: str = "none"  # "batch" or "layer": a normalization layer after each hidden layer's activation
    optimizer: str = "momentum"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    clip_norm: float | None = None
    schedule: str = "cosine"  # half a cosine over the run: +1 % on Fashion-MNIST against a constant rate
    warmup_steps: int = 0
    batch_size: int = 128
    epochs: int = 20
    max_steps: int | None = None
    time_budget: float | None = None
    close_enough: float | None = None
    patience: int | None = None
    target_accuracy: float | None = None
    seed: int = 0
    dtype: str = "float32"
    blas: str = "auto"  # which library runs the GEMMs: auto (per shape, the faster), openblas or mkl
    monitor: bool = True  # the health monitor (diagnoses, health.jsonl)
    health_interval: int | None = None  # steps between the monitor's probes; None: from the network's size
    on_nan: str = "stop"  # stop, rollback or skip when the loss turns non-finite
    repair: bool = False  # apply a diagnosis's first fix and go on
    checkpoint_every: int | None = None  # steps between checkpoints (checkpoint.npz) for --resume
    preset: str = "default"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def is_table(self) -> bool:
        """Whether ``dataset`` names a table file (a .csv, .tsv or .txt), not an image data set."""
        return tables.is_table(self.dataset)

    @property
    def has_validation(self) -> bool:
        """Whether the run holds rows back for validation: ``val_fraction`` of a table, else ``validation``."""
        return self.val_fraction > 0 if self.is_table else self.validation > 0

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("extra")
        data["hidden"] = list(self.hidden)
        data["features"] = None if self.features is None else list(self.features)
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        known = {f.name for f in fields(cls)} - {"extra"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown keys {', '.join(unknown)}; valid keys: {', '.join(sorted(known))}")
        annotations = {f.name: str(f.type) for f in fields(cls)}
        for key, value in data.items():
            if not _type_ok(annotations[key], value):
                raise ConfigError(
                    f"{source}: {key} must be {_type_text(annotations[key])}, not {json.dumps(value)}; fix the value"
                )
        values = dict(data)
        for name in ("hidden", "features"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        try:
            return cls(**values)
        except (ConfigError, TypeError) as error:  # a value out of range: name the file it came from
            raise ConfigError(f"{source}: {error}") from None

    def with_overrides(self, **overrides: Any) -> TrainConfig:
        return replace(self, **overrides)


# What JSON value each annotation accepts (JSON true is not the integer 1 here), and its words for the message.
_JSON_TYPES: dict[str, tuple[Any, str]] = {
    "int": (lambda v: type(v) is int, "an integer"),
    "float": (lambda v: type(v) in (int, float), "a number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "None": (lambda v: v is None, "null"),
    "tuple[int, ...]": (lambda v: isinstance(v, list) and all(type(n) is int for n in v), "a list of integers"),
    "tuple[str, ...]": (lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v), "a list of strings"),
}


def _type_ok(annotation: str, value: object) -> bool:
    """Whether a JSON ``value`` fits a field annotated ``annotation`` (e.g. ``"float | None"``)."""
    options = [part.strip() for part in annotation.split("|")]
    if any(option not in _JSON_TYPES for option in options):
        return True  # a type this check does not know: the dataclass's own validation decides
    return any(_JSON_TYPES[option][0](value) for option in options)


def _type_text(annotation: str) -> str:
    return " or ".join(_JSON_TYPES[part.strip()][1] for part in annotation.split("|"))


def _validate(c: TrainConfig) -> None:
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(message)

    need(all(isinstance(h, int) and h >= 1 for h in c.hidden), f"`hidden`: sizes must be >= 1, got {list(c.hidden)}")
    need(math.isfinite(c.lr) and c.lr > 0, f"`lr` must be > 0, got {c.lr:g}")
    need(c.batch_size >= 1, f"`batch_size` must be >= 1, got {c.batch_size}")
    need(c.epochs >= 1, f"`epochs` must be >= 1, got {c.epochs}")
    need(0 <= c.dropout < 1, f"`dropout` must be in [0, 1), got {c.dropout:g}")
    need(0 <= c.momentum < 1, f"`momentum` must be in [0, 1), got {c.momentum:g}")
    need(c.weight_decay >= 0, f"`weight_decay` must be >= 0, got {c.weight_decay:g}")
    need(c.clip_norm is None or c.clip_norm > 0, f"`clip_norm` must be > 0, got {c.clip_norm}")
    need(c.validation >= 0, f"`validation` must be >= 0, got {c.validation}")
    need(c.limit_train is None or c.limit_train >= 1, f"`limit_train` must be >= 1, got {c.limit_train}")
    need(c.max_steps is None or c.max_steps >= 1, f"`max_steps` must be >= 1, got {c.max_steps}")
    need(c.time_budget is None or c.time_budget > 0, f"`time_budget` must be > 0, got {c.time_budget}")
    need(c.patience is None or c.patience >= 1, f"`patience` must be >= 1, got {c.patience}")
    need(
        c.checkpoint_every is None or c.checkpoint_every >= 1,
        f"`checkpoint_every` must be >= 1, got {c.checkpoint_every}",
    )
    need(
        c.health_interval is None or c.health_interval >= 1, f"`health_interval` must be >= 1, got {c.health_interval}"
    )
    need(c.warmup_steps >= 0, f"`warmup_steps` must be >= 0, got {c.warmup_steps}")
    need(c.seed >= 0, f"`seed` must be >= 0, got {c.seed}")
    need(math.isfinite(c.bias_init), f"`bias_init` must be a finite number, got {c.bias_init:g}")
    need(math.isfinite(c.weight_decay), f"`weight_decay` must be finite, got {c.weight_decay:g}")
    need(
        c.close_enough is None or (math.isfinite(c.close_enough) and c.close_enough > 0),
        f"`close_enough` must be > 0, got {c.close_enough}",
    )
    need(
        c.target_accuracy is None or 0 < c.target_accuracy <= 1,
        f"`target_accuracy` must be in (0, 1], got {c.target_accuracy}",
    )
    if c.init_scale is not None:
        need(c.init is not None, "`init_scale` needs `init` too (normal, uniform or constant)")
        need(math.isfinite(c.init_scale), f"`init_scale` must be a finite number, got {c.init_scale:g}")
        need(  # normal's std and uniform's upper bound; constant's value may be anything
            c.init_scale > 0 or c.init not in ("normal", "uniform"),
            f"`init_scale` must be > 0 for `init` {c.init}, got {c.init_scale:g}",
        )
    _validate_choices(c, need)
    _validate_table(c, need)
    for name, check in (
        ("activation", lambda: get_activation(c.activation)),
        ("output", lambda: get_activation(c.output)),
        ("loss", lambda: get_loss(c.loss)),
        ("init", lambda: c.init is None or get_initializer(c.init, c.init_scale)),
    ):
        try:
            check()
        except ValueError as error:
            raise ConfigError(f"`{name}`: {error}") from None


def _validate_choices(c: TrainConfig, need: Callable[[bool, str], None]) -> None:
    """The fields that name one of a few choices, and the choices that rule out another field's value."""
    for name, choices in (
        ("optimizer", tuple(OPTIMIZERS)),
        ("schedule", SCHEDULES),
        ("normalize", NORMALIZE),
        ("dtype", DTYPES),
        ("on_nan", ON_NAN),
        ("norm", NORMS),
        ("blas", BLAS),
    ):
        value = getattr(c, name)
        need(value in choices, f"`{name}`: unknown {value!r}; choose one of: {', '.join(choices)}")
    need((why := blas.missing(c.blas)) is None, f"`blas` {c.blas}: {why}")
    need(
        c.norm != "batch" or c.batch_size >= 2,
        f"`norm` batch: BatchNorm needs batches of 2 or more rows to normalize over, got `batch_size` "
        f"{c.batch_size}; use a larger `batch_size`, or `norm` layer (LayerNorm normalizes each row alone)",
    )


def _validate_table(c: TrainConfig, need: Callable[[bool, str], None]) -> None:
    """The fields that say how to read and split a table, and only for a table."""
    for name in ("val_fraction", "test_fraction"):
        value = getattr(c, name)
        need(math.isfinite(value) and 0 <= value < 1, f"`{name}` must be in [0, 1), got {value:g}")
    if not c.is_table:
        spreadsheet = c.dataset.lower().endswith((".xlsx", ".xls", ".ods"))
        for name in ("label", "features", "test_data"):
            need(
                getattr(c, name) is None,
                f"`{name}` is for a table `dataset` (a .csv, .tsv or .txt file), not {c.dataset}; "
                + ("save the spreadsheet as CSV and give that file" if spreadsheet else
                   f"give the table's path, or leave `{name}` out"),
            )  # fmt: skip
        return
    need(c.features is None or len(c.features) >= 1, "`features`: name at least one column")
    need(
        c.features is None or len(set(c.features)) == len(c.features),
        f"`features`: a column is listed twice in {','.join(c.features or ())}; list each once",
    )
    need(
        c.label is None or c.features is None or c.label not in c.features,
        f"`features` lists {c.label!r}, the `label` column; leave it out of `features`",
    )
    need(
        c.test_data is not None or c.val_fraction + c.test_fraction < 1,
        f"`val_fraction` + `test_fraction` must leave rows for training (sum < 1), got "
        f"{c.val_fraction:g} + {c.test_fraction:g}",
    )


PRESETS: dict[str, dict[str, Any]] = {
    # What `make train` runs: a wide ReLU layer, fused softmax cross-entropy, He init, momentum SGD.
    "default": {},
    # Nielsen's network.py, chapter 1: 784-30-10 sigmoid, quadratic cost, N(0, 1) weights, lr 3.0, batch 10.
    "nielsen": {
        "hidden": (30,),
        "activation": "sigmoid",
        "output": "sigmoid",
        "loss": "mse",
        "init": "normal",
        "optimizer": "sgd",
        "lr": 3.0,
        "schedule": "constant",
        "batch_size": 10,
        "epochs": 30,
    },
    # The seed's run: 784-1000 logistic hidden layer, softmax output, mse, U(0, 1) weights, lr 0.05, batch 20.
    "seed-2017": {
        "hidden": (1000,),
        "activation": "sigmoid",
        "output": "softmax",
        "loss": "mse",
        "init": "uniform",
        "optimizer": "sgd",
        "lr": 0.05,
        "schedule": "constant",
        "batch_size": 20,
        "epochs": 10,
    },
    # The most accurate configuration within a few minutes on two cores.
    "best": {
        "hidden": (1024, 1024),
        "dropout": 0.2,
        "optimizer": "momentum",
        "lr": 0.1,
        "schedule": "cosine",
        "warmup_steps": 400,
        "epochs": 30,
    },
}


def settings_of(config: TrainConfig) -> Settings:
    """The hyperparameters the health rules read when they explain a cause and propose a fix (every field of
    ``Settings`` that a ``TrainConfig`` has: ``norm`` too), the initializer by its own name (the default one
    named: He for the ReLU family, Glorot otherwise)."""
    init = scaled_init_name(config.activation) if config.init is None else init_name(config.init)
    return replace(Settings.of(config), init=init, norm=config.norm)


def preset(name: str, **overrides: Any) -> TrainConfig:
    """The named preset with ``overrides`` applied."""
    if name not in PRESETS:
        raise ConfigError(f"`preset`: unknown {name!r}; choose one of: {', '.join(PRESETS)}")
    return TrainConfig(**{**PRESETS[name], "preset": name, **overrides})


def build_network(config: TrainConfig, n_in: int, n_out: int) -> Network:
    """The MLP the configuration describes, initialized from its seed."""
    init = None if config.init is None else get_initializer(config.init, config.init_scale)
    sizes = [n_in, *config.hidden, n_out]
    try:
        return mlp(
            sizes,
            config.activation,
            config.output,
            init=init,
            bias=config.bias_init,
            dropout=config.dropout,
            norm=None if config.norm == "none" else config.norm,
            rng=weights_rng(config.seed),
            dtype=np.dtype(config.dtype),
        )
    except MemoryError:
        weights = sum((a + 1) * b for a, b in itertools.pairwise(sizes)) * np.dtype(config.dtype).itemsize
        raise ConfigError(
            f"`hidden` {','.join(map(str, config.hidden))}: a {'-'.join(map(str, sizes))} network needs "
            f"{weights / 2**30:.1f} GiB for its weights alone, more than this machine can allocate; use smaller layers"
        ) from None


def build_schedule(config: TrainConfig, steps_per_epoch: int) -> schedules.Schedule:
    """The learning rate over steps: the named schedule spread over the run, then the warm-up."""
    total = max(1, config.epochs * steps_per_epoch)  # the run ends at the first of its epochs and steps
    if config.max_steps is not None:
        total = max(1, min(total, config.max_steps))
    base = {
        "constant": lambda: schedules.constant(config.lr),
        "step": lambda: schedules.step(config.lr, every=max(1, total // 3), gamma=0.1),
        "exponential": lambda: schedules.exponential(config.lr, 0.01 ** (1 / total)),  # /100 over the run
        "cosine": lambda: schedules.cosine(config.lr, total),
    }[config.schedule]()
    return schedules.warmup(base, config.warmup_steps, start=0.0) if config.warmup_steps else base


def build_optimizer(config: TrainConfig, steps_per_epoch: int) -> Transform:
    lr = build_schedule(config, steps_per_epoch)
    common: dict[str, Any] = {"weight_decay": config.weight_decay, "clip_norm": config.clip_norm}
    if config.optimizer in ("momentum", "nesterov"):
        return OPTIMIZERS[config.optimizer](lr, config.momentum, **common)
    if config.optimizer == "rmsprop":
        return OPTIMIZERS["rmsprop"](lr, momentum=config.momentum if config.momentum else 0.0, **common)
    return OPTIMIZERS[config.optimizer](lr, **common)


def build_stop(config: TrainConfig) -> stopping.StopCondition:
    """max_epochs, or'ed with every other stop condition the configuration sets."""
    stop: stopping.StopCondition = stopping.max_epochs(config.epochs)
    if config.max_steps is not None:
        stop = stop | stopping.max_steps(config.max_steps)
    if config.time_budget is not None:
        stop = stop | stopping.time_budget(config.time_budget)
    if config.close_enough is not None:
        stop = stop | stopping.close_enough(config.close_enough)
    if config.patience is not None:
        metric = "val_loss" if config.has_validation else "train_loss"
        stop = stop | stopping.no_improvement(config.patience, metric=metric)
    if config.target_accuracy is not None:
        metric = "val_accuracy" if config.has_validation else "train_accuracy"
        stop = stop | stopping.target(config.target_accuracy, metric=metric)
    return stop
