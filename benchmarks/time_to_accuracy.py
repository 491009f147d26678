"""Wall time to 98 % MNIST test accuracy: gradwise ``--preset default`` next to PyTorch and scikit-learn.

The configuration is the default preset's: 784-1000-10, ReLU, softmax cross-entropy, He initialization,
SGD with momentum 0.9 at lr 0.05, batch 128, the last 10 000 training images held out for validation
(50 000 left to train on), float32, at most 20 epochs. All three start from gradwise's initial weights and
visit the batches in gradwise's order (``shuffle(0)``), so they run the same computation and differ in speed.
All three also follow gradwise's learning-rate schedule step by step (the preset's cosine over ``--epochs``,
built by ``gradwise.train.config.build_schedule``), not a constant rate.

Each framework trains in a process of its own (so its peak RSS is its own), with the same thread count.
Every epoch ends with the validation accuracy (gradwise's loop computes it, so the others do too; it counts
as training time) and then the test accuracy, which is not counted: the clock stops while it is measured.
gradwise runs ``gradwise.train.runner.train`` as ``gradwise train --preset default`` does, health monitor
and non-finite guard included.

The frameworks train in lockstep, an epoch at a time: each one's worker waits, its clock stopped, until the
others have run the same epoch, so a change in the machine's speed (on a virtual machine the second core
comes and goes over seconds to minutes) lands on all of them within seconds, not on whichever ran during
it. Before each epoch the script pauses 0.2 s so the previous framework's BLAS and OpenMP threads have left
the cores, and the order within an epoch rotates (gradwise, torch, sklearn; then torch, sklearn, gradwise;
...). A round is one such lockstep run of every framework, and ``--repeats`` (default 3) rounds are run.
The table gives, per framework, how many runs reached 98 %, the median seconds to 98 % over those runs with
their spread (min-max), the median seconds per epoch and last test accuracy, and the largest peak RSS; a run
that failed or never reached 98 % is shown as such and left out of the median. torch/gradwise is given per
round (round r's torch time over round r's gradwise time), as the median and spread of those paired
ratios, and as the ratio of the medians. Run with ``make bench``; it prints a line per round, the table
and, last, one summary line.

The header names the CPU, numpy's BLAS kernel and the GEMM backends gradwise can use here (MKL with
``pip install 'gradwise[mkl]'``); ``--blas auto|openblas|mkl`` is gradwise's ``--blas`` (``TrainConfig.blas``,
default auto), and the line after the table names the backends gradwise's GEMMs ran on in each round
(``gradwise.blas.gemm_state()["used"]`` at the end of its training).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from machine import cpu_model

from gradwise import blas

TARGET = 0.98
FRAMEWORKS = ("gradwise", "torch", "sklearn")
SETTLE_SECONDS = 0.2  # before each epoch, so the previous framework's BLAS/OpenMP threads have left the cores
T = TypeVar("T")
MARK = "lockstep "  # starts the lines a worker writes for the script (a framework may print lines of its own)


class Clock:
    """Training time: wall time since start, minus the time spent measuring test accuracy."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.paused = 0.0

    def training_seconds(self) -> float:
        return time.perf_counter() - self.started - self.paused

    def untimed(self, fn: Callable[[], T]) -> T:
        began = time.perf_counter()
        value = fn()
        self.paused += time.perf_counter() - began
        return value


class Lockstep:
    """A worker's side of the lockstep: its training clock, the script's word before each epoch, each epoch's report."""

    def __init__(self, epochs: int, limit: float) -> None:
        self.epochs, self.limit = epochs, limit
        self.epochs_done = 0
        self.clock = Clock()  # started again by ``start``, when the first epoch may begin

    def start(self) -> None:
        """Say the worker is set up (the others' start-up must not overlap anyone's epoch), wait, start the clock."""
        print(MARK + json.dumps({"ready": True}), flush=True)
        self.wait()
        self.clock = Clock()

    @staticmethod
    def wait() -> None:
        if sys.stdin.readline().strip() != "go":
            sys.exit(0)  # the script ended the round

    def end_epoch(self, accuracy: float) -> bool:
        """Report the epoch; unless it is the last (the target, the time limit or the last epoch reached), wait
        for the next one with the clock stopped. True when training goes on."""
        seconds = self.clock.training_seconds()
        self.epochs_done += 1
        last = accuracy >= TARGET or seconds > self.limit or self.epochs_done >= self.epochs
        print(MARK + json.dumps({"seconds": seconds, "accuracy": accuracy, "last": last}), flush=True)
        if not last:
            self.clock.untimed(self.wait)
        return not last


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


