"""What each symptom says on its own, and what it proposes: its cause in words and its remedies.

A remedy reads the run's settings (``health.settings.Settings``) and the words on its initialization, and
returns ``(cause, fixes)``. The symptom table (``health.symptoms``) names each symptom's remedy; the
suspects in the settings (``health.suspects``) come before it in the repair order.
"""

from __future__ import annotations

from collections.abc import Callable

from gradwise.health.fixes import Fix
from gradwise.health.settings import Settings
from gradwise.nn.activations import get_activation
from gradwise.nn.init import default_initializer
from gradwise.nn.losses import get_loss
from gradwise.nn.pairing import mismatched, pairing

Remedy = Callable[[Settings, str | None], tuple[str, list[Fix]]]


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


def lr_fix(settings: Settings, factor: float, why: str) -> Fix:
    lr = 0.01 if settings.lr is None else float(settings.lr)
    return Fix({"lr": float(f"{lr * factor:.3g}")}, why, basis={"lr": lr} if settings.lr is not None else {})


def init_family(init: str | None) -> str | None:
    """Which units a scaled initializer is made for: "relu" (He), "tanh" (Glorot, LeCun), None for others."""
    name = str(init)
    if name.startswith("he_"):
        return "relu"
    return "tanh" if name.startswith(("glorot_", "lecun_")) else None


def init_mismatch(settings: Settings) -> str | None:
    """The initializer these units need when the run's scaled one is made for other units (Glorot under ReLU),
    else None."""
    wanted = scaled_init_name(settings.activation)
    family = init_family(settings.init)
    if settings.activation is None or family is None or family == init_family(wanted):
        return None
    return wanted


def init_words(settings: Settings) -> str | None:
    """A sentence on an initialization that ignores the fan-in or is made for other units, or None."""
    init, scale = settings.init, settings.init_scale
    if (wanted := init_mismatch(settings)) is not None:
        if init_family(wanted) == "relu":
            return (
                f"{init} weights keep the variance of tanh units, but ReLU units pass only half of it on: the "
                "signal halves in variance at every layer, so a deep stack starts with vanishing activations "
                "and gradients"
            )
        return f"{init} weights double the variance at every {settings.activation} layer: deep layers saturate"
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


def _with(words: str, init: str | None) -> str:
    return f"{words}; {init}" if init else words


# -- each symptom's remedy, in the order of the symptom table ---------------------------------------------


