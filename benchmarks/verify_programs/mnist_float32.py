"""A float32 "MNIST from scratch in NumPy" style, shrunk to 64-20-10 (8x8 digits-sized) to stay fast.

Conventions: float32 everywhere, rows are samples, W in x out (Xavier-ish randn * sqrt(1 / n_in)), bias
vectors, sigmoid hidden layer, softmax output (max subtracted) with mean cross-entropy over integer labels,
d_out = (probs - onehot) / B, and classic momentum v = mu * v - lr * dW; W += v. The traced step is the fourth
of a run (the velocity is not zero). The user saves text with "%.9g" (every digit of a float32; the labels as
integers) and declares sizes, activations, loss and lr only: momentum is left to be worked out.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SIZES = [64, 20, 10]
B, LR, MU, WARMUP = 16, 0.5, 0.9, 3
f32 = np.float32

EXPECTED = {
    None: "correct",
    # softmax normalised over the batch axis: e / e.sum(axis=0)
    "softmax_axis0": (("forward_mismatch",), "a1"),
    # sigmoid_prime written as z * (1 - z) on the pre-activation
    "deriv_of_z": (("wrong_derivative",), "delta0"),
    # d_out kept per sample, dW divided by B, but db = d_out.sum(0) not divided
    "db_not_divided": (("batch_scale",), "db1"),
}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z, axis=1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def forward_backward(params, x, labels, bug=None):
    W0, b0, W1, b1 = params
    n = x.shape[0]
    z0 = x @ W0 + b0
    a0 = sigmoid(z0)
    z1 = a0 @ W1 + b1
    a1 = softmax(z1, axis=0 if bug == "softmax_axis0" else 1)
    onehot = np.zeros_like(a1)
    onehot[np.arange(n), labels] = 1
    loss = -np.mean(np.log(a1[np.arange(n), labels]))
    if bug == "db_not_divided":
        d1 = a1 - onehot
        dW1 = a0.T @ d1 / n
        db1 = d1.sum(axis=0)
    else:
        d1 = (a1 - onehot) / n
        dW1 = a0.T @ d1
        db1 = d1.sum(axis=0)
    if bug == "deriv_of_z":
        d0 = (d1 @ W1.T) * (z0 * (1 - z0))
    else:
        d0 = (d1 @ W1.T) * (a0 * (1 - a0))
    if bug == "db_not_divided":
        dW0 = x.T @ d0 / n
        db0 = d0.sum(axis=0)
    else:
        dW0 = x.T @ d0
        db0 = d0.sum(axis=0)
    seen = {"z0": z0, "a0": a0, "z1": z1, "a1": a1, "delta0": d0, "delta1": d1, "loss": loss}
    return [dW0, db0, dW1, db1], seen


def setup(dtype=f32):
    rs = np.random.RandomState(5)
    params = [
        (rs.randn(64, 20) * np.sqrt(1 / 64)).astype(dtype),
        np.zeros(20, dtype),
        (rs.randn(20, 10) * np.sqrt(1 / 20)).astype(dtype),
        np.zeros(10, dtype),
    ]
    batches = [(rs.rand(B, 64).astype(dtype), rs.randint(0, 10, B)) for _ in range(WARMUP + 1)]
    return params, batches


def write(folder, bug=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    params, batches = setup()
    velocity = [np.zeros_like(p) for p in params]
    for x, labels in batches[:WARMUP]:
        grads, _ = forward_backward(params, x, labels)
        for p, v, g in zip(params, velocity, grads, strict=True):
            v *= f32(MU)
            v -= f32(LR) * g
            p += v
    x, labels = batches[WARMUP]
    before = [p.copy() for p in params]
    grads, seen = forward_backward(params, x, labels, bug)
    for p, v, g in zip(params, velocity, grads, strict=True):
        v *= f32(MU)
        v -= f32(LR) * g
        p += v

    def save(name, a, fmt="%.9g"):
        np.savetxt(folder / f"{name}.txt", np.atleast_1d(a), fmt=fmt)

    save("x", x)
    save("t", labels, fmt="%d")
    for i in range(2):
        save(f"W{i}", before[2 * i])
        save(f"b{i}", before[2 * i + 1])
        save(f"dW{i}", grads[2 * i])
        save(f"db{i}", grads[2 * i + 1])
        save(f"W{i}.after", params[2 * i])
        save(f"b{i}.after", params[2 * i + 1])
        for key in ("z", "a", "delta"):
            save(f"{key}{i}", seen[f"{key}{i}"])
    save("loss", seen["loss"])
    net = {"sizes": SIZES, "activations": ["sigmoid", "softmax"], "loss": "ce", "lr": LR}
    (folder / "network.json").write_text(json.dumps(net))


def gradcheck_problem():
    params, batches = setup(np.float64)
    x, labels = batches[WARMUP]
    names = ["W0", "b0", "W1", "b1"]

    def cost(p):
        return forward_backward([p[k] for k in names], x, labels)[1]["loss"]

    def grads(p):
        return dict(zip(names, forward_backward([p[k] for k in names], x, labels)[0], strict=True))

    return dict(zip(names, params, strict=True)), cost, grads