def learning_rates(config: Any, data: Any, epochs: int) -> Callable[[int], float]:
    """gradwise's learning rate at each 0-based step, over the ``epochs`` the gradwise worker trains for.

    As in ``gradwise.train.runner``: ``len(batches)`` steps an epoch, the last batch shorter, not dropped.
    """
    from gradwise.train.config import build_schedule

    steps_per_epoch = -(-len(data.train.x) // config.batch_size)
    return build_schedule(config.with_overrides(epochs=epochs), steps_per_epoch)


def run_gradwise(epochs: int, threads: int, limit: float, blas_setting: str = "auto") -> None:
    from gradwise.train.evaluation import accuracy
    from gradwise.train.loop import Callback
    from gradwise.train.runner import train

    config, data, _ = load(threads)
    lockstep = Lockstep(epochs, limit)

    class TestAccuracy(Callback):
        def on_begin(self, session: Any) -> None:
            self.session = session
            lockstep.start()

        def on_epoch(self, progress: Any, record: Any) -> None:
            net = self.session.net
            acc = lockstep.clock.untimed(lambda: accuracy(net.predict(data.test.x), data.test.y))
            if not lockstep.end_epoch(acc):
                self.session.stop = "benchmark: reached the target or the time limit"

    train(config.with_overrides(epochs=epochs, blas=blas_setting), out=None, callbacks=[TestAccuracy()])


def run_torch(epochs: int, threads: int, limit: float) -> None:
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
    schedule = learning_rates(config, data, epochs)

    def accuracy(xs: torch.Tensor, ys: torch.Tensor) -> float:
        with torch.no_grad():
            return float((model(xs).argmax(dim=1) == ys).float().mean())

    lockstep, step = Lockstep(epochs, limit), 0
    lockstep.start()
    for epoch in range(epochs):
        idx = torch.from_numpy(order(epoch))
        for start in range(0, len(idx), config.batch_size):
            batch = idx[start : start + config.batch_size]
            optimizer.zero_grad()
            logits = model(x[batch])
            loss = torch.nn.functional.cross_entropy(logits, y[batch])
            loss.backward()
            float(loss)  # gradwise's loop reads the loss every step too
            # torch's buf = momentum * buf + g; p -= lr * buf: gradwise's heavy ball, so a per-step lr matches it.
            for group in optimizer.param_groups:
                group["lr"] = schedule(step)
            optimizer.step()
            step += 1
        accuracy(x_val, y_val)
        acc = lockstep.clock.untimed(lambda: accuracy(x_test, y_test))
        if not lockstep.end_epoch(acc):
            break


def run_sklearn(epochs: int, threads: int, limit: float) -> None:
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
    warnings.filterwarnings("ignore", message="Got `batch_size`")  # the epoch's last, shorter batch: one step still
    classes = np.arange(data.num_classes)
    # partial_fit builds the layers and takes one step; then gradwise's weights go in and the momentum restarts.
    clf.partial_fit(data.train.x[:1], data.train.y[:1], classes=classes)
    clf.coefs_ = [weights["0.W"].copy(), weights["1.W"].copy()]
    clf.intercepts_ = [weights["0.b"].copy(), weights["1.b"].copy()]
    clf._optimizer.params = clf.coefs_ + clf.intercepts_
    clf._optimizer.velocities = [np.zeros_like(p) for p in clf._optimizer.params]
    order = epoch_orders(config, data)
    schedule = learning_rates(config, data, epochs)
    optimizer = clf._optimizer

    lockstep, step = Lockstep(epochs, limit), 0
    lockstep.start()
    for epoch in range(epochs):
        idx = order(epoch)
        for start in range(0, len(idx), config.batch_size):
            batch = idx[start : start + config.batch_size]
            # scikit-learn's SGD keeps v = momentum * v - lr * g (p += v), the rate inside the velocity; gradwise
            # (and torch) keep m = momentum * m + g, p -= lr * m. With v = -lr_prev * m, rescaling v by
            # lr / lr_prev before the step gives v = -lr * m afterwards: gradwise's step exactly. (The cosine
            # stays above 0 within the run; v is 0 before the first step.)
            rate = schedule(step)
            if step:
                for v in optimizer.velocities:
                    v *= rate / optimizer.learning_rate
            optimizer.learning_rate = rate  # what SGDOptimizer._get_updates reads
            clf.partial_fit(data.train.x[batch], data.train.y[batch])  # one step: the batch is <= batch_size
            step += 1
        clf.score(data.val.x, data.val.y)
        acc = lockstep.clock.untimed(lambda: float(clf.score(data.test.x, data.test.y)))
        if not lockstep.end_epoch(acc):
            break
    assert clf.coefs_[0].dtype == np.float32, "scikit-learn upcast to float64"


WORKERS = {"gradwise": run_gradwise, "torch": run_torch, "sklearn": run_sklearn}


def worker(name: str, args: argparse.Namespace) -> None:
    if name == "gradwise":
        run_gradwise(args.epochs, args.threads, args.limit, args.blas)
    else:
        WORKERS[name](args.epochs, args.threads, args.limit)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    report: dict[str, Any] = {"peak_rss_mib": peak_kib / 1024}
    if name == "gradwise":
        report["gemm"] = "+".join(blas.gemm_state()["used"])  # type: ignore[arg-type]
    print(MARK + json.dumps(report), flush=True)


def summarize(log: list[tuple[float, float]]) -> tuple[int | None, float | None]:
    """(epochs, training seconds) when the test accuracy first reached the target, or (None, None)."""
    for epoch, (seconds, acc) in enumerate(log, start=1):
        if acc >= TARGET:
            return epoch, seconds
    return None, None


def machine() -> str:
    """The CPU, its core count and numpy's BLAS kernel (numpy is imported, so threadpoolctl sees its BLAS)."""
    from threadpoolctl import threadpool_info

    info: dict[str, Any] = next((i for i in threadpool_info() if i["user_api"] == "blas"), {})
    kernel = f"{info.get('internal_api')} {info.get('version')} {info.get('architecture')}"
    return f"{cpu_model()}, {os.cpu_count()} cores, {kernel}"


@dataclass
class Run:
    """One framework's run in one round: its (training seconds, test accuracy) per epoch, or why it failed."""

    log: list[tuple[float, float]] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    failure: str | None = None
    gemm: str = ""  # gradwise's: the GEMM backends its training ran on

    @property
    def epochs_to_target(self) -> int | None:
        return summarize(self.log)[0]

    @property
    def seconds_to_target(self) -> float | None:
        return summarize(self.log)[1]

    @property
    def seconds_per_epoch(self) -> float:
        return self.log[-1][0] / len(self.log)


class Worker:
    """One framework's worker process in a round, driven an epoch at a time (see ``Lockstep``)."""

    def __init__(self, name: str, args: argparse.Namespace) -> None:
        argv = [sys.executable, __file__, "--worker", name, "--epochs", str(args.epochs),
                "--threads", str(args.threads), "--limit", str(args.limit), "--blas", args.blas]  # fmt: skip
        self.errors = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors,
                                        text=True)  # fmt: skip
        self.run = Run()
        self.training = True

    def ready(self) -> None:
        """Wait until the worker has loaded everything and waits for its first epoch."""
        if self.read() is None:
            self.fail()

    def epoch(self) -> None:
        """Let the worker train one epoch and record it; on its last epoch, or a failure, it stops training."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write("go\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # it died: the read below finds no line and says why
        line = self.read()
        if line is None:
            self.fail()
            return
        self.run.log.append((line["seconds"], line["accuracy"]))
        if line["last"]:
            self.finish()

    def read(self) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            if text.startswith(MARK):
                return dict(json.loads(text[len(MARK) :]))
        return None

    def finish(self) -> None:
        report = self.read()
        if report is None or self.process.wait() != 0:
            self.fail()
            return
        self.run.peak_rss_mib = report["peak_rss_mib"]
        self.run.gemm = report.get("gemm", "")
        self.training = False

    def fail(self) -> None:
        self.process.kill()
        code = self.process.wait()
        self.errors.seek(0)
        lines = self.errors.read().strip().splitlines()
        self.run = Run(failure=lines[-1] if lines else f"exit {code}")
        self.training = False

    def end(self) -> None:
        """Close the worker (one that is still waiting exits at the end of its input)."""
        assert self.process.stdin is not None
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait()
        self.errors.close()


def run_round(frameworks: Sequence[str], args: argparse.Namespace, round_index: int) -> dict[str, Run]:
    """Every framework trained in lockstep, an epoch each in turn, the order rotated every epoch."""
    workers = {name: Worker(name, args) for name in frameworks}
    try:
        for worker in workers.values():
            worker.ready()
        for epoch in range(args.epochs):
            for name in round_order(frameworks, round_index + epoch):
                if workers[name].training:
                    time.sleep(SETTLE_SECONDS)
                    workers[name].epoch()
            if not any(worker.training for worker in workers.values()):
                break
    finally:
        for worker in workers.values():
            worker.end()
    return {name: worker.run if worker.run.log or worker.run.failure else Run(failure="no epoch ran")
            for name, worker in workers.items()}  # fmt: skip


def round_order(frameworks: Sequence[str], turn: int) -> list[str]:
    """The frameworks rotated by ``turn`` places (one more each epoch and each round), so none always runs first."""
    shift = turn % len(frameworks)
    return [*frameworks[shift:], *frameworks[:shift]]


def describe(run: Run) -> str:
    if run.failure is not None:
        return "failed"
    seconds = run.seconds_to_target
    return f"{seconds:.1f} s" if seconds is not None else f"not reached ({run.log[-1][1]:.4f})"


def run_rounds(frameworks: Sequence[str], args: argparse.Namespace) -> dict[str, list[Run]]:
    """``args.repeats`` lockstep rounds; runs[name][r] is round r's run."""
    runs: dict[str, list[Run]] = {name: [] for name in frameworks}
    for round_index in range(args.repeats):
        for name, run in run_round(frameworks, args, round_index).items():
            runs[name].append(run)
        done = ", ".join(f"{name} {describe(runs[name][-1])}" for name in frameworks)
        print(f"round {round_index + 1}/{args.repeats}: {done}", flush=True)
    return runs


