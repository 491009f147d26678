"""A user's own NumPy MLP step, written independently of gradwise, with one bug injected by name, and a trace writer.

``user_step`` is what someone writing backprop by hand would write: rows are samples, W is in × out, and every
tensor it returns is what they would dump. ``bug`` names one slip (see BUGS); the rest of the step then follows
from the wrong value, as it would in their code. ``write_trace`` stores the tensors in any of the trace's
conventions (rows or columns, W in × out or out × in, txt / csv / npy / npz).
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np

REQUIRED = re.compile(r"x|t|(W|b|dW|db)\d+")


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z, axis=1, stable=True):
    e = np.exp(z - z.max(axis=axis, keepdims=True) if stable else z)
    return e / e.sum(axis=axis, keepdims=True)


FORWARD = {
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "identity": lambda z: z,
    "softmax": softmax,
}
DERIVATIVE = {  # f'(z), written from z
    "sigmoid": lambda z: sigmoid(z) * (1 - sigmoid(z)),
    "tanh": lambda z: 1 - np.tanh(z) ** 2,
    "relu": lambda z: (z > 0).astype(z.dtype),
    "identity": np.ones_like,
}


def problem(sizes, acts, loss, batch, seed=0, weight_scale=1.0, dtype=np.float64, zero_bias=()):
    """x, t, W, b for a network: random normal inputs, one-hot (ce), binary (bce) or real (mse) targets.

    The layers in ``zero_bias`` start with b = 0 (as zero-initialized biases, or a layer without bias).
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, sizes[0]))
    if loss == "ce":
        t = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    elif loss == "bce":
        t = rng.integers(0, 2, (batch, sizes[-1])).astype(float)
    else:
        t = (
            rng.uniform(0, 1, (batch, sizes[-1]))
            if acts[-1] in ("sigmoid", "softmax")
            else rng.normal(size=(batch, sizes[-1]))
        )
        if acts[-1] == "softmax":
            t = t / t.sum(axis=1, keepdims=True)
    W = [weight_scale * rng.normal(scale=1 / np.sqrt(n), size=(n, m)) for n, m in itertools.pairwise(sizes)]
    b = [rng.normal(scale=0.3, size=m) for m in sizes[1:]]
    b = [np.zeros_like(v) if i in zero_bias else v for i, v in enumerate(b)]
    cast = lambda v: np.asarray(v, dtype)  # noqa: E731
    return cast(x), cast(t), [cast(w) for w in W], [cast(v) for v in b]


