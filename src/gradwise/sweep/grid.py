"""A sweep's grid: axes parsed from ``--grid key=v1,v2``, the named preset grids, the budget, and the trials.

An axis names a ``TrainConfig`` field (``lr``, ``hidden``, ``batch_size``; dashes work too), ``preset``,
or, in a preset grid, a set of named configurations such as ``config=seed-2017,fixed``. Each value of an
axis is a label (what the map prints) and the fields it sets. A trial is one combination: the preset,
then the command line's flags, then the budget, then the axes' values, later ones winning.
"""

from __future__ import annotations

import itertools
import math
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gradwise.sweep.results import config_key
from gradwise.train.config import PRESETS, ConfigError, TrainConfig, preset

_NOT_AXES = ("extra",)  # TrainConfig fields a grid cannot vary
_TYPES: dict[str, Any] = {
    name: kind for name, kind in typing.get_type_hints(TrainConfig).items() if name not in _NOT_AXES
}
KEYS: tuple[str, ...] = tuple(sorted(_TYPES))


@dataclass(frozen=True)
class Axis:
    """One dimension of a grid: each value's label and the configuration fields it sets."""

    name: str
    labels: tuple[str, ...]
    overrides: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Trial:
    """One combination of the grid: its configuration, the configuration's key, and its label on each axis."""

    key: str
    axes: dict[str, str]
    config: TrainConfig


def parse_axis(text: str) -> Axis:
    """``"lr=0.01,0.1"`` -> Axis("lr", ("0.01", "0.1"), ({"lr": 0.01}, {"lr": 0.1})).

    ``hidden=30,512x256`` gives one or two hidden layers; ``none`` sets an optional field to None.
    """
    name, equals, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not equals:
        raise ConfigError(f"--grid {text}: expected KEY=V1,V2,... such as lr=0.01,0.1,1")
    if name not in _TYPES:
        raise ConfigError(f"--grid {name}: unknown key; valid keys: {', '.join(KEYS)}")
    parts = [part.strip() for part in values.split(",")]
    if not values.strip() or "" in parts:
        raise ConfigError(f"--grid {name}: empty value in {values!r}; list values like {name}=V1,V2")
    parsed = [_parse_value(name, part) for part in parts]
    labels = [_label(value) for value in parsed]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise ConfigError(f"--grid {name}: {label} is listed twice; list each value once")
    return Axis(name, tuple(labels), tuple({name: value} for value in parsed))


def _parse_value(name: str, text: str) -> Any:
    kind = _TYPES[name]
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    if type(None) in options and text.lower() == "none":
        return None
    base = next(option for option in options if option is not type(None))
    if name == "hidden":
        try:
            return tuple(int(size) for size in text.lower().split("x"))
        except ValueError:
            raise ConfigError(f"--grid hidden: {text!r} is not a size; write 100, or 512x256 for two layers") from None
    if name == "preset" and text not in PRESETS:
        raise ConfigError(f"--grid preset: unknown {text!r}; choose from: {', '.join(PRESETS)}")
    if base is bool:
        if text.lower() not in _BOOLS:
            raise ConfigError(f"--grid {name}: {text!r} is not true or false")
        return _BOOLS[text.lower()]
    try:
        if base is int:
            return int(text)
        if base is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
    except ValueError:
        what = "whole number" if base is int else "finite number"
        raise ConfigError(f"--grid {name}: {text!r} is not a {what}") from None
    return text


_BOOLS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def _label(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)  # 0.1 stays 0.1; 0.1234567 is not 0.123457
    return str(value)


def merge_axes(*groups: Sequence[Axis]) -> list[Axis]:
    """The axes of every group in order; an axis named again replaces the earlier one in place."""
    merged: dict[str, Axis] = {}
    for group in groups:
        for axis in group:
            merged[axis.name] = axis
    return list(merged.values())


