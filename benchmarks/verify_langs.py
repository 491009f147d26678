"""How `gradwise verify` does on hand-written networks in other languages, run by their own toolchains.

Each program in benchmarks/verify_langs/ (JavaScript run by node, C compiled by gcc) is a small network written
from scratch in the habits of its language (see the comment at its top): its own seeded generator, its own
layouts, its own file format (row.join(" "), toFixed(6), CSV, printf "%f", "%.17g", "%g", float32), its own
network.json. Run as `PROGRAM OUTDIR [BUG]` it does one training step, the bug injected if named, and dumps the
trace; run as `PROGRAM OUTDIR --fd` it writes OUTDIR/fd.txt, lines `dW0 analytic numeric`: its own gradient
(signed as d loss / d param) beside a central difference of its own loss, for every weight and bias.

This script compiles the C programs into a temporary folder, checks each correct program against its finite
differences (so that a FAIL on a correct program is verify's false alarm, not the program's mistake), writes
every case into a temporary folder, runs gw.verify on it and compares with EXPECTED below, as
benchmarks/verify_real.py does:

    correct case:  verdict "correct" and no finding other than notes (a finding is a false alarm)
    bug case:      first_wrong is the expected tensor and the findings at it are exactly the expected kinds

    .venv/bin/python benchmarks/verify_langs.py          # the table, the totals, the failures' findings
    .venv/bin/python benchmarks/verify_langs.py -v       # and each failure's full report
    .venv/bin/python benchmarks/verify_langs.py --only js_neurons c_float_g

A language whose toolchain is missing is skipped with a line. It is a measurement, not a test: it exits 0.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "verify_langs"
sys.path.insert(0, str(HERE))

from verify_real import Refused, classify, describe, files_of, finding_lines, got_of  # noqa: E402

import gradwise as gw  # noqa: E402
from gradwise.verify import TraceError  # noqa: E402

TOOLCHAINS = {"js": "node", "c": "gcc"}

# program: (language, EXPECTED, tolerance of the finite-difference check). Tensor names are verify's own
# (layers from 0), whatever the program calls them.
PROGRAMS = {
    "js_neurons": (
        "js",
        {
            None: "correct",
            # delta = error (target - output), the sigmoid derivative of the output layer forgotten
            "no_output_derivative": (("missing_output_derivative",), "delta1"),
            # sigmoidDerivative(neuron.output) = s(a)(1 - s(a)) where a(1 - a) belongs, in both layers
            "derivative_at_output": (("derivative_at_output",), "delta1"),
            # the output neurons update their weights before the hidden errors are summed through them
            "update_before_backprop": (("updated_weights_in_backprop",), "delta0"),
        },
        1e-6,
    ),
    "js_matrix": (
        "js",
        {
            None: "correct",
            # dZ2 = P - T, not divided by B, while the loss is the batch mean. network.json declares no reduction
            # and no W.after is dumped, so the files are those of a program that sums on purpose (Nielsen's
            # sum-then-divide): verify reads a sum and says in a note how to check the mean; no bug is named.
            "no_batch_mean": "correct",
            # dtanh called with Z: 1 - z^2 where 1 - a^2 belongs (both hidden layers)
            "tanh_prime_of_z": (("wrong_derivative",), "delta1"),
            # dA0 = dZ1 . W1 without transpose(W1), the square 5 x 5 layer
            "forgot_transpose": (("wrong_upstream",), "delta0"),
        },
        1e-6,
    ),
    "js_columns_csv": (
        "js",
        {
            None: "correct",
            # dZ2 = (A2 - Y) * A2 (1 - A2) with the cross-entropy: a - y already is dL/dz
            "sigmoid_prime_on_ce": (("extra_output_derivative",), "delta1"),
            # db2 = sum(dZ2, axis=1) without / m while dW2 = dZ2 A1^T / m
            "db_not_divided": (("batch_scale",), "db1"),
            # dZ1 = W2^T dZ2: the ReLU gradient (Z1 > 0) forgotten
            "relu_grad_missing": (("wrong_derivative",), "delta0"),
        },
        1e-6,
    ),
    "js_xor_tofixed": (
        "js",
        {
            None: "correct",
            # gradient = errors, no outputs * (1 - outputs)
            "no_output_derivative": (("missing_output_derivative",), "delta1"),
            # dsigmoid(y) = s(y)(1 - s(y)) fed the output, in both layers
            "dsigmoid_of_output": (("derivative_at_output",), "delta1"),
            # weightsHO += lr * change before the hidden errors are computed through weightsHO
            "update_before_backprop": (("updated_weights_in_backprop",), "delta0"),
        },
        1e-6,
    ),
    "js_nobias": (
        "js",
        {
            None: "correct",
            # dW1 = dZ^T . A (the square 8 x 8 layer): out x in where W is in x out
            "transposed_dW": (("transposed",), "dW1"),
            # dW2 = Z1^T . dZ: the pre-activation of the layer below, not its ReLU output
            "dW_from_z": (("wrong_input_in_weight_gradient",), "dW2"),
            # the second hidden layer's ReLU mask forgotten (no deltas on file: seen first at dW1)
            "no_relu_mask": (("wrong_derivative",), "dW1"),
        },
        1e-6,
    ),
    "c_printf_f": (
        "c",
        {
            None: "correct",
            # d_out = p - onehot, not divided by B, while the loss is the batch mean: with no reduction declared
            # and no W.after, read as a program that sums on purpose (see js_matrix's no_batch_mean)
            "no_divide_batch": "correct",
            # sigmoid' written as z (1 - z) on the pre-activation
            "sigmoid_prime_of_z": (("wrong_derivative",), "delta0"),
            # db2[k] = d2[0][k]: the output bias gradient of the first sample only
            "db_first_sample": (("bias_reduction",), "db1"),
        },
        1e-6,
    ),
    "c_online_g17": (
        "c",
        {
            None: "correct",
            # e += w[1][j][k] * delta[k] where w[1][k][j] belongs: W1 (5 x 5) not transposed
            "backprop_no_transpose": (("wrong_upstream",), "delta0"),
            # db[j] = delta[j] / B inside the sample loop: only the last sample's bias gradient survives
            "db_overwritten": (("bias_reduction",), "db2"),
            # the second hidden layer's tanh' forgotten
            "no_tanh_prime_layer1": (("wrong_derivative",), "delta1"),
        },
        1e-6,
    ),
    "c_float_g": (
        "c",
        {
            None: "correct",
            # delta_out = (y - t) / B: the sigmoid derivative forgotten under mse
            "no_output_derivative": (("missing_output_derivative",), "delta1"),
            # dW1 accumulated with its indices swapped: in x out where W1 is out x in
            "dW1_in_out": (("transposed",), "dW1"),
            # the ReLU mask forgotten in the hidden delta
            "relu_no_mask": (("wrong_derivative",), "delta0"),
        },
        1e-2,  # float32 arithmetic: its own finite differences carry ~1e-3 relative error
    ),
    "c_bias_inside": (
        "c",
        {
            None: "correct",
            # the hidden delta read Theta2's columns from 0, not 1: the bias column and a shifted weight row
            "off_by_one_bias": (("wrong_upstream",), "delta0"),
            # sigmoidGradient(a) = s(a)(1 - s(a)) fed the activation, in both layers
            "deriv_at_output": (("derivative_at_output",), "delta1"),
            # delta_out = (t - y) y (1 - y) with Theta -= lr * grad: the step goes uphill
            "t_minus_y": (("sign",), "delta1"),
        },
        1e-6,
    ),
}
SUFFIX = {"js": ".js", "c": ".c"}


def build(name: str, language: str, tmp: Path) -> list[str] | str:
    """The command that runs the program, or why it cannot run."""
    source = SOURCES / (name + SUFFIX[language])
    if language == "js":
        return ["node", str(source)]
    binary = tmp / "bin" / name
    binary.parent.mkdir(exist_ok=True)
    done = subprocess.run(
        ["gcc", "-O2", "-o", str(binary), str(source), "-lm"], capture_output=True, text=True, check=False
    )
    return [str(binary)] if done.returncode == 0 else "gcc failed: " + done.stderr.strip().splitlines()[0]


def run(command: list[str], folder: Path, bug: str | None) -> str | None:
    """Runs the program into folder; None, or its error."""
    folder.mkdir(parents=True)
    done = subprocess.run(
        [*command, str(folder), *([bug] if bug else [])], capture_output=True, text=True, timeout=60, check=False
    )
    return None if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()[-300:]}"


def gradcheck(command: list[str], folder: Path) -> float | str:
    """The largest relative error, per parameter tensor, between the program's gradient and its finite
    differences (norms over the tensor)."""
    error = run(command, folder, "--fd")
    if error:
        return error
    rows: dict[str, list[tuple[float, float]]] = {}
    for line in (folder / "fd.txt").read_text().splitlines():
        name, analytic, numeric = line.split()
        rows.setdefault(name, []).append((float(analytic), float(numeric)))
    worst = 0.0
    for pairs in rows.values():
        mine, numeric = np.array(pairs).T
        worst = max(worst, float(np.linalg.norm(mine - numeric) / max(np.linalg.norm(numeric), 1e-12)))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print each failure's full report")
    parser.add_argument("--only", nargs="*", help="program names to run")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    warnings.simplefilter("ignore")
    programs = {k: v for k, v in PROGRAMS.items() if not args.only or k in args.only}
    for language, tool in TOOLCHAINS.items():
        if shutil.which(tool) is None and any(lang == language for lang, _, _ in programs.values()):
            print(f"skipped: {language} programs ({tool} not found)")
            programs = {k: v for k, v in programs.items() if v[0] != language}

    rows, failures = [], []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        commands, suspect = {}, set()
        print("gradient check of each correct program against finite differences of its own loss:")
        for name, (language, _, tolerance) in programs.items():
            command = build(name, language, tmp)
            if isinstance(command, str):
                print(f"  {name:16s} skipped: {command}")
                continue
            commands[name] = command
            error = gradcheck(command, tmp / f"{name}-fd")
            if isinstance(error, str) or error > tolerance:
                suspect.add(name)
            shown = error if isinstance(error, str) else f"max relative error {error:.1e} (tolerance {tolerance:.0e})"
            print(f"  {name:16s} {shown}  {'THE PROGRAM IS WRONG' if name in suspect else 'ok'}")
        print()

        header = f"{'lang':4s} {'program':16s} {'bug':24s} {'expected':46s} {'got':56s} result"
        print(header)
        print("-" * len(header))
        for name, command in commands.items():
            language, expected_table, _ = programs[name]
            correct_files = None
            for bug, expected in expected_table.items():
                folder = tmp / f"{name}-{bug}"
                crashed = run(command, folder, bug)
                if crashed:
                    print(f"{language:4s} {name:16s} {bug!s:24s} the program failed: {crashed}")
                    continue
                if bug is None:
                    correct_files = files_of(folder)
                no_effect = bug is not None and files_of(folder) == correct_files
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
                print(f"{language:4s} {name:16s} {bug!s:24s} {describe(expected):46s} {got:56s} {result}")
                rows.append((name, bug, result.split()[0]))
                if not result.startswith("PASS"):
                    failures.append((language, name, bug, expected, report))

    def count(status: str, correct: bool) -> int:
        return sum(r[2] == status and (r[1] is None) == correct for r in rows)

    n_correct = sum(r[1] is None for r in rows)
    print()
    print(f"correct programs: {n_correct}, verified correct {count('PASS', True)}, false alarms {count('ALARM', True)}")
    print(
        f"bugs: {len(rows) - n_correct}, named right {count('PASS', False)}, right tensor wrong kind "
        f"{count('KIND', False)}, named at another tensor {count('PLACE', False)}, missed (verdict correct) "
        f"{count('MISS', False)}, refused as bad input {count('REFUSED', False)}"
    )
    if count("REFUSED", True):
        print(f"correct programs refused as bad input: {count('REFUSED', True)}")
    print(f"time: {time.perf_counter() - start:.1f} s")

    if failures:
        print("\nfailures:")
    for language, name, bug, expected, report in failures:
        print(f"\n== {language} {name} / {bug}: expected {describe(expected)}")
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
