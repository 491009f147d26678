"""Causes and fixes: what a diagnosis says, given the run's settings (``health.settings.Settings``).

A diagnosis's fixes are the suspects in the settings that can cause its symptom (a mismatched output
and loss, raw input, an initialization that ignores the fan-in, ...), in the repair order of
``fixes.py``, then the symptom's own remedies. A fix the run already has is never proposed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from gradwise.health.fixes import Fix
from gradwise.health.settings import Settings
from gradwise.nn.activations import get_activation
from gradwise.nn.init import default_initializer
from gradwise.nn.losses import get_loss
from gradwise.nn.pairing import mismatched, pairing

UNSCALED_INITS = ("uniform", "normal", "constant", "zeros")
EXTREME_MOMENTUM = 0.99  # momentum this high keeps ~100 steps of velocity: it overshoots (Sutskever et al. 2013)
HEAVY_DROPOUT = 0.5  # dropping more than half the units leaves too little signal for a small network
LARGE_BIAS = 1.0  # an initial bias this large shifts every unit off its working range
HEAVY_DECAY = 0.01  # L2 decay this strong pulls the weights to 0 faster than the data can move them
TINY_CLIP = 0.01  # a global gradient norm clipped this small makes every step tiny

# The suspects (stages of the repair order) that can cause each symptom.
SUSPECTS: dict[str, tuple[str, ...]] = {
    "non_finite": ("pairing", "input", "init", "momentum"),
    "underflow": ("pairing", "init", "activation"),
    "saturation": ("input", "init", "activation"),
    "dead_units": ("input", "init", "momentum", "dropout"),
    "vanishing_gradient": ("pairing", "init", "activation", "decay"),
    "exploding_gradient": ("input", "init", "momentum"),
    "lr_too_high": ("input", "init", "momentum"),
    "lr_too_low": ("pairing", "clipping", "decay", "dropout"),
    "plateau": ("pairing", "input", "init", "activation", "clipping", "decay", "dropout"),
    "oscillation": ("momentum", "dropout"),
    "bad_initial_loss": ("pairing", "input", "init"),
    "unnormalized_input": ("input",),
    "output_loss_mismatch": ("pairing",),
    "bad_labels": (),
}


def loss_name(settings: Settings) -> str:
    """The loss's canonical name (``ce`` -> ``cross_entropy``), or the text as given."""
    try:
        return get_loss(settings.loss or "ce").name
    except ValueError:
        return str(settings.loss)


def scaled_init_name(activation: str | None) -> str:
    """The initializer gradwise gives these units (He for the ReLU family, Glorot otherwise)."""
    try:
        return default_initializer(get_activation(str(activation))).__name__
    except ValueError:
        return "glorot_uniform"


def _lr(settings: Settings, factor: float, why: str) -> Fix:
    lr = 0.01 if settings.lr is None else float(settings.lr)
    return Fix({"lr": float(f"{lr * factor:.3g}")}, why, basis={"lr": lr} if settings.lr is not None else {})


def _init_words(settings: Settings) -> str | None:
    """A sentence on an initialization that ignores the fan-in, or None when the init is a scaled one."""
    init, scale = settings.init, settings.init_scale
    if init == "uniform":
        high = 1.0 if scale is None else scale
        return (
            f"weights drawn from U(0, {high:g}) are all positive with mean {high / 2:g}: "
            "each unit adds up every active input, so |z| grows with the fan-in (hundreds of inputs) "
            "instead of staying near 1"
        )
    if init == "normal":
        std = 1.0 if scale is None else scale
        return (
            f"weights drawn from N(0, {std:g}^2) ignore the fan-in: with n inputs |z| is "
            f"about {std:g} * sqrt(n * E[x^2]), far beyond 1 for hundreds of inputs"
        )
    if init == "constant":
        return f"every weight equal to {scale or 0:g} makes all units identical"
    if init == "zeros":
        return "every weight is 0: all units compute the same thing and get the same update"
    return None


