"""Training-step throughput of gradwise next to PyTorch (and scikit-learn), on MNIST-shaped data.

For batch B in {1, 10, 32, 128, 512} x hidden width H in {30, 100, 1000} (784-H-10, plus a 784-512-512-512-10
row), ReLU, softmax cross-entropy, momentum SGD (beta 0.9 as in the default preset; lr 0.01, see LR), float32:

* gradwise's step is the body of ``train.loop.fit`` on a step no probe looks at: ``train.loop.train_step``
  and the accuracy argmax on the logits. PyTorch's step is the same network from the same initial weights: forward,
  ``cross_entropy``, backward, the same argmax, ``optimizer.step()``. Both see the same batches.
* Each cell runs in a fresh process of its own (see ``measure_in_own_process``), and PyTorch's steps in a
  second process beside it (``TorchProcess``): one library's threads per process, as a user runs them.
  Repetitions alternate (gradwise, torch, torch, gradwise, ...) with the same thread count, and each
  round's torch/gradwise ratio is paired, so load from other processes hits both sides alike; the table
  shows medians. Each timed block starts after a pause (SETTLE) and two untimed steps.
* A second table shows where each cell's step goes: its GEMMs alone (the ceiling), the update alone and the
  element-wise work alone (``measure_parts``); "fraction" is the GEMMs alone over the step.
* GFLOP/s counts the GEMMs only: 2B(3 sum(n_in n_out) - 784 H_1) per step (the input needs no gradient).
  The peak is a 2048^3 float32 sgemm timed once per round throughout the run, under the same load.
* The loop columns put each library's real training loop side by side, over the same stream of batches.
  gradwise's is ``fit()`` over a ``source | batch(reuse_buffer=True)`` stream (``FitRun``); PyTorch's, in
  its process, is the loop a user writes (``torch_training``): for each batch of the same samples in the
  same order (the last short batch dropped, as the stream drops it), forward, ``cross_entropy``,
  ``zero_grad``, ``backward``, ``step``, ``loss.item()`` and the same argmax. Both start from the same
  weights and continue one run across rounds, the same number of steps a round (as many as a monitor
  round, below), in rounds paired and alternated as the steps' are. "fit/s" and "loop/s" are their
  samples/s, "fit ratio" the median of the paired per-round ratios (gradwise's fit/s over torch's loop/s),
  and "fit/step" what the loop around the step costs: in each of those rounds the same run also takes as many
  bare steps (``train_step`` and the argmax, as "gradwise/s" times them) over the same stream, and the column
  is the median of bare time over fit() time (1: the loop costs nothing).
* The monitor columns time whole ``fit()`` runs of a fixed number of steps (``max_steps``) over the same
  kind of stream (a run of their own), without and with ``HealthMonitor`` at its default
  steady-state interval (``probe_interval``; the first ``EARLY_STEPS`` of a run are probed more densely,
  a one-off cost this column leaves out). "monitor" is the monitor's own time: its hooks and its probe's
  ``observe`` calls, timed inside the monitored run, over the rest of that run. "paired" is the time of
  the monitored run over the unmonitored one, minus 1: the issue's definition, but two runs differ by
  +-20% from load alone on a shared machine, so it is shown for reference. The summary's figure is the
  worst cell of "monitor".
* scikit-learn: ``MLPClassifier.partial_fit`` on one batch of 128 (one SGD step), same configuration.

Run with ``make bench`` (which unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE: they can pin a slower kernel).
``--blas auto|openblas|mkl`` is gradwise's ``--blas`` (default auto); the header names the GEMM backends this
environment has (MKL with ``pip install 'gradwise[mkl]'``) and the "GEMM" column the ones each cell's steps ran on.
The last line is ``min ratio vs torch X, geo-mean Y, ceiling fraction (B=128,H=1000) Z, monitor overhead W%,
fit-loop min ratio X, geo-mean Y, fit/step min Z``: the bare steps' ratio, then the training loops' ratio
(the "fit ratio" column) and the smallest "fit/step".
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from machine import cpu_model
from threadpoolctl import threadpool_info, threadpool_limits

import gradwise as gw
from gradwise.data.stream import batch, source
from gradwise.health.monitor import HealthMonitor, probe_interval
from gradwise.train.loop import Run, fit, train_step
from gradwise.train.stopping import max_steps

BATCHES = (1, 10, 32, 128, 512)
WIDTHS = ((30,), (100,), (1000,))
DEEP = (512, 512, 512)
N_IN, N_OUT = 784, 10
# A small rate: random labels at lr 0.05 can blow up at batch 1, and NaNs or denormals would time other code.
LR, BETA = 0.01, 0.9
POOL = 8192  # distinct samples each cell cycles through, so the network cannot memorize its few batches
PEAK_N = 2048
# After a BLAS call, OpenBLAS's worker threads spin for ~0.1 s (2^28 cycles) before they sleep, and a spinning
# thread takes a core from the other library: each timed block waits this long first, so neither pays for the other.
SETTLE = 0.15


@dataclass
class Cell:
    batch: int
    hidden: tuple[int, ...]
    gw_rate: float  # samples/s
    torch_rate: float
    ratio: float  # median of paired per-round ratios
    gflops: float
    finite: bool  # False if either network's weights went non-finite (the timing then measures NaN arithmetic)
    fit_rate: float | None = None  # samples/s of gradwise's fit(), paired with PyTorch's loop (measure_loops)
    loop_rate: float | None = None  # samples/s of a plain PyTorch training loop over the same batches
    fit_ratio: float | None = None  # median of paired per-round ratios: torch loop time / gradwise fit time
    fit_per_step: float | None = None  # median per round: bare steps' time / fit()'s, the same run and steps
    monitor_overhead: float | None = None  # fraction: the monitor's own time over the rest of the run
    monitor_paired: float | None = None  # fraction: time with the monitor over time without, paired runs
    peak_samples: list[float] = dataclasses.field(default_factory=list)  # GFLOP/s of the sgemm between rounds
    # Where one step's time goes (ms), each part timed alone on the cell's shapes: see measure_parts.
    gemm_ms: float = math.nan
    update_ms: float = math.nan
    elementwise_ms: float = math.nan
    gemm: str = ""  # the GEMM backends the cell's steps ran on (``blas.gemm_state()["used"]``)

    @property
    def step_ms(self) -> float:
        return 1e3 * self.batch / self.gw_rate


    @property
    def ceiling_fraction(self) -> float:
        """The step's speed over its own GEMMs' speed alone: 1 if nothing but those GEMMs took time."""
        return self.gemm_ms / self.step_ms


def gemm_flops(batch_size: int, hidden: tuple[int, ...]) -> float:
    sizes = [N_IN, *hidden, N_OUT]
    macs = sum(a * b for a, b in itertools.pairwise(sizes))
    return 2.0 * batch_size * (3 * macs - sizes[0] * sizes[1])


def blas_description() -> str:
    numpy_blas = [i for i in threadpool_info() if i["user_api"] == "blas" and "numpy" in i["filepath"]]
    info = numpy_blas[0] if numpy_blas else next(i for i in threadpool_info() if i["user_api"] == "blas")
    kernel = f"{info['internal_api']} {info.get('version')} kernel {info.get('architecture')}"
    return f"{kernel}, {info['num_threads']} threads"


def make_data(batch_size: int, count: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` batches of MNIST-shaped data: x in [0, 1) (B, 784) float32 and one-hot t (B, 10) float32."""
    out = []
    for _ in range(count):
        x = rng.random((batch_size, N_IN), dtype=np.float32)
        t = np.eye(N_OUT, dtype=np.float32)[rng.integers(0, N_OUT, batch_size)]
        out.append((x, t))
    return out


