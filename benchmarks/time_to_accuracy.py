"""Wall time to 98 % MNIST test accuracy: gradwise ``--preset default`` next to PyTorch and scikit-learn.

The configuration is the default preset's: 784-1000-10, ReLU, softmax cross-entropy, He initialization,
SGD with momentum 0.9 at lr 0.05, batch 128, the last 10 000 training images held out for validation
(50 000 left to train on), float32, at most 20 epochs. All three start from gradwise's initial weights and
visit the batches in gradwise's order (``shuffle(0)``), so they run the same computation and differ in speed.

Each framework runs in its own process (so its peak RSS is its own), with the same thread count. Every
epoch ends with the validation accuracy (gradwise's loop computes it, so the others do too; it counts as
training time) and then the test accuracy, which is not counted: the clock stops while it is measured.
gradwise runs ``gradwise.train.runner.train`` as ``gradwise train --preset default`` does, health monitor and
non-finite guard included. Run with ``make bench``; it prints a table and, last, one summary line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

TARGET = 0.98
FRAMEWORKS = ("gradwise", "torch", "sklearn")


class Clock:
    """Training time: wall time since start, minus the time spent measuring test accuracy."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.paused = 0.0

    def training_seconds(self) -> float:
        return time.perf_counter() - self.started - self.paused

    def untimed(self, fn: Callable[[], float]) -> float:
        began = time.perf_counter()
        value = fn()
        self.paused += time.perf_counter() - began
        return value


def load(threads: int) -> tuple[Any, Any, Any]:
    from threadpoolctl import threadpool_limits

    from gradwise.train.config import preset
    from gradwise.train.runner import load_data

    threadpool_limits(threads, user_api="blas")
    config = preset("default")
    return config, load_data(config), threadpool_limits


def initial_weights(config: Any, data: Any) -> dict[str, np.ndarray]:
    from gradwise.train.config import build_network

    net = build_network(config, data.num_features, data.num_classes)
    return {k: v.copy() for k, v in net.params.items()}


def epoch_orders(config: Any, data: Any) -> Callable[[int], np.ndarray]:
    """gradwise's shuffled sample order of each epoch, so every framework sees the same batches."""
    from gradwise.data.stream import shuffle, source

    samples = source(data.train.x, data.train.y) | shuffle(config.seed)
    return samples.order  # type: ignore[attr-defined]


def run_gradwise(epochs: int, threads: int, limit: float) -> list[tuple[float, float]]:
    from gradwise.train.evaluation import accuracy
    from gradwise.train.loop import Callback
    from gradwise.train.runner import train

    config, data, _ = load(threads)
    log: list[tuple[float, float]] = []

    class TestAccuracy(Callback):
        def on_begin(self, session: Any) -> None:
            self.session = session
            self.clock = Clock()

        def on_epoch(self, progress: Any, record: Any) -> None:
            net = self.session.net
            acc = self.clock.untimed(lambda: accuracy(net.predict(data.test.x), data.test.y))
            seconds = self.clock.training_seconds()
            log.append((seconds, acc))
            if acc >= TARGET or seconds > limit:
                self.session.stop = "benchmark: reached the target or the time limit"

    train(config.with_overrides(epochs=epochs), out=None, callbacks=[TestAccuracy()])
    return log


def run_torch(epochs: int, threads: int, limit: float) -> list[tuple[float, float]]:
    import torch

    torch.set_num_threads(threads)
    config, data, _ = load(threads)
    weights = initial_weights(config, data)
    first, second = torch.nn.Linear(784, 1000), torch.nn.Linear(1000, 10)
    with torch.no_grad():
        for i, layer in enumerate((first, second)):
            layer.weight.copy_(torch.from_numpy(weights[f"{i}.W"].T.copy()))
            layer.bias.copy_(torch.from_numpy(weights[f"{i}.b"]))
    model = torch.nn.Sequential(first, torch.nn.ReLU(), second)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    x, y = torch.from_numpy(data.train.x), torch.from_numpy(data.train.y)
    x_val, y_val = torch.from_numpy(data.val.x), torch.from_numpy(data.val.y)
    x_test, y_test = torch.from_numpy(data.test.x), torch.from_numpy(data.test.y)
    order = epoch_orders(config, data)

    def accuracy(xs: torch.Tensor, ys: torch.Tensor) -> float:
        with torch.no_grad():
            return float((model(xs).argmax(dim=1) == ys).float().mean())

    clock, log = Clock(), []
    for epoch in range(epochs):
        idx = torch.from_numpy(order(epoch))
        for start in range(0, len(idx), config.batch_size):
            batch = idx[start : start + config.batch_size]
            optimizer.zero_grad()
            logits = model(x[batch])
            loss = torch.nn.functional.cross_entropy(logits, y[batch])
            loss.backward()
            float(loss)  # gradwise's loop reads the loss every step too
            optimizer.step()
        accuracy(x_val, y_val)
        acc = clock.untimed(lambda: accuracy(x_test, y_test))
        log.append((clock.training_seconds(), acc))
        if acc >= TARGET or log[-1][0] > limit:
            break
    return log


