"""The "neural network in 11 lines of Python" style (two-layer version).

Conventions: rows are samples (X is 4 x 3, its last column all ones: an input, there is no bias anywhere),
syn0 3 x 4 and syn1 4 x 1 (in x out) drawn 2 * random - 1 after np.random.seed(1), sigmoid layers,
nonlin(x, deriv=True) = x * (1 - x) fed the layer's *output*, error = y - l2, deltas = error * nonlin'(l),
syn += l.T.dot(delta) (learning rate 1, no division by the batch). Hidden width 4 = batch 4, so l1 is square.
The user saves what the loop has (np.savetxt with its default format) and declares sizes, activations, loss
and lr 1; the update direction is left to W.after.
"""

# ruff: noqa: NPY002  (the style's np.random.seed(1) and np.random.random)

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

EXPECTED = {
    None: "correct",
    # syn1 -= l1.T.dot(l2_delta) with l2_error = y - l2: the step goes uphill
    "minus_update": (("sign",), "delta1"),
    # l2_delta = l2_error * nonlin(np.dot(l1, syn1), deriv=True): x*(1-x) fed z instead of the output
    "deriv_of_z": (("wrong_derivative",), "delta1"),
    # l1_delta = l1_error: the hidden layer's derivative forgotten
    "no_hidden_deriv": (("wrong_derivative",), "delta0"),
}


def nonlin(x, deriv=False):
    if deriv:
        return x * (1 - x)
    return 1 / (1 + np.exp(-x))


X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
y = np.array([[0, 1, 1, 0]]).T


def initial_weights():
    np.random.seed(1)
    syn0 = 2 * np.random.random((3, 4)) - 1
    syn1 = 2 * np.random.random((4, 1)) - 1
    return syn0, syn1


def step(syn0, syn1, bug=None):
    l0 = X
    l1 = nonlin(np.dot(l0, syn0))
    l2 = nonlin(np.dot(l1, syn1))
    l2_error = y - l2
    if bug == "deriv_of_z":
        l2_delta = l2_error * nonlin(np.dot(l1, syn1), deriv=True)
    else:
        l2_delta = l2_error * nonlin(l2, deriv=True)
    l1_error = l2_delta.dot(syn1.T)
    if bug == "deriv_of_z":
        l1_delta = l1_error * nonlin(np.dot(l0, syn0), deriv=True)
    elif bug == "no_hidden_deriv":
        l1_delta = l1_error
    else:
        l1_delta = l1_error * nonlin(l1, deriv=True)
    return l1, l2, l1_delta, l2_delta


def write(folder, bug=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    syn0, syn1 = initial_weights()
    np.savetxt(folder / "W0.txt", syn0)
    np.savetxt(folder / "W1.txt", syn1)
    l1, l2, l1_delta, l2_delta = step(syn0, syn1, bug)
    if bug == "minus_update":
        syn1 -= l1.T.dot(l2_delta)
        syn0 -= X.T.dot(l1_delta)
    else:
        syn1 += l1.T.dot(l2_delta)
        syn0 += X.T.dot(l1_delta)
    np.savetxt(folder / "x.txt", X)
    np.savetxt(folder / "t.txt", y)
    np.savetxt(folder / "a0.txt", l1)
    np.savetxt(folder / "a1.txt", l2)
    np.savetxt(folder / "delta0.txt", l1_delta)
    np.savetxt(folder / "delta1.txt", l2_delta)
    np.savetxt(folder / "dW0.txt", X.T.dot(l1_delta))
    np.savetxt(folder / "dW1.txt", l1.T.dot(l2_delta))
    np.savetxt(folder / "W0.after.txt", syn0)
    np.savetxt(folder / "W1.after.txt", syn1)
    net = {"sizes": [3, 4, 1], "activations": ["sigmoid", "sigmoid"], "loss": "mse", "lr": 1}
    (folder / "network.json").write_text(json.dumps(net))


def gradcheck_problem():
    syn0, syn1 = initial_weights()

    def cost(p):
        l2 = nonlin(nonlin(X @ p["W0"]) @ p["W1"])
        return 0.5 * np.sum((y - l2) ** 2)

    def grads(p):
        l1, _, l1_delta, l2_delta = step(p["W0"], p["W1"])
        return {"W0": -X.T.dot(l1_delta), "W1": -l1.T.dot(l2_delta)}  # the program adds -dE/dW

    return {"W0": syn0, "W1": syn1}, cost, grads
