"""Learning-rate schedules: functions of the step count (0 for the first update) to a rate.

Each matches the PyTorch scheduler of the same idea stepped once per update: ``step`` is
StepLR, ``exponential`` ExponentialLR, ``cosine`` CosineAnnealingLR (which climbs again
after ``T_max``; this one holds ``final``), ``warmup`` LinearLR chained with another schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Schedule = Callable[[int], float]


def constant(lr: float) -> Schedule:
    """The same rate at every step."""
    return lambda step: lr


def step(lr: float, every: int, gamma: float = 0.1) -> Schedule:
    """Multiply the rate by ``gamma`` every ``every`` steps."""
    if every < 1:
        raise ValueError(f"step schedule needs every >= 1, got {every}")
    return lambda t: lr * gamma ** (t // every)


def exponential(lr: float, gamma: float) -> Schedule:
    """Multiply the rate by ``gamma`` at every step."""
    return lambda t: lr * gamma**t


def cosine(lr: float, total_steps: int, final: float = 0.0) -> Schedule:
    """Half a cosine from ``lr`` down to ``final`` over ``total_steps`` steps."""
    if total_steps < 1:
        raise ValueError(f"cosine schedule needs total_steps >= 1, got {total_steps}")
    return lambda t: final + (lr - final) * (1 + math.cos(math.pi * min(t, total_steps) / total_steps)) / 2


def warmup(schedule: Schedule | float, steps: int, start: float = 0.0) -> Schedule:
    """Scale ``schedule`` by a factor rising linearly from ``start`` to 1 over the first ``steps`` steps."""
    base = as_schedule(schedule)
    if steps < 1:
        return base
    return lambda t: base(t) * (start + (1 - start) * min(t, steps) / steps)


def as_schedule(lr: Schedule | float) -> Schedule:
    """A number (Python's or NumPy's, e.g. ``np.float32(0.1)``) is a constant schedule; a schedule passes through."""
    return lr if callable(lr) else constant(float(lr))