def reached_seconds(runs: list[Run]) -> list[float]:
    return [run.seconds_to_target for run in runs if run.seconds_to_target is not None]


def with_spread(values: list[float], digits: int, unit: str = "") -> str:
    """The median, then (min-max) when there is more than one value."""
    middle = f"{statistics.median(values):.{digits}f}{unit}"
    if len(values) == 1:
        return middle
    return f"{middle} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def table_row(name: str, runs: list[Run]) -> str:
    completed = [run for run in runs if run.failure is None]
    if not completed:
        return f"{name:<10} failed in all {len(runs)} runs: {runs[-1].failure}"
    seconds = reached_seconds(runs)
    epochs = [run.epochs_to_target for run in runs if run.epochs_to_target is not None]
    if epochs:
        epochs_text = f"{min(epochs)}" if min(epochs) == max(epochs) else f"{min(epochs)}-{max(epochs)}"
    else:
        epochs_text = f"{max(len(run.log) for run in completed)}"
    seconds_text = with_spread(seconds, 1) if seconds else "not reached"
    per_epoch = statistics.median(run.seconds_per_epoch for run in completed)
    last_acc = statistics.median(run.log[-1][1] for run in completed)
    peak = max(run.peak_rss_mib for run in completed)
    return (
        f"{name:<10} {f'{len(seconds)}/{len(runs)}':>7} {epochs_text:>6} {seconds_text:>20} {per_epoch:8.2f} "
        f"{last_acc:14.4f} {peak:6.0f} MiB"
    )