def user_step(
    sizes, acts, loss, x, t, W, b, *, bug="", reduction="mean", lr=0.1, per_sample_deltas=False, l2=0.0, optimizer=""
):
    """One hand-written step -> {name: tensor} in rows / in × out, with ``bug`` injected ("a+b": two at once).

    ``l2`` adds λ·W to every dW (and λ/2 Σ‖W‖² to the loss); ``optimizer`` ("momentum", "adam") moves W by its
    update from a state the trace does not hold (a velocity, moments), instead of by −lr·dW.
    """
    bugs = set(bug.split("+"))
    B = len(x)
    s = 1 / B if reduction == "mean" else 1.0
    L = len(W)
    zs, as_ = [], []
    a = x
    for i in range(L):
        z = (
            a @ W[i]
            if "no_bias" in bugs and i == 0
            else (a @ W[i].T if "transposed_forward" in bugs and i == 0 else a @ W[i])
            + (0 if "no_bias" in bugs and i == 0 else b[i])
        )
        name = acts[i]
        if "wrong_activation" in bugs and i == 0:
            name = "sigmoid" if acts[i] != "sigmoid" else "tanh"
        if name == "softmax":
            axis = {"softmax_axis": 0, "softmax_all": None}.get(bug, 1)
            a = softmax(z, axis=axis, stable="softmax_overflow" not in bugs)
        else:
            a = FORWARD[name](z)
        zs.append(z)
        as_.append(a)
    y = as_[-1]
    with np.errstate(all="ignore"):
        if loss == "mse":
            per = (0.5 if "constant_scale" not in bugs else 1.0) * ((y - t) ** 2).sum(axis=1)
        elif loss == "ce":
            per = -(t * np.log(y)).sum(axis=1)
        else:
            per = -(t * np.log(y) + (1 - t) * np.log(1 - y)).sum(axis=1)
    out = {"x": x, "t": t, "loss": np.array(per.sum() * s + 0.5 * l2 * sum((w * w).sum() for w in W))}
    # --- the output delta, per sample ---
    last = acts[-1]
    fused = (last, loss) in (("softmax", "ce"), ("sigmoid", "bce"))
    if loss == "mse":
        dEda = (y - t) * (2 if "constant_scale" in bugs else 1)
    elif loss == "ce":
        dEda = -t / y
    else:
        dEda = (y - t) / (y * (1 - y))
    if "missing_output_derivative" in bugs or last == "identity":
        D = dEda
    elif "derivative_at_output" in bugs and last != "softmax":
        D = dEda * DERIVATIVE[last](FORWARD[last](zs[-1]))
    elif "softmax_diagonal" in bugs:
        D = dEda * y * (1 - y)
    elif "derivative_at_output" in bugs and last != "softmax":
        D = dEda * DERIVATIVE[last](FORWARD[last](zs[-1]))
    elif "softmax_diagonal" in bugs:
        D = dEda * y * (1 - y)
    elif fused:
        D = y - t
        if "extra_output_derivative" in bugs:
            D = D * y * (1 - y)
    elif last == "softmax":
        D = y * (dEda - (dEda * y).sum(axis=1, keepdims=True))
    else:
        D = dEda * DERIVATIVE[last](zs[-1])
    if "output_no_known_form" in bugs:  # no slip anyone names: a − t reweighted by a function of z
        D = (y - t) * (1 + 0.5 * np.cos(zs[-1]))
    if "shape" in bugs:  # (B, 1) output minus a flattened (B,) target broadcasts to (B, B)
        D = y - t.ravel()
    if "output_times_2_over_n" in bugs:  # a mean over the outputs without the ½ of the squared error
        D = D * 2 / sizes[-1]
    if "sign_delta" in bugs:
        D = -D
    deltas = [None] * L
    deltas[-1] = s * D
    dW, db = [None] * L, [None] * L
    Wn = [w.copy() for w in W]
    for i in range(L - 1, -1, -1):
        inp = x if i == 0 else as_[i - 1]
        if i < L - 1:
            Wnext = Wn[i + 1] if "updated_weights_in_backprop" in bugs else W[i + 1]
            square = Wnext.shape[0] == Wnext.shape[1]
            up = deltas[i + 1] @ (Wnext if "wrong_upstream" in bugs and square else Wnext.T)
            if "wrong_upstream_da" in bugs and i == L - 2:
                up = (s * dEda) @ Wnext.T
            if "derivative_at_output" in bugs:
                factor = DERIVATIVE[acts[i]](as_[i])
            elif "wrong_derivative" in bugs:
                factor = as_[i] * (1 - as_[i])  # sigmoid's formula on a tanh layer
            elif "next_layer_derivative" in bugs and i + 1 < L - 1:
                factor = DERIVATIVE[acts[i + 1]](zs[i + 1])  # an index off by one
            elif "formula_of_a_at_z" in bugs:
                factor = 1 - zs[i] ** 2  # tanh′ written for a, given z
            elif "odd_derivative" in bugs:
                factor = 0.5 + np.cos(zs[i]) ** 2  # no known form
            elif "cache_overwritten" in bugs:
                as_[i][...] = zs[i] > 0  # the ReLU mask written in place over the activations
                factor = as_[i]
            elif "derivatives_from_a" in bugs:  # correct, written from the output: a(1 − a), 1 − a², a > 0
                factor = {"sigmoid": as_[i] * (1 - as_[i]), "tanh": 1 - as_[i] ** 2}.get(acts[i], as_[i] > 0)
            else:
                factor = DERIVATIVE[acts[i]](zs[i])
            deltas[i] = up * factor
        d = deltas[i]
        src = zs[i - 1] if "wrong_input_in_weight_gradient" in bugs and i == L - 1 and i > 0 else inp
        if "cache_overwritten" in bugs and i == L - 1:
            pass  # dW{L-1} is formed later, below, from the overwritten cache
        dW[i] = src.T @ d + l2 * W[i]
        db[i] = d.sum(axis=0)
        if "transposed" in bugs and i == L - 1:
            dW[i] = dW[i].T
        if "sign" in bugs:
            dW[i], db[i] = -dW[i], -db[i]
        if "batch_scale" in bugs:
            dW[i], db[i] = dW[i] * B, db[i] * B
        if "batch_scale_bias" in bugs:
            db[i] = db[i] * B
        if "bias_no_axis" in bugs:
            db[i] = np.array(d.sum())
        if "bias_wrong_axis" in bugs:
            db[i] = d.sum(axis=1)
        if "bias_no_axis" in bugs:
            db[i] = np.array(d.sum())
        if "bias_wrong_axis" in bugs:
            db[i] = d.sum(axis=1)
        if "bias_one_sample" in bugs:
            db[i] = d[0] / s if reduction == "mean" else d[0]
        if "bias_mean" in bugs and reduction == "sum":
            db[i] = d.mean(axis=0)
        if "updated_weights_in_backprop" in bugs:
            Wn[i] = W[i] - (_stateful_step(optimizer, dW[i], lr, seed=i) if optimizer else lr * dW[i])
    if "cache_overwritten" in bugs:
        dW[L - 1] = as_[L - 2].T @ deltas[L - 1]
    for i in range(L):
        step = lr * dW[i] if dW[i].shape == W[i].shape else 0
        if optimizer and dW[i].shape == W[i].shape:
            step = _stateful_step(optimizer, dW[i], lr, seed=i)
        factor = {"update_sign": -1, "update_none": 0, "update_twice": 2, "update_rate": 0.37}.get(bug, 1)
        out[f"W{i}"], out[f"b{i}"], out[f"dW{i}"], out[f"db{i}"] = W[i], b[i], dW[i], db[i]
        out[f"W{i}.after"] = W[i] - factor * step
        bias_step = _stateful_step(optimizer, db[i], lr, seed=50 + i) if optimizer else lr * db[i]
        out[f"b{i}.after"] = b[i] - factor * bias_step if db[i].shape == b[i].shape else b[i]
        out[f"z{i}"], out[f"a{i}"] = zs[i], as_[i]
        out[f"delta{i}"] = deltas[i] / s if per_sample_deltas else deltas[i]
    return out