def suspect_fixes(settings: Settings, stages: tuple[str, ...]) -> list[Fix]:
    """Fixes for what in ``settings`` is suspect, among ``stages``, in the repair order."""
    return [replace(f, suspect=True) for f in _suspects(settings, stages)]


def _suspects(settings: Settings, stages: tuple[str, ...]) -> list[Fix]:
    found: list[Fix] = []
    if "pairing" in stages and (pairing := _pairing_fix(settings)) is not None:
        found.append(pairing)
    if "input" in stages and settings.normalize == "none":
        found.append(Fix({"normalize": "unit"}, "scale the raw 0-255 pixels to [0, 1]"))
    if "init" in stages:
        if settings.init in UNSCALED_INITS:
            rescaled = {"init": scaled_init_name(settings.activation), "init_scale": None}
            found.append(Fix(rescaled, "scale the weights by the fan-in"))
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
    return found


def explain(symptom: str, layer: int | None, settings: Settings) -> tuple[str, tuple[Fix, ...]]:
    """(cause, fixes) for a symptom in a run with these settings: suspects first, then remedies."""
    cause, remedies = _remedies(symptom, settings)
    fixes: list[Fix] = []
    for fix in [*suspect_fixes(settings, SUSPECTS.get(symptom, ())), *remedies]:
        if fix.in_effect(settings) or any(f.changes == fix.changes for f in fixes):
            continue  # a fix must change something, and each is proposed once
        fixes.append(fix)
    fixes.sort(key=lambda f: f.order)  # stable: within a stage, the order written below
    return cause, tuple(fixes)


def _remedies(symptom: str, settings: Settings) -> tuple[str, list[Fix]]:
    """The symptom's cause in words and its own remedies, before any suspect in the settings."""
    remedy = REMEDIES.get(symptom)
    return remedy(settings, _init_words(settings)) if remedy is not None else ("", [])


def _with(words: str, init: str | None) -> str:
    return f"{words}; {init}" if init else words


