"""A "step by step backpropagation example" style: a 2-2-2 sigmoid network worked out weight by weight.

Conventions: scalars with hand-typed values (inputs 0.05, 0.10; weights w1..w8 = 0.15 ... 0.55; targets
0.01, 0.99), w1 and w2 feed h1 (so the matrices written out are out x in, and square), one bias per layer shared
by its neurons (b1 = 0.35, b2 = 0.60) that is not trained (b given, no db), total error E = sum 1/2 (t - o)^2,
batch of one, learning rate 0.5, and every new weight computed from the *original* weights. The user writes
each tensor as rows of Python floats (str of a float, every digit) and network.json as a plain string.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

EXPECTED = {
    None: "correct",
    # dE/dnet_o = dE/dout_o only (the out_o (1 - out_o) factor forgotten)
    "forgot_out_derivative": (("missing_output_derivative",), "delta1"),
    # dE/dout_h1 = delta_o1 * w5_new + delta_o2 * w7_new   (the already-updated output weights)
    "updated_weights": (("updated_weights_in_backprop",), "delta0"),
    # dE/dout_h1 = delta_o1 * w5 + delta_o2 * w6   (w6 where w7 belongs: W not transposed)
    "w6_for_w7": (("wrong_upstream",), "delta0"),
    # two slips in one line: the updated weights, and dE/dout_o where dE/dnet_o belongs
    "updated_and_dEdout": (("updated_weights_in_backprop", "wrong_upstream"), "delta0"),
}

LR = 0.5


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def train_step(w, i1=0.05, i2=0.10, t1=0.01, t2=0.99, b1=0.35, b2=0.60, bug=None):
    """w: {"w1": ..., "w8": ...}. Returns every quantity of the worked example in a dict."""
    w1, w2, w3, w4, w5, w6, w7, w8 = (w[f"w{k}"] for k in range(1, 9))
    # forward pass
    net_h1 = w1 * i1 + w2 * i2 + b1 * 1
    net_h2 = w3 * i1 + w4 * i2 + b1 * 1
    out_h1, out_h2 = sigmoid(net_h1), sigmoid(net_h2)
    net_o1 = w5 * out_h1 + w6 * out_h2 + b2 * 1
    net_o2 = w7 * out_h1 + w8 * out_h2 + b2 * 1
    out_o1, out_o2 = sigmoid(net_o1), sigmoid(net_o2)
    E_o1 = 0.5 * (t1 - out_o1) ** 2
    E_o2 = 0.5 * (t2 - out_o2) ** 2
    E_total = E_o1 + E_o2

    # output layer
    dE_dout_o1 = -(t1 - out_o1)
    dE_dout_o2 = -(t2 - out_o2)
    dout_dnet_o1 = out_o1 * (1 - out_o1)
    dout_dnet_o2 = out_o2 * (1 - out_o2)
    if bug == "forgot_out_derivative":
        delta_o1, delta_o2 = dE_dout_o1, dE_dout_o2
    else:
        delta_o1, delta_o2 = dE_dout_o1 * dout_dnet_o1, dE_dout_o2 * dout_dnet_o2
    dE_dw5 = delta_o1 * out_h1
    dE_dw6 = delta_o1 * out_h2
    dE_dw7 = delta_o2 * out_h1
    dE_dw8 = delta_o2 * out_h2
    w5_new = w5 - LR * dE_dw5
    w6_new = w6 - LR * dE_dw6
    w7_new = w7 - LR * dE_dw7
    w8_new = w8 - LR * dE_dw8

    # hidden layer
    if bug == "updated_weights":
        dE_dout_h1 = delta_o1 * w5_new + delta_o2 * w7_new
        dE_dout_h2 = delta_o1 * w6_new + delta_o2 * w8_new
    elif bug == "w6_for_w7":
        dE_dout_h1 = delta_o1 * w5 + delta_o2 * w6
        dE_dout_h2 = delta_o1 * w7 + delta_o2 * w8
    elif bug == "updated_and_dEdout":
        dE_dout_h1 = dE_dout_o1 * w5_new + dE_dout_o2 * w7_new
        dE_dout_h2 = dE_dout_o1 * w6_new + dE_dout_o2 * w8_new
    else:
        dE_dout_h1 = delta_o1 * w5 + delta_o2 * w7
        dE_dout_h2 = delta_o1 * w6 + delta_o2 * w8
    delta_h1 = dE_dout_h1 * out_h1 * (1 - out_h1)
    delta_h2 = dE_dout_h2 * out_h2 * (1 - out_h2)
    dE_dw1 = delta_h1 * i1
    dE_dw2 = delta_h1 * i2
    dE_dw3 = delta_h2 * i1
    dE_dw4 = delta_h2 * i2
    w1_new = w1 - LR * dE_dw1
    w2_new = w2 - LR * dE_dw2
    w3_new = w3 - LR * dE_dw3
    w4_new = w4 - LR * dE_dw4
    return {k: v for k, v in locals().items() if k not in ("w", "bug")}


START = {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30, "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55}


def write(folder, bug=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    s = train_step(START, bug=bug)

    def save(name, rows):
        with open(folder / f"{name}.txt", "w") as f:
            for row in rows:
                f.write(" ".join(str(v) for v in row) + "\n")

    save("x", [[s["i1"], s["i2"]]])
    save("t", [[s["t1"], s["t2"]]])
    save("W0", [[s["w1"], s["w2"]], [s["w3"], s["w4"]]])
    save("W1", [[s["w5"], s["w6"]], [s["w7"], s["w8"]]])
    save("b0", [[s["b1"], s["b1"]]])
    save("b1", [[s["b2"], s["b2"]]])
    save("z0", [[s["net_h1"], s["net_h2"]]])
    save("a0", [[s["out_h1"], s["out_h2"]]])
    save("z1", [[s["net_o1"], s["net_o2"]]])
    save("a1", [[s["out_o1"], s["out_o2"]]])
    save("delta1", [[s["delta_o1"], s["delta_o2"]]])
    save("delta0", [[s["delta_h1"], s["delta_h2"]]])
    save("dW0", [[s["dE_dw1"], s["dE_dw2"]], [s["dE_dw3"], s["dE_dw4"]]])
    save("dW1", [[s["dE_dw5"], s["dE_dw6"]], [s["dE_dw7"], s["dE_dw8"]]])
    save("W0.after", [[s["w1_new"], s["w2_new"]], [s["w3_new"], s["w4_new"]]])
    save("W1.after", [[s["w5_new"], s["w6_new"]], [s["w7_new"], s["w8_new"]]])
    save("loss", [[s["E_total"]]])
    with open(folder / "network.json", "w") as f:
        f.write('{"sizes": [2, 2, 2], "activations": ["sigmoid", "sigmoid"], "loss": "mse", "lr": 0.5}\n')


def gradcheck_problem():
    def as_w(p):
        (w1, w2), (w3, w4) = p["W0"]
        (w5, w6), (w7, w8) = p["W1"]
        return dict(zip([f"w{k}" for k in range(1, 9)], map(float, (w1, w2, w3, w4, w5, w6, w7, w8)), strict=True))

    params = {"W0": np.array([[0.15, 0.20], [0.25, 0.30]]), "W1": np.array([[0.40, 0.45], [0.50, 0.55]])}

    def cost(p):
        return train_step(as_w(p))["E_total"]

    def grads(p):
        s = train_step(as_w(p))
        return {
            "W0": np.array([[s["dE_dw1"], s["dE_dw2"]], [s["dE_dw3"], s["dE_dw4"]]]),
            "W1": np.array([[s["dE_dw5"], s["dE_dw6"]], [s["dE_dw7"], s["dE_dw8"]]]),
        }

    return params, cost, grads
