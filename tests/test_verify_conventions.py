"""The bug zoo under every convention real hand-written networks use: correct steps get no finding, and every bug
the convention allows is still named, with its kind, at the first wrong tensor.

Each convention rewrites the zoo's step as such a program dumps it (tests/verify_zoo.py): no bias, or none in one
layer; zero-initialized biases; the bias inside W at either end, with or without the input's column of ones,
declared or worked out; error = t − y with W += lr·dW, declared or read off W.after; L2 inside dW, declared or
not; momentum and Adam updates; per-sample tensors stored units × batch with the width equal to the batch; a loss
with ε inside the log, clipped, computed after the update, or summed; gradients summed with no reduction said.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from gradwise.verify import verify
from test_verify_zoo import CONVENTIONS as LAYOUTS
from test_verify_zoo import NETWORKS, OPTIONAL, ZOO, _family
from verify_zoo import (
    bias_inside,
    error_t_minus_y,
    loss_as,
    problem,
    units_by_batch,
    user_step,
    without_bias,
    write_trace,
)

BIAS_BUGS = {"bias_one_sample", "bias_no_axis", "bias_wrong_axis", "bias_mean", "batch_scale_bias"}
SIGN_BUGS = {"sign", "sign_delta"}
UPDATE_BUGS = {"update_sign", "update_none", "update_twice", "update_rate"}
NON_FINITE_LOSS = {"log-of-zero", "log-of-one-in-float32"}
# With the bias inside, W is never square: a transposed gradient is caught by its shape (dW-transposed covers it).
INSIDE_EXCLUDES = frozenset(BIAS_BUGS | {"no_bias", "shape", "dW-transposed-square"})
Rewrite = Callable[[dict, dict, int], tuple[dict, dict]]


def _same(tensors: dict, network: dict, layers: int) -> tuple[dict, dict]:
    return tensors, network


@dataclass(frozen=True)
class Convention:
    """How a program in this convention dumps the zoo's step, and what it cannot express."""

    rewrite: Rewrite = _same
    step: dict = field(default_factory=dict)  # user_step options (l2, optimizer, reduction)
    zero_bias: Callable[[int], tuple[int, ...]] = lambda layers: ()
    excludes: frozenset[str] = frozenset()  # bugs, or zoo case names, the convention cannot hold or tell
    needs_after: bool = False  # the convention is read off W.after: cases without it cannot tell it
    batch_is_width: bool = False  # the batch equals the first hidden width (square per-sample tensors)
    inside: bool = False  # the bias is inside W: db{i} is part of dW{i}, b{i}.after part of W{i}.after


def _no_bias(declared: bool) -> Rewrite:
    def rewrite(tensors: dict, network: dict, layers: int) -> tuple[dict, dict]:
        return without_bias(tensors, range(layers)), ({**network, "bias": False} if declared else network)

    return rewrite


def _first_layer_without_bias(tensors: dict, network: dict, layers: int) -> tuple[dict, dict]:
    return without_bias(tensors, [0]), network


def _inside(end: str, declared: bool, ones: bool) -> Rewrite:
    def rewrite(tensors: dict, network: dict, layers: int) -> tuple[dict, dict]:
        return bias_inside(tensors, layers, end, ones), ({**network, "bias": end} if declared else network)

    return rewrite


def _t_minus_y(declared: bool) -> Rewrite:
    def rewrite(tensors: dict, network: dict, layers: int) -> tuple[dict, dict]:
        return error_t_minus_y(tensors), ({**network, "update": "add"} if declared else network)

    return rewrite


def _declare(**keys: object) -> Rewrite:
    return lambda tensors, network, layers: (tensors, {**network, **keys})


def _units_by_batch(tensors: dict, network: dict, layers: int) -> tuple[dict, dict]:
    return units_by_batch(tensors), network


def _loss(kind: str) -> Rewrite:
    def rewrite(tensors: dict, network: dict, layers: int) -> tuple[dict, dict]:
        with np.errstate(all="ignore"):
            return loss_as(tensors, network["activations"], network["loss"], kind, network["reduction"]), network

    return rewrite


def _undeclared_reduction(tensors: dict, network: dict, layers: int) -> tuple[dict, dict]:
    return tensors, {k: v for k, v in network.items() if k != "reduction"}