def _saturation(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    causes = [init] if init else []
    if settings.normalize == "none":
        causes.append("inputs are raw 0-255 pixels, not scaled, so z is 255x too large")
    if not causes:
        causes.append("the pre-activations drifted far from 0: a learning rate too high for these units")
    words = "; ".join(causes) + "; saturated sigmoid/tanh units have derivatives near 0 and stop learning"
    return words, [_lr(settings, 0.1, "smaller steps keep z near 0")]


def _dead_units(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    bias = float(settings.bias_init or 0.0)
    if bias < 0:
        words = f"biases start at {bias:g}, so most ReLU inputs are negative from step 1"
        return words, [Fix({"bias_init": 0.0}, "start the biases at 0"), Fix({"activation": "leaky_relu"})]
    words = "large updates pushed ReLU units to negative inputs for every sample; a dead unit gets no gradient"
    leaky = Fix({"activation": "leaky_relu"}, "leaky units recover", stage_override="optimizer")
    return words, [_lr(settings, 0.1, "smaller steps"), leaky]


def _vanishing(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    activation = settings.activation
    if activation in ("sigmoid", "tanh"):
        words = (
            f"each {activation} layer multiplies the gradient by its derivative (at most "
            f"{'0.25' if activation == 'sigmoid' else '1'} and near 0 when saturated), so it shrinks layer by layer"
        )
        return _with(words, init), []
    words = "the gradient shrinks on its way to the first layers (initialization too small or units inactive)"
    return words, [Fix({"init": scaled_init_name(settings.activation), "init_scale": None})]


def _normalize_words(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = "inputs are far from zero mean and unit scale (raw pixels 0-255?), which saturates or blows up units"
    return words, [Fix({"normalize": "unit"}, "scale to [0, 1]"), Fix({"normalize": "standard"}, "mean 0, std 1")]


CLIP = Fix({"clip_norm": 1.0}, "cap each step's size")
ADAM = Fix({"optimizer": "adam", "lr": 0.001}, "adaptive steps")
# Each symptom's cause in words and its own remedies, from the run's settings and the words on its init.
REMEDIES: dict[str, Callable[[Settings, str | None], tuple[str, list[Fix]]]] = {
    "saturation": _saturation,
    "dead_units": _dead_units,
    "vanishing_gradient": _vanishing,
    "exploding_gradient": lambda s, init: (
        "gradients grow layer by layer or step by step: the weights or the learning rate are too large",
        [CLIP, _lr(s, 0.1, "smaller steps")],
    ),
    "lr_too_high": lambda s, init: (
        "each update is a large fraction of the weights, so steps overshoot and the loss climbs",
        [_lr(s, 0.1, "smaller steps"), CLIP],
    ),
    "lr_too_low": lambda s, init: (
        "each update changes the weights by a tiny fraction: training is far too slow to see progress",
        [_lr(s, 10.0, "larger steps"), ADAM],
    ),
    "plateau": lambda s, init: ("the loss stopped improving while still high", [ADAM, _lr(s, 0.3, "smaller steps")]),
    "oscillation": lambda s, init: (
        "the loss jumps up and down: steps overshoot a valley (learning rate too high or batches too small)",
        [_lr(s, 0.3, "smaller steps")],
    ),
    "non_finite": lambda s, init: (
        _with("a value overflowed to Inf or became NaN (updates too large, or an unstable operation)", init),
        [_lr(s, 0.1, "smaller steps"), CLIP],
    ),
    "underflow": lambda s, init: (
        _with("values became tiny (below 1e-30) and round to 0: saturated units multiply the signal by ~0", init),
        [],
    ),
    "bad_initial_loss": lambda s, init: (
        "the loss at initialization is far above ln(classes): the initial outputs are confidently wrong",
        [Fix({"bias_init": 0.0}, "start the biases at 0")],
    ),
    "unnormalized_input": _normalize_words,
    "output_loss_mismatch": lambda s, init: (_mismatch_words(s), []),
    "bad_labels": lambda s, init: (
        "the labels do not fit the network's outputs or carry almost no information",
        [Fix({}, "check the labels: one class per sample, numbered 0..classes-1")],
    ),
}


# What each loss and each output are, in words, for the pairing's cause and fix.
LOSS_WORDS = {
    "mse": "squared error",
    "cross_entropy": "cross-entropy",
    "softmax_cross_entropy": "cross-entropy from logits",
    "binary_cross_entropy": "binary cross-entropy",
    "binary_cross_entropy_from_logits": "binary cross-entropy from logits",
}
NEEDS = {
    "softmax": "probabilities that sum to 1",
    "sigmoid": "probabilities in (0, 1)",
    "identity": "the raw outputs (it applies its own softmax or sigmoid)",
}


def _mismatch(settings: Settings) -> str | None:
    """The loss's name when the settings pair it with the wrong output (``nn.pairing``), else None."""
    output, loss = settings.output, loss_name(settings)
    if output is None:
        return None  # a network built by hand: its output is not in the settings
    try:
        return loss if mismatched(loss, output) else None
    except ValueError:
        return None  # a loss gradwise does not know: no pairing to judge


def _pairing_fix(settings: Settings) -> Fix | None:
    """The matched pair for a mismatched output activation and loss, or None when they match."""
    if (loss := _mismatch(settings)) is None:
        return None
    wanted = pairing(loss).made_for
    if wanted is None:  # squared error on softmax outputs: the loss softmax is made for
        return Fix({"loss": "ce"}, "cross-entropy is the loss softmax outputs are made for")
    return Fix({"output": wanted}, f"{LOSS_WORDS[loss]} needs {NEEDS[wanted]}")


def _mismatch_words(settings: Settings) -> str:
    output, loss = settings.output, loss_name(settings)
    if _mismatch(settings) is None:
        return f"output {output} with loss {loss} is an unusual pairing"
    wanted = pairing(loss).made_for
    if wanted is None:
        return (
            f"{output} outputs trained with squared error: the gradient passes through the {output} Jacobian and "
            "vanishes when the outputs are confident, whether right or wrong"
        )
    return f"{LOSS_WORDS[loss]} needs {NEEDS[wanted]}, but the output is {output}"
