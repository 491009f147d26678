"""Optimizers as chains of in-place transforms (optax-style ``init`` / ``update``)."""

from gradwise.optim import schedules
from gradwise.optim.base import Params, State, Transform, apply_updates, chain, move
from gradwise.optim.optimizers import OPTIMIZERS, adam, adamw, momentum, nesterov, rmsprop, sgd
from gradwise.optim.transforms import (
    add_decayed_weights,
    clip_by_global_norm,
    learning_rate_scale,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    scale_learning_rate,
    trace,
)

__all__ = [
    "OPTIMIZERS",
    "Params",
    "State",
    "Transform",
    "adam",
    "adamw",
    "add_decayed_weights",
    "apply_updates",
    "chain",
    "clip_by_global_norm",
    "learning_rate_scale",
    "momentum",
    "move",
    "nesterov",
    "rmsprop",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_rms",
    "scale_learning_rate",
    "schedules",
    "sgd",
    "trace",
]