def gradwise_step(hidden: tuple[int, ...], seed: int) -> tuple[gw.Network, Callable[[np.ndarray, np.ndarray], int]]:
    """The body of ``fit``'s loop on a step no probe looks at: ``train_step`` and the accuracy's argmax."""
    net = gw.mlp([N_IN, *hidden, N_OUT], "relu", "softmax", rng=seed)
    optimizer = gw.optim.momentum(LR, BETA)
    state = optimizer.init(net.params)
    rng = np.random.default_rng(seed)
    loss = gw.nn.get_loss("ce")

    def step(x: np.ndarray, t: np.ndarray) -> int:
        nonlocal state
        _value, y, state = train_step(net, loss, optimizer, state, x, t, rng=rng)
        return int((y.argmax(axis=1) == t.argmax(axis=1)).sum())  # what fit() does for train accuracy

    return net, step


def torch_model(net: gw.Network) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """``net`` as a PyTorch Sequential with the same initial weights, and its momentum SGD."""
    layers: list[torch.nn.Module] = []
    dense = [layer for layer in net.layers if isinstance(layer, gw.Dense)]
    for i, layer in enumerate(dense):
        n_in, n_out = layer.shape
        linear = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():  # gradwise's W is (in, out); torch's weight is (out, in)
            linear.weight.copy_(torch.from_numpy(layer.params["W"].T.copy()))
            linear.bias.copy_(torch.from_numpy(layer.params["b"]))
        layers.append(linear)
        if i < len(dense) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    return model, torch.optim.SGD(model.parameters(), lr=LR, momentum=BETA)


