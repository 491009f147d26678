"""cs231n "TwoLayerNet" style (assignment 1, neural_net.py).

Conventions: rows are samples, W1 (D x H) and W2 (H x C) in x out, b1, b2 vectors, ReLU hidden layer, scores,
softmax computed with the max subtracted, y as class labels, loss = mean cross-entropy + reg * (sum W1^2 +
sum W2^2), dscores = (probs - onehot) / N, dW += 2 * reg * W, biases not regularised, SGD with lr. The toy
model and data of the notebook: 4-10-3, N = 5, X = 10 * randn, W = 1e-1 * randn, b = 0. Everything goes into
one trace.npz (np.savez); network.json declares sizes, activations, loss and lr (not reg). The loss dumped is
the loss() function's, with the reg term.
"""

# ruff: noqa: NPY002  (the assignment's np.random.seed and np.random.randn)

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

INPUT, HIDDEN, CLASSES, N = 4, 10, 3, 5
REG, LR = 0.05, 0.1

EXPECTED = {
    None: "correct",
    # hidden[hidden > 0] = 1; dhidden *= hidden : the ReLU mask written over the cached activations
    "mask_in_place": (("forward_mismatch",), "a0"),
    # dscores not divided by N while the loss is a mean
    "no_divide_N": (("batch_scale",), "dW1"),
    # dW2 = z1.T.dot(dscores): the pre-ReLU hidden layer
    "pre_relu_in_dW2": (("wrong_input_in_weight_gradient",), "dW1"),
}


def init_toy_model():
    np.random.seed(0)
    std = 1e-1
    return {
        "W1": std * np.random.randn(INPUT, HIDDEN),
        "b1": np.zeros(HIDDEN),
        "W2": std * np.random.randn(HIDDEN, CLASSES),
        "b2": np.zeros(CLASSES),
    }


def init_toy_data():
    np.random.seed(1)
    X = 10 * np.random.randn(N, INPUT)
    y = np.array([0, 1, 2, 2, 1])
    return X, y


def loss(params, X, y=None, reg=0.0, bug=None):
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    N, _ = X.shape
    z1 = X.dot(W1) + b1
    hidden = np.maximum(0, z1)
    scores = hidden.dot(W2) + b2
    if y is None:
        return scores
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    exp_scores = np.exp(shifted)
    probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    data_loss = -np.sum(np.log(probs[np.arange(N), y])) / N
    reg_loss = reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    loss = data_loss + reg_loss

    grads = {}
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    if bug != "no_divide_N":
        dscores /= N
    if bug == "pre_relu_in_dW2":
        grads["W2"] = z1.T.dot(dscores) + 2 * reg * W2
    else:
        grads["W2"] = hidden.T.dot(dscores) + 2 * reg * W2
    grads["b2"] = np.sum(dscores, axis=0)
    dhidden = dscores.dot(W2.T)
    if bug == "mask_in_place":
        hidden[hidden > 0] = 1
        dhidden *= hidden
    else:
        dhidden[hidden <= 0] = 0
    grads["W1"] = X.T.dot(dhidden) + 2 * reg * W1
    grads["b1"] = np.sum(dhidden, axis=0)
    cache = {"hidden": hidden, "scores": scores, "probs": probs, "dscores": dscores, "dhidden": dhidden}
    return loss, grads, cache


def write(folder, bug=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    params = init_toy_model()
    X, y = init_toy_data()
    before = {k: v.copy() for k, v in params.items()}
    value, grads, cache = loss(params, X, y, reg=REG, bug=bug)
    for k in params:
        params[k] -= LR * grads[k]
    arrays = {"x": X, "t": y, "loss": np.array(value)}
    for i, layer in enumerate(("1", "2")):
        arrays[f"W{i}"] = before["W" + layer]
        arrays[f"b{i}"] = before["b" + layer]
        arrays[f"dW{i}"] = grads["W" + layer]
        arrays[f"db{i}"] = grads["b" + layer]
        arrays[f"W{i}.after"] = params["W" + layer]
        arrays[f"b{i}.after"] = params["b" + layer]
    arrays.update(a0=cache["hidden"], z1=cache["scores"], a1=cache["probs"])
    arrays.update(delta1=cache["dscores"], delta0=cache["dhidden"])
    np.savez(folder / "trace.npz", **arrays)
    network = {"sizes": [INPUT, HIDDEN, CLASSES], "activations": ["relu", "softmax"], "loss": "ce", "lr": LR}
    (folder / "network.json").write_text(json.dumps(network))


def gradcheck_problem():
    X, y = init_toy_data()

    def cost(p):
        return loss(p, X, y, reg=REG)[0]

    def grads(p):
        return loss({k: v.copy() for k, v in p.items()}, X, y, reg=REG)[1]

    return init_toy_model(), cost, grads
