"""The "bias as an extra input of 1, appended at the end" style (textbook-style augmented vectors).

Conventions: rows are samples, x carries a trailing column of ones (B x (n_in + 1)), each W is (in + 1) x out
with the bias as its last row, the hidden activations get a 1 appended too, tanh hidden, sigmoid output,
E = mean over the batch of 1/2 ||y - t||^2, the output delta (y - t) y (1 - y) / B, the hidden delta propagated
through W1 without its bias row, and W -= lr * dW. The user dumps the augmented x (as the code holds it), the
augmented W and dW, the deltas and the activations without their ones, tab-separated, and declares sizes
(without the ones), activations, loss, lr and that the gradients are means; the bias is left to be found.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

N_IN, N_HID, N_OUT, B, LR = 3, 6, 2, 10, 0.2

EXPECTED = {
    None: "correct",
    # tanh' written as (1 - h)
    "tanh_deriv_formula": (("wrong_derivative",), "delta0"),
    # the output delta not divided by B under "reduction": "mean"
    "mean_missing": (("batch_scale",), "dW1"),
    # d_out = (y - t) / B: the sigmoid derivative forgotten under mse
    "output_prime_missing": (("missing_output_derivative",), "delta1"),
}


def with_ones(a):
    return np.hstack([a, np.ones((a.shape[0], 1))])


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def step(W0, W1, X, T, bug=None):
    Xa = with_ones(X)
    H = np.tanh(Xa @ W0)
    Ha = with_ones(H)
    Y = sigmoid(Ha @ W1)
    n = 1 if bug == "mean_missing" else len(X)
    if bug == "output_prime_missing":
        D1 = (Y - T) / n
    else:
        D1 = (Y - T) * Y * (1 - Y) / n
    dW1 = Ha.T @ D1
    back = D1 @ W1[:-1].T
    D0 = back * (1 - H) if bug == "tanh_deriv_formula" else back * (1 - H**2)
    dW0 = Xa.T @ D0
    return {"Xa": Xa, "H": H, "Y": Y, "D0": D0, "D1": D1, "dW0": dW0, "dW1": dW1}


def data():
    rs = np.random.RandomState(11)
    W0 = rs.uniform(-0.5, 0.5, (N_IN + 1, N_HID))
    W1 = rs.uniform(-0.5, 0.5, (N_HID + 1, N_OUT))
    X = rs.randn(B, N_IN)
    T = rs.uniform(0.1, 0.9, (B, N_OUT))
    return W0, W1, X, T


def write(folder, bug=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    W0, W1, X, T = data()
    s = step(W0, W1, X, T, bug)

    def save(name, a):
        np.savetxt(folder / f"{name}.tsv", a, fmt="%.17g", delimiter="\t")

    save("x", s["Xa"])
    save("t", T)
    save("W0", W0)
    save("W1", W1)
    save("dW0", s["dW0"])
    save("dW1", s["dW1"])
    save("delta0", s["D0"])
    save("delta1", s["D1"])
    save("a0", s["H"])
    save("a1", s["Y"])
    save("W0.after", W0 - LR * s["dW0"])
    save("W1.after", W1 - LR * s["dW1"])
    net = {"sizes": [N_IN, N_HID, N_OUT], "activations": ["tanh", "sigmoid"], "loss": "mse", "lr": LR}
    net["reduction"] = "mean"
    (folder / "network.json").write_text(json.dumps(net))


def gradcheck_problem():
    W0, W1, X, T = data()

    def cost(p):
        Y = sigmoid(with_ones(np.tanh(with_ones(X) @ p["W0"])) @ p["W1"])
        return 0.5 * np.sum((Y - T) ** 2) / len(X)

    def grads(p):
        s = step(p["W0"], p["W1"], X, T)
        return {"W0": s["dW0"], "W1": s["dW1"]}

    return {"W0": W0, "W1": W1}, cost, grads
