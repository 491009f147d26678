"""The seed's backward pass, ported line by line to NumPy, and a trace of one step for `gradwise verify`.

In 2017 the question gradwise grew from asked for "even just a sanity check that I'm correctly implementing the
algorithm". Its Haskell (hmatrix) code is below, each function beside its port: row vectors (a batch is a
matrix whose rows are samples), deltas kept transposed (one column per sample), `squeeze` summing each row,
a negative learning rate added to the weights, the softmax derivative stubbed to 1 and the output layer's
derivative dropped (`init as'`). The network is the seed's: 784-1000-10, sigmoid then softmax, squared error,
every weight and bias drawn from U(0, 1), a batch of 20 MNIST images, lr 0.05.

    python examples/seed_2017_port.py [DIR]      # writes the trace (default: trace-seed-2017/)
    gradwise verify DIR                           # exit 1: missing_output_derivative at delta1, then saturation
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np

import gradwise as gw

SIZES = (784, 1000, 10)
BATCH = 20
LR = -0.05  # "The gradient descent algorithm makes sure to pass in a negative value for the learning rate."


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    s = sigmoid(z)
    return s * (1 - s)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z)  # as in the seed: no max subtracted (finite here: z stays below 709)
    return e / e.sum(axis=1, keepdims=True)


def softmax_derivative_stub(z: np.ndarray) -> np.ndarray:
    return np.ones_like(z)  # the seed's stub: "the softmax derivative is 1"


LAYERS = [(sigmoid, sigmoid_derivative), (softmax, softmax_derivative_stub)]


def run_layers(network: list[tuple[np.ndarray, np.ndarray]], i: np.ndarray) -> tuple[list, list, list]:
    """runLayers n i: each layer's z, output a = f(z) and derivative a' = f'(z), rows are samples."""
    zs, as_, das = [], [], []
    a = i
    for (w, b), (f, f_prime) in zip(network, LAYERS, strict=True):
        z = a @ w + b  # a <> w + b
        a = f(z)
        zs.append(z)
        as_.append(a)
        das.append(f_prime(z))
    return zs, as_, das


def mse_derivative(y: np.ndarray, y_prime: np.ndarray) -> np.ndarray:
    return y_prime - y  # mse's f' (y, y') = y' - y, called as derivate lf (tar, out): out - tar


def backward(network, out: np.ndarray, tar: np.ndarray, das: list[np.ndarray]) -> list[np.ndarray]:
    """backward lf n (out, tar) das: the deltas, each (units, batch), transposed like the seed's."""
    delta_out = mse_derivative(tar, out).T  # δout = tr (derivate lf (tar, out)) -- dE/dy
    deltas = [delta_out]
    # scanr (\(l, a') δ -> (tr a') * (w <> δ)) δout (zip (tail layers) das)
    for (w, _), da in reversed(list(zip(network[1:], das, strict=True))):
        deltas.insert(0, da.T * (w @ deltas[0]))
    return deltas


def squeeze(m: np.ndarray) -> np.ndarray:
    return m.sum(axis=1)  # "squeeze transforms a matrix into a vector by summing over each row"


def grad(network, i: np.ndarray, t: np.ndarray) -> tuple[list, list, dict]:
    """grad lf (n, (i, t)): weight and bias gradients (GradBatch gs ds), and the tensors worth tracing."""
    zs, as_, das = run_layers(network, i)
    out = as_[-1]
    ds = backward(network, out, t, das[:-1])  # init as': the output layer's derivative is dropped
    r = float(len(i))  # rows i: the size of the minibatch
    gs = [(d @ a).T for d, a in zip(ds, [i, *as_[:-1]], strict=True)]  # tr (δ <> a)
    return [g / r for g in gs], [squeeze(d) / r for d in ds], {"z": zs, "a": as_, "delta": ds}


def move(lr: float, network, gs: list, ds: list) -> list[tuple[np.ndarray, np.ndarray]]:
    """move lr: FC (w + lr .* g) (b + lr .* δ): with lr < 0, a step down the gradient."""
    return [(w + lr * g, b + lr * d) for (w, b), g, d in zip(network, gs, ds, strict=True)]


def main(argv: list[str]) -> Path:
    folder = Path(argv[0] if argv else "trace-seed-2017")
    rng = np.random.default_rng(2017)
    mnist = gw.load_dataset("mnist", validation=0, dtype=np.float64)
    pick = rng.choice(len(mnist.train.x), BATCH, replace=False)
    i, t = mnist.train.x[pick], gw.one_hot(mnist.train.y[pick], 10).astype(np.float64)
    network = [(rng.uniform(0, 1, (n, m)), rng.uniform(0, 1, m)) for n, m in itertools.pairwise(SIZES)]
    gs, ds, seen = grad(network, i, t)
    after = move(LR, network, gs, ds)

    folder.mkdir(parents=True, exist_ok=True)
    config = {"sizes": list(SIZES), "activations": ["sigmoid", "softmax"], "loss": "mse", "reduction": "mean"}
    (folder / "network.json").write_text(json.dumps({**config, "samples": "rows", "lr": LR}, indent=2) + "\n")
    tensors = {"x": i, "t": t}
    for k, ((w, b), g, d, (w_after, b_after)) in enumerate(zip(network, gs, ds, after, strict=True)):
        tensors |= {f"W{k}": w, f"b{k}": b, f"dW{k}": g, f"db{k}": d, f"W{k}.after": w_after, f"b{k}.after": b_after}
        tensors |= {f"z{k}": seen["z"][k], f"a{k}": seen["a"][k], f"delta{k}": seen["delta"][k]}
    for name, value in tensors.items():
        np.save(
            folder / f"{name}.npy", value
        )  # NumPy's saveMatrix; the deltas stay (units, batch), as the seed has them
    print(f"wrote a trace of one step of the seed's network to {folder}/; check it with: gradwise verify {folder}")
    return folder


if __name__ == "__main__":
    main(sys.argv[1:])
