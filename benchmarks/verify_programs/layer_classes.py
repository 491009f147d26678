"""The "neural network from scratch with layer classes" blog style (FCLayer / ActivationLayer objects).

Conventions: each layer object has forward_propagation(input) and backward_propagation(output_error, lr);
FCLayer holds weights (in x out, rand - 0.5) and a bias row (1 x out), returns input_error = output_error @ W.T
computed *before* it updates itself (W -= lr * input.T @ output_error, bias -= lr * output_error);
ActivationLayer returns activation_prime(input) * output_error; the loss is mse = np.mean((y_true - y_pred)^2)
with mse_prime = 2 (y_pred - y_true) / y_true.size (a factor 2/3 on gradwise's 1/2-sum mse, 3 outputs);
tanh layers; one sample per step (rows, 1 x n). The user records, in the FC layers, the output_error they get
(the delta), their weights_error (dW) and the weights before and after, writes "%.17g" text, and declares
sizes, activations, loss and lr.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

LR = 0.1

EXPECTED = {
    None: "correct",
    # FCLayer updates self.weights, then computes input_error = output_error @ self.weights.T
    "update_before_input_error": (("updated_weights_in_backprop",), "delta0"),
    # ActivationLayer.backward uses tanh_prime(self.output): g'(g(z)), times mse_prime's 2/n
    "prime_of_output": (("derivative_at_output",), "delta1"),
    # mse_prime = 2 * (y_true - y_pred) / n with W -= lr * dW: the step goes uphill
    "mse_prime_sign": (("sign",), "delta1"),
}


def tanh(x):
    return np.tanh(x)


def tanh_prime(x):
    return 1 - np.tanh(x) ** 2


def mse(y_true, y_pred):
    return np.mean(np.power(y_true - y_pred, 2))


def mse_prime(y_true, y_pred):
    return 2 * (y_pred - y_true) / y_true.size


class FCLayer:
    def __init__(self, input_size, output_size, rs):
        self.weights = rs.rand(input_size, output_size) - 0.5
        self.bias = rs.rand(1, output_size) - 0.5

    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = np.dot(self.input, self.weights) + self.bias
        return self.output

    def backward_propagation(self, output_error, learning_rate, bug=None):
        self.output_error = output_error
        self.weights_error = np.dot(self.input.T, output_error)
        if bug == "update_before_input_error":
            self.weights -= learning_rate * self.weights_error
            input_error = np.dot(output_error, self.weights.T)
        else:
            input_error = np.dot(output_error, self.weights.T)
            self.weights -= learning_rate * self.weights_error
        self.bias -= learning_rate * output_error
        return input_error


class ActivationLayer:
    def __init__(self, activation, activation_prime):
        self.activation = activation
        self.activation_prime = activation_prime

    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = self.activation(self.input)
        return self.output

    def backward_propagation(self, output_error, learning_rate, bug=None):
        if bug == "prime_of_output":
            return self.activation_prime(self.output) * output_error
        return self.activation_prime(self.input) * output_error


class Network:
    def __init__(self, seed=21):
        rs = np.random.RandomState(seed)
        self.layers = [
            FCLayer(3, 5, rs),
            ActivationLayer(tanh, tanh_prime),
            FCLayer(5, 3, rs),
            ActivationLayer(tanh, tanh_prime),
        ]

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward_propagation(x)
        return x

    def train_one(self, x, y, learning_rate, bug=None):
        output = self.predict(x)
        if bug == "mse_prime_sign":
            error = 2 * (y - output) / y.size
        else:
            error = mse_prime(y, output)
        for layer in reversed(self.layers):
            error = layer.backward_propagation(error, learning_rate, bug)
        return mse(y, output)


X = np.array([[0.4, -0.7, 0.2]])
Y = np.array([[0.5, -0.1, 0.3]])


def write(folder, bug=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    net = Network()
    fcs = [layer for layer in net.layers if isinstance(layer, FCLayer)]
    before = [(fc.weights.copy(), fc.bias.copy()) for fc in fcs]
    err = net.train_one(X, Y, LR, bug)

    def save(name, a):
        np.savetxt(folder / f"{name}.txt", np.atleast_2d(a), fmt="%.17g")

    save("x", X)
    save("t", Y)
    save("loss", err)
    for i, fc in enumerate(fcs):
        save(f"W{i}", before[i][0])
        save(f"b{i}", before[i][1])
        save(f"delta{i}", fc.output_error)
        save(f"dW{i}", fc.weights_error)
        save(f"db{i}", fc.output_error)
        save(f"a{i}", net.layers[2 * i + 1].output)
        save(f"W{i}.after", fc.weights)
        save(f"b{i}.after", fc.bias)
    net_json = {"sizes": [3, 5, 3], "activations": ["tanh", "tanh"], "loss": "mse", "lr": LR}
    (folder / "network.json").write_text(json.dumps(net_json))


def gradcheck_problem():
    net = Network()
    fcs = [layer for layer in net.layers if isinstance(layer, FCLayer)]
    params = {"W0": fcs[0].weights, "b0": fcs[0].bias, "W1": fcs[1].weights, "b1": fcs[1].bias}

    def load(p):
        net = Network()
        fcs = [layer for layer in net.layers if isinstance(layer, FCLayer)]
        for i, fc in enumerate(fcs):
            fc.weights, fc.bias = p[f"W{i}"].copy(), p[f"b{i}"].copy()
        return net, fcs

    def cost(p):
        return mse(Y, load(p)[0].predict(X))

    def grads(p):
        net, fcs = load(p)
        net.train_one(X, Y, 0.0)
        return {
            "W0": fcs[0].weights_error,
            "b0": fcs[0].output_error,
            "W1": fcs[1].weights_error,
            "b1": fcs[1].output_error,
        }

    return params, cost, grads
