"""Andrew Ng's Machine Learning ex4 (nnCostFunction) style, written in Python.

Conventions: rows are samples, the bias inside Theta as its first column: a1 = [ones, X], Theta1 is
hidden x (in + 1) and Theta2 out x (hidden + 1) (out x in), sigmoid layers, the one-hot Y, the cost
J = (1/m) sum [-Y log h - (1 - Y) log(1 - h)] + lambda/(2m) (sum Theta1[:, 1:]^2 + sum Theta2[:, 1:]^2),
d3 = a3 - Y, d2 = (d3 Theta2) .* [1, g'(z2)] with the bias column then dropped, Theta_grad = Delta / m +
(lambda/m) Theta with the bias column not regularised, and plain gradient descent Theta -= alpha * grad.
Weights from randInitializeWeights (U(-0.12, 0.12)). The user dumps X (without the ones), Y, Theta, the
gradients, d2, d3 and J as csv (csvwrite-like, every digit) and declares the bias, the layout, that J is
a mean ("reduction": "mean") and l2 = lambda/m.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

INPUT, HIDDEN, LABELS, M = 4, 6, 3, 8
LAMBDA, ALPHA = 1.0, 0.8

EXPECTED = {
    None: "correct",
    # sigmoidGradient(a2) where sigmoidGradient(z2) belongs: g'(g(z))
    "grad_of_a": (("derivative_at_output",), "delta0"),
    # d3 = (a3 - Y) .* sigmoidGradient(z3): the output derivative on top of cross-entropy's a - y
    "extra_prime": (("extra_output_derivative",), "delta1"),
    # Theta_grad = Delta + (lambda/m) * Theta: Delta not divided by m
    "no_div_m": (("batch_scale",), "dW1"),
}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoidGradient(z):
    g = sigmoid(z)
    return g * (1 - g)


def randInitializeWeights(L_in, L_out, rs):
    epsilon_init = 0.12
    return rs.rand(L_out, 1 + L_in) * 2 * epsilon_init - epsilon_init


def nnCostFunction(Theta1, Theta2, X, y, lam, bug=None):
    m = X.shape[0]
    Y = np.eye(LABELS)[y - 1]  # labels are 1..K, as in the exercise
    a1 = np.hstack([np.ones((m, 1)), X])
    z2 = a1 @ Theta1.T
    a2 = np.hstack([np.ones((m, 1)), sigmoid(z2)])
    z3 = a2 @ Theta2.T
    a3 = sigmoid(z3)
    J = (1 / m) * np.sum(-Y * np.log(a3) - (1 - Y) * np.log(1 - a3))
    J += lam / (2 * m) * (np.sum(Theta1[:, 1:] ** 2) + np.sum(Theta2[:, 1:] ** 2))

    d3 = a3 - Y
    if bug == "extra_prime":
        d3 = d3 * sigmoidGradient(z3)
    if bug == "grad_of_a":
        d2 = (d3 @ Theta2) * np.hstack([np.ones((m, 1)), sigmoidGradient(a2[:, 1:])])
    else:
        d2 = (d3 @ Theta2) * np.hstack([np.ones((m, 1)), sigmoidGradient(z2)])
    d2 = d2[:, 1:]
    Delta1 = d2.T @ a1
    Delta2 = d3.T @ a2
    if bug == "no_div_m":
        Theta1_grad, Theta2_grad = Delta1.copy(), Delta2.copy()
    else:
        Theta1_grad, Theta2_grad = Delta1 / m, Delta2 / m
    Theta1_grad[:, 1:] += (lam / m) * Theta1[:, 1:]
    Theta2_grad[:, 1:] += (lam / m) * Theta2[:, 1:]
    return J, Theta1_grad, Theta2_grad, {"Y": Y, "d2": d2, "d3": d3, "a3": a3}


def data():
    rs = np.random.RandomState(4)
    Theta1 = randInitializeWeights(INPUT, HIDDEN, rs)
    Theta2 = randInitializeWeights(HIDDEN, LABELS, rs)
    X = rs.randn(M, INPUT)
    y = rs.randint(1, LABELS + 1, size=M)
    return Theta1, Theta2, X, y


def write(folder, bug=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    Theta1, Theta2, X, y = data()
    J, Theta1_grad, Theta2_grad, seen = nnCostFunction(Theta1, Theta2, X, y, LAMBDA, bug)

    def csvwrite(name, A):
        np.savetxt(folder / f"{name}.csv", np.atleast_2d(A), delimiter=",", fmt="%.17g")

    csvwrite("x", X)
    csvwrite("t", seen["Y"])
    csvwrite("W0", Theta1)
    csvwrite("W1", Theta2)
    csvwrite("dW0", Theta1_grad)
    csvwrite("dW1", Theta2_grad)
    csvwrite("delta0", seen["d2"])
    csvwrite("delta1", seen["d3"])
    csvwrite("a1", seen["a3"])
    csvwrite("loss", J)
    csvwrite("W0.after", Theta1 - ALPHA * Theta1_grad)
    csvwrite("W1.after", Theta2 - ALPHA * Theta2_grad)
    network = {
        "sizes": [INPUT, HIDDEN, LABELS],
        "activations": ["sigmoid", "sigmoid"],
        "loss": "bce",
        "lr": ALPHA,
        "bias": "first",
        "weights": "out_in",
        "reduction": "mean",
        "l2": LAMBDA / M,
    }
    (folder / "network.json").write_text(json.dumps(network))


def gradcheck_problem():
    Theta1, Theta2, X, y = data()

    def cost(p):
        return nnCostFunction(p["W0"], p["W1"], X, y, LAMBDA)[0]

    def grads(p):
        _, g1, g2, _ = nnCostFunction(p["W0"], p["W1"], X, y, LAMBDA)
        return {"W0": g1, "W1": g2}

    return {"W0": Theta1, "W1": Theta2}, cost, grads
