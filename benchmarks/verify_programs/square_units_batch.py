"""Rows for the forward pass, units x batch for the backward pass, with hidden width = batch size (6).

Conventions: x is B x n_in and activations are B x n (rows), W in x out, but the backward pass is written the
textbook way, in columns: d1 = ((a1 - T) / B).T is n_out x B, d0 = (W1 @ d1) * (a0 (1 - a0)).T is
n_hid x B (6 x 6: square), dW = (d @ a_prev).T, db = d.sum(1). Sigmoid hidden, softmax output, mean
cross-entropy, one-hot targets, SGD. The user dumps each tensor as the code holds it ("%.17g" .dat files) and
declares only sizes, activations, loss and lr.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

N_IN, N_HID, N_OUT, B, LR = 5, 6, 3, 6, 0.3

EXPECTED = {
    None: "correct",
    # d0 = (W1 @ d1) * (a0 * (1 - a0)): the derivative not transposed to units x batch (square: no error)
    "deriv_not_transposed": (("wrong_derivative",), "delta0"),
    # dW1 = a0 @ d1.T: the column-layout formula dW = a d^T fed the rows-layout a0 (square: the shape fits)
    "dW1_a_rows": (("wrong_input_in_weight_gradient",), "dW1"),
    # db0 = d0.sum(0): summed over the units (square: the shape fits)
    "db0_wrong_axis": (("bias_reduction",), "db0"),
}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def step(W0, b0, W1, b1, x, T, bug=None):
    z0 = x @ W0 + b0
    a0 = sigmoid(z0)
    z1 = a0 @ W1 + b1
    a1 = softmax(z1)
    d1 = ((a1 - T) / len(x)).T
    if bug == "deriv_not_transposed":
        d0 = (W1 @ d1) * (a0 * (1 - a0))
    else:
        d0 = (W1 @ d1) * (a0 * (1 - a0)).T
    dW1 = a0 @ d1.T if bug == "dW1_a_rows" else (d1 @ a0).T
    db1 = d1.sum(1)
    dW0 = (d0 @ x).T
    db0 = d0.sum(0) if bug == "db0_wrong_axis" else d0.sum(1)
    return {
        "z0": z0,
        "a0": a0,
        "z1": z1,
        "a1": a1,
        "delta0": d0,
        "delta1": d1,
        "dW0": dW0,
        "db0": db0,
        "dW1": dW1,
        "db1": db1,
    }


def data():
    rs = np.random.RandomState(13)
    W0, b0 = rs.randn(N_IN, N_HID) * 0.5, rs.randn(N_HID) * 0.1
    W1, b1 = rs.randn(N_HID, N_OUT) * 0.5, rs.randn(N_OUT) * 0.1
    x = rs.randn(B, N_IN)
    T = np.eye(N_OUT)[rs.randint(0, N_OUT, B)]
    return W0, b0, W1, b1, x, T


def write(folder, bug=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    W0, b0, W1, b1, x, T = data()
    s = step(W0, b0, W1, b1, x, T, bug)
    tensors = {"x": x, "t": T, "W0": W0, "b0": b0, "W1": W1, "b1": b1, **s}
    tensors |= {"W0.after": W0 - LR * s["dW0"], "b0.after": b0 - LR * s["db0"]}
    tensors |= {"W1.after": W1 - LR * s["dW1"], "b1.after": b1 - LR * s["db1"]}
    for name, value in tensors.items():
        np.savetxt(folder / f"{name}.dat", value, fmt="%.17g")
    net = {"sizes": [N_IN, N_HID, N_OUT], "activations": ["sigmoid", "softmax"], "loss": "ce", "lr": LR}
    (folder / "network.json").write_text(json.dumps(net))


def gradcheck_problem():
    W0, b0, W1, b1, x, T = data()

    def cost(p):
        a1 = softmax(sigmoid(x @ p["W0"] + p["b0"]) @ p["W1"] + p["b1"])
        return -np.sum(T * np.log(a1)) / len(x)

    def grads(p):
        s = step(p["W0"], p["b0"], p["W1"], p["b1"], x, T)
        return {k: s["d" + k] for k in ("W0", "b0", "W1", "b1")}

    return {"W0": W0, "b0": b0, "W1": W1, "b1": b1}, cost, grads
