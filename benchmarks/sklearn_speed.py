"""Fit time of GradwiseClassifier / GradwiseRegressor against MLPClassifier / MLPRegressor, same settings.

Both get the same data, parameters and random_state, so they train the same model (the same weights: the
last column is the largest difference between their final losses). Every fit runs a fixed number of epochs
(tol=0, so no early stop) and the best of ``--repeats`` runs is shown. gradwise is timed with its health
monitor on (the default) and off.

    .venv/bin/python benchmarks/sklearn_speed.py                    # MNIST 10k, digits, diabetes
    .venv/bin/python benchmarks/sklearn_speed.py --mnist 60000 --repeats 1
    .venv/bin/python benchmarks/sklearn_speed.py --threads 1       # one BLAS thread each: a busy machine
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from machine import cpu_model
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from gradwise.data.datasets import load_dataset
from gradwise.sklearn import GradwiseClassifier, GradwiseRegressor

Case = tuple[str, Any, Any, bool, dict[str, Any]]  # name, X, y, is a regression, settings


def cases(mnist_rows: int) -> list[Case]:
    mnist = load_dataset("mnist", validation=0, dtype=np.float64).train
    x_mnist, y_mnist = mnist.x[:mnist_rows], mnist.y[:mnist_rows]
    x_digits, y_digits = load_digits(return_X_y=True)
    x_digits = StandardScaler().fit_transform(x_digits)
    x_diab, y_diab = load_diabetes(return_X_y=True)
    y_diab = (y_diab - y_diab.mean()) / y_diab.std()
    epochs = {"max_iter": 20, "tol": 0.0}
    return [
        (f"MNIST {mnist_rows}, 784-100-10, adam", x_mnist, y_mnist, False, {**epochs, "solver": "adam"}),
        (f"MNIST {mnist_rows}, 784-100-10, sgd", x_mnist, y_mnist, False, {**epochs, "solver": "sgd"}),
        ("digits, 64-100-10, adam", x_digits, y_digits, False, {**epochs, "max_iter": 100, "solver": "adam"}),
        ("digits, 64-100-10, lbfgs", x_digits, y_digits, False, {"max_iter": 100, "solver": "lbfgs"}),
        ("diabetes, 10-100-1, adam", x_diab, y_diab, True, {**epochs, "max_iter": 200, "solver": "adam"}),
        ("diabetes, 10-100-1, lbfgs", x_diab, y_diab, True, {"max_iter": 200, "solver": "lbfgs"}),
    ]


def best_time(make: Callable[[], Any], x: Any, y: Any, repeats: int) -> tuple[float, float]:
    """(fastest fit in seconds, its final loss_)."""
    times, loss = [], float("nan")
    for _ in range(repeats):
        estimator = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            estimator.fit(x, y)
            times.append(time.perf_counter() - start)
        loss = estimator.loss_
    return min(times), loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", type=int, default=10_000, help="MNIST training rows (default 10000)")
    parser.add_argument("--repeats", type=int, default=3, help="fits per cell; the fastest is shown")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads for both (steadier on a busy machine)")
    args = parser.parse_args()
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads, user_api="blas")
    threads = "all" if args.threads is None else args.threads
    load = os.getloadavg()[0]
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, BLAS threads {threads}, load average {load:.2f}")
    header = f"{'case':<32} {'scikit-learn':>12} {'gradwise':>9} {'monitor=False':>13} {'speed-up':>8}"
    print(f"{header} {'|loss diff|':>11}")
    for name, x, y, regression, settings in cases(args.mnist):
        ours_cls, theirs_cls = (GradwiseRegressor, MLPRegressor) if regression else (GradwiseClassifier, MLPClassifier)
        shared = {"hidden_layer_sizes": (100,), "random_state": 0, **settings}
        theirs, theirs_loss = best_time(lambda: theirs_cls(**shared), x, y, args.repeats)  # noqa: B023
        ours, ours_loss = best_time(lambda: ours_cls(**shared), x, y, args.repeats)  # noqa: B023
        bare, _ = best_time(lambda: ours_cls(monitor=False, **shared), x, y, args.repeats)  # noqa: B023
        print(
            f"{name:<32} {theirs:>11.2f}s {ours:>8.2f}s {bare:>12.2f}s {theirs / ours:>7.2f}x "
            f"{abs(ours_loss - theirs_loss):>11.1e}"
        )


if __name__ == "__main__":
    main()
