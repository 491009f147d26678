"""A "ReLU MLP with Adam from scratch" style (regression), 5-8-8-1.

Conventions: rows are samples, W in x out with He init, bias vectors, ReLU, ReLU, linear output,
loss = np.mean((y - t) ** 2) so dy = 2 (y - t) / B (the mean over the batch, no 1/2), ReLU mask from z > 0,
Adam (beta1 0.9, beta2 0.999, eps 1e-8, bias-corrected) on every parameter; the traced step is the third.
The user writes "%.17g" text, the W after Adam's step, and declares the optimizer.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

SIZES = [5, 8, 8, 1]
B, LR, BETA1, BETA2, EPS, STEP = 12, 1e-2, 0.9, 0.999, 1e-8, 3

EXPECTED = {
    None: "correct",
    # dh1 = dz2 @ W2.T with the ReLU mask of layer 1 forgotten
    "relu_mask_missing": (("wrong_derivative",), "delta1"),
    # dW1 = dz1.T @ a0 (out x in, the square 8 x 8 layer: no shape error)
    "dW_transposed": (("transposed",), "dW1"),
    # dW1 = dz1.T @ z0: the pre-activation *and* transposed
    "z_and_transposed": (("wrong_input_in_weight_gradient", "transposed"), "dW1"),
}


def relu(z):
    return np.maximum(z, 0)


def forward(params, x):
    cache = {"a-1": x}
    a = x
    for i in range(3):
        z = a @ params[f"W{i}"] + params[f"b{i}"]
        a = relu(z) if i < 2 else z
        cache[f"z{i}"], cache[f"a{i}"] = z, a
    return a, cache


def backward(params, cache, t, bug=None):
    y = cache["a2"]
    n = len(t)
    grads, deltas = {}, {}
    dz = 2 * (y - t) / n
    for i in (2, 1, 0):
        deltas[i] = dz
        a_prev = cache[f"a{i - 1}"]
        if i == 1 and bug == "dW_transposed":
            grads[f"W{i}"] = dz.T @ a_prev
        elif i == 1 and bug == "z_and_transposed":
            grads[f"W{i}"] = dz.T @ cache["z0"]
        else:
            grads[f"W{i}"] = a_prev.T @ dz
        grads[f"b{i}"] = dz.sum(axis=0)
        if i > 0:
            da = dz @ params[f"W{i}"].T
            if i - 1 == 1 and bug == "relu_mask_missing":
                dz = da
            else:
                dz = da * (cache[f"z{i - 1}"] > 0)
    return grads, deltas


def data():
    rs = np.random.RandomState(9)
    params = {}
    for i, (n_in, n_out) in enumerate(itertools.pairwise(SIZES)):
        params[f"W{i}"] = rs.randn(n_in, n_out) * np.sqrt(2 / n_in)
        params[f"b{i}"] = np.zeros(n_out)
    batches = []
    for _ in range(STEP):
        x = rs.randn(B, SIZES[0])
        batches.append((x, np.sin(x.sum(axis=1, keepdims=True))))
    return params, batches


def write(folder, bug=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    params, batches = data()
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    for step, (x, t) in enumerate(batches, start=1):
        traced = step == STEP
        before = {k: p.copy() for k, p in params.items()}
        y, cache = forward(params, x)
        grads, deltas = backward(params, cache, t, bug if traced else None)
        for k in params:
            m[k] = BETA1 * m[k] + (1 - BETA1) * grads[k]
            v[k] = BETA2 * v[k] + (1 - BETA2) * grads[k] ** 2
            m_hat = m[k] / (1 - BETA1**step)
            v_hat = v[k] / (1 - BETA2**step)
            params[k] = params[k] - LR * m_hat / (np.sqrt(v_hat) + EPS)
    save = lambda name, a: np.savetxt(folder / f"{name}.txt", np.atleast_1d(a), fmt="%.17g")  # noqa: E731
    save("x", x)
    save("t", t)
    for i in range(3):
        save(f"W{i}", before[f"W{i}"])
        save(f"b{i}", before[f"b{i}"])
        save(f"dW{i}", grads[f"W{i}"])
        save(f"db{i}", grads[f"b{i}"])
        save(f"z{i}", cache[f"z{i}"])
        save(f"a{i}", cache[f"a{i}"])
        save(f"delta{i}", deltas[i])
        save(f"W{i}.after", params[f"W{i}"])
        save(f"b{i}.after", params[f"b{i}"])
    save("loss", np.mean((y - t) ** 2))
    net = {"sizes": SIZES, "activations": ["relu", "relu", "linear"], "loss": "mse", "lr": LR, "optimizer": "adam"}
    (folder / "network.json").write_text(json.dumps(net, indent=1))


def gradcheck_problem():
    params, batches = data()
    x, t = batches[-1]

    def cost(p):
        y, _ = forward(p, x)
        return np.mean((y - t) ** 2)

    def grads(p):
        _, cache = forward(p, x)
        return backward(p, cache, t)[0]

    return params, cost, grads
