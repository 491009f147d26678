"""How `gradwise verify` does on independent, real-style hand-written networks.

Each module in benchmarks/verify_programs/ is a small NumPy network written in the conventions of a well-known
kind of tutorial or course code (see its docstring); it writes the trace of one training step the way a user of
that style would, with or without one of the bugs natural to that style, and says what verify should answer.
This script writes every case into a temporary folder, runs gw.verify on it and compares:

    correct case:  verdict "correct" and no finding other than notes (a finding is a false alarm)
    bug case:      first_wrong is the expected tensor and the findings at it are exactly the expected kinds

Before that, each correct program's own gradients are checked against central finite differences of its own
cost (a sample of the entries of every parameter), so that a FAIL on a correct program is verify's false alarm,
not the program's mistake; and each bug is checked to change the trace at all.

    .venv/bin/python benchmarks/verify_real.py          # the table, the totals, the failures' findings
    .venv/bin/python benchmarks/verify_real.py -v       # and each failure's full report
    .venv/bin/python benchmarks/verify_real.py --only cs231n_two_layer ng_ex4

It is a measurement, not a test: it exits 0 whatever it finds.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gradwise as gw  # noqa: E402
from gradwise.verify import TraceError  # noqa: E402


class Refused:
    """verify raised TraceError (the CLI's exit 2): the trace was refused as bad input."""

    def __init__(self, message: str) -> None:
        self.message = message

    def text(self) -> str:
        return "TraceError: " + self.message


PROGRAMS = [
    "nielsen_network",
    "nielsen_network2",
    "step_by_step",
    "eleven_lines",
    "cs231n_two_layer",
    "ng_ex4",
    "oop_neurons",
    "mnist_float32",
    "adam_mlp",
    "bias_last",
    "square_units_batch",
    "layer_classes",
    "seed_port",
]
FD_ENTRIES = 40  # entries perturbed per parameter
FD_STEP = 1e-6
FD_TOLERANCE = 1e-6


def gradcheck(module) -> float:
    """The largest relative error between the program's gradients and central differences of its cost."""
    params, cost, grads = module.gradcheck_problem()
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    analytic = grads({k: v.copy() for k, v in params.items()})
    rng = np.random.default_rng(0)
    worst = 0.0
    for name, value in params.items():
        g = np.asarray(analytic[name], dtype=np.float64).reshape(value.shape)
        flat = np.arange(value.size)
        picked = flat if value.size <= FD_ENTRIES else rng.choice(flat, FD_ENTRIES, replace=False)
        numeric, mine = [], []
        for k in picked:
            index = np.unravel_index(k, value.shape)
            up = {n: v.copy() for n, v in params.items()}
            down = {n: v.copy() for n, v in params.items()}
            up[name][index] += FD_STEP
            down[name][index] -= FD_STEP
            numeric.append((cost(up) - cost(down)) / (2 * FD_STEP))
            mine.append(g[index])
        numeric, mine = np.array(numeric), np.array(mine)
        worst = max(worst, float(np.linalg.norm(mine - numeric) / max(np.linalg.norm(numeric), 1e-12)))
    return worst


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def describe(expected) -> str:
    if expected == "correct":
        return "correct"
    kinds, tensor = expected
    return f"{'+'.join(kinds)} @ {tensor}"


def got_of(report) -> str:
    bugs = [f for f in report.findings if not f.is_note]
    notes = sorted({f.kind for f in report.findings if f.is_note})
    if report.verdict == "correct" and not bugs:
        return "correct" + (f" (note: {', '.join(notes)})" if notes else "")
    at = report.first_wrong
    kinds_here = [f.kind for f in bugs if f.tensor == at]
    elsewhere = [f"{f.kind}@{f.tensor}" for f in bugs if f.tensor != at]
    text = f"{'+'.join(kinds_here) or '(no finding)'} @ {at}"
    if elsewhere:
        text += f" [also {', '.join(elsewhere)}]"
    return text


def classify(expected, report) -> str:
    """PASS, or why not: ALARM (correct program, something named), KIND, PLACE, MISS."""
    bugs = [f for f in report.findings if not f.is_note]
    if expected == "correct":
        return "PASS" if report.verdict == "correct" and not bugs else "ALARM"
    kinds, tensor = expected
    if report.verdict == "correct" and not bugs:
        return "MISS"
    if report.first_wrong != tensor:
        return "PLACE"
    found = {f.kind for f in bugs if f.tensor == tensor}
    return "PASS" if found == set(kinds) else "KIND"


def finding_lines(report) -> list[str]:
    text = report.text().splitlines()
    keep = []
    for i, line in enumerate(text):
        if line.startswith(("verify ", "wrong:", "read as:", "note:")) or line.startswith(("!!", "note ")):
            if line.startswith("health at"):
                break
            keep.append(line)
            if line.startswith(("!!", "note ")):
                keep.extend(text[i + 1 : i + 2])  # the evidence line
        if line.startswith("health at"):
            break
    table = [line for line in text if re.match(r"  \S+ +(wrong|note|downstream) ", line)]
    return keep[:1] + table + keep[1:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print each failure's full report")
    parser.add_argument("--only", nargs="*", help="program names to run")
    args = parser.parse_args(argv)
    programs = args.only or PROGRAMS
    start = time.perf_counter()
    warnings.simplefilter("ignore")

    print("gradient check of each correct program against finite differences of its own cost:")
    suspect = set()
    for name in programs:
        module = importlib.import_module(f"verify_programs.{name}")
        if not hasattr(module, "gradcheck_problem"):
            print(f"  {name:20s} (not ours: no check)")
            continue
        error = gradcheck(module)
        ok = error < FD_TOLERANCE
        if not ok:
            suspect.add(name)
        print(f"  {name:20s} max relative error {error:.1e}  {'ok' if ok else 'THE PROGRAM IS WRONG'}")
    print()

    rows, failures = [], []
    header = f"{'program':20s} {'bug':26s} {'expected':58s} {'got':58s} result"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for name in programs:
            module = importlib.import_module(f"verify_programs.{name}")
            correct_files = None
            for bug, expected in module.EXPECTED.items():
                folder = Path(tmp) / f"{name}-{bug}"
                if bug is None:
                    module.write(folder)
                    correct_files = files_of(folder)
                else:
                    module.write(folder, bug)
                no_effect = bug is not None and correct_files is not None and files_of(folder) == correct_files
                try:
                    report = gw.verify(folder)
                except TraceError as error:  # exit 2: refused as bad input
                    report = Refused(str(error))
                result = "REFUSED" if isinstance(report, Refused) else classify(expected, report)
                if no_effect:
                    result += " (bug changes nothing!)"
                if name in suspect and bug is None:
                    result += " (program's own gradient wrong)"
                got = "refused as bad input (exit 2)" if isinstance(report, Refused) else got_of(report)
                line = f"{name:20s} {bug!s:26s} {describe(expected):58s} {got:58s} {result}"
                print(line)
                rows.append((name, bug, result.split()[0]))
                if not result.startswith("PASS"):
                    failures.append((name, bug, expected, report))

    def count(status: str, correct: bool) -> int:
        return sum(r[2] == status and (r[1] is None) == correct for r in rows)

    n_correct = sum(r[1] is None for r in rows)
    n_bugs = len(rows) - n_correct
    print()
    print(f"correct programs: {n_correct}, verified correct {count('PASS', True)}, false alarms {count('ALARM', True)}")
    print(
        f"bugs: {n_bugs}, named right {count('PASS', False)}, right tensor wrong kind {count('KIND', False)}, "
        f"named at another tensor {count('PLACE', False)}, missed (verdict correct) {count('MISS', False)}, "
        f"refused as bad input {count('REFUSED', False)}"
    )
    if count("REFUSED", True):
        print(f"correct programs refused as bad input: {count('REFUSED', True)}")
    print(f"time: {time.perf_counter() - start:.1f} s")

    if failures:
        print("\nfailures:")
    for name, bug, expected, report in failures:
        print(f"\n== {name} / {bug}: expected {describe(expected)}")
        if isinstance(report, Refused):
            print("   " + report.text())
        elif args.verbose:
            print(report.text())
        else:
            for line in finding_lines(report):
                print("   " + line)
    return 0


if __name__ == "__main__":
    main()
    sys.exit(0)
