"""The command line end to end on a small subset of MNIST."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gradwise.cli.main import main
from gradwise.data.datasets import load_dataset

SMALL = ["--limit-train", "2000", "--validation", "1000", "--epochs", "2", "--hidden", "32", "--batch-size", "32"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "small"
    assert main(["train", *SMALL, "--out", str(out), "--json"]) == 0
    return out


def test_train_json_summary_and_run_folder(trained_run, capsys):
    config = json.loads((trained_run / "config.json").read_text())
    assert config["hidden"] == [32] and config["limit_train"] == 2000 and config["preset"] == "default"
    assert config["lr"] == 0.05 and config["optimizer"] == "momentum"  # every hyperparameter, not just the flags
    lines = (trained_run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert (trained_run / "model.npz").is_file()


def test_train_prints_epoch_lines_and_test_accuracy_last(tmp_path, capsys):
    assert main(["train", *SMALL, "--epochs", "1", "--out", str(tmp_path / "r")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[1].startswith("epoch 1/1  loss ")
    assert lines[-1].startswith("test accuracy: 0.")
    assert float(lines[-1].split()[-1]) > 0.7


def test_json_output_is_one_object(tmp_path, capsys):
    assert main(["train", *SMALL, "--epochs", "1", "--out", str(tmp_path / "r"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) >= {"test_accuracy", "test_loss", "epochs", "seconds", "run_dir"}
    assert summary["epochs"] == 1 and summary["run_dir"] == str(tmp_path / "r")


def test_same_seed_same_numbers(tmp_path, capsys):
    results = []
    for name in ("a", "b"):
        main(["train", *SMALL, "--epochs", "1", "--dropout", "0.3", "--out", str(tmp_path / name), "--json"])
        results.append(json.loads(capsys.readouterr().out))
    assert results[0]["test_loss"] == results[1]["test_loss"]
    assert (tmp_path / "a" / "model.npz").read_bytes() == (tmp_path / "b" / "model.npz").read_bytes()


def test_evaluate(trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 10_000
    assert report["test_accuracy"] == pytest.approx(np.trace(confusion) / 10_000)
    assert main(["evaluate", str(trained_run / "model.npz")]) == 0
    assert "confusion (rows: true class, columns: predicted)" in capsys.readouterr().out


def test_predict_on_pngs(trained_run, tmp_path, capsys):
    test = load_dataset("mnist", validation=0, normalize="none").test
    paths = []
    for i in range(20):
        # Black on white, RGB, another size: the way people draw digits, not the way MNIST stores them.
        picture = Image.fromarray((255 - test.x[i].reshape(28, 28)).astype(np.uint8)).resize((84, 100))
        paths.append(tmp_path / f"digit{i}.png")
        picture.convert("RGB").save(paths[-1])
    assert main(["predict", str(trained_run), *map(str, paths), "--json"]) == 0
    predictions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["image"] for p in predictions] == list(map(str, paths))
    correct = sum(p["prediction"] == int(test.y[i]) for i, p in enumerate(predictions))
    assert correct >= 15, predictions  # a 32-unit net after 2 small epochs: about 90 %


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--lr", "0"], "error: --lr must be > 0, got 0"),
        (["train", "--lr", "-1"], "error: --lr must be > 0, got -1"),
        (["train", "--batch-size", "0"], "error: --batch-size must be >= 1, got 0"),
        (["train", "--hidden", "0"], "error: --hidden: sizes must be >= 1, got [0]"),
        (["train", "--dropout", "1"], "error: --dropout must be in [0, 1), got 1"),
        (["train", "--activation", "swish"], "error: --activation: unknown activation 'swish'; choose one of:"),
        (["train", "--loss", "hinge"], "error: --loss: unknown loss 'hinge'; choose one of: mse, bce, ce"),
        (["train", "--optimizer", "lion"], "error: --optimizer: unknown 'lion'; choose one of: sgd, momentum"),
        (["train", "--init", "orthogonal"], "error: --init: unknown initializer 'orthogonal'; choose one of:"),
        (["train", "--preset", "fast"], "error: gradwise train: argument --preset: invalid choice: 'fast'"),
        (["train", "--hidden", "a,b"], "error: gradwise train: argument --hidden: expected sizes like 1000"),
        (["train", "--epochs", "x"], "error: gradwise train: argument --epochs: invalid int value: 'x'"),
        (["train", "--dataset", "/nonexistent/folder"], "error: "),
        (["evaluate", "/nonexistent/run"], "error: /nonexistent/run: does not exist; give a run folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err


def test_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["train", *SMALL, "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.strip().endswith("is a file, not a folder; choose another path")


def test_predict_refuses_a_file_that_is_not_an_image(trained_run, tmp_path, capsys):
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main(["predict", str(trained_run), str(fake)]) == 2
    expected = f"error: {fake}: not a readable image (UnidentifiedImageError); give a PNG or JPEG file\n"
    assert capsys.readouterr().err == expected


def test_console_script_and_module_entry_points():
    result = subprocess.run([sys.executable, "-m", "gradwise", "train", "--lr", "0"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr == "error: --lr must be > 0, got 0\n"
    assert "Traceback" not in result.stderr