def saturation(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    causes = [init] if init else []
    if settings.normalize == "none":
        causes.append("inputs are raw 0-255 pixels, not scaled, so z is 255x too large")
    if not causes:
        causes.append("the pre-activations drifted far from 0: a learning rate too high for these units")
    words = "; ".join(causes) + "; saturated sigmoid/tanh units have derivatives near 0 and stop learning"
    return words, [lr_fix(settings, 0.1, "smaller steps keep z near 0")]


def dead_units(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    bias = float(settings.bias_init or 0.0)
    if bias < 0:
        words = f"biases start at {bias:g}, so most ReLU inputs are negative from step 1"
        return words, [Fix({"bias_init": 0.0}, "start the biases at 0"), Fix({"activation": "leaky_relu"})]
    words = "large updates pushed ReLU units to negative inputs for every sample; a dead unit gets no gradient"
    leaky = Fix({"activation": "leaky_relu"}, "leaky units recover", stage_override="optimizer")
    return words, [lr_fix(settings, 0.1, "smaller steps"), leaky]


def underflow(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = "values became tiny (below 1e-30) and round to 0: saturated units multiply the signal by ~0"
    return _with(words, init), []


def vanishing_gradient(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    activation = settings.activation
    if activation in ("sigmoid", "tanh"):
        words = (
            f"each {activation} layer multiplies the gradient by its derivative (at most "
            f"{'0.25' if activation == 'sigmoid' else '1'} and near 0 when saturated), so it shrinks layer by layer"
        )
        return _with(words, init), []
    words = "the gradient shrinks on its way to the first layers (initialization too small or units inactive)"
    return words, [Fix({"init": scaled_init_name(settings.activation), "init_scale": None})]


CLIP = Fix({"clip_norm": 1.0}, "cap each step's size")
ADAM = Fix({"optimizer": "adam", "lr": 0.001}, "adaptive steps")


def exploding_gradient(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = "gradients grow layer by layer or step by step: the weights or the learning rate are too large"
    return words, [CLIP, lr_fix(settings, 0.1, "smaller steps")]


def lr_too_high(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = "each update is a large fraction of the weights, so steps overshoot and the loss climbs"
    return words, [lr_fix(settings, 0.1, "smaller steps"), CLIP]


def lr_too_low(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = "each update changes the weights by a tiny fraction: training is far too slow to see progress"
    return words, [lr_fix(settings, 10.0, "larger steps"), ADAM]


def oscillation(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = "the loss jumps up and down: steps overshoot a valley (learning rate too high or batches too small)"
    return words, [lr_fix(settings, 0.3, "smaller steps")]


def plateau(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    return "the loss stopped improving while still high", [ADAM, lr_fix(settings, 0.3, "smaller steps")]


def non_finite(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = "a value overflowed to Inf or became NaN (updates too large, or an unstable operation)"
    return _with(words, init), [lr_fix(settings, 0.1, "smaller steps"), CLIP]


NORMALIZE_LAYERS = Fix({"norm": "layer"}, "normalize each hidden layer's outputs")  # last in the repair order


def shrinking_signal(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = "the activations shrink layer by layer before any update, and the gradients with them"
    return _with(words, init), [NORMALIZE_LAYERS]


def slow_learning(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = (
        "no alarm, but the run learns far more slowly than the same layers trained with the healthy recipe "
        "(matched output and loss, the initializer made for its units, Adam)"
    )
    return _with(words, init), [NORMALIZE_LAYERS]


def bad_initial_loss(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = "the loss at initialization is far above ln(classes): the initial outputs are confidently wrong"
    return words, [Fix({"bias_init": 0.0}, "start the biases at 0")]


def unnormalized_input(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = "inputs are far from zero mean and unit scale (raw pixels 0-255?), which saturates or blows up units"
    return words, [Fix({"normalize": "unit"}, "scale to [0, 1]"), Fix({"normalize": "standard"}, "mean 0, std 1")]


def unscaled_columns(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = (
        "the input columns are on scales 1000x or more apart: the wide column dominates every unit's input, and a "
        "learning rate small enough for its weights barely moves the narrow column's, so the network ignores it"
    )
    standard = Fix({"normalize": "standard"}, "standardize each column: mean 0, std 1")
    return words, [standard, Fix({"normalize": "unit"}, "scale each column to [0, 1]")]


def row_counter(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = (
        "its value says where a row sits in the file, not what the row is; in a file ordered by class it gives the "
        "class away, and the network learns the file's order instead of the data"
    )
    return words, [Fix({}, "leave that column out of the features (it is no measurement of the row)")]


def id_like_label(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = (
        "the label looks like an index, an ID or a measurement, not a class; a class seen in one row cannot be "
        "learned from other rows, nor tested"
    )
    return words, [Fix({}, "choose as the label the column that names each row's class (not an ID or a row number)")]


def imbalanced_classes(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = (
        "accuracy mostly measures the largest class; always answering it scores its share, and a class the network "
        "never predicts hardly lowers accuracy"
    )
    advice = "judge the run by its balanced accuracy (the mean recall per class, which `gradwise evaluate` prints)"
    return words, [Fix({}, advice)]


def output_loss_mismatch(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    return _mismatch_words(settings), []


def bad_labels(settings: Settings, init: str | None) -> tuple[str, list[Fix]]:
    words = "the labels do not fit the network's outputs or carry almost no information"
    return words, [Fix({}, "check the labels: one class per sample, numbered 0..classes-1")]


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


def pairing_fix(settings: Settings) -> Fix | None:
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
