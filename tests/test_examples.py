"""Every script in examples/ runs: custom_data.py on a generated CSV, a CSV of yours and an IDX folder;
seed_2017.py end to end, as a user runs it (one to two minutes on two quiet cores); seed_2017_port.py writes a
trace that `gradwise verify` finds the seed's bug in."""

from __future__ import annotations

import json
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradwise.data.datasets import load_dataset
from gradwise.data.idx import write_idx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TESTED = {"custom_data.py", "seed_2017.py", "seed_2017_port.py"}


def test_every_example_is_tested_here():
    assert {p.name for p in EXAMPLES.glob("*.py")} == TESTED


@pytest.fixture(scope="module")
def custom_data():
    """The example's main(argv) -> test accuracy, loaded as a module without running it."""
    return runpy.run_path(str(EXAMPLES / "custom_data.py"))["main"]


def test_custom_data_without_arguments_trains_on_a_generated_csv(custom_data, capsys):
    accuracy = custom_data([])
    out = capsys.readouterr().out
    assert "spirals.csv: 600 rows, 4 features, label 'colour': ('blue', 'green', 'red')" in out
    assert out.rstrip().endswith(f"test accuracy: {accuracy:.4f}") and accuracy >= 0.9


def test_custom_data_on_a_csv_with_a_named_label_column(custom_data, tmp_path, capsys):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    kind = np.where(x[:, 0] + x[:, 1] > 0, "up", "down")
    lines = ["kind;a;b;c"] + [f"{k};{a:.4f};{b:.4f};{c:.4f}" for k, (a, b, c) in zip(kind, x, strict=True)]
    path = tmp_path / "mine.csv"
    path.write_text("\n".join(lines) + "\n")
    accuracy = custom_data([str(path), "--label", "kind", "--hidden", "16", "--epochs", "30"])
    assert "label 'kind': ('down', 'up')" in capsys.readouterr().out and accuracy >= 0.85


def test_custom_data_on_an_idx_folder(custom_data, tmp_path, capsys):
    """A small MNIST-style folder: 600 training and 200 test images, gzipped, as `--dataset FOLDER` takes."""
    mnist = load_dataset("mnist", validation=0, normalize="none")
    folder = tmp_path / "digits"
    folder.mkdir()
    for stem, array in {
        "train-images-idx3-ubyte.gz": mnist.train.x[:600].reshape(-1, 28, 28),
        "train-labels-idx1-ubyte.gz": mnist.train.y[:600],
        "t10k-images-idx3-ubyte.gz": mnist.test.x[:200].reshape(-1, 28, 28),
        "t10k-labels-idx1-ubyte.gz": mnist.test.y[:200],
    }.items():
        write_idx(folder / stem, array.astype(np.uint8))
    accuracy = custom_data([str(folder), "--hidden", "32", "--epochs", "3"])
    out = capsys.readouterr().out
    assert f"{folder}: trained" in out and "on 500 images" in out and accuracy > 0.6


def test_seed_2017_tells_the_story_and_ends_at_98_percent():
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "seed_2017.py")], capture_output=True, text=True, timeout=900, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for symptom in ("output_loss_mismatch", "saturation", "vanishing_gradient"):
        assert f"!! {symptom} in layer" in out, out
    assert "fix:      --loss ce" in out and "fix:      --init glorot_uniform" in out
    last = out.rstrip().splitlines()[-1]
    match = re.fullmatch(r"test accuracy: (0\.\d{4})", last)
    assert match is not None and float(match[1]) >= 0.98, out


def test_the_seed_port_writes_a_trace_whose_bug_verify_names(tmp_path):
    trace = tmp_path / "trace-seed"
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "seed_2017_port.py"), str(trace)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and (trace / "network.json").is_file(), done.stderr
    verified = subprocess.run(
        [sys.executable, "-m", "gradwise", "verify", str(trace), "--json"], capture_output=True, text=True, timeout=300
    )
    assert verified.returncode == 1, verified.stderr
    report = json.loads(verified.stdout)
    assert report["first_wrong"] == "delta1"
    assert [(f["kind"], f["tensor"]) for f in report["findings"]] == [("missing_output_derivative", "delta1")]
    assert "cross-entropy" in report["findings"][0]["fix"]
    assert [d["symptom"] for d in report["health"]] == ["output_loss_mismatch", "saturation"]
    assert report["health"][1]["layer"] == 0 and "U(0, 1)" in report["health"][1]["cause"]
