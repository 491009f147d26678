"""``gw.dump_trace``: a NumPy step written as a trace in one call, exactly, and refused in one line when wrong."""

from __future__ import annotations

import numpy as np
import pytest

import gradwise as gw
from gradwise.verify import TraceError
from verify_zoo import problem, user_step

NETWORK = {"sizes": [4, 5, 3], "activations": ["tanh", "softmax"], "loss": "ce", "lr": 0.1}


def _step(dtype=np.float64):
    x, t, W, b = problem(NETWORK["sizes"], NETWORK["activations"], "ce", 4, 0, 1.0, dtype)
    return user_step(NETWORK["sizes"], NETWORK["activations"], "ce", x, t, W, b)


def _lists(tensors):
    per_layer = {k: [tensors[f"{k}{i}"] for i in range(2)] for k in ("W", "b", "dW", "db", "delta")}
    after = {
        "W_after": [tensors["W0.after"], tensors["W1.after"]],
        "b_after": [tensors["b0.after"], tensors["b1.after"]],
    }
    return {"x": tensors["x"], "t": tensors["t"], "loss": tensors["loss"], **per_layer, **after}


@pytest.mark.parametrize("fmt", ["txt", "npy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_dumped_step_verifies_exactly(tmp_path, fmt, dtype):
    tensors = _step(dtype)
    folder = gw.dump_trace(tmp_path / "trace", NETWORK, format=fmt, **_lists(tensors))
    report = gw.verify(folder)
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert {t.status for t in report.tensors} == {"ok"}
    assert report.conventions["precision"] == ("float32" if dtype == np.float32 else "float64")
    stored = np.load(folder / "dW1.npy") if fmt == "npy" else np.loadtxt(folder / "dW1.txt")
    np.testing.assert_array_equal(stored.astype(dtype), tensors["dW1"])  # every digit kept


def test_numbered_names_and_a_layer_without_bias(tmp_path):
    tensors = _step()
    x, t, W, b = problem(NETWORK["sizes"], NETWORK["activations"], "ce", 4, 0, zero_bias=(0,))
    tensors = user_step(NETWORK["sizes"], NETWORK["activations"], "ce", x, t, W, b)
    folder = gw.dump_trace(
        tmp_path / "trace", NETWORK, x=x, t=t, W=W, b=[None, b[1]], dW0=tensors["dW0"], dW1=tensors["dW1"],
        db=[None, tensors["db1"]], W0_after=tensors["W0.after"],
    )  # fmt: skip
    assert not (folder / "b0.txt").exists() and (folder / "W0.after.txt").exists()
    report = gw.verify(folder)
    assert report.verdict == "correct" and report.conventions["bias"] == ["none", "separate"], report.text()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (dict(x=np.ones((2, 4))), "dump_trace: t is missing; pass t=... (the batch's inputs and targets)"),
        (dict(x=np.ones((2, 4)), t=np.ones((2, 3)), Wrong=1), "dump_trace: unknown tensor 'Wrong'"),
        (dict(x=np.ones((2, 4)), t=np.ones((2, 3)), W=np.ones((4, 5))), "dump_trace: W must be a list"),
        (dict(x=np.array(["a"]), t=np.ones((2, 3))), "dump_trace: x must be a number, a vector or a matrix"),
    ],
)
def test_bad_calls_are_one_line_and_write_nothing(tmp_path, call, message):
    with pytest.raises(TraceError) as error:
        gw.dump_trace(tmp_path / "trace", NETWORK, **call)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert not (tmp_path / "trace").exists()


def test_a_bad_network_or_a_full_folder_is_refused(tmp_path):
    with pytest.raises(TraceError, match="unknown loss 'hinge'"):
        gw.dump_trace(tmp_path / "a", {**NETWORK, "loss": "hinge"}, x=np.ones((1, 4)), t=np.ones((1, 3)))
    folder = gw.dump_trace(tmp_path / "b", NETWORK, **_lists(_step()))
    (folder / "notes.md").write_text("mine")
    with pytest.raises(TraceError, match="already holds files; choose a new folder, or pass overwrite=True"):
        gw.dump_trace(folder, NETWORK, **_lists(_step()))
    gw.dump_trace(folder, NETWORK, overwrite=True, x=np.ones((1, 4)), t=np.ones((1, 3)))
    assert sorted(p.name for p in folder.iterdir()) == ["network.json", "notes.md", "t.txt", "x.txt"]