ALL_LAYERS = lambda layers: tuple(range(layers))  # noqa: E731
CONVENTION_TABLE = {
    "no-bias": Convention(_no_bias(False), zero_bias=ALL_LAYERS, excludes=frozenset(BIAS_BUGS | {"no_bias"})),
    "no-bias-declared": Convention(_no_bias(True), zero_bias=ALL_LAYERS, excludes=frozenset(BIAS_BUGS | {"no_bias"})),
    "first-layer-without-bias": Convention(
        _first_layer_without_bias, zero_bias=lambda layers: (0,), excludes=frozenset({"no_bias"})
    ),
    "zero-initialized-biases": Convention(zero_bias=ALL_LAYERS, excludes=frozenset({"no_bias"})),
    "bias-inside-first": Convention(_inside("first", False, True), excludes=INSIDE_EXCLUDES, inside=True),
    "bias-inside-last-declared": Convention(_inside("last", True, True), excludes=INSIDE_EXCLUDES, inside=True),
    "bias-inside-last-no-ones": Convention(_inside("last", False, False), excludes=INSIDE_EXCLUDES, inside=True),
    "t-minus-y-declared": Convention(_t_minus_y(True)),
    "t-minus-y-read-off-the-update": Convention(
        _t_minus_y(False), excludes=frozenset(SIGN_BUGS | {"update_sign", "update_none"}), needs_after=True
    ),
    "l2-declared": Convention(_declare(l2=0.01), step={"l2": 0.01}),
    "l2-undeclared": Convention(step={"l2": 0.01}),
    # Without W.after the weights a stale-weights bug used (updated by the optimizer) are unknown.
    "momentum": Convention(
        step={"optimizer": "momentum"}, excludes=frozenset(UPDATE_BUGS | {"stale-weights-no-deltas"})
    ),
    "adam-declared": Convention(
        _declare(optimizer="adam"), step={"optimizer": "adam"}, excludes=frozenset(UPDATE_BUGS), needs_after=True
    ),
    # The batch (6) then exceeds the inputs (4): an unseen delta can no longer be solved from dW.
    "units-by-batch-width-equals-batch": Convention(
        _units_by_batch, excludes=frozenset({"shape", "derivative-no-form-no-deltas"}), batch_is_width=True
    ),
    "loss-with-epsilon-in-the-log": Convention(_loss("epsilon"), excludes=frozenset(NON_FINITE_LOSS)),
    "loss-clipped": Convention(_loss("clipped"), excludes=frozenset(NON_FINITE_LOSS)),
    "loss-after-the-update": Convention(_loss("after"), excludes=frozenset(NON_FINITE_LOSS | UPDATE_BUGS)),
    "loss-summed": Convention(_loss("summed")),
    "sum-undeclared": Convention(
        _undeclared_reduction,
        step={"reduction": "sum"},
        excludes=frozenset({"batch_scale", "batch_scale_bias", "bias_mean", "bias_one_sample"}),
    ),
}


def trace_in(tmp_path, convention: Convention, sizes, acts, loss, bug="", **options):
    """The zoo's step with ``bug``, as a program in ``convention`` dumps it -> the trace folder."""
    keep = options.pop("keep", OPTIONAL)
    batch = sizes[1] if convention.batch_is_width and len(sizes) > 2 else options.pop("batch", 4)
    options.pop("batch", None)
    fmt, samples, weights = options.pop("fmt", "txt"), options.pop("samples", "rows"), options.pop("weights", "in_out")
    step = {"reduction": options.pop("reduction", "mean"), "per_sample_deltas": options.pop("per_sample", False)}
    step |= convention.step
    dtype, scale = options.pop("dtype", np.float64), options.pop("scale", 1.0)
    declared = {"optimizer": options.pop("optimizer")} if "optimizer" in options else {}
    assert not options, options
    layers = len(sizes) - 1
    x, t, W, b = problem(sizes, acts, loss, batch, 0, scale, dtype, zero_bias=convention.zero_bias(layers))
    with np.errstate(all="ignore"):
        tensors = user_step(sizes, acts, loss, x, t, W, b, bug=bug, lr=0.1, **step)
    network = {"sizes": sizes, "activations": acts, "loss": loss, "reduction": step["reduction"], "lr": 0.1}
    tensors, network = convention.rewrite(tensors, {**network, **declared}, layers)
    tensors = {n: v for n, v in tensors.items() if _family(n) in keep or re.fullmatch(r"x|t|(W|b|dW|db)\d+", n)}
    return write_trace(tmp_path / "trace", network, tensors, fmt=fmt, samples=samples, weights=weights)


