"""Suspects: what in the run's settings can cause a symptom (raw input, weights that ignore the fan-in, a
mismatched output and loss, momentum near 1, ...), each with the fix that removes it.

A symptom names the stages it suspects (``health.symptoms``); its fixes list these first, in the repair
order of ``fixes.py``: causes before symptoms.
"""

from __future__ import annotations

from dataclasses import replace

from gradwise.health.fixes import Fix
from gradwise.health.remedies import init_mismatch, pairing_fix, scaled_init_name
from gradwise.health.settings import Settings
from gradwise.nn.pairing import pairing

UNSCALED_INITS = ("uniform", "normal", "constant", "zeros")
EXTREME_MOMENTUM = 0.99  # momentum this high keeps ~100 steps of velocity: it overshoots (Sutskever et al. 2013)
HEAVY_DROPOUT = 0.5  # dropping more than half the units leaves too little signal for a small network
LARGE_BIAS = 1.0  # an initial bias this large shifts every unit off its working range
HEAVY_DECAY = 0.01  # L2 decay this strong pulls the weights to 0 faster than the data can move them
TINY_CLIP = 0.01  # a global gradient norm clipped this small makes every step tiny

def suspect_fixes(settings: Settings, stages: tuple[str, ...]) -> list[Fix]:
    """Fixes for what in ``settings`` is suspect, among ``stages``, in the repair order."""
    return [replace(f, suspect=True) for f in _suspects(settings, stages)]


def _suspects(settings: Settings, stages: tuple[str, ...]) -> list[Fix]:
    found: list[Fix] = []
    if "pairing" in stages and (pairing := pairing_fix(settings)) is not None:
        found.append(pairing)
    if "input" in stages and settings.normalize == "none":
        found.append(Fix({"normalize": "unit"}, "scale the raw 0-255 pixels to [0, 1]"))
    if "init" in stages:
        if settings.init in UNSCALED_INITS:
            rescaled = {"init": scaled_init_name(settings.activation), "init_scale": None}
            found.append(Fix(rescaled, "scale the weights by the fan-in"))
        elif (wanted := init_mismatch(settings)) is not None:
            found.append(Fix({"init": wanted, "init_scale": None}, "the initializer made for these units"))
        if abs(float(settings.bias_init or 0.0)) >= LARGE_BIAS:
            found.append(Fix({"bias_init": 0.0}, "start the biases at 0"))
    if "activation" in stages and str(settings.activation).split(":")[0] in ("sigmoid", "tanh"):
        found.append(Fix({"activation": "relu", "init": "he_normal", "init_scale": None}, "ReLU units do not saturate"))
    momentum = float(settings.momentum or 0.0)
    uses_momentum = settings.optimizer in ("momentum", "nesterov", "rmsprop")
    if "momentum" in stages and uses_momentum and momentum >= EXTREME_MOMENTUM:
        found.append(Fix({"momentum": 0.9}, "a velocity of ~10 steps instead of ~100"))
    if "clipping" in stages and settings.clip_norm is not None and float(settings.clip_norm) < TINY_CLIP:
        found.append(Fix({"clip_norm": None}, "let the gradient through unclipped"))
    if "decay" in stages and float(settings.weight_decay or 0.0) >= HEAVY_DECAY:
        found.append(Fix({"weight_decay": 0.0}, "stop pulling the weights to 0"))
    if "dropout" in stages and float(settings.dropout or 0.0) >= HEAVY_DROPOUT:
        found.append(Fix({"dropout": 0.2}, "keep most units in each step"))
    if "recipe" in stages:
        found += recipe_fixes(settings)
    return found


RECIPE_OPTIMIZER = {"optimizer": "adam", "lr": 0.001}


def recipe_fixes(settings: Settings) -> list[Fix]:
    """What the healthy recipe for these layers changes beyond the settings' suspects: softmax outputs with
    cross-entropy (a pairing that learns, like sigmoid + mse, can still learn slowly) and Adam at 1e-3."""
    found = []
    try:
        categorical = pairing(settings.loss or "ce").kind == "categorical" and pairing_fix(settings) is None
    except ValueError:
        categorical = False  # a loss gradwise does not know
    if not categorical:
        found.append(Fix({"output": "softmax", "loss": "ce"}, "softmax outputs with cross-entropy: made for classes"))
    if {"optimizer": settings.optimizer, "lr": settings.lr} != RECIPE_OPTIMIZER:
        found.append(Fix(RECIPE_OPTIMIZER, "Adam at its usual rate"))
    return found


def yardstick_changes(settings: Settings) -> dict[str, object]:
    """The settings the healthy recipe for these layers changes: every suspect removed, matched softmax and
    cross-entropy, the initializer made for the units, Adam at 1e-3. The hidden sizes and the batch stay."""
    stages = ("pairing", "input", "init", "clipping", "decay", "dropout", "recipe")
    changes: dict[str, object] = {}
    for fix in _suspects(settings, stages):
        changes.update(fix.changes)
    return changes


