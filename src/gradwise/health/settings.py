"""The run's settings as the health rules read them: typed, frozen, and ``None`` where unknown.

A run gradwise trains knows every setting (``gradwise.train.config.settings_of``). A trace from code written
elsewhere knows its activations and loss, perhaps its learning rate, never its optimizer: those stay ``None``,
and the rules that need them stay silent rather than guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

NOT_A_SETTING = object()  # what ``Settings.value`` answers for a name that is not one of its fields


@dataclass(frozen=True)
class Settings:
    """The hyperparameters that can cause a symptom, and that a fix changes (``Fix.changes`` names them)."""

    activation: str | None = None  # the hidden layers'
    output: str | None = None  # the output layer's activation
    loss: str | None = None
    normalize: str | None = None  # "none": raw input
    init: str | None = None  # None: He for the ReLU family, Glorot otherwise
    init_scale: float | None = None
    bias_init: float | None = None
    optimizer: str | None = None
    lr: float | None = None
    momentum: float | None = None
    clip_norm: float | None = None  # None: no clipping
    schedule: str | None = None
    warmup_steps: int | None = None
    batch_size: int | None = None
    weight_decay: float | None = None
    dropout: float | None = None
    norm: str | None = None  # "none", "batch" or "layer": the normalization layer after each hidden layer

    @classmethod
    def of(cls, values: Settings | Mapping[str, Any] | Any | None) -> Settings:
        """``values`` as Settings: a mapping's or an object's (a ``TrainConfig``'s) fields of these names."""
        if values is None:
            return cls()
        if isinstance(values, Settings):
            return values
        names = [f.name for f in fields(cls)]
        if isinstance(values, Mapping):
            return cls(**{name: values[name] for name in names if name in values})
        return cls(**{name: getattr(values, name) for name in names if hasattr(values, name)})

    def value(self, name: str) -> Any:
        """The setting called ``name`` (``NOT_A_SETTING`` for a name that is none: ``hidden``)."""
        return getattr(self, name, NOT_A_SETTING) if name in _NAMES else NOT_A_SETTING

    def known(self) -> dict[str, Any]:
        """The settings that are not ``None``, by name."""
        return {name: value for name, value in asdict(self).items() if value is not None}


_NAMES = frozenset(f.name for f in fields(Settings))