def _expected_tensor(first: str, convention: Convention) -> str:
    if convention.inside:
        return re.sub(r"^db(\d+)$", r"dW\1", re.sub(r"^b(\d+)\.after$", r"W\1.after", first))
    return first


CASES = [
    pytest.param(name, case, conv, id=f"{name}-{case[0]}")
    for name, conv in CONVENTION_TABLE.items()
    for case in ZOO
    if case[4] not in conv.excludes
    and case[0] not in conv.excludes
    and not (conv.needs_after and "after" not in case[5].get("keep", OPTIONAL))
]


@pytest.mark.parametrize(("convention_name", "case", "convention"), CASES)
def test_each_bug_is_named_under_each_convention(tmp_path, convention_name, case, convention):
    _, sizes, acts, loss, bug, options, kind, first = case
    report = verify(trace_in(tmp_path, convention, sizes, acts, loss, bug, **dict(options)))
    expected = _expected_tensor(first, convention)
    assert report.verdict == "wrong" and report.first_wrong == expected, report.text()
    assert report.findings[0].kind == kind and report.findings[0].tensor == expected, report.text()


CORRECT = [
    pytest.param(conv, network, id=f"{name}-{'-'.join(network[1])}-{network[2]}")
    for name, conv in CONVENTION_TABLE.items()
    for network in NETWORKS
]


@pytest.mark.parametrize(("convention", "network"), CORRECT)
def test_correct_steps_pass_with_no_finding_under_each_convention(tmp_path, convention, network):
    sizes, acts, loss = network
    report = verify(trace_in(tmp_path, convention, sizes, acts, loss, "derivatives_from_a"))
    assert report.verdict == "correct" and report.findings == (), report.text()
    unchecked = {t.name for t in report.tensors if t.status == "unchecked"}
    noted = {t.name for t in report.tensors if t.status == "note"}
    assert {t.status for t in report.tensors} <= {"ok", "unchecked", "note"} and noted <= {"loss"}, report.text()
    assert not unchecked or convention.step.get("optimizer"), report.text()


@pytest.mark.parametrize("layout", [c[1] for c in LAYOUTS], ids=[c[0] for c in LAYOUTS])
@pytest.mark.parametrize("name", ["bias-inside-first", "no-bias", "t-minus-y-declared", "l2-undeclared"])
def test_conventions_combine_with_every_layout(tmp_path, name, layout):
    """The layouts of the zoo (columns, out × in, float32, per-sample deltas, ...) under the new conventions."""
    sizes, acts, loss = [4, 5, 3], ["tanh", "softmax"], "ce"
    report = verify(trace_in(tmp_path, CONVENTION_TABLE[name], sizes, acts, loss, "derivatives_from_a", **layout))
    assert report.verdict == "correct" and report.findings == (), report.text()


def test_nielsens_network2_conventions(tmp_path):
    """network2.py: samples as columns, W out × in, gradients summed over the mini-batch (nabla_w), and the update
    w = (1 − eta·lmbda/n)·w − (eta/m)·nabla_w, b = b − (eta/m)·nabla_b: correct, with each convention noted."""
    sizes, acts, eta, decay = [4, 5, 3], ["sigmoid", "sigmoid"], 0.5, 0.5 * 5.0 / 1000
    x, t, W, b = problem(sizes, acts, "bce", 6, 0)
    tensors = user_step(sizes, acts, "bce", x, t, W, b, reduction="sum", bug="derivatives_from_a")
    for i in range(2):
        tensors[f"W{i}.after"] = (1 - decay) * W[i] - eta / 6 * tensors[f"dW{i}"]
        tensors[f"b{i}.after"] = b[i] - eta / 6 * tensors[f"db{i}"]
    network = {"sizes": sizes, "activations": acts, "loss": "bce", "lr": eta}  # his CrossEntropyCost
    report = verify(write_trace(tmp_path / "trace", network, tensors, samples="columns", weights="out_in"))
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert report.conventions["reduction"] == "sum" and report.conventions["update_checked"] is True
    notes = " ".join(report.notes)
    assert "weight decay in the update" in notes and "divides the summed db1 by the batch size" in notes, notes


