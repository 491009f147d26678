"""How well `gradwise doctor` names what is wrong: broken configurations with their expected symptoms,
healthy ones that must raise no alarm.

    python benchmarks/diagnosis.py            # every case
    python benchmarks/diagnosis.py --only 3   # one case (its number in the table)

Each case runs `gradwise doctor FLAGS --json` in a subprocess (a bounded probe run). A broken case is
"detected" when doctor exits 1, and "right" when one of its expected symptoms is among the diagnoses;
a healthy case is a "false alarm" when doctor reports anything. Last line:
`detected X/N, right symptom Y/N, false alarms Z/M`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

FASHION = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist, which `make test` installs
DEEP_SIGMOID = ",".join(["256"] * 8)

# (flags, expected symptoms: any one of them is right). Empty expectations mark a healthy case.
CASES: list[tuple[str, set[str]]] = [
    ("--preset seed-2017", {"saturation", "vanishing_gradient"}),
    ("--lr 10", {"non_finite", "lr_too_high", "exploding_gradient"}),
    (f"--activation sigmoid --hidden {DEEP_SIGMOID} --init normal", {"vanishing_gradient", "saturation"}),
    ("--bias-init -5", {"dead_units"}),
    ("--lr 1e-6", {"lr_too_low"}),
    ("--normalize none", {"unnormalized_input"}),
    ("--output softmax --loss mse", {"output_loss_mismatch"}),
    ("--output identity --loss bce", {"output_loss_mismatch"}),
    ("--activation tanh --init uniform", {"saturation", "vanishing_gradient"}),
    ("--init zeros", {"dead_units", "plateau", "vanishing_gradient"}),
    ("--init normal --init-scale 10", {"bad_initial_loss", "non_finite", "exploding_gradient", "lr_too_high"}),
    ("--optimizer sgd --lr 1e-5", {"lr_too_low", "plateau"}),
    ("--activation sigmoid --normalize none --hidden 100", {"unnormalized_input", "saturation"}),
    ("--optimizer adam --lr 1", {"non_finite", "lr_too_high", "dead_units", "exploding_gradient"}),
    ("--preset default", set()),
    ("--preset nielsen", set()),
    (f"--dataset fashion-mnist --data-dir {FASHION}", set()),
    ("--optimizer adam --lr 0.001", set()),
    ("--activation tanh", set()),
    ("--hidden 512,256 --dropout 0.2", set()),
    ("--activation elu --optimizer nesterov", set()),
    # healthy at the batch sizes learners use: per-sample noise must not read as a disease
    ("--hidden 64 --batch-size 1 --optimizer sgd --lr 0.01", set()),
    ("--hidden 64 --batch-size 2 --activation tanh --optimizer sgd --lr 0.01", set()),
    ("--hidden 64 --batch-size 4 --activation sigmoid --optimizer sgd --lr 0.1", set()),
    ("--hidden 100 --batch-size 8 --activation leaky_relu --lr 0.01", set()),
    ("--hidden 100 --batch-size 16 --activation elu --optimizer adam --lr 0.001", set()),
    ("--hidden 100 --batch-size 32 --dropout 0.2", set()),
]


def gradwise() -> list[str]:
    local = Path(sys.executable).with_name("gradwise")
    return [str(local)] if local.exists() else [sys.executable, "-m", "gradwise"]


def doctor(flags: str, extra: list[str]) -> tuple[int, list[dict], float]:
    started = time.perf_counter()
    command = [*gradwise(), "doctor", *flags.split(), *extra, "--json"]
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"doctor {flags} failed ({result.returncode}): {result.stderr.strip()}")
    return result.returncode, json.loads(result.stdout)["diagnoses"], seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=int, nargs="*", help="run these cases by their numbers")
    parser.add_argument("--seconds", type=float, help="doctor's time limit (default: doctor's own)")
    args = parser.parse_args()
    cases = list(enumerate(CASES, 1))
    if args.only:
        cases = [c for c in cases if c[0] in args.only]
    extra = ["--seconds", str(args.seconds)] if args.seconds else []
    broken = detected = right = healthy = alarms = 0
    print(f"{'#':>2}  {'expected':<34} {'found':<48} {'verdict':<12} {'s':>5}  flags")
    for number, (flags, expected) in cases:
        code, diagnoses, seconds = doctor(flags, extra)
        found = sorted({d["symptom"] for d in diagnoses})
        if expected:
            broken += 1
            detected += code == 1
            hit = bool(expected & set(found))
            right += hit
            verdict = "right" if hit else ("wrong symptom" if code == 1 else "missed")
        else:
            healthy += 1
            alarms += code == 1
            verdict = "false alarm" if code == 1 else "healthy"
        wanted = "|".join(sorted(expected)) or "(healthy)"
        print(f"{number:>2}  {wanted:<34.34} {','.join(found) or '-':<48.48} {verdict:<12} {seconds:5.1f}  {flags}")
        sys.stdout.flush()
    print(f"detected {detected}/{broken}, right symptom {right}/{broken}, false alarms {alarms}/{healthy}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