def failure_notes(runs: list[Run]) -> list[str]:
    if all(run.failure is not None for run in runs):
        return []
    return [f"{'':<10} round {r}: failed: {run.failure}" for r, run in enumerate(runs, 1) if run.failure is not None]


def paired_ratios(numerators: list[Run], denominators: list[Run]) -> list[float | None]:
    """Round r's numerator time over round r's denominator time; None where either did not reach the target."""
    ratios: list[float | None] = []
    for top, bottom in zip(numerators, denominators, strict=True):
        top_seconds, bottom_seconds = top.seconds_to_target, bottom.seconds_to_target
        ratios.append(None if top_seconds is None or bottom_seconds is None else top_seconds / bottom_seconds)
    return ratios


def ratio_of_medians(numerators: list[Run], denominators: list[Run]) -> float | None:
    top, bottom = reached_seconds(numerators), reached_seconds(denominators)
    return statistics.median(top) / statistics.median(bottom) if top and bottom else None


def ratio_report(runs: dict[str, list[Run]]) -> str:
    ratios = paired_ratios(runs["torch"], runs["gradwise"])
    rounds = ", ".join("n/a" if ratio is None else f"{ratio:.2f}x" for ratio in ratios)
    paired = [ratio for ratio in ratios if ratio is not None]
    median_paired = with_spread(paired, 2, "x") if paired else "n/a"
    medians = ratio_of_medians(runs["torch"], runs["gradwise"])
    of_medians = f"{medians:.2f}x" if medians is not None else "n/a"
    return f"torch/gradwise time per round: {rounds}; median of paired {median_paired}, ratio of medians {of_medians}"