def test_a_rate_multiplied_into_the_gradients_is_a_convention(tmp_path):
    """`dW = lr * a.T @ delta; W -= dW`, and a per-sample loss vector: correct, with the factor noted."""
    sizes, acts, loss = [4, 5, 3], ["tanh", "softmax"], "ce"
    x, t, W, b = problem(sizes, acts, loss, 4, 0)
    tensors = user_step(sizes, acts, loss, x, t, W, b)
    for name in ("dW0", "db0", "dW1", "db1", "delta0", "delta1"):
        tensors[name] = 0.1 * tensors[name]
    network = {"sizes": sizes, "activations": acts, "loss": loss, "reduction": "mean", "lr": 0.1}
    report = verify(write_trace(tmp_path / "trace", network, tensors))
    assert report.verdict == "correct" and report.kinds() == ["constant_scale"], report.text()
    assert report.findings[0].evidence["factor"] == pytest.approx(0.1)
    assert {t.status for t in report.tensors if t.name.endswith(".after")} == {"ok"}, report.text()


def test_a_bias_that_is_not_trained_and_a_loss_per_sample(tmp_path):
    """Worked examples keep one fixed bias per layer (b given, no db); some print the loss per sample."""
    sizes, acts, loss = [2, 2, 2], ["sigmoid", "sigmoid"], "mse"
    x, t, W, b = problem(sizes, acts, loss, 1, 0)
    tensors = user_step(sizes, acts, loss, x, t, W, b)
    kept = {k: v for k, v in tensors.items() if not k.startswith("db") and not k.startswith("b0.") and k != "b1.after"}
    kept["loss"] = np.array([float(tensors["loss"])])
    network = {"sizes": sizes, "activations": acts, "loss": loss, "lr": 0.1}
    report = verify(write_trace(tmp_path / "trace", network, kept))
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert "b0 comes without db0: read as a bias this step does not train" in report.notes


@pytest.mark.parametrize(("samples", "weights"), [("rows", "out_in"), ("columns", "in_out"), ("columns", "out_in")])
@pytest.mark.parametrize("bug", ["derivatives_from_a", "missing_output_derivative"])
def test_an_all_square_network_is_read_the_way_that_fits(tmp_path, samples, weights, bug):
    """2-2-2 with a batch of 2: x, t, W and every per-sample tensor are square, and network.json says nothing of
    the layout. The reading under which the tensors agree is the one they were written in."""
    sizes, acts, loss = [2, 2, 2], ["sigmoid", "sigmoid"], "mse"
    x, t, W, b = problem(sizes, acts, loss, 2, 1)
    tensors = user_step(sizes, acts, loss, x, t, W, b, bug=bug)
    network = {"sizes": sizes, "activations": acts, "loss": loss, "lr": 0.1}
    folder = write_trace(tmp_path / "trace", network, tensors, samples=samples, weights=weights)
    (folder / "network.json").write_text(json.dumps(network))  # undeclared: the tensors decide
    report = verify(folder)
    assert (report.conventions["samples"], report.conventions["weights"]) == (samples, weights), report.text()
    if bug == "derivatives_from_a":
        assert report.verdict == "correct" and report.findings == (), report.text()
    else:
        assert report.first_wrong == "delta1" and report.kinds()[0] == "missing_output_derivative", report.text()


def test_every_gradient_stored_the_other_way_round_is_a_layout(tmp_path):
    """W in × out but every (non-square) dW out × in, as code that keeps per-neuron gradient rows does."""
    sizes, acts, loss = [4, 5, 3], ["tanh", "softmax"], "ce"
    x, t, W, b = problem(sizes, acts, loss, 4, 0)
    tensors = user_step(sizes, acts, loss, x, t, W, b)
    tensors |= {"dW0": tensors["dW0"].T, "dW1": tensors["dW1"].T}
    network = {"sizes": sizes, "activations": acts, "loss": loss, "reduction": "mean", "lr": 0.1}
    report = verify(write_trace(tmp_path / "trace", network, tensors))
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert "every dW is stored the other way round from its W: read transposed" in report.notes


