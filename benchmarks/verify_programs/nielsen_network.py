"""Nielsen "network.py" style (Neural Networks and Deep Learning, chapters 1-2).

Conventions: every vector is a column (x is n_in x 1, a mini-batch is a list of (x, y) pairs), W[l] is
out x in, biases are column vectors, sigmoid in every layer, quadratic cost C = 1/2 ||a - y||^2 whose
cost_derivative is (a - y), backprop one sample at a time, nabla_w / nabla_b summed over the mini-batch, and the
update w - (eta / m) * nabla_w. The user dumps the per-sample columns side by side (n x m), the summed nablas
as dW / db, and a network.json with only sizes, activations, loss and eta ("lr"). Text files, "%.17g".
"""

# ruff: noqa: B905, E741, RUF007  (Nielsen's own idioms: zip over layers, l for the layer index)

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SIZES = [6, 5, 3]
ETA = 3.0
M = 4  # mini-batch size

EXPECTED = {
    None: "correct",
    # delta = self.cost_derivative(activations[-1], y)      (no * sigmoid_prime(zs[-1]))
    "no_output_prime": (("missing_output_derivative",), "delta1"),
    # sp = sigmoid_prime(activations[-l])                   (sigma' evaluated at the activation)
    "prime_of_activation": (("derivative_at_output",), "delta0"),
    # nabla_w[-1] = np.dot(delta, zs[-2].transpose())        (z, not the activation)
    "dw_from_z": (("wrong_input_in_weight_gradient",), "dW1"),
}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class Network:
    def __init__(self, sizes, seed=0):
        rs = np.random.RandomState(seed)
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [rs.randn(y, 1) for y in sizes[1:]]
        self.weights = [rs.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def update_mini_batch(self, mini_batch, eta, bug=None):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        seen = []  # what the trace needs, one entry per sample
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w, record = self.backprop(x, y, bug)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
            seen.append(record)
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]
        return nabla_b, nabla_w, seen

    def backprop(self, x, y, bug=None):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        if bug == "no_output_prime":
            delta = self.cost_derivative(activations[-1], y)
        else:
            delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        deltas = [delta]
        nabla_b[-1] = delta
        if bug == "dw_from_z":
            nabla_w[-1] = np.dot(delta, zs[-2].transpose())
        else:
            nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(activations[-l]) if bug == "prime_of_activation" else sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            deltas.insert(0, delta)
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w, {"z": zs, "a": activations[1:], "delta": deltas}

    def cost_derivative(self, output_activations, y):
        return output_activations - y


def mini_batch():
    rs = np.random.RandomState(1)
    batch = []
    for _ in range(M):
        x = rs.rand(SIZES[0], 1)
        y = np.zeros((SIZES[-1], 1))
        y[rs.randint(SIZES[-1])] = 1.0
        batch.append((x, y))
    return batch


def write(folder, bug=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    net = Network(SIZES)
    batch = mini_batch()
    W, b = [w.copy() for w in net.weights], [bb.copy() for bb in net.biases]
    nabla_b, nabla_w, seen = net.update_mini_batch(batch, ETA, bug)

    def save(name, array):
        np.savetxt(folder / f"{name}.txt", array, fmt="%.17g")

    save("x", np.hstack([x for x, _ in batch]))
    save("t", np.hstack([y for _, y in batch]))
    for l in range(len(SIZES) - 1):
        save(f"W{l}", W[l])
        save(f"b{l}", b[l])
        save(f"dW{l}", nabla_w[l])
        save(f"db{l}", nabla_b[l])
        for key in ("z", "a", "delta"):
            save(f"{key}{l}", np.hstack([record[key][l] for record in seen]))
        save(f"W{l}.after", net.weights[l])
        save(f"b{l}.after", net.biases[l])
    network = {"sizes": SIZES, "activations": ["sigmoid", "sigmoid"], "loss": "mse", "lr": ETA}
    with open(folder / "network.json", "w") as f:
        json.dump(network, f)


def gradcheck_problem():
    batch = mini_batch()
    net0 = Network(SIZES)
    params = {"W0": net0.weights[0], "W1": net0.weights[1], "b0": net0.biases[0], "b1": net0.biases[1]}

    def load(p):
        net = Network(SIZES)
        net.weights = [p["W0"], p["W1"]]
        net.biases = [p["b0"], p["b1"]]
        return net

    def cost(p):
        net = load(p)
        return sum(0.5 * np.sum((net.feedforward(x) - y) ** 2) for x, y in batch)

    def grads(p):
        nabla_b, nabla_w, _ = load({k: v.copy() for k, v in p.items()}).update_mini_batch(batch, 0.0)
        return {"W0": nabla_w[0], "W1": nabla_w[1], "b0": nabla_b[0], "b1": nabla_b[1]}

    return params, cost, grads