def run_sklearn(epochs: int, threads: int, limit: float) -> list[tuple[float, float]]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    config, data, _ = load(threads)
    weights = initial_weights(config, data)
    clf = MLPClassifier(
        hidden_layer_sizes=(1000,), activation="relu", solver="sgd", alpha=0.0, batch_size=config.batch_size,
        learning_rate="constant", learning_rate_init=config.lr, momentum=config.momentum,
        nesterovs_momentum=False, shuffle=False, random_state=0,
    )  # fmt: skip
    warnings.simplefilter("ignore", ConvergenceWarning)
    classes = np.arange(data.num_classes)
    # partial_fit builds the layers and takes one step; then gradwise's weights go in and the momentum restarts.
    clf.partial_fit(data.train.x[:1], data.train.y[:1], classes=classes)
    clf.coefs_ = [weights["0.W"].copy(), weights["1.W"].copy()]
    clf.intercepts_ = [weights["0.b"].copy(), weights["1.b"].copy()]
    clf._optimizer.params = clf.coefs_ + clf.intercepts_
    clf._optimizer.velocities = [np.zeros_like(p) for p in clf._optimizer.params]
    order = epoch_orders(config, data)

    clock, log = Clock(), []
    for epoch in range(epochs):
        idx = order(epoch)
        clf.partial_fit(data.train.x[idx], data.train.y[idx])  # one pass in batches of 128, in this order
        clf.score(data.val.x, data.val.y)
        acc = clock.untimed(lambda: float(clf.score(data.test.x, data.test.y)))
        log.append((clock.training_seconds(), acc))
        if acc >= TARGET or log[-1][0] > limit:
            break
    assert clf.coefs_[0].dtype == np.float32, "scikit-learn upcast to float64"
    return log


WORKERS = {"gradwise": run_gradwise, "torch": run_torch, "sklearn": run_sklearn}


def worker(name: str, epochs: int, threads: int, limit: float) -> None:
    log = WORKERS[name](epochs, threads, limit)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"log": log, "peak_rss_mib": peak_kib / 1024}))


def summarize(log: list[tuple[float, float]]) -> tuple[int | None, float | None]:
    """(epochs, training seconds) when the test accuracy first reached the target, or (None, None)."""
    for epoch, (seconds, acc) in enumerate(log, start=1):
        if acc >= TARGET:
            return epoch, seconds
    return None, None


def machine() -> str:
    from threadpoolctl import threadpool_info

    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    import numpy  # noqa: F401  # loads OpenBLAS so threadpoolctl can see it

    blas = next((i for i in threadpool_info() if i["user_api"] == "blas"), {})
    kernel = f"{blas.get('internal_api')} {blas.get('version')} {blas.get('architecture')}"
    return f"{model}, {os.cpu_count()} cores, {kernel}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="at most this many epochs each (default 20)")
    parser.add_argument("--threads", type=int, default=2, help="threads for BLAS and torch (default 2)")
    parser.add_argument("--limit", type=float, default=200, help="stop a framework after this many seconds")
    parser.add_argument("--only", choices=FRAMEWORKS, nargs="+", default=FRAMEWORKS)
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.epochs, args.threads, args.limit)
        return

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}; {args.threads} threads")
    print("784-1000-10 relu, softmax CE, He init, momentum SGD 0.9 lr 0.05, batch 128, 50k train, float32\n")
    columns = ("epochs", 6), ("seconds to 98%", 15), ("s/epoch", 8), ("last test acc", 14), ("peak RSS", 9)
    print(f"{'framework':<10} " + " ".join(f"{name:>{width}}" for name, width in columns))
    results: dict[str, float | None] = {}
    for name in args.only:
        argv = [sys.executable, __file__, "--worker", name, "--epochs", str(args.epochs),
                "--threads", str(args.threads), "--limit", str(args.limit)]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
            print(f"{name:<10} failed: {why}")
            results[name] = None
            continue
        report = json.loads(done.stdout.strip().splitlines()[-1])
        log = report["log"]
        epochs, seconds = summarize(log)
        results[name] = seconds
        per_epoch = log[-1][0] / len(log)
        reached = f"{seconds:15.1f}" if seconds is not None else f"{'not reached':>15}"
        print(
            f"{name:<10} {epochs or len(log):>6} {reached} {per_epoch:8.2f} {log[-1][1]:14.4f} "
            f"{report['peak_rss_mib']:6.0f} MiB",
            flush=True,
        )

    def show(name: str) -> str:
        seconds = results.get(name)
        return f"{seconds:.1f} s" if seconds is not None else "not reached"

    gw, th = results.get("gradwise"), results.get("torch")
    verdict = "n/a" if gw is None or th is None else f"{th / gw:.2f}x"
    print(f"\n98% test accuracy: gradwise {show('gradwise')}, torch {show('torch')}, sklearn {show('sklearn')}; "
          f"torch/gradwise time {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