def test_a_single_output_written_as_flat_vectors_and_stacked_column_vectors(tmp_path):
    """Logistic regression (4-1) with W, dW and W.after as flat vectors, and per-sample tensors stacked as
    (B, n, 1) column vectors in .npy files, as a loop over samples collects them."""
    sizes, acts, loss = [4, 1], ["sigmoid"], "bce"
    x, t, W, b = problem(sizes, acts, loss, 5, 0)
    tensors = user_step(sizes, acts, loss, x, t, W, b)
    flat = {name: tensors[name].ravel() for name in ("W0", "dW0", "W0.after")}
    stacked = {name: tensors[name][:, :, None] for name in ("x", "z0", "a0", "delta0")}
    network = {"sizes": sizes, "activations": acts, "loss": loss, "reduction": "mean", "lr": 0.1}
    report = verify(write_trace(tmp_path / "trace", network, {**tensors, **flat, **stacked}, fmt="npy"))
    assert report.verdict == "correct" and report.findings == (), report.text()


@pytest.mark.parametrize("declared", [True, False])
def test_l2_inside_the_gradients_is_noted_with_its_lambda(tmp_path, declared):
    sizes, acts, loss = [4, 5, 3], ["relu", "softmax"], "ce"
    x, t, W, b = problem(sizes, acts, loss, 4, 0)
    tensors = user_step(sizes, acts, loss, x, t, W, b, l2=0.003)
    network = {"sizes": sizes, "activations": acts, "loss": loss, "reduction": "mean", "lr": 0.1}
    network |= {"l2": 0.003} if declared else {}
    report = verify(write_trace(tmp_path / "trace", network, tensors))
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert report.conventions["l2"]["found"] == pytest.approx({"dW1": 0.003, "dW0": 0.003})
    note = next(n for n in report.notes if n.startswith("the gradients include L2 weight decay"))
    assert "dW1 λ = 0.003" in note and ("declares" in note) == declared, note


@pytest.mark.parametrize(
    "rename",
    [
        {"W": "W{}", "b": "b{}", "dW": "dW{}", "db": "db{}", "z": "z{}", "a": "a{}", "delta": "delta{}"},  # from 1
        {"W": "w_{}", "b": "B{}", "dW": "dw_{}", "db": "DB{}", "z": "Z{}", "a": "A{}", "delta": "Delta_{}"},
    ],
    ids=["layers-counted-from-1", "case-and-underscores"],
)
def test_names_as_people_write_them(tmp_path, rename):
    sizes, acts, loss = [4, 5, 3], ["tanh", "softmax"], "ce"
    x, t, W, b = problem(sizes, acts, loss, 4, 0)
    tensors = user_step(sizes, acts, loss, x, t, W, b, bug="missing_output_derivative")
    shift = 1 if rename["W"] == "W{}" else 0
    renamed = {}
    for name, value in tensors.items():
        match = re.fullmatch(r"(W|b|dW|db|z|a|delta)(\d)(\.after)?", name)
        if match is None:
            renamed[name] = value
        else:
            renamed[rename[match[1]].format(int(match[2]) + shift) + (match[3] or "")] = value
    network = {"sizes": sizes, "activations": acts, "loss": loss, "reduction": "mean", "lr": 0.1}
    report = verify({"network": network, **renamed})
    assert report.first_wrong == "delta1" and report.kinds() == ["missing_output_derivative"], report.text()
    renumbered = "W, b, dW, db, z, a, delta numbered from 1: read as numbered from 0 (layer 0 is the first weight "
    renumbered += "layer)"
    assert (renumbered in report.notes) == (shift == 1), report.notes


def test_activations_counted_with_the_input_as_a1(tmp_path):
    """As in Ng's course: a1 is x, z2 and a2 the hidden layer, z3 and a3 the output, delta3 and delta2."""
    sizes, acts, loss = [4, 5, 3], ["sigmoid", "sigmoid"], "bce"
    x, t, W, b = problem(sizes, acts, loss, 4, 0)
    tensors = user_step(sizes, acts, loss, x, t, W, b)
    renamed = {"x": x, "t": t, "a1": x, "W1": W[0], "W2": W[1], "b1": b[0], "b2": b[1]}
    for i in range(2):
        renamed |= {f"z{i + 2}": tensors[f"z{i}"], f"a{i + 2}": tensors[f"a{i}"], f"delta{i + 2}": tensors[f"delta{i}"]}
        renamed |= {f"dW{i + 1}": tensors[f"dW{i}"], f"db{i + 1}": tensors[f"db{i}"]}
    network = {"sizes": sizes, "activations": acts, "loss": loss, "reduction": "mean"}
    report = verify({"network": network, **renamed})
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert "a1 is the input (x): not read" in report.notes


