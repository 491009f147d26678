"""Habits of real hand-written code that verify must read as right: activations listed with the input first, z
changed in place after use, a cross-entropy named over sigmoid outputs, an optimizer's first step, error = t − y
with Adam or weight decay, a bias inside W with n_in = n_out = B; and inputs that must end in a finding or one
line, never an exception or a numpy warning on the console."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from gradwise.verify import TraceError, verify
from verify_zoo import error_t_minus_y, problem, user_step


def _step(sizes, acts, loss, batch=6, **options):
    x, t, W, b = problem(sizes, acts, loss, batch, 0)
    return user_step(sizes, acts, loss, x, t, W, b, **options), (x, t, W, b)


def _verify(tensors, sizes, acts, loss, **network):
    return verify({"network": {"sizes": sizes, "activations": acts, "loss": loss, **network}, **tensors})


@pytest.mark.parametrize("first", [0, 1])
def test_activations_listed_with_the_input_first(first):
    """Nielsen's ``activations = [x]`` (a0 = x), or a course's A0 = X with W1, W2: L + 1 activations."""
    sizes, acts = [4, 5, 3], ["sigmoid", "sigmoid"]
    tensors, _ = _step(sizes, acts, "mse")
    renamed = {name: tensors[name] for name in ("x", "t", "loss")}
    for name, value in tensors.items():  # the course numbers every other tensor from 1 as well
        if match := re.fullmatch(r"(W|b|dW|db|z|delta)(\d)(\.after)?", name):
            renamed[f"{match[1]}{int(match[2]) + first}{match[3] or ''}"] = value
    for i, a in enumerate([tensors["x"], tensors["a0"], tensors["a1"]]):
        renamed[f"a{i + first}"] = a
    report = _verify(renamed, sizes, acts, "mse", reduction="mean", lr=0.1)
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert f"a{first} is the input (x): not read" in report.notes


@pytest.mark.parametrize("how", ["row max", "max", "relu in place"])
def test_z_changed_in_place_after_use(how):
    """cs231n's ``scores -= scores.max(axis=1, keepdims=True)`` and ``np.maximum(z, 0, out=z)``."""
    sizes, acts = [4, 6, 3], ["relu", "softmax"]
    tensors, _ = _step(sizes, acts, "ce", batch=8)
    if how == "relu in place":
        tensors["z0"] = np.maximum(tensors["z0"], 0)
    else:
        z1 = tensors["z1"]
        tensors["z1"] = z1 - (z1.max(axis=1, keepdims=True) if how == "row max" else z1.max())
    report = _verify(tensors, sizes, acts, "ce", reduction="mean", lr=0.1)
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert any("in place" in note for note in report.notes)


@pytest.mark.parametrize("name", ["cross_entropy", "ce", "log_loss"])
@pytest.mark.parametrize("outputs", [1, 3])
def test_a_cross_entropy_named_over_sigmoid_outputs_is_the_binary_one(name, outputs):
    """Nielsen's CrossEntropyCost and scikit-learn's log_loss with sigmoid outputs."""
    sizes, acts = [4, 5, outputs], ["sigmoid", "sigmoid"]
    tensors, _ = _step(sizes, acts, "bce")
    report = _verify(tensors, sizes, acts, name, reduction="mean", lr=0.1)
    assert report.verdict == "correct" and report.findings == (), report.text()


@pytest.mark.parametrize("rate", [0.1 * 0.1, 1.9 * 0.1, 0.5 * 0.1])  # EMA momentum, Nesterov, a clipped gradient
def test_a_first_optimizer_step_at_another_rate_is_a_note(rate):
    sizes, acts = [4, 5, 3], ["tanh", "softmax"]
    tensors, (_, _, W, b) = _step(sizes, acts, "ce")
    for i in range(2):
        tensors[f"W{i}.after"] = W[i] - rate * tensors[f"dW{i}"]
        tensors[f"b{i}.after"] = b[i] - rate * tensors[f"db{i}"]
    report = _verify(tensors, sizes, acts, "ce", reduction="mean", lr=0.1)
    assert report.verdict == "correct" and report.findings == (), report.text()
    plain = _verify(tensors, sizes, acts, "ce", reduction="mean", lr=0.1, optimizer="sgd")
    assert plain.first_wrong == "W0.after" and plain.kinds()[0] == "update", plain.text()


@pytest.mark.parametrize("step", ["adam's first", "weight decay"])
def test_t_minus_y_read_off_a_step_that_is_no_plain_multiple(step):
    sizes, acts = [4, 5, 3], ["tanh", "softmax"]
    tensors, (_, _, W, b) = _step(sizes, acts, "ce")
    tensors = error_t_minus_y(tensors)
    for i in range(2):
        for p, g, name in ((W[i], tensors[f"dW{i}"], f"W{i}"), (b[i], tensors[f"db{i}"], f"b{i}")):
            moved = 0.01 * np.sign(g) if step == "adam's first" else 0.1 * g - 0.001 * p
            tensors[f"{name}.after"] = p + moved
    report = _verify(tensors, sizes, acts, "ce", reduction="mean", lr=0.1)
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert report.conventions["gradients"] == "-dL/dW"