def summary_time(runs: list[Run] | None) -> str:
    if runs is None:
        return "not run"
    seconds = reached_seconds(runs)
    if not seconds:
        return "not reached" if len(runs) == 1 else f"not reached (0 of {len(runs)})"
    text = f"{statistics.median(seconds):.1f} s"
    details = [f"{min(seconds):.1f}-{max(seconds):.1f}"] if len(seconds) > 1 else []
    if len(seconds) < len(runs):
        details.append(f"{len(seconds)} of {len(runs)} reached")
    return f"{text} ({'; '.join(details)})" if details else text


def summary_ratio(runs: dict[str, list[Run]], repeats: int) -> str:
    if "torch" not in runs or "gradwise" not in runs:
        return "n/a"
    medians = ratio_of_medians(runs["torch"], runs["gradwise"])
    if medians is None:
        return "n/a"
    if repeats == 1:
        return f"{medians:.2f}x"
    paired = [ratio for ratio in paired_ratios(runs["torch"], runs["gradwise"]) if ratio is not None]
    if not paired:
        return f"{medians:.2f}x (no round paired)"
    spread = f"{min(paired):.2f}" if len(paired) == 1 else f"{min(paired):.2f}-{max(paired):.2f}"
    rounds = f", {len(paired)} of {repeats} rounds" if len(paired) < repeats else ""
    return f"{medians:.2f}x (paired {spread}{rounds})"


def gemm_report(runs: list[Run], setting: str) -> str:
    """The line naming the backends gradwise's GEMMs ran on, per round (one name when all rounds agree)."""
    used = [run.gemm or "n/a" for run in runs]
    rounds = used[0] if len(set(used)) == 1 else ", ".join(f"round {r} {name}" for r, name in enumerate(used, 1))
    return f"gradwise's GEMMs ran on: {rounds} (--blas {setting})"


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def print_table(frameworks: list[str], runs: dict[str, list[Run]]) -> None:
    columns = (
        ("reached", 7), ("epochs", 6), ("median s to 98%", 20), ("s/epoch", 8), ("last test acc", 14), ("peak RSS", 10),
    )  # fmt: skip
    print(f"\n{'framework':<10} " + " ".join(f"{name:>{width}}" for name, width in columns))
    for name in frameworks:
        print(table_row(name, runs[name]))
        for note in failure_notes(runs[name]):
            print(note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="at most this many epochs each (default 20)")
    parser.add_argument("--threads", type=int, default=2, help="threads for BLAS and torch (default 2)")
    parser.add_argument("--limit", type=float, default=200, help="stop a framework after this many seconds")
    parser.add_argument("--repeats", type=positive, default=3, help="alternating runs of each framework (default 3)")
    parser.add_argument("--only", choices=FRAMEWORKS, nargs="+", default=FRAMEWORKS)
    parser.add_argument("--blas", default="auto", choices=blas.SETTINGS, help="gradwise's GEMM backend")
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if (why := blas.missing(args.blas)) is not None:
        parser.error(f"--blas {args.blas}: {why}")
    if args.worker:
        worker(args.worker, args)
        return

    frameworks = list(dict.fromkeys(args.only))
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}; {args.threads} threads")
    print(f"gradwise GEMM backends available: {', '.join(blas.available())}; --blas {args.blas}")
    print("784-1000-10 relu, softmax CE, He init, momentum SGD 0.9 lr 0.05, batch 128, 50k train, float32\n")
    runs = run_rounds(frameworks, args)
    print_table(frameworks, runs)
    if "gradwise" in runs:
        print(f"\n{gemm_report(runs['gradwise'], args.blas)}")
    if "torch" in runs and "gradwise" in runs:
        print(f"\n{ratio_report(runs)}")

    how = f"median of {args.repeats} lockstep rounds" if args.repeats > 1 else "one round"
    times = ", ".join(f"{name} {summary_time(runs.get(name))}" for name in FRAMEWORKS)
    print(f"\n98% test accuracy, {how}: {times}; torch/gradwise time {summary_ratio(runs, args.repeats)}")


if __name__ == "__main__":
    main()