def test_course_names_y_dz_and_cost(tmp_path):
    """X, Y, Z1, A1, dZ1, dW1, db1, cost (a deep-learning course's names, layers from 1)."""
    sizes, acts, loss = [4, 5, 3], ["relu", "softmax"], "ce"
    x, t, W, b = problem(sizes, acts, loss, 4, 0)
    tensors = user_step(sizes, acts, loss, x, t, W, b)
    course = {"X": x, "Y": t, "cost": tensors["loss"]}
    for i in range(2):
        for mine, theirs in (
            ("W", "W"),
            ("b", "b"),
            ("z", "Z"),
            ("a", "A"),
            ("delta", "dZ"),
            ("dW", "dW"),
            ("db", "db"),
        ):
            course[f"{theirs}{i + 1}"] = tensors[f"{mine}{i}"]
    network = {"sizes": sizes, "activations": acts, "loss": loss, "reduction": "mean"}
    report = verify({"network": network, **course})
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert {t.name for t in report.tensors} >= {"delta0", "delta1", "loss"}
    assert "Y read as the targets t" in report.notes


def _undeclared(tmp_path, tensors, sizes, acts, loss):
    network = {"sizes": sizes, "activations": acts, "loss": loss, "lr": 0.1}
    folder = write_trace(tmp_path / "trace", network, tensors)
    (folder / "network.json").write_text(json.dumps(network))  # no reduction: the files must tell
    return verify(folder)


def test_summed_gradients_beside_a_mean_loss_are_read_as_a_sum_and_said(tmp_path):
    """No reduction declared, a mean loss on file, every gradient summed: Nielsen's sum-then-divide or a forgotten
    1/B look the same without the update, so no bug is named, and the note says how to check the mean."""
    sizes, acts, loss = [4, 5, 3], ["tanh", "softmax"], "ce"
    x, t, W, b = problem(sizes, acts, loss, 6, 0)
    tensors = user_step(sizes, acts, loss, x, t, W, b, bug="batch_scale")
    report = _undeclared(tmp_path, {k: v for k, v in tensors.items() if not k.endswith(".after")}, sizes, acts, loss)
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert any(note.startswith("the loss on file is the batch's mean: if the program") for note in report.notes)


def test_summed_gradients_divided_in_the_update_are_the_means_step(tmp_path):
    """Nielsen's network.py: nabla_w summed over the mini-batch, w − (eta/m)·nabla_w, and a mean loss on file."""
    sizes, acts, loss = [4, 5, 3], ["sigmoid", "sigmoid"], "mse"
    x, t, W, b = problem(sizes, acts, loss, 6, 0)
    tensors = user_step(sizes, acts, loss, x, t, W, b, bug="batch_scale", lr=0.1 / 6)  # W − (lr/B)·(B·g)
    report = _undeclared(tmp_path, tensors, sizes, acts, loss)
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert "the update divides the summed dW1 by the batch size, W1 − (lr/B)·dW1" in report.notes


def test_summed_gradients_divided_in_the_update_under_a_declared_mean(tmp_path):
    """The same, with "reduction": "mean" declared: B times the mean's gradient, taken back out by the update."""
    sizes, acts, loss = [4, 5, 3], ["sigmoid", "sigmoid"], "mse"
    x, t, W, b = problem(sizes, acts, loss, 6, 0)
    tensors = user_step(sizes, acts, loss, x, t, W, b, bug="batch_scale", lr=0.1 / 6)
    network = {"sizes": sizes, "activations": acts, "loss": loss, "lr": 0.1, "reduction": "mean"}
    report = verify(write_trace(tmp_path / "trace", network, tensors))
    assert report.verdict == "correct" and not any(not f.is_note for f in report.findings), report.text()
    assert report.findings[0].kind == "batch_scale" and "the step is the mean's" in report.findings[0].explanation
