"""A JavaScript-tutorial-like object style ("class Neuron { weights = []; bias; ... }"), written in Python.

Conventions: one Neuron object per unit holding a list of weights (one per input, so the weight matrix written
out is out x in) and its own bias, Math.random()-like init (random() * 2 - 1), a tanh hidden layer and a linear
output, squared error 1/2 (target - output)^2, one sample per step (batch 1), the error as target - output,
neuron.delta = error * f'(output) (1 - output^2 for tanh, 1 for linear), and weights += lr * delta * input.
The user writes each tensor as lines of numbers joined by spaces (a Number prints every digit it needs, like
Python's repr) and network.json as a plain string; the update direction is left to W.after.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np

EXPECTED = {
    None: "correct",
    # each layer updates its weights as soon as its deltas are known, output layer first: the hidden errors
    # are then summed through the already-updated output weights
    "update_before_backprop": (("updated_weights_in_backprop",), "delta0"),
    # tanhDerivative(x) = 1 - Math.tanh(x) ** 2 called with neuron.output (already tanh'd)
    "deriv_at_output": (("derivative_at_output",), "delta0"),
    # both slips in the same hidden deltas
    "both": (("updated_weights_in_backprop", "derivative_at_output"), "delta0"),
}

SIZES = [3, 4, 2]
LR = 0.1
INPUTS = [0.5, -0.3, 0.8]
TARGETS = [0.2, -0.4]


def tanh_derivative(x):
    return 1 - math.tanh(x) ** 2


class Neuron:
    def __init__(self, n_inputs, rand):
        self.weights = [rand() * 2 - 1 for _ in range(n_inputs)]
        self.bias = rand() * 2 - 1
        self.delta = 0.0

    def activate(self, inputs, activation):
        self.inputs = list(inputs)
        self.sum = sum(w * i for w, i in zip(self.weights, inputs, strict=True)) + self.bias
        self.output = math.tanh(self.sum) if activation == "tanh" else self.sum
        return self.output

    def update(self, lr):
        for i in range(len(self.weights)):
            self.weights[i] += lr * self.delta * self.inputs[i]
        self.bias += lr * self.delta


class Layer:
    def __init__(self, n_inputs, n_neurons, activation, rand):
        self.neurons = [Neuron(n_inputs, rand) for _ in range(n_neurons)]
        self.activation = activation

    def forward(self, inputs):
        return [n.activate(inputs, self.activation) for n in self.neurons]


class Network:
    def __init__(self, sizes, seed=7):
        rand = random.Random(seed).random
        self.layers = [
            Layer(sizes[0], sizes[1], "tanh", rand),
            Layer(sizes[1], sizes[2], "linear", rand),
        ]

    def forward(self, inputs):
        for layer in self.layers:
            inputs = layer.forward(inputs)
        return inputs

    def train(self, inputs, targets, lr, bug=None):
        self.forward(inputs)
        hidden, output = self.layers
        for neuron, target in zip(output.neurons, targets, strict=True):
            error = target - neuron.output
            neuron.delta = error * 1  # linear output: derivative 1
        if bug in ("update_before_backprop", "both"):
            for neuron in output.neurons:
                neuron.update(lr)
        for j, neuron in enumerate(hidden.neurons):
            error = sum(next_neuron.weights[j] * next_neuron.delta for next_neuron in output.neurons)
            if bug in ("deriv_at_output", "both"):
                neuron.delta = error * tanh_derivative(neuron.output)
            else:
                neuron.delta = error * (1 - neuron.output**2)
        if bug not in ("update_before_backprop", "both"):
            for neuron in output.neurons:
                neuron.update(lr)
        for neuron in hidden.neurons:
            neuron.update(lr)

    def snapshot(self):
        return [([list(n.weights) for n in layer.neurons], [n.bias for n in layer.neurons]) for layer in self.layers]


def write(folder, bug=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def save(name, rows):
        rows = rows if isinstance(rows[0], list) else [rows]
        (folder / f"{name}.txt").write_text("\n".join(" ".join(repr(v) for v in row) for row in rows))

    net = Network(SIZES)
    before = net.snapshot()
    net.train(INPUTS, TARGETS, LR, bug)
    after = net.snapshot()
    save("x", INPUTS)
    save("t", TARGETS)
    for k, layer in enumerate(net.layers):
        save(f"W{k}", before[k][0])
        save(f"b{k}", before[k][1])
        save(f"a{k}", [n.output for n in layer.neurons])
        save(f"delta{k}", [n.delta for n in layer.neurons])
        save(f"dW{k}", [[n.delta * i for i in n.inputs] for n in layer.neurons])
        save(f"db{k}", [n.delta for n in layer.neurons])
        save(f"W{k}.after", after[k][0])
        save(f"b{k}.after", after[k][1])
    (folder / "network.json").write_text(
        '{"sizes": [3, 4, 2], "activations": ["tanh", "linear"], "loss": "mse", "lr": 0.1}'
    )


def gradcheck_problem():
    net = Network(SIZES)
    (W0, b0), (W1, b1) = net.snapshot()
    params = {"W0": np.array(W0), "b0": np.array(b0), "W1": np.array(W1), "b1": np.array(b1)}

    def load(p):
        net = Network(SIZES)
        for k, layer in enumerate(net.layers):
            for j, n in enumerate(layer.neurons):
                n.weights = [float(v) for v in p[f"W{k}"][j]]
                n.bias = float(p[f"b{k}"][j])
        return net

    def cost(p):
        out = load(p).forward(INPUTS)
        return sum(0.5 * (t - o) ** 2 for t, o in zip(TARGETS, out, strict=True))

    def grads(p):
        net = load(p)
        net.train(INPUTS, TARGETS, 0.0)
        g = {}
        for k, layer in enumerate(net.layers):  # the program adds delta * input: -dE/dw
            g[f"W{k}"] = -np.array([[n.delta * i for i in n.inputs] for n in layer.neurons])
            g[f"b{k}"] = -np.array([n.delta for n in layer.neurons])
        return g

    return params, cost, grads
