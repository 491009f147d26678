"""Nielsen "network2.py" style (chapter 3), with the chapter 2 exercise's fully matrix-based backprop.

Conventions: samples are columns (X is n_in x m), W out x in initialised randn / sqrt(n_in), biases column
vectors, sigmoid layers, CrossEntropyCost (sigmoid outputs with the summed binary cross-entropy, so the output
delta is a - y), nablas summed over the mini-batch, L2 applied in the update:
    w = (1 - eta * lmbda / n) * w - (eta / m) * nabla_w,   b = b - (eta / m) * nabla_b
with n the training-set size. The user dumps .npy files and declares sizes, activations, loss, eta, the
layouts and that the gradients are summed; lmbda is not declared (it is not in dW).
"""

# ruff: noqa: B905, E741, RUF007  (Nielsen's own idioms: zip over layers, l for the layer index)

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SIZES = [5, 4, 2]
ETA, LMBDA, N_TRAIN, M = 0.5, 5.0, 60, 6

EXPECTED = {
    None: "correct",
    # delta = QuadraticCost.delta(z, a, y) = (a - y) * sigmoid_prime(z), with the cross-entropy cost
    "quadratic_delta": (("extra_output_derivative",), "delta1"),
    # nabla_b = delta.sum(axis=0, keepdims=True): the sum over units (the matrix version's classic slip)
    "bias_axis": (("bias_reduction",), "db1"),
    # w = (1 - eta*lmbda/n) * w + (eta/m) * nabla_w: the update goes uphill
    "plus_update": (("update",), "W0.after"),
}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class CrossEntropyCost:
    @staticmethod
    def fn(a, y):
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return a - y


class QuadraticCost:
    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y) * sigmoid_prime(z)


class Network:
    def __init__(self, sizes, cost=CrossEntropyCost, seed=2):
        rs = np.random.RandomState(seed)
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.cost = cost
        self.biases = [rs.randn(y, 1) for y in sizes[1:]]
        self.weights = [rs.randn(y, x) / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]

    def update_mini_batch(self, mini_batch, eta, lmbda, n, bug=None):
        X = np.hstack([x for x, _ in mini_batch])
        Y = np.hstack([y for _, y in mini_batch])
        nabla_b, nabla_w, record = self.backprop(X, Y, bug)
        m = len(mini_batch)
        sign = 1 if bug == "plus_update" else -1
        self.weights = [(1 - eta * (lmbda / n)) * w + sign * (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]
        return nabla_b, nabla_w, record

    def backprop(self, X, Y, bug=None):
        activation = X
        activations = [X]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        cost = QuadraticCost if bug == "quadratic_delta" else self.cost
        delta = cost.delta(zs[-1], activations[-1], Y)
        axis = 0 if bug == "bias_axis" else 1
        nabla_b = [None] * (self.num_layers - 1)
        nabla_w = [None] * (self.num_layers - 1)
        deltas = [delta]
        nabla_b[-1] = delta.sum(axis=axis, keepdims=True)
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
            deltas.insert(0, delta)
            nabla_b[-l] = delta.sum(axis=axis, keepdims=True)
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w, {"z": zs, "a": activations[1:], "delta": deltas}


def mini_batch():
    rs = np.random.RandomState(3)
    batch = []
    for _ in range(M):
        y = np.zeros((SIZES[-1], 1))
        y[rs.randint(SIZES[-1])] = 1.0
        batch.append((rs.rand(SIZES[0], 1), y))
    return batch


def write(folder, bug=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    net = Network(SIZES)
    batch = mini_batch()
    W, b = [w.copy() for w in net.weights], [bb.copy() for bb in net.biases]
    nabla_b, nabla_w, record = net.update_mini_batch(batch, ETA, LMBDA, N_TRAIN, bug)
    X = np.hstack([x for x, _ in batch])
    Y = np.hstack([y for _, y in batch])
    np.save(folder / "x.npy", X)
    np.save(folder / "t.npy", Y)
    for l in range(len(SIZES) - 1):
        np.save(folder / f"W{l}.npy", W[l])
        np.save(folder / f"b{l}.npy", b[l])
        np.save(folder / f"dW{l}.npy", nabla_w[l])
        np.save(folder / f"db{l}.npy", nabla_b[l])
        np.save(folder / f"z{l}.npy", record["z"][l])
        np.save(folder / f"a{l}.npy", record["a"][l])
        np.save(folder / f"delta{l}.npy", record["delta"][l])
        np.save(folder / f"W{l}.after.npy", net.weights[l])
        np.save(folder / f"b{l}.after.npy", net.biases[l])
    np.save(folder / "loss.npy", np.array(CrossEntropyCost.fn(record["a"][-1], Y)))
    network = {
        "sizes": SIZES,
        "activations": ["sigmoid", "sigmoid"],
        "loss": "bce",
        "lr": ETA,
        "samples": "columns",
        "weights": "out_in",
        "reduction": "sum",
    }
    (folder / "network.json").write_text(json.dumps(network, indent=2))


def gradcheck_problem():
    batch = mini_batch()
    X = np.hstack([x for x, _ in batch])
    Y = np.hstack([y for _, y in batch])
    net0 = Network(SIZES)
    params = {"W0": net0.weights[0], "W1": net0.weights[1], "b0": net0.biases[0], "b1": net0.biases[1]}

    def load(p):
        net = Network(SIZES)
        net.weights = [p["W0"].copy(), p["W1"].copy()]
        net.biases = [p["b0"].copy(), p["b1"].copy()]
        return net

    def cost(p):
        a = X
        for b, w in zip([p["b0"], p["b1"]], [p["W0"], p["W1"]]):
            a = sigmoid(w @ a + b)
        return CrossEntropyCost.fn(a, Y)

    def grads(p):
        nabla_b, nabla_w, _ = load(p).backprop(X, Y)
        return {"W0": nabla_w[0], "W1": nabla_w[1], "b0": nabla_b[0], "b1": nabla_b[1]}

    return params, cost, grads