def test_a_bias_inside_w_with_samples_as_columns_when_every_size_is_the_batch():
    """x (n_in + 1) × B with its row of ones, n_in = n_out = B = 3: only the columns reading fits t."""
    sizes, acts = [3, 4, 3], ["tanh", "softmax"]
    tensors, _ = _step(sizes, acts, "ce", batch=3)
    trace = {"x": np.hstack([np.ones((3, 1)), tensors["x"]]).T, "t": tensors["t"].T}
    for i in range(2):
        trace[f"W{i}"] = np.hstack([tensors[f"b{i}"][:, None], tensors[f"W{i}"].T])
        trace[f"dW{i}"] = np.hstack([tensors[f"db{i}"][:, None], tensors[f"dW{i}"].T])
    report = _verify(trace, sizes, acts, "ce", reduction="mean")
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert report.conventions["samples"] == "columns"


def test_gradients_accumulated_over_steps_blame_no_part():
    """dW += ... never reset: dW and db both off while the delta on file is right."""
    sizes, acts = [4, 6, 3], ["tanh", "softmax"]
    tensors, _ = _step(sizes, acts, "ce", batch=8)
    earlier, _ = _step(sizes, acts, "ce", batch=8, lr=0.2)
    for name in ("dW0", "db0", "dW1", "db1"):
        tensors[name] = tensors[name] + 0.5 * np.roll(earlier[name], 1)
    report = _verify({k: v for k, v in tensors.items() if not k.endswith(".after")}, sizes, acts, "ce")
    finding = report.findings[0]
    assert (finding.kind, finding.tensor) == ("unexplained", "dW1"), report.text()
    assert "its sum over the batch matches" not in report.text()


def test_an_output_layer_of_no_known_form_names_no_layer_beyond_it():
    """One layer, dW off in a way no slip explains: no 'delta1 W1ᵀ' in a network that has no layer 1."""
    rng = np.random.default_rng(0)
    x, t, W0 = rng.normal(size=(2, 3)), np.full((2, 2), 0.5), rng.normal(size=(3, 2))
    report = _verify({"x": x, "t": t, "W0": W0, "dW0": rng.normal(size=(3, 2))}, [3, 2], ["identity"], "mse")
    assert report.kinds() == ["unexplained"] and "W1" not in report.text(), report.text()


@pytest.mark.parametrize(
    "tensors",
    [
        {"x": np.array([[-2e200]]), "W0": np.array([[1.3e300, -4e299, -7e298]]), "dW0": np.zeros((1, 3))},
        {"x": np.ones((2, 3)), "W0": np.ones((3, 3)), "dW0": np.full((3, 3), 1e200)},
    ],
    ids=["forward-overflows", "gradient-beyond-float32"],
)
def test_overflowing_values_end_in_a_report_without_warnings(tensors):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            report = _verify(
                {**tensors, "t": np.full((len(tensors["x"]), 3), 0.3)},
                [3 if tensors["x"].shape[1] == 3 else 1, 3],
                ["tanh"],
                "bce",
            )
        except TraceError as error:
            assert "\n" not in str(error)
        else:
            assert report.verdict == "wrong"


def test_labels_counted_from_1_and_a_byte_order_mark(tmp_path):
    """Octave code's labels 1..K, and text files written with a UTF-8 byte-order mark (PowerShell, Excel)."""
    sizes, acts = [4, 5, 3], ["tanh", "softmax"]
    tensors, _ = _step(sizes, acts, "ce")
    tensors["t"] = tensors["t"].argmax(axis=1) + 1.0
    report = _verify(tensors, sizes, acts, "ce", reduction="mean", lr=0.1)
    assert (
        report.verdict == "correct" and "t holds class labels counted from 1: read as one-hot rows of 3" in report.notes
    )
    folder = tmp_path / "trace"
    folder.mkdir()
    (folder / "network.json").write_bytes(
        b'\xef\xbb\xbf{"sizes": [4, 5, 3], "activations": ["tanh", "softmax"], "loss": "ce"}'
    )
    for name in ("x", "t", "W0", "b0", "W1", "b1", "dW0", "db0", "dW1", "db1"):
        rows = np.atleast_2d(tensors[name])
        text = "\n".join(" ".join(f"{v:.17g}" for v in row) for row in rows)
        (folder / f"{name}.txt").write_bytes(b"\xef\xbb\xbf" + text.encode())
    report = verify(folder)
    assert report.verdict == "correct" and report.findings == (), report.text()