def _stateful_step(optimizer, g, lr, seed):
    """The step an optimizer with state takes on its third step, from a state drawn at random."""
    rng = np.random.default_rng(100 + seed)
    finite = np.abs(g[np.isfinite(g)])
    size = (finite.mean() if finite.size else 1.0) + 1e-3  # the state is about as large as the gradient
    if optimizer == "momentum":  # v = 0.9 v + g; W -= lr v
        return lr * (0.9 * rng.normal(scale=size, size=g.shape) + g)
    m = 0.9 * rng.normal(scale=size, size=g.shape) + 0.1 * g  # Adam, step 3
    v = 0.999 * rng.uniform(0, size**2, size=g.shape) + 0.001 * g * g
    return lr * (m / (1 - 0.9**3)) / (np.sqrt(v / (1 - 0.999**3)) + 1e-8)


def write_trace(folder, network, tensors, *, fmt="txt", include=None, samples="rows", weights="in_out"):
    """Store the tensors as a trace folder in the given format and conventions -> the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "network.json").write_text(json.dumps({**network, "samples": samples, "weights": weights}))
    stored = {}
    for name, value in tensors.items():
        if include is not None and name not in include and not REQUIRED.fullmatch(name):
            continue
        value = np.asarray(value)
        base = name.split(".")[0].rstrip("0123456789")
        if samples == "columns" and base in ("x", "t", "z", "a", "delta") and value.ndim == 2:
            value = value.T
        if samples == "columns" and base in ("b", "db") and value.ndim == 1:
            value = value.reshape(-1, 1)  # Nielsen's column vectors
        if weights == "out_in" and base in ("W", "dW") and value.ndim == 2:
            value = value.T
        stored[name] = value
    if fmt == "npz":
        np.savez(folder / "trace.npz", **stored)
        return folder
    for name, value in stored.items():
        if fmt == "npy":
            np.save(folder / f"{name}.npy", value)
        else:
            sep = {"txt": " ", "csv": ",", "tsv": "\t", "dat": " "}[fmt]
            np.savetxt(
                folder / f"{name}.{fmt}",
                np.atleast_2d(value),
                fmt="%.17g" if value.dtype == np.float64 else "%.9g",
                delimiter=sep,
            )
    return folder


# --- the same step as programs in other conventions dump it ------------------------------------------------------


def _join(W, b, end):
    row = np.reshape(b, (1, -1))
    return np.vstack([row, W] if end == "first" else [W, row])


def _with_ones(a, end):
    ones = np.ones((a.shape[0], 1), dtype=a.dtype)
    return np.hstack([ones, a] if end == "first" else [a, ones])


def bias_inside(tensors, layers, end, ones=True):
    """As code that keeps the bias inside W: [b ; W] (end "first") or [W ; b], and a constant 1 in each input."""
    out = dict(tensors)
    for i in range(layers):
        W, b = out.pop(f"W{i}"), out.pop(f"b{i}")
        dW, db = out.pop(f"dW{i}"), out.pop(f"db{i}")
        if dW.shape == W.shape:
            out[f"dW{i}"] = _join(dW, db, end)
        else:  # dW transposed, out × in: the augmented gradient transposed
            out[f"dW{i}"] = _join(dW.T, db, end).T
        out[f"W{i}"] = _join(W, b, end)
        if f"W{i}.after" in out:
            out[f"W{i}.after"] = _join(out.pop(f"W{i}.after"), out.pop(f"b{i}.after"), end)
        if ones and i + 1 < layers and f"a{i}" in out:
            out[f"a{i}"] = _with_ones(out[f"a{i}"], end)
    if ones:
        out["x"] = _with_ones(out["x"], end)
    return out


def without_bias(tensors, layers):
    """As code whose listed layers have no bias: no b, db or b.after (the step was computed with b = 0)."""
    return {k: v for k, v in tensors.items() if not re.fullmatch(rf"d?b({'|'.join(map(str, layers))})(\.after)?", k)}


def error_t_minus_y(tensors):
    """As code that computes the error as t − y and adds the update: every gradient negated, W.after the same."""
    return {k: (-v if re.fullmatch(r"(delta|dW|db)\d+", k) else v) for k, v in tensors.items()}


def units_by_batch(tensors):
    """As code that stores each per-sample tensor (z, a, delta) as units × batch while x is batch × units."""
    return {k: (v.T if re.fullmatch(r"(z|a|delta)\d+", k) and np.ndim(v) == 2 else v) for k, v in tensors.items()}


def _forward(tensors, acts, layers, after):
    a = tensors["x"]
    for i in range(layers):
        W, b = (tensors[f"W{i}.after"], tensors[f"b{i}.after"]) if after else (tensors[f"W{i}"], tensors[f"b{i}"])
        a = FORWARD[acts[i]](a @ W + b)
    return a


def loss_as(tensors, acts, loss, kind, reduction="mean"):
    """The loss as programs print it: with ε inside the log, clipped, after the update, or summed."""
    layers = len(acts)
    y, t = tensors[f"a{layers - 1}"], tensors["t"]
    s = 1 / len(t) if reduction == "mean" else 1.0
    if kind == "after":
        y = _forward(tensors, acts, layers, after=True)
    if kind == "summed":
        return dict(tensors, loss=np.array(tensors["loss"] / s))
    epsilon = {"epsilon": 1e-8, "clipped": 1e-7}.get(kind, 0.0)
    if kind == "clipped":
        y, epsilon = np.clip(y, 1e-7, 1 - 1e-7), 0.0
    if loss == "ce":
        per = -(t * np.log(y + epsilon)).sum(axis=1)
    elif loss == "bce":
        per = -(t * np.log(y + epsilon) + (1 - t) * np.log(1 - y + epsilon)).sum(axis=1)
    else:
        per = 0.5 * ((y - t) ** 2).sum(axis=1)
    return dict(tensors, loss=np.array(per.sum() * s))
