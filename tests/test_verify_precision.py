"""The tolerance follows the trace's own precision: a float64 trace is judged to float64 round-off, a float32 one to
float32's, text to its digits; an update is judged on the scale of its step; a finding reports its error on the
tensor's own scale."""

from __future__ import annotations

import numpy as np
import pytest

from gradwise.verify import verify
from gradwise.verify.precision import U32, U64, text_rounding
from gradwise.verify.trace import load
from verify_zoo import problem, user_step, write_trace

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the user's own saturated exp and log
SATURATED = ([4, 6, 3], ["sigmoid", "softmax"], "ce")  # W0 x 190: |z0| from 20 up, sigmoid′ 2e-9 and less


def _step(dtype=np.float64, scale=190.0, zero_bias=(), seed=4):
    sizes, acts, loss = SATURATED
    x, t, W, b = problem(sizes, acts, loss, 5, seed, 1.0, dtype, zero_bias=zero_bias)
    W[0] = (scale * W[0]).astype(dtype)
    return user_step(sizes, acts, loss, x, t, W, b, bug="derivatives_from_a")


def _network():
    sizes, acts, loss = SATURATED
    return {"sizes": sizes, "activations": acts, "loss": loss, "reduction": "mean", "lr": 0.1}


def test_a_float64_gradient_13_times_too_large_in_a_saturated_layer_is_not_ok(tmp_path):
    tensors = _step()
    tensors["dW0"] = 13 * tensors["dW0"]
    ratio = np.linalg.norm(tensors["dW0"]) / np.linalg.norm(tensors["dW1"])
    assert ratio < 1e-6  # the layer is saturated: its gradient is far below the float32-sized floor of old
    report = verify(write_trace(tmp_path / "trace", _network(), tensors, fmt="npy"))
    status = {t.name: t.status for t in report.tensors}
    assert status["dW0"] == "wrong" and report.verdict == "wrong", report.text()
    assert report.first_wrong == "dW0" and report.findings[0].evidence["factor"] == pytest.approx(13)


def test_a_float32_trace_with_its_own_round_off_is_correct(tmp_path):
    report = verify(write_trace(tmp_path / "trace", _network(), _step(np.float32), fmt="npy"))
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert report.conventions["precision"] == "float32"


def test_float32_values_written_as_shortest_text_are_judged_as_float32(tmp_path):
    tensors = _step(np.float32)
    folder = tmp_path / "trace"
    write_trace(folder, _network(), tensors)
    for name, value in tensors.items():  # numpy's str(): the shortest text that gives back the float32
        rows = np.atleast_2d(np.asarray(value, dtype=np.float32))
        (folder / f"{name}.txt").write_text("\n".join(" ".join(str(v) for v in row) for row in rows) + "\n")
    assert load(folder).precision >= U32
    report = verify(folder)
    assert report.verdict == "correct" and report.findings == (), report.text()


@pytest.mark.parametrize(("digits", "rounding"), [(17, 0.0), (16, 0.0), (12, 5e-12), (9, U32), (6, 5e-6), (0, 0.0)])
def test_text_rounding_follows_the_digits(digits, rounding):
    assert text_rounding("dW0", digits) == (pytest.approx(rounding), 0.0)
    assert text_rounding("W0", 3) == (0.0, 0.0)  # short hand-typed inputs (0.15, 0.05) are the exact values used
    assert text_rounding("dW0", 6, 6, np.ones(3)) == (0.0, pytest.approx(5e-7))  # %f: every entry to 5e-7
    assert U64 < U32


def test_six_digit_text_is_judged_to_six_digits(tmp_path):
    """%g text: every number rounded to 6 digits; correct, and a 1 % error in a delta is still wrong."""
    tensors = _step(scale=1.0)
    folder = write_trace(tmp_path / "trace", _network(), tensors)
    for path in folder.glob("*.txt"):
        rows = np.atleast_2d(np.loadtxt(path))
        path.write_text("\n".join(" ".join(f"{v:g}" for v in row) for row in rows) + "\n")
    report = verify(folder)
    assert report.verdict == "correct" and report.findings == (), report.text()
    delta = np.loadtxt(folder / "delta1.txt")
    np.savetxt(folder / "delta1.txt", delta + 0.01 * np.linalg.norm(delta) * np.eye(*delta.shape), fmt="%g")
    assert verify(folder).first_wrong == "delta1"


def test_zero_biases_update_is_judged_on_the_scale_of_the_step(tmp_path):
    """b0 = 0 and a saturated layer in float32: b0.after is as right as db0 is, not 'downstream 13.3'."""
    tensors = _step(np.float32, zero_bias=(0, 1))
    report = verify(write_trace(tmp_path / "trace", _network(), tensors, fmt="npy"))
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert {t.status for t in report.tensors} == {"ok"}, report.text()


def test_a_finding_reports_the_error_on_the_tensors_own_scale(tmp_path):
    """Saturated sigmoid outputs that are right: a − t nearly cancels; a 14 % error in delta1 is reported as 0.14."""
    sizes, acts, loss = [4, 5, 3], ["tanh", "sigmoid"], "bce"
    x, t, W, b = problem(sizes, acts, loss, 6, 0, 200.0)
    t = (user_step(sizes, acts, loss, x, t, W, b)["a1"] > 0.5).astype(float)  # every output right, and sure of it
    tensors = user_step(sizes, acts, loss, x, t, W, b)
    a = tensors["a1"]
    assert np.linalg.norm(a - t) < 1e-3 * (np.linalg.norm(a) + np.linalg.norm(t))  # under a float32-sized floor
    delta = tensors["delta1"]
    wrong = delta + 0.14 * np.linalg.norm(delta) * np.roll(delta, 1) / np.linalg.norm(np.roll(delta, 1))
    tensors["delta1"] = wrong
    network = {"sizes": sizes, "activations": acts, "loss": loss, "reduction": "mean", "lr": 0.1}
    report = verify(write_trace(tmp_path / "trace", network, tensors, include={"delta1"}))
    assert report.first_wrong == "delta1", report.text()
    assert report.findings[0].evidence["error"] == pytest.approx(0.14, rel=0.02), report.text()


@pytest.mark.parametrize("bug", ["", "missing_output_derivative"])
def test_fixed_point_text_is_judged_to_its_last_decimal(tmp_path, bug):
    """C's printf("%f"): six decimals whatever the size, so a saturated layer's tiny gradients print as 0.000000.
    The step is still correct; a real bug is still named."""
    sizes, acts, loss = [4, 6, 3], ["sigmoid", "sigmoid"], "mse"
    x, t, W, b = problem(sizes, acts, loss, 5, 4)
    W[0] = 25.0 * W[0]  # a partly saturated hidden layer: some of dW0 is far below 1e-6
    tensors = user_step(sizes, acts, loss, x, t, W, b, bug=bug)
    folder = write_trace(tmp_path / "trace", _network() | {"activations": acts, "loss": loss}, tensors)
    for path in folder.glob("*.txt"):
        rows = np.atleast_2d(np.loadtxt(path))
        path.write_text("\n".join(" ".join(f"{v:f}" for v in row) for row in rows) + "\n")
    assert "0.000000" in (folder / "dW0.txt").read_text()
    report = verify(folder)
    if bug:
        assert report.first_wrong == "delta1" and report.kinds()[0] == bug, report.text()
    else:
        assert report.verdict == "correct" and report.findings == (), report.text()
