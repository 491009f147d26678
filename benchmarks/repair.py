"""Does `gradwise train --repair` repair? Broken configurations across fault classes, and healthy ones at the
batch sizes learners use, each trained as a user would: `--epochs 3 --limit-train 20000 --on-nan rollback`.

    python benchmarks/repair.py               # every case, two at a time
    python benchmarks/repair.py --only 3 17   # some cases (their numbers in the table)
    python benchmarks/repair.py --jobs 1

A broken case is
- "detected" when the repair's first probe found a problem (it changed something, or the run ends with a
  diagnosis);
- "right cause" when the first change touches the setting of its first fault (the repair order puts
  causes first: a pairing before the data, the data before the initialization, ... the learning rate);
- "repaired" when its test accuracy ends within REACH of a healthy configuration of the same architecture
  (the same hidden sizes and batch size) on the same budget;
- "below" (B) when it ends below the same flags trained without `--repair`: repair must never make a run worse.
The yardstick repair measured (the healthy recipe's probe, when a quiet probe needed it) is printed beside.

A healthy case, also run with `--repair`, is "disturbed" by any diagnosis, guard stop or rollback, or by
ending at a different accuracy from the same run without the monitor (`--no-monitor`, no `--repair`).

Last line: `detected D/N, right cause C/N, repaired R/N, healthy disturbed H/M, below their own unrepaired run
B/N`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

BUDGET = ["--epochs", "3", "--limit-train", "20000"]
REACH = 0.05  # repaired: within 5 points of the healthy configuration's test accuracy


@dataclass(frozen=True)
class Case:
    flags: str
    fault: str  # the fault class, in words
    first_cause: frozenset[str] = frozenset()  # settings, any of which the first change must touch; empty: healthy
    reference: str = ""  # extra flags of the healthy configuration beside --hidden and --batch-size

    @property
    def healthy(self) -> bool:
        return not self.first_cause


def broken(flags: str, fault: str, *settings: str, reference: str = "") -> Case:
    return Case(flags, fault, frozenset(settings), reference)


B1 = "--optimizer sgd --lr 0.01"  # a healthy configuration at batch 1


def deep(layers: int, width: int = 64) -> str:
    """``--hidden`` for ``layers`` hidden layers of ``width`` units."""
    return ",".join([str(width)] * layers)


CASES: list[Case] = [
    # output activation / loss pairing
    broken("--hidden 100 --loss mse", "softmax + mse", "loss", "output"),
    broken("--hidden 50,50,50,50 --output relu --loss ce --optimizer adam --lr 0.0001", "relu output + ce", "output"),
    broken("--hidden 100 --output identity --loss ce", "identity output + ce", "output"),
    broken("--hidden 100 --output sigmoid --loss ce --optimizer sgd --lr 0.1", "sigmoid output + ce", "output"),
    # raw 0-255 input
    broken("--normalize none --hidden 100 --activation sigmoid", "raw input, sigmoid", "normalize"),
    broken("--normalize none --hidden 100", "raw input, relu", "normalize"),
    broken("--normalize none --hidden 100 --activation identity --optimizer sgd --lr 0.01", "raw input, linear",
           "normalize", reference="--activation identity"),  # a linear network: compared with a healthy linear one
    # initialization
    broken("--init zeros --activation tanh --hidden 100", "zeros init, shallow tanh", "init"),
    broken("--init zeros --hidden 64,64,64", "zeros init, deep relu", "init"),
    broken("--init uniform --activation tanh --hidden 100", "U(0,1) init, shallow tanh", "init", "activation"),
    broken("--init uniform --hidden 64,64,64", "U(0,1) init, deep relu", "init"),
    broken("--init normal --activation tanh --hidden 64,64,64", "N(0,1) init, deep tanh", "init", "activation"),
    broken("--init normal --hidden 100", "N(0,1) init, shallow relu", "init"),
    # deep saturating networks
    broken("--activation sigmoid --hidden 64,64,64,64,64,64 --optimizer sgd --lr 0.05", "6 sigmoid layers",
           "activation", "init"),
    broken("--activation sigmoid --hidden 256,256,256,256,256 --init normal", "5 sigmoid layers, N(0,1)",
           "init", "activation"),
    # learning rate too high
    broken("--optimizer sgd --lr 20 --hidden 100", "sgd lr 20", "lr", "clip_norm"),
    broken("--lr 5 --hidden 100", "momentum lr 5", "lr", "clip_norm", "momentum"),
    broken("--optimizer adam --lr 0.5 --hidden 100", "adam lr 0.5", "lr", "clip_norm", "optimizer"),
    broken("--optimizer rmsprop --lr 0.5 --hidden 100", "rmsprop lr 0.5", "lr", "clip_norm", "optimizer"),
    # learning rate too low
    broken("--optimizer sgd --lr 1e-5 --hidden 100", "sgd lr 1e-5", "lr", "optimizer"),
    broken("--lr 1e-6 --hidden 100", "momentum lr 1e-6", "lr", "optimizer"),
    broken("--optimizer adam --lr 1e-7 --hidden 100", "adam lr 1e-7", "lr", "optimizer"),
    broken("--optimizer rmsprop --lr 1e-7 --hidden 100", "rmsprop lr 1e-7", "lr", "optimizer"),
    # momentum
    broken("--momentum 0.995 --lr 0.5 --hidden 100", "momentum 0.995", "momentum", "lr"),
    broken("--momentum 0.999 --lr 0.2 --hidden 100", "momentum 0.999", "momentum", "lr"),
    # batch 1 with a high rate
    broken("--batch-size 1 --optimizer sgd --lr 2 --hidden 64", "batch 1, sgd lr 2", "lr", "clip_norm", reference=B1),
    # heavy dropout
    broken("--dropout 0.9 --hidden 64,64", "dropout 0.9", "dropout"),
    # pairs of faults: the first in the repair order must be fixed first
    broken("--normalize none --optimizer sgd --lr 1 --hidden 100", "raw input + sgd lr 1", "normalize"),
    broken("--preset seed-2017", "softmax + mse + U(0,1) init (the seed)", "loss", "output", reference="--hidden 1000"),
    broken("--init zeros --optimizer sgd --lr 1e-4 --hidden 100", "zeros init + lr 1e-4", "init"),
    # deep plain ReLU stacks with Glorot weights: the signal halves in variance at every layer
    broken(f"--hidden {deep(10)} --init glorot_uniform --optimizer adam --lr 0.001", "10 relu layers, Glorot, adam",
           "init", "norm"),
    broken(f"--hidden {deep(20)} --init glorot_normal --optimizer adam --lr 0.001", "20 relu layers, Glorot, adam",
           "init", "norm"),
    broken(f"--hidden {deep(40)} --init glorot_uniform --optimizer adam --lr 0.001", "40 relu layers, Glorot, adam",
           "init", "norm"),
    broken(f"--hidden {deep(16)} --init xavier --optimizer sgd --lr 0.05", "16 relu layers, Glorot, momentum",
           "init", "norm"),
    # slow optimizers after a pairing fix: a quiet probe far below the yardstick
    broken("--hidden 100 --loss mse --optimizer adam --lr 1e-4", "softmax + mse, adam 1e-4", "loss", "output"),
    broken("--hidden 100 --loss mse --optimizer adam --lr 1e-5", "softmax + mse, adam 1e-5", "loss", "output"),
    broken("--hidden 100 --loss mse --optimizer sgd --lr 1e-3", "softmax + mse, sgd 1e-3", "loss", "output"),
    # two causes at once
    broken("--hidden 30 --activation sigmoid --output sigmoid --loss mse --init normal --optimizer sgd --lr 0.01",
           "sigmoid + mse, N(0,1), sgd 0.01", "init", "output", "loss", "activation"),
    broken("--hidden 100 --output relu --loss ce --init normal", "relu output + N(0,1) init", "output", "init"),
    broken("--hidden 100 --output sigmoid --loss ce --optimizer sgd --lr 1e-4", "sigmoid output + ce, sgd 1e-4",
           "output"),
    # linear networks with mismatched outputs
    broken("--hidden 100 --activation identity --output identity --loss mse --optimizer sgd --lr 0.5",
           "linear, identity + mse, sgd 0.5", "lr", "clip_norm", "output", "loss", reference="--activation identity"),
    broken("--hidden 100 --activation identity --output sigmoid --loss mse --optimizer sgd --lr 0.01",
           "linear, sigmoid + mse, sgd 0.01", "output", "loss", "optimizer", "lr",
           reference="--activation identity"),
    # healthy, at the batch sizes learners use
    Case(f"--hidden 64 --batch-size 1 {B1}", "healthy relu, batch 1"),
    Case("--hidden 64 --batch-size 2 --activation tanh --optimizer sgd --lr 0.01", "healthy tanh, batch 2"),
    Case("--hidden 64 --batch-size 4 --activation sigmoid --optimizer sgd --lr 0.1", "healthy sigmoid, batch 4"),
    Case("--hidden 100 --batch-size 8 --activation leaky_relu --lr 0.01", "healthy leaky_relu, batch 8"),
    Case("--hidden 100 --batch-size 16 --activation elu --optimizer adam --lr 0.001", "healthy elu, batch 16"),
    Case("--hidden 100 --batch-size 32 --dropout 0.2", "healthy relu + dropout, batch 32"),
    Case("--hidden 256 --batch-size 128", "healthy relu, batch 128 (default)"),
    Case("--hidden 256 --batch-size 512 --lr 0.1", "healthy relu, batch 512"),
    Case("--preset nielsen", "Nielsen's sigmoid + mse, batch 10"),
    Case("--hidden 512,256 --activation tanh --batch-size 32 --optimizer nesterov --lr 0.01", "healthy tanh x2"),
    Case("--hidden 128,128 --activation sigmoid --batch-size 16 --optimizer adam --lr 0.001", "healthy sigmoid x2"),
    Case("--hidden 100 --batch-size 8 --activation elu --optimizer rmsprop --lr 0.001", "healthy elu, rmsprop"),
]


def gradwise() -> list[str]:
    local = Path(sys.executable).with_name("gradwise")
    return [str(local)] if local.exists() else [sys.executable, "-m", "gradwise"]


def train(flags: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}  # two runs share two cores
    with tempfile.TemporaryDirectory() as folder:
        command = [*gradwise(), "train", *flags.split(), *BUDGET, "--json", "--out", str(Path(folder) / "run")]
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    return json.loads(lines[-1])


def _option(flags: str, name: str) -> str | None:
    words = flags.split()
    return words[words.index(name) + 1] if name in words else None


def reference_flags(case: Case) -> str:
    parts = [f"--hidden {h}" if (h := _option(case.flags, "--hidden")) else "", case.reference]
    if (b := _option(case.flags, "--batch-size")) is not None:
        parts.append(f"--batch-size {b}")
    return " ".join(p for p in parts if p) or "--preset default"


@dataclass
class Row:
    number: int
    case: Case
    result: dict
    reference: dict = field(default_factory=dict)
    unrepaired: dict = field(default_factory=dict)  # the same flags trained without --repair
    detected: bool = False
    right: bool = False
    repaired: bool = False
    disturbed: bool = False
    below: bool = False  # ended below its own unrepaired run

    def line(self) -> str:
        acc = self.result.get("test_accuracy", float("nan"))
        changes = "; ".join(c["flags"] for c in self.result.get("repairs", [])) or "-"
        found = ",".join(sorted({c["symptom"] for c in self.result.get("repairs", [])})) or "-"
        if self.case.healthy:
            verdict = "DISTURBED" if self.disturbed else "undisturbed"
            ref = self.reference.get("test_accuracy", float("nan"))
            return f"{self.number:>2} {self.case.fault:<40} {verdict:<12} acc {acc:.4f} (no monitor {ref:.4f})"
        ref = self.reference.get("test_accuracy", float("nan"))
        own = self.unrepaired.get("test_accuracy", float("nan"))
        yardstick = self.result.get("yardstick")
        yard = f"{yardstick:.4f}" if isinstance(yardstick, float) else "-"
        marks = "".join(m if ok else "." for m, ok in (("D", self.detected), ("C", self.right), ("R", self.repaired)))
        marks += "B" if self.below else "."
        return (f"{self.number:>2} {self.case.fault:<40} {marks} {acc:.4f} vs {ref:.4f} (unrepaired {own:.4f}, "
                f"yardstick {yard})  {found}: {changes}")


def judge_broken(row: Row) -> None:
    result, case = row.result, row.case
    changes = result.get("repairs", [])
    row.detected = bool(changes or result.get("diagnoses"))
    row.right = bool(changes) and bool(set(changes[0]["changes"]) & case.first_cause)
    ref = row.reference.get("test_accuracy", 1.0)
    row.repaired = "error" not in result and result.get("test_accuracy", 0.0) >= ref - REACH
    own = row.unrepaired.get("test_accuracy", 0.0)
    row.below = "error" in result or result.get("test_accuracy", 0.0) < own


def judge_healthy(row: Row) -> None:
    result, plain = row.result, row.reference
    row.disturbed = (
        "error" in result
        or bool(result.get("diagnoses"))
        or result.get("rollbacks", 0) > 0
        or bool(result.get("repairs"))
        or result.get("stop_reason") != "reached 3 epochs"
        or result.get("test_accuracy") != plain.get("test_accuracy")
    )


def run_case(number: int, case: Case, references: dict[str, dict]) -> Row:
    result = train(f"{case.flags} --repair --on-nan rollback")
    if case.healthy:
        row = Row(number, case, result, train(f"{case.flags} --no-monitor"))
        judge_healthy(row)
    else:
        flags = reference_flags(case)
        if flags not in references:
            references[flags] = train(flags)
        row = Row(number, case, result, references[flags], train(f"{case.flags} --on-nan rollback"))
        judge_broken(row)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=int, nargs="*", help="case numbers to run")
    parser.add_argument("--jobs", type=int, default=2, help="cases at a time (default 2)")
    args = parser.parse_args()
    chosen = [(i, c) for i, c in enumerate(CASES) if not args.only or i in args.only]
    references: dict[str, dict] = {}
    started = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_case, i, c, references) for i, c in chosen]
        rows = []
        for future in futures:
            row = future.result()
            rows.append(row)
            print(row.line(), flush=True)
            if "error" in row.result:
                print(f"   error: {row.result['error']}", flush=True)
            elif row.result.get("verdict"):
                print(f"   {row.result['verdict']}", flush=True)
    broken_rows = [r for r in rows if not r.case.healthy]
    healthy_rows = [r for r in rows if r.case.healthy]
    n, m = len(broken_rows), len(healthy_rows)
    detected, right = sum(r.detected for r in broken_rows), sum(r.right for r in broken_rows)
    repaired, disturbed = sum(r.repaired for r in broken_rows), sum(r.disturbed for r in healthy_rows)
    below = sum(r.below for r in broken_rows)
    print(f"({time.perf_counter() - started:.0f} s)")
    print(f"detected {detected}/{n}, right cause {right}/{n}, repaired {repaired}/{n}, "
          f"healthy disturbed {disturbed}/{m}, below their own unrepaired run {below}/{n}")


if __name__ == "__main__":
    main()
