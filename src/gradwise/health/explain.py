"""Causes and fixes in words: what a diagnosis says, given the run's settings.

``settings`` is the run's hyperparameters as a plain dict (the CLI's TrainConfig fields):
init, init_scale, activation, output, loss, lr, normalize, bias_init, hidden, optimizer.
Fixes are flag changes, most likely first, so ``--repair`` can apply the first one.
"""

from __future__ import annotations

from typing import Any

Settings = dict[str, Any]


def _lr(settings: Settings, factor: float) -> str:
    return f"--lr {float(settings.get('lr', 0.01)) * factor:g}"


def _init_words(settings: Settings) -> str | None:
    """A sentence on a too-large initialization, or None when the init is a scaled one."""
    init, scale = settings.get("init"), settings.get("init_scale")
    if init == "uniform":
        high = 1.0 if scale is None else scale
        return (
            f"weights drawn from U(0, {high:g}) (--init uniform) are all positive with mean {high / 2:g}: "
            "each unit adds up every active input, so |z| grows with the fan-in (hundreds of inputs) "
            "instead of staying near 1"
        )
    if init == "normal":
        std = 1.0 if scale is None else scale
        return (
            f"weights drawn from N(0, {std:g}^2) (--init normal) ignore the fan-in: with n inputs |z| is "
            f"about {std:g} * sqrt(n * E[x^2]), far beyond 1 for hundreds of inputs"
        )
    if init == "constant" and scale:
        return f"every weight equal to {scale:g} (--init constant) makes all units identical and large"
    return None


def _scaled_init(settings: Settings) -> str:
    relu_family = settings.get("activation") in ("relu", "leaky_relu", "elu")
    return "--init he_normal" if relu_family else "--init glorot_uniform"


def explain(symptom: str, layer: int | None, settings: Settings) -> tuple[str, tuple[str, ...]]:
    """(cause, fixes) for a symptom in a run with these settings."""
    init = _init_words(settings)
    raw_input = settings.get("normalize") == "none"
    activation, output, loss = settings.get("activation"), settings.get("output"), settings.get("loss")
    if symptom == "saturation":
        causes = [init] if init else []
        if raw_input:
            causes.append("inputs are raw 0-255 pixels (--normalize none), so z is 255x too large")
        if not causes:
            causes.append("the pre-activations drifted far from 0: a learning rate too high for these units")
        fixes = [_scaled_init(settings)] if init else []
        fixes += ["--normalize unit"] if raw_input else []
        fixes += ["--activation relu --init he_normal", _lr(settings, 0.1)]
        return "; ".join(causes) + "; saturated sigmoid/tanh units have derivatives near 0 and stop learning", tuple(
            dict.fromkeys(fixes)
        )
    if symptom == "dead_units":
        bias = float(settings.get("bias_init") or 0.0)
        if bias < 0:
            cause = f"biases start at {bias:g} (--bias-init {bias:g}), so most ReLU inputs are negative from step 1"
            fixes: list[str] = ["--bias-init 0", "--activation leaky_relu"]
        else:
            cause = "large updates pushed ReLU units to negative inputs for every sample; a dead unit gets no gradient"
            fixes = [_lr(settings, 0.1), "--activation leaky_relu", "--init he_normal"]
        return cause, tuple(fixes)
    if symptom == "vanishing_gradient":
        if activation in ("sigmoid", "tanh"):
            cause = (
                f"each {activation} layer multiplies the gradient by its derivative (at most "
                f"{'0.25' if activation == 'sigmoid' else '1'} and near 0 when saturated), so it shrinks layer by layer"
            )
            if init:
                cause = f"{cause}; {init}"
            return cause, ("--activation relu --init he_normal", _scaled_init(settings))
        return "the gradient shrinks on its way to the first layers (initialization too small or units inactive)", (
            _scaled_init(settings),
            "--activation relu --init he_normal",
        )
    if symptom == "exploding_gradient":
        return "gradients grow layer by layer or step by step: the weights or the learning rate are too large", (
            "--clip-norm 1",
            _lr(settings, 0.1),
            _scaled_init(settings),
        )
    if symptom == "lr_too_high":
        return "each update is a large fraction of the weights, so steps overshoot and the loss climbs", (
            _lr(settings, 0.1),
            "--clip-norm 1",
            "--on-nan rollback",
        )
    if symptom == "lr_too_low":
        return "each update changes the weights by a tiny fraction: training is far too slow to see progress", (
            _lr(settings, 100.0),
            "--optimizer adam --lr 0.001",
        )
    if symptom == "plateau":
        return "the loss stopped improving while still high", ("--optimizer adam --lr 0.001", _lr(settings, 0.3))
    if symptom == "oscillation":
        return "the loss jumps up and down: steps overshoot a valley (learning rate too high or batches too small)", (
            _lr(settings, 0.3),
            f"--batch-size {int(settings.get('batch_size') or 32) * 4}",
        )
    if symptom == "non_finite":
        return "a value overflowed to Inf or became NaN (updates too large, or an unstable operation)", (
            _lr(settings, 0.1),
            "--clip-norm 1",
            "--on-nan rollback",
        )
    if symptom == "underflow":
        cause = "values became tiny (below 1e-30) and round to 0: saturated units multiply the signal by ~0"
        fixes = [_scaled_init(settings)] if init else []
        fixes += ["--loss ce"] if output == "softmax" and loss == "mse" else []
        return (f"{cause}; {init}" if init else cause), tuple([*fixes, "--activation relu --init he_normal"])
    if symptom == "bad_initial_loss":
        return "the loss at initialization is far above ln(classes): the initial outputs are confidently wrong", (
            _scaled_init(settings),
            "--bias-init 0",
        )
    if symptom == "unnormalized_input":
        return "inputs are far from zero mean and unit scale (raw pixels 0-255?), which saturates or blows up units", (
            "--normalize unit",
            "--normalize standard",
        )
    if symptom == "output_loss_mismatch":
        return _mismatch(output, loss)
    if symptom == "bad_labels":
        return "the labels do not fit the network's outputs or carry almost no information", (
            "check the labels file",
            "--dataset PATH with labels in 0..classes-1",
        )
    return "", ()


def _mismatch(output: str | None, loss: str | None) -> tuple[str, tuple[str, ...]]:
    if output == "softmax" and loss == "mse":
        return (
            "softmax outputs trained with squared error: the gradient passes through the softmax Jacobian and "
            "vanishes when the outputs are confident, whether right or wrong",
            ("--loss ce",),
        )
    if loss in ("ce", "cross_entropy") and output != "softmax":
        return f"cross-entropy needs probabilities that sum to 1, but the output is {output}", ("--output softmax",)
    if loss in ("bce", "binary_cross_entropy") and output != "sigmoid":
        return f"binary cross-entropy needs probabilities in (0, 1), but the output is {output}", ("--output sigmoid",)
    return f"output {output} with loss {loss} is an unusual pairing", ("--output softmax --loss ce",)