_BUDGET = re.compile(r"(\d+(?:\.\d+)?)\s*(epochs?|steps?|s|sec|seconds?|min|minutes?)")
_FOREVER = 1_000_000  # epochs when the budget is counted in steps or seconds: the budget stops the run


@dataclass(frozen=True)
class Budget:
    """How long each trial trains: the TrainConfig fields that stop it, and how to say it."""

    fields: dict[str, Any]
    label: str  # "1 epoch", "500 steps", "30 s"


def parse_budget(text: str) -> Budget:
    """``1epoch``, ``500steps``, ``30s`` or ``2min`` -> the fields that stop a trial there."""
    match = _BUDGET.fullmatch(text.strip().lower())
    if match is None:
        raise ConfigError(f"--budget {text}: expected a count and a unit, such as 1epoch, 500steps, 30s or 2min")
    number, unit = float(match[1]), match[2]
    if number <= 0:
        raise ConfigError(f"--budget {text}: must be more than zero")
    if unit.startswith(("epoch", "step")):
        if not number.is_integer():
            raise ConfigError(f"--budget {text}: count whole {unit.rstrip('s')}s, such as 2{unit}")
        count = int(number)
        word = f"{unit.rstrip('s')}{'s' if count != 1 else ''}"
        if unit.startswith("epoch"):
            return Budget({"epochs": count, "max_steps": None, "time_budget": None}, f"{count} {word}")
        return Budget({"epochs": _FOREVER, "max_steps": count, "time_budget": None}, f"{count} {word}")
    seconds = number * 60 if unit.startswith("min") else number
    return Budget({"epochs": _FOREVER, "max_steps": None, "time_budget": seconds}, f"{seconds:g} s")


def span(base_preset: str, fixed: dict[str, Any], axes: Sequence[Axis]) -> list[Trial]:
    """Every combination of ``axes`` (the first axis varies slowest), each applied over ``fixed``.

    Two combinations can come out as the same configuration, with the same key: run each key once.
    """
    trials: list[Trial] = []
    for combination in itertools.product(*(range(len(axis.labels)) for axis in axes)):
        overrides = dict(fixed)
        labels = {}
        for axis, i in zip(axes, combination, strict=True):
            overrides.update(axis.overrides[i])
            labels[axis.name] = axis.labels[i]
        name = overrides.pop("preset", base_preset)
        config = preset(name, **overrides)
        trials.append(Trial(config_key(config), labels, config))
    return trials


@dataclass(frozen=True)
class PresetGrid:
    """A named sweep: a starting preset, its axes, default fields (flags override them) and the map's axes."""

    description: str
    preset: str
    axes: tuple[Axis, ...]
    defaults: dict[str, Any] = field(default_factory=dict)
    budget: str = "1epoch"
    x: str = "lr"
    y: str = "hidden"


def _variants(name: str, variants: dict[str, dict[str, Any]]) -> Axis:
    return Axis(name, tuple(variants), tuple(variants.values()))


PRESET_GRIDS: dict[str, PresetGrid] = {
    # The seed's question: which sizes, batches and rates give NaN? Its network (sigmoid hidden layer,
    # softmax output with mse, U(0, 1) weights, plain SGD) beside the same network with the two fixes
    # gradwise's health checks point to: cross-entropy (the matched, fused pair) and Glorot weights.
    "seed-2017": PresetGrid(
        description="the seed's 2017 network and the fixed one, over widths 30-1000, batches 1-100, lr 0.01-10",
        preset="seed-2017",
        axes=(
            _variants("config", {"seed-2017": {}, "fixed": {"loss": "ce", "init": "glorot_uniform"}}),
            parse_axis("hidden=30,100,1000"),
            parse_axis("batch_size=1,10,100"),
            parse_axis("lr=0.01,0.1,1,10"),
        ),
        defaults={"limit_train": 10_000},  # one epoch of batch 1 over all 50,000 images takes minutes
    ),
}