def torch_step(net: gw.Network) -> tuple[torch.nn.Module, Callable[[torch.Tensor, torch.Tensor], int]]:
    model, optimizer = torch_model(net)

    def step(x: torch.Tensor, labels: torch.Tensor) -> int:
        optimizer.zero_grad()
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        correct = int((logits.detach().argmax(dim=1) == labels).sum())
        optimizer.step()
        return correct

    return model, step


def torch_training(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, labels: torch.Tensor, batch_size: int
) -> Iterator[None]:
    """A plain PyTorch training loop as a user writes it, over fit()'s stream (the batches in order, the last
    short one dropped, epoch after epoch); it yields after each step, so timed rounds continue one run."""
    batches = list(zip(x.split(batch_size), labels.split(batch_size), strict=True))[: len(x) // batch_size]
    while True:
        loss_sum, correct, seen = 0.0, 0, 0  # the epoch's training loss and accuracy, as fit() keeps them
        for inputs, targets in batches:
            logits = model(inputs)
            loss = torch.nn.functional.cross_entropy(logits, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item()
            correct += int((logits.argmax(dim=1) == targets).sum())
            seen += len(inputs)
            yield


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class Peak:
    """A large sgemm timed once per round, so the peak sees the same machine load as the cells."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.a = rng.random((PEAK_N, PEAK_N), dtype=np.float32)
        self.b = rng.random((PEAK_N, PEAK_N), dtype=np.float32)
        self.c = np.empty_like(self.a)
        self.samples: list[float] = []
        np.matmul(self.a, self.b, out=self.c)

    def sample(self) -> None:
        seconds = timed(lambda: np.matmul(self.a, self.b, out=self.c))
        self.samples.append(2.0 * PEAK_N**3 / seconds / 1e9)

    @property
    def gflops(self) -> float:
        return statistics.median(self.samples)


def steps_for(seconds_per_step: float, budget: float) -> int:
    return max(3, min(20_000, round(budget / max(seconds_per_step, 1e-7))))


class Side:
    """One framework's step and its batches; ``run(n)`` takes the next n batches, cycling through the pool."""

    def __init__(self, step: Callable[..., object], batches: list[tuple]) -> None:
        self.step, self.batches, self.cursor = step, batches, 0

    def run(self, n: int) -> None:
        for _ in range(n):
            self.step(*self.batches[self.cursor % len(self.batches)])
            self.cursor += 1


class TorchProcess:
    """PyTorch's side of a cell, in a process of its own: a process running one library's threads is what
    a user runs, and beside PyTorch's idle OpenMP pool gradwise's small two-thread steps ran up to 3x slower.
    It builds the same network from the same initial weights and the same batches; ``run(n)`` times n steps,
    ``loop(n)`` n steps of its training loop (``torch_training``) over fit()'s stream."""

    def __init__(self, batch_size: int, hidden: tuple[int, ...], threads: int) -> None:
        command = [sys.executable, __file__, "--torch-side", "-".join(map(str, hidden)), str(batch_size),
                   "--threads", str(threads)]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, line: str) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def run(self, n: int) -> float:
        return self.ask(f"run {n}")

    def loop(self, n: int) -> float:
        return self.ask(f"loop {n}")

    def close(self) -> bool:
        """Ends the process; True if both its networks' weights stayed finite."""
        finite = self.ask("finite") == 1.0
        self.process.communicate("quit\n")
        return finite


def cell_data(batch_size: int, hidden: tuple[int, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    return make_data(batch_size, max(4, POOL // batch_size), np.random.default_rng(batch_size * 7919 + sum(hidden)))


def fit_data(batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The samples fit() and PyTorch's loop go through: x (N, 784) float32 in [0, 1), one-hot t (N, 10)."""
    rng = np.random.default_rng(1)
    x = rng.random((max(POOL, 4 * batch_size), N_IN), dtype=np.float32)
    return x, np.eye(N_OUT, dtype=np.float32)[rng.integers(0, N_OUT, len(x))]


def torch_loop_side(batch_size: int, hidden: tuple[int, ...]) -> tuple[torch.nn.Module, Side]:
    """PyTorch's training loop over fit()'s stream, from the initial weights fit() starts from; warmed up
    by 3 steps, as FitRun is."""
    model, optimizer = torch_model(gw.mlp([N_IN, *hidden, N_OUT], "relu", "softmax", rng=0))
    x, t = fit_data(batch_size)
    steps = torch_training(model, optimizer, torch.from_numpy(x), torch.from_numpy(t.argmax(axis=1)), batch_size)
    side = Side(lambda: next(steps), [()])  # the loop holds its own batches: each step is one next()
    side.run(3)
    return model, side


def serve_torch_side(spec: list[str], threads: int) -> None:
    """``--torch-side H B``: PyTorch's steps and training loop for one cell, on request (see TorchProcess)."""
    hidden, batch_size = tuple(int(h) for h in spec[0].split("-")), int(spec[1])
    torch.set_num_threads(threads)
    net, _ = gradwise_step(hidden, seed=0)
    model, step = torch_step(net)
    side = Side(
        step, [(torch.from_numpy(x), torch.from_numpy(t.argmax(axis=1))) for x, t in cell_data(batch_size, hidden)]
    )
    side.run(3)  # warm-up: first-touch allocations, thread start
    loop_model, loop = torch_loop_side(batch_size, hidden)
    sides = {"run": side, "loop": loop}
    for line in sys.stdin:
        command, *arg = line.split()
        if command == "quit":
            return
        if command == "finite":
            parameters = [*model.parameters(), *loop_model.parameters()]
            print(float(all(bool(torch.isfinite(p).all()) for p in parameters)), flush=True)
            continue
        chosen, n = sides[command], int(arg[0])
        chosen.run(2)  # untimed: wakes this library's threads
        print(timed(functools.partial(chosen.run, n)), flush=True)


@dataclass
class Paired:
    """Seconds of each round's gradwise and torch blocks, and each round's torch / gradwise ratio."""

    gradwise: list[float] = dataclasses.field(default_factory=list)
    torch: list[float] = dataclasses.field(default_factory=list)
    ratios: list[float] = dataclasses.field(default_factory=list)


def paired_rounds(run_gradwise: Callable[[], float], run_torch: Callable[[], float], rounds: int, peak: Peak) -> Paired:
    """Rounds of one timed block each, alternating which goes first, each after SETTLE; the peak after each round."""
    paired = Paired()
    for r in range(rounds):
        for name in ("gradwise", "torch") if r % 2 == 0 else ("torch", "gradwise"):  # neither always goes first
            time.sleep(SETTLE)  # the other library's threads stop spinning
            getattr(paired, name).append(run_gradwise() if name == "gradwise" else run_torch())
        paired.ratios.append(paired.torch[-1] / paired.gradwise[-1])
        time.sleep(SETTLE)
        peak.sample()
    return paired


def finite(net: gw.Network) -> bool:
    return all(bool(np.isfinite(p).all()) for p in net.params.values())


def measure_cell(
    batch_size: int, hidden: tuple[int, ...], rounds: int, budget: float, peak: Peak, torch_side: TorchProcess
) -> Cell:
    """Paired rounds of gradwise steps (here) and torch steps (in its own process) on the same batches; medians."""
    net, gw_step = gradwise_step(hidden, seed=0)
    gradwise = Side(gw_step, cell_data(batch_size, hidden))
    gradwise.run(3)  # warm-up: first-touch allocations, BLAS thread start
    n = steps_for(min(timed(lambda: gradwise.run(3)), torch_side.run(3)) / 3, budget)

    def run_gradwise() -> float:
        gradwise.run(2)  # untimed: wakes this library's threads
        return timed(lambda: gradwise.run(n))

    paired = paired_rounds(run_gradwise, lambda: torch_side.run(n), rounds, peak)
    g, t = statistics.median(paired.gradwise), statistics.median(paired.torch)
    gflops = gemm_flops(batch_size, hidden) * n / g / 1e9
    ratio = statistics.median(paired.ratios)
    return Cell(batch_size, hidden, n * batch_size / g, n * batch_size / t, ratio, gflops, finite(net))


class FitRun:
    """One gradwise training run, continued across rounds: ``run(n)`` is fit() for n more steps over
    ``source | batch(reuse_buffer=True)`` of the cell's fit_data."""

    def __init__(self, batch_size: int, hidden: tuple[int, ...]) -> None:
        self.stream = source(*fit_data(batch_size)) | batch(batch_size, drop_last=True, reuse_buffer=True)
        self.optimizer = gw.optim.momentum(LR, BETA)
        self.net = gw.mlp([N_IN, *hidden, N_OUT], "relu", "softmax", rng=0)
        self.state = Run(self.optimizer.init(self.net.params))

    def run(self, n: int, callbacks: list[Any] | None = None) -> None:
        stop = max_steps(self.state.step + n)
        fit(self.net, "ce", self.optimizer, self.stream, stop, callbacks=callbacks or [], rng=0, run=self.state)

    def bare(self, n: int) -> None:
        """n bare steps of this same run (``train_step`` and the accuracy's argmax, as the "gradwise/s" column
        times them) over the stream's batches: what fit() does without the loop around the step."""
        loss, rng, done = gw.nn.get_loss("ce"), np.random.default_rng(0), 0
        while done < n:
            for x, t in itertools.islice(self.stream.epoch(0), n - done):
                _, y, self.state.opt_state = train_step(
                    self.net, loss, self.optimizer, self.state.opt_state, x, t, rng=rng
                )
                int((y.argmax(axis=1) == t.argmax(axis=1)).sum())
                done += 1


def fit_steps(cell: Cell, interval: int, budget: float) -> int:
    """Steps in a timed fit() block: a whole number of probe intervals, at least 6, so every monitored
    block holds the same number of probes; the loop rounds take as many."""
    return interval * max(6, math.ceil(steps_for(cell.batch / cell.gw_rate, 3 * budget) / interval))


def measure_loops(cell: Cell, torch_side: TorchProcess, rounds: int, budget: float, peak: Peak) -> None:
    """gradwise's fit() (here) and PyTorch's plain training loop (in its process), each continuing one run
    over the same batches in the same order, the same number of steps a round, paired as the steps are."""
    gradwise = FitRun(cell.batch, cell.hidden)
    gradwise.run(3)  # warm-up, as the torch side's loop had
    n = fit_steps(cell, probe_interval(gradwise.net, cell.batch), budget)

    per_step: list[float] = []

    def run_gradwise() -> float:
        """fit() for n steps, and n bare steps of the same run beside it (alternating which goes first): the two
        see the same load, and the same state (a long run's optimizer state is not a fresh one's)."""
        gradwise.run(2)  # untimed: wakes this library's threads (the torch side's loop takes 2 too)
        if len(per_step) % 2:
            bare, fitted = timed(lambda: gradwise.bare(n)), timed(lambda: gradwise.run(n))
        else:
            fitted, bare = timed(lambda: gradwise.run(n)), timed(lambda: gradwise.bare(n))
        per_step.append(bare / fitted)
        return fitted

    paired = paired_rounds(run_gradwise, lambda: torch_side.loop(n), rounds, peak)
    cell.fit_per_step = statistics.median(per_step)
    cell.fit_rate = n * cell.batch / statistics.median(paired.gradwise)
    cell.loop_rate = n * cell.batch / statistics.median(paired.torch)
    cell.fit_ratio = statistics.median(paired.ratios)
    cell.finite = cell.finite and finite(gradwise.net)


def median_ms(fn: Callable[[], object], rounds: int, budget: float, peak: Peak) -> float:
    """Milliseconds per call of ``fn``, the median of ``rounds`` timed blocks of about ``budget`` seconds."""
    fn()
    n = steps_for(timed(fn), budget)
    times = []
    for _ in range(rounds):
        time.sleep(SETTLE)
        fn()
        times.append(timed(lambda: [fn() for _ in range(n)]) / n)
        time.sleep(SETTLE)
        peak.sample()
    return 1e3 * statistics.median(times)


def with_step_threads(fn: Callable[[], object], forward_macs: int) -> Callable[[], None]:
    """``fn`` on the BLAS threads ``train_step`` gives a step of this size (one, for a small step)."""

    def run() -> None:
        with gw.blas.threads_for(forward_macs):
            fn()

    return run


def step_gemms(batch_size: int, hidden: tuple[int, ...]) -> Callable[[], None]:
    """A step's GEMMs alone (forward, weight gradients, input gradients but the first layer's), at gradwise's
    shapes and layouts, into preallocated outputs: the most any step could reach with this BLAS."""
    rng = np.random.default_rng(3)
    sizes = [N_IN, *hidden, N_OUT]
    weights = [rng.standard_normal((a, b), dtype=np.float32) for a, b in itertools.pairwise(sizes)]
    acts = [rng.random((batch_size, n), dtype=np.float32) for n in sizes]
    deltas = [rng.standard_normal((batch_size, n), dtype=np.float32) for n in sizes]
    grads = [np.empty_like(w) for w in weights]
    # At batch 1 the layers pad x and dz with a zero row for dL/dW (OpenBLAS is slow at k = 1): so here.
    rows = 2 if batch_size == 1 else batch_size
    padded_acts = [np.zeros((rows, n), np.float32) for n in sizes]
    padded_deltas = [np.zeros((rows, n), np.float32) for n in sizes]

    def gemms() -> None:
        for i, w in enumerate(weights):
            gw.blas.gemm(acts[i], w, acts[i + 1])  # forward, on the backend the step's own shapes took
            x, dz = (padded_acts[i], padded_deltas[i + 1]) if batch_size == 1 else (acts[i], deltas[i + 1])
            gw.blas.gemm(x.T, dz, grads[i])  # dL/dW
            if i > 0:
                gw.blas.gemm(deltas[i + 1], w.T, deltas[i])  # dL/dx

    return gemms


def step_update(net: gw.Network) -> Callable[[], None]:
    """The optimizer's own passes on a step whose gradients went into the momentum: p -= lr m, per parameter."""
    optimizer = gw.optim.momentum(LR, BETA)
    state = optimizer.init(net.params)
    sink = optimizer.sink
    assert sink is not None  # momentum offers one
    return lambda: sink.finish(net.params, state)


def step_elementwise(batch_size: int, net: gw.Network) -> Callable[[], None]:
    """A step's element-wise work alone, with gradwise's own functions on its shapes: per layer the bias and
    the activation forward, the fused loss, the activation's derivative in place, the bias gradient; the
    accuracy's argmax."""
    rng = np.random.default_rng(4)
    dense = [layer for layer in net.layers if isinstance(layer, gw.Dense)]
    zs = [rng.standard_normal((batch_size, layer.shape[1]), dtype=np.float32) for layer in dense]
    acts = [np.empty_like(z) for z in zs]
    deltas = [rng.standard_normal(z.shape, dtype=np.float32) for z in zs]
    t = np.eye(N_OUT, dtype=np.float32)[rng.integers(0, N_OUT, batch_size)]
    loss = gw.nn.get_loss("ce").fused["softmax"]

    def elementwise() -> None:
        for layer, z, a in zip(dense[:-1], zs, acts, strict=False):
            z += layer.params["b"]
            layer.activation.forward_into(z, a)
        zs[-1] += dense[-1].params["b"]
        loss(zs[-1], t)
        for layer, z, a, delta in zip(dense[:-1], zs, acts, deltas, strict=False):
            layer.activation.backward_into(z, a, delta, delta)
        for layer, delta in zip(dense, deltas, strict=True):
            np.sum(delta, axis=0, out=layer.grads["b"])
        int((zs[-1].argmax(axis=1) == t.argmax(axis=1)).sum())

    return elementwise


def measure_parts(cell: Cell, rounds: int, budget: float, peak: Peak) -> None:
    """Each part of a step timed alone: its GEMMs (the ceiling), the update, the element-wise work."""
    net = gw.mlp([N_IN, *cell.hidden, N_OUT], rng=0)
    forward_macs = cell.batch * net.macs_per_sample
    cell.gemm_ms = median_ms(with_step_threads(step_gemms(cell.batch, cell.hidden), forward_macs), rounds, budget, peak)
    cell.update_ms = median_ms(with_step_threads(step_update(net), forward_macs), rounds, budget / 2, peak)
    cell.elementwise_ms = median_ms(step_elementwise(cell.batch, net), rounds, budget / 2, peak)


class TimedMonitor(HealthMonitor):
    """The health monitor, adding up the seconds spent in its hooks and in its probe's ``observe`` calls."""

    seconds = 0.0

    def probe(self, step: int) -> Any:
        started = time.perf_counter()
        found = super().probe(step)
        self.seconds += time.perf_counter() - started
        return None if found is None else TimedProbe(found, self)

    def on_gradients(self, step: int, grads: dict[str, np.ndarray]) -> None:
        started = time.perf_counter()
        super().on_gradients(step, grads)
        self.seconds += time.perf_counter() - started

    def on_step(self, progress: Any, loss: float) -> None:
        started = time.perf_counter()
        super().on_step(progress, loss)
        self.seconds += time.perf_counter() - started


class TimedProbe:
    def __init__(self, probe: Any, owner: TimedMonitor) -> None:
        self.probe, self.owner = probe, owner

    def observe(self, layer: int, tensor: str, value: np.ndarray) -> None:
        started = time.perf_counter()
        self.probe.observe(layer, tensor, value)
        self.owner.seconds += time.perf_counter() - started


def measure_monitor(cell: Cell, rounds: int, budget: float) -> None:
    """fit() without and with the monitor, paired per round, continuing one run, so the monitor's probe of
    step 1 happens once (in the warm-up) and the rounds see its steady state. Two figures: the paired time
    difference, and the monitor's own time (its hooks, timed inside the monitored run)."""
    # One network and one run for both: two identical networks can differ in speed by where their arrays
    # happen to lie in memory, which would show up as the monitor's cost.
    training = FitRun(cell.batch, cell.hidden)
    interval = probe_interval(training.net, cell.batch)
    monitor = TimedMonitor({"batch_size": cell.batch}, interval=interval)

    def run(with_monitor: bool, n: int) -> None:
        training.run(n, [monitor] if with_monitor else None)

    run(False, 3)
    run(True, 3)
    n = fit_steps(cell, interval, budget)
    paired, own = [], []
    for r in range(rounds):
        monitor.seconds = 0.0
        if r % 2:
            on_s, off_s = timed(lambda: run(True, n)), timed(lambda: run(False, n))
        else:
            off_s, on_s = timed(lambda: run(False, n)), timed(lambda: run(True, n))
        paired.append(on_s / off_s - 1)
        own.append(monitor.seconds / (on_s - monitor.seconds))
    cell.monitor_overhead = statistics.median(own)
    cell.monitor_paired = statistics.median(paired)


def measure_sklearn(hidden: tuple[int, ...], rounds: int, budget: float) -> float:
    """Samples/s of MLPClassifier.partial_fit on batches of 128 (one SGD step per call)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(2)
    data = make_data(128, POOL // 128, rng)
    classes = np.arange(N_OUT)
    clf = MLPClassifier(
        hidden_layer_sizes=hidden, activation="relu", solver="sgd", learning_rate_init=LR, momentum=BETA,
        nesterovs_momentum=False, alpha=0.0, batch_size=128, shuffle=False, random_state=0,
    )  # fmt: skip
    labelled = [(x, t.argmax(axis=1)) for x, t in data]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        time.sleep(SETTLE)  # numpy's OpenBLAS threads stop spinning (scikit-learn runs scipy's own OpenBLAS)
        clf.partial_fit(*labelled[0], classes=classes)
        one = timed(lambda: clf.partial_fit(*labelled[1]))
        n = steps_for(one, budget)
        times = []
        for _ in range(rounds):
            times.append(timed(lambda: [clf.partial_fit(*labelled[i % len(labelled)]) for i in range(n)]))
    return n * 128 / statistics.median(times)


def measure_in_own_process(hidden: tuple[int, ...], batch_size: int, args: argparse.Namespace, rounds: int) -> Cell:
    """One cell (its step rounds and its monitor rounds) in a fresh Python process: what one cell allocates
    and frees changes where the next one's arrays land (glibc raises its mmap threshold after a free), which
    moved later cells' speeds by up to 2x for both libraries. A training run is one network in one process."""
    command = [
        sys.executable, __file__, "--cell", "-".join(map(str, hidden)), str(batch_size),
        "--rounds", str(rounds), "--budget", str(args.budget), "--threads", str(args.threads), "--blas", args.blas,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    fields = json.loads(done.stdout.strip().splitlines()[-1])
    return Cell(**{**fields, "hidden": tuple(fields["hidden"])})


def run_one_cell(spec: list[str], args: argparse.Namespace) -> None:
    """``--cell H B``: measure one cell, print it as one JSON line (the peak samples ride along)."""
    hidden, batch_size = tuple(int(h) for h in spec[0].split("-")), int(spec[1])
    torch.set_num_threads(args.threads)
    gw.blas.use(args.blas)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        peak = Peak()
        torch_side = TorchProcess(batch_size, hidden, args.threads)
        cell = measure_cell(batch_size, hidden, args.rounds, args.budget, peak, torch_side)
        cell.gemm = "+".join(gw.blas.gemm_state()["used"])  # type: ignore[arg-type]
        measure_loops(cell, torch_side, args.rounds, args.budget, peak)
        cell.finite = torch_side.close() and cell.finite
        measure_parts(cell, args.rounds, args.budget, peak)
        measure_monitor(cell, args.rounds, args.budget)
    cell.peak_samples = peak.samples
    print(json.dumps(dataclasses.asdict(cell)))


def print_parts(cells: list[Cell]) -> None:
    """Where each cell's step goes: its GEMMs alone (the ceiling), the update and the element-wise work alone,
    and the rest (Python, and GEMMs or passes slower inside the step than alone, as they share the caches)."""
    print("\nwhere a gradwise step goes, ms per step; ceiling: the step's GEMMs alone; fraction: GEMMs alone / step")
    columns = ("step", 7), ("GEMMs", 7), ("update", 7), ("elem.", 7), ("rest", 7), ("ceiling", 8), ("fraction", 8)
    print(f"{'H':>11} {'B':>4} " + " ".join(f"{name:>{width}}" for name, width in columns))
    for c in cells:
        rest = c.step_ms - c.gemm_ms - c.update_ms - c.elementwise_ms
        ceiling = gemm_flops(c.batch, c.hidden) / c.gemm_ms / 1e6
        print(
            f"{'-'.join(map(str, c.hidden)):>11} {c.batch:>4} {c.step_ms:7.3f} {c.gemm_ms:7.3f} {c.update_ms:7.3f} "
            f"{c.elementwise_ms:7.3f} {rest:7.3f} {ceiling:8.1f} {c.ceiling_fraction:8.2f}"
        )


COLUMNS = (
    ("gradwise/s", 11), ("torch/s", 10), ("ratio", 6), ("GFLOP/s", 8), ("fit/s", 9), ("loop/s", 9),
    ("fit ratio", 9), ("fit/step", 8), ("monitor", 8), ("paired", 8), ("GEMM", 13),
)  # fmt: skip


def optional(value: float | None, spec: str, width: int) -> str:
    return f"{value:{width}{spec}}" if value is not None else f"{'n/a':>{width}}"


def cell_row(cell: Cell) -> str:
    """One line of the main table, in COLUMNS' order."""
    loops = (
        f"{optional(cell.fit_rate, '.0f', 9)} {optional(cell.loop_rate, '.0f', 9)} "
        f"{optional(cell.fit_ratio, '.2f', 9)} {optional(cell.fit_per_step, '.2f', 8)}"
    )
    mon = f"{100 * (cell.monitor_overhead or 0):7.1f}% {100 * (cell.monitor_paired or 0):+7.1f}% {cell.gemm:>13}"
    return (
        f"{'-'.join(map(str, cell.hidden)):>11} {cell.batch:>4} {cell.gw_rate:11.0f} {cell.torch_rate:10.0f} "
        f"{cell.ratio:6.2f} {cell.gflops:8.1f} {loops} {mon}" + ("" if cell.finite else "  (weights went non-finite)")
    )


def print_header(args: argparse.Namespace) -> None:
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"numpy {np.__version__} BLAS: {blas_description()}")
    print(f"gradwise GEMM backends available: {', '.join(gw.blas.available())}; --blas {args.blas}")
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"torch {torch.__version__}: {torch.get_num_threads()} threads, {capability}")
    print("784-H-10 relu, softmax CE, momentum SGD, float32; samples/s are medians of interleaved rounds\n")
    print(f"{'H':>11} {'B':>4} " + " ".join(f"{name:>{width}}" for name, width in COLUMNS))


def geo_mean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values))


def print_summary(cells: list[Cell], peak: Peak) -> None:
    """The load at the end, the reference cell against the peak, and the last line other tooling reads."""
    load = os.getloadavg()[0]
    busy = load > (os.cpu_count() or 1)
    print(f"load average at the end {load:.2f}" + ("; other processes shared the cores: rough numbers" if busy else ""))
    ratios = [c.ratio for c in cells]
    fit_ratios = [c.fit_ratio for c in cells if c.fit_ratio is not None]
    fit_per_step = [c.fit_per_step for c in cells if c.fit_per_step is not None]
    ref = next(c for c in cells if c.batch == 128 and c.hidden == (1000,))
    monitor = f"{100 * max(c.monitor_overhead or 0.0 for c in cells):.1f}%"
    print(f"B=128, H=1000: the step at {ref.gflops:.1f} GFLOP/s, {ref.gflops / peak.gflops:.2f} of the sgemm peak")
    print(
        f"min ratio vs torch {min(ratios):.2f}, geo-mean {geo_mean(ratios):.2f}, "
        f"ceiling fraction (B=128,H=1000) {ref.ceiling_fraction:.2f}, monitor overhead {monitor}, "
        f"fit-loop min ratio {min(fit_ratios):.2f}, geo-mean {geo_mean(fit_ratios):.2f}, "
        f"fit/step min {min(fit_per_step):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved repetitions per cell (default 7)")
    parser.add_argument("--budget", type=float, default=0.08, help="seconds of gradwise steps per round")
    parser.add_argument("--threads", type=int, default=2, help="threads for BLAS and torch (default 2)")
    parser.add_argument("--quick", action="store_true", help="3 rounds, batches 1 and 128 only")
    parser.add_argument("--blas", default="auto", choices=gw.blas.SETTINGS, help="gradwise's GEMM backend")
    parser.add_argument("--cell", nargs=2, metavar=("H", "B"), help=argparse.SUPPRESS)  # one cell, in a child
    parser.add_argument("--torch-side", nargs=2, metavar=("H", "B"), help=argparse.SUPPRESS)  # its torch steps
    args = parser.parse_args()
    if args.torch_side:
        serve_torch_side(args.torch_side, args.threads)
        return
    if args.cell:
        run_one_cell(args.cell, args)
        return
    rounds = 3 if args.quick else args.rounds
    batches = (1, 128) if args.quick else BATCHES

    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        print_header(args)
        peak = Peak()
        cells: list[Cell] = []
        for hidden in (*WIDTHS, DEEP):
            for b in batches:
                cell = measure_in_own_process(hidden, b, args, rounds)
                peak.samples += cell.peak_samples
                cells.append(cell)
                print(cell_row(cell), flush=True)
        print_parts(cells)
        print(f"\nGEMM peak: {PEAK_N}^3 sgemm, median of {len(peak.samples)} between rounds: {peak.gflops:.1f} GFLOP/s")
        sk = {h: measure_sklearn(h, rounds, args.budget) for h in WIDTHS}
        gw128 = {c.hidden: c.gw_rate for c in cells if c.batch == 128}
        for h, rate in sk.items():
            print(f"scikit-learn partial_fit, B=128, H={h[0]}: {rate:.0f} samples/s; gradwise {gw128[h] / rate:.1f}x")
    print_summary(cells, peak)


if __name__ == "__main__":
    main()
