"""Where a NaN or Inf comes from: the first non-finite tensor, and the operation that made it."""

from __future__ import annotations

import numpy as np

from gradwise.verify.trace import Trace

Array = np.ndarray

EXP_LIMIT_FLOAT32 = 88.72  # exp overflows float32 above this (float64 above 709.78)


def non_finite_origin(
    trace: Trace, z: dict[int, Array], a: dict[int, Array], name: str, layer: int | None
) -> tuple[str, str]:
    """(explanation, fix) for the first non-finite value, found in tensor ``name``; z and a as the walk has them."""
    net = trace.network
    last = net.layers - 1
    if name.startswith("a") and layer is not None and layer in z:
        top = float(np.abs(z[layer]).max())
        if top > EXP_LIMIT_FLOAT32 and net.activations[layer].name in ("softmax", "sigmoid", "softplus", "elu"):
            how = "softmax without subtracting the row max" if net.activations[layer].name == "softmax" else "exp(z)"
            return (
                f"{name} overflows in exp: a {how}, with |z{layer}| up to {top:.4g} (exp overflows float32 above "
                f"{EXP_LIMIT_FLOAT32}, float64 above 709.8).",
                "subtract each row's max from z before exp (softmax), or compute from exp(−|z|) (sigmoid).",
            )
    output = a.get(last)
    if name in ("loss", f"delta{last}") and output is not None and net.loss in ("ce", "bce"):
        # Where a is 0 or 1 once rounded to float32, log(a), log(1 − a) and 1 / (a (1 − a)) are infinite.
        float32 = np.finfo(np.float32)
        zero = output < float(float32.tiny)  # float(): not float32 arithmetic
        one = output > 1 - float(float32.epsneg) / 2
        rounds_off = zero & (trace.t > 0) if net.loss == "ce" else zero | one
        if rounds_off.any() and name == "loss":
            return (
                f"the loss takes log(0): a{last} is 0 (or 1) in float32 where the target needs it otherwise.",
                "clip a to [1e-7, 1 − 1e-7] before the log, or compute the loss from the logits z.",
            )
        if rounds_off.any():
            return (
                f"delta{last} divides by a{last} (or a(1 − a)), which is 0 in float32 in places.",
                f"use the fused delta a − t for {net.activations[-1].name} with {net.loss}, without the division.",
            )
    return (
        f"{name} is the first tensor with a NaN or Inf, though everything it is computed from is finite.",
        f"look for a division by zero, a log of 0 or an overflow where {name} is computed.",
    )
