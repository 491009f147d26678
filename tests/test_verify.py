"""``gradwise verify`` and ``gw.verify``: the example trace, the --json schema, exit codes, the report object, the
health checks after the verdict, every bad input's one line, and the trace reader under fuzzing."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradwise as gw
from gradwise.cli.main import main
from gradwise.verify import Report, TraceError, write_example
from gradwise.verify.files import parse_text
from gradwise.verify.trace import read_trace

ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=60, deadline=None)
HINT = "(see `gradwise verify --example DIR` for a complete trace)"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("verify") / "ex"
    write_example(folder)
    return folder


@pytest.fixture
def trace(example: Path, tmp_path: Path) -> Path:
    """A fresh copy of the example trace, to damage."""
    return Path(shutil.copytree(example, tmp_path / "trace"))


def test_the_example_passes_from_the_command_line(tmp_path, capsys):
    assert main(["verify", "--example", str(tmp_path / "ex")]) == 0
    assert "check it with: gradwise verify" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "ex")]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("correct: every tensor matches the float64 reference"), out


def test_json_has_exactly_the_issues_schema(trace, capsys):
    np.savetxt(trace / "delta1.txt", -np.loadtxt(trace / "delta1.txt"))  # t − a instead of a − t
    assert main(["verify", str(trace), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"verdict", "first_wrong", "findings", "tensors", "health", "notes", "conventions"}
    assert report["verdict"] == "wrong" and report["first_wrong"] == "delta1"
    finding = report["findings"][0]
    assert set(finding) == {"kind", "tensor", "layer", "evidence", "explanation", "fix", "note"}
    assert (finding["kind"], finding["tensor"], finding["layer"]) == ("sign", "delta1", 1)
    assert {"name", "status", "relative_error"} == set(report["tensors"][0])
    assert [t["name"] for t in report["tensors"]][:5] == ["z0", "a0", "z1", "a1", "delta1"]
    assert report["tensors"][-1]["name"] == "loss"  # last: the loss feeds no gradient, so it never comes first
    assert {t["name"]: t["status"] for t in report["tensors"]}["dW1"] == "ok"  # the dW1 on file is right


def test_exit_0_with_only_a_note(trace, capsys):
    for name in ("delta1", "dW1", "db1", "delta0", "dW0", "db0"):  # every gradient twice as large
        np.savetxt(trace / f"{name}.txt", 2 * np.atleast_2d(np.loadtxt(trace / f"{name}.txt")))
    for name in ("W0.after", "W1.after", "b0.after", "b1.after"):
        (trace / f"{name}.txt").unlink()
    assert main(["verify", str(trace), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "correct" and report["first_wrong"] is None
    assert {f["kind"] for f in report["findings"]} == {"constant_scale"}


def test_the_api_takes_a_dict_and_returns_a_typed_report(example):
    tensors = {p.stem: np.loadtxt(p) for p in example.glob("*.txt")}
    network = json.loads((example / "network.json").read_text())
    tensors["dW0"] = tensors["dW0"].T  # (3, 4) where W0 is (4, 3)
    report = gw.verify({"network": network, **tensors})
    assert isinstance(report, Report)
    assert report.verdict == "wrong" and report.first_wrong == "dW0" and report.kinds() == ["transposed"]
    assert repr(report).startswith("<verify wrong: first wrong dW0; transposed at dW0")
    html = report._repr_html_()
    assert "<table>" in html and "transposed" in html and "dW0" in html
    assert report.to_json()["findings"][0]["fix"].startswith("transpose dW0")


def test_health_checks_follow_the_verdict(trace, capsys):
    rng = np.random.default_rng(0)
    network = json.loads((trace / "network.json").read_text())
    network["activations"] = ["sigmoid", "softmax"]
    network["loss"] = "mse"
    (trace / "network.json").write_text(json.dumps(network))
    np.savetxt(trace / "W0.txt", rng.uniform(0, 1, (4, 3)) * 40)  # saturates every hidden unit
    assert main(["verify", str(trace)]) == 1  # the traced tensors belong to the old network
    out = capsys.readouterr().out
    verdict, health = out.split("health at these weights (why it may not learn):")
    assert "wrong: the first wrong tensor is z0" in verdict
    assert "!! output_loss_mismatch in layer 1" in health and "!! saturation in layer 0" in health
    # In the words of someone who wrote their own network, not gradwise's command-line flags.
    assert "--" not in health, health
    assert "fix:      train with cross-entropy: with a softmax output the output delta becomes a − t" in health


def test_json_carries_the_notes_and_the_conventions(tmp_path, capsys):
    """The seed's own conventions: deltas units × batch and per sample, lr negative (W + lr·dW), bias vectors."""
    subprocess.run([sys.executable, "examples/seed_2017_port.py", str(tmp_path / "seed")], check=True, cwd=ROOT)
    assert main(["verify", str(tmp_path / "seed"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    conventions = report["conventions"]
    assert conventions["weights"] == "in_out" and conventions["samples"] == "rows"
    assert conventions["deltas"] == "per sample" and conventions["update"] == "W + lr*dW"
    assert conventions["gradients"] == "dL/dW" and conventions["bias"] == ["separate", "separate"]
    assert conventions["l2"] == {"declared": None, "found": {}} and conventions["optimizer"] == "sgd"
    assert conventions["precision"] == "float64" and conventions["update_checked"] is True
    assert "delta0, delta1 are stored n × B, the other way round from x: read transposed" in report["notes"]
    assert report["first_wrong"] == "delta1" and report["findings"][0]["kind"] == "missing_output_derivative"
    assert main(["verify", str(tmp_path / "seed")]) == 1
    health = capsys.readouterr().out.split("health at these weights")[1]
    assert "fix:      draw W from U(±√(6/(n_in + n_out))) (Glorot)" in health and "--" not in health, health


def run_fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The command exits 2 with one line on stderr and nothing on stdout -> that line without 'error: '."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    return err[len("error: ") : -1]


def damage_and_check(trace: Path, capsys, damage, expected: str) -> None:
    damage(trace)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in trace.iterdir())
    assert run_fails(["verify", str(trace)], capsys) == expected.format(trace=trace)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in trace.iterdir()) == before  # nothing written


def _write(name: str, text: str | bytes):
    def damage(trace: Path) -> None:
        (trace / name).write_bytes(text if isinstance(text, bytes) else text.encode())

    return damage


def _remove(name: str):
    return lambda trace: (trace / name).unlink()


def _npy_instead(name: str, data: bytes):
    def damage(trace: Path) -> None:
        (trace / f"{name}.txt").unlink()
        (trace / f"{name}.npy").write_bytes(data)

    return damage


def _network(**changes):
    def damage(trace: Path) -> None:
        network = json.loads((trace / "network.json").read_text())
        (trace / "network.json").write_text(json.dumps({**network, **changes}))

    return damage


def _bias_inside_with_bad_ones(trace: Path) -> None:
    """W0 holds its bias as a first row, and x has a first column that should be the constant 1 but is not."""
    for weights, bias in (("W0", "b0"), ("dW0", "db0")):
        stacked = np.vstack([np.loadtxt(trace / f"{bias}.txt"), np.loadtxt(trace / f"{weights}.txt")])
        np.savetxt(trace / f"{weights}.txt", stacked)
    for name in ("b0.txt", "db0.txt", "W0.after.txt", "b0.after.txt"):
        (trace / name).unlink()
    x = np.loadtxt(trace / "x.txt")
    np.savetxt(trace / "x.txt", np.hstack([np.full((len(x), 1), 0.5), x]))


def _pickled(trace: Path) -> None:
    (trace / "x.txt").unlink()
    np.save(trace / "x.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)


BAD = [
    (
        "missing-tensor",
        _remove("dW1.txt"),
        "{trace}: dW1 is missing; write dW1.txt (or dW1.npy, or dW1 in trace.npz) " + HINT,
    ),
    (
        "W-fits-no-orientation",
        _write("W0.txt", "1 2 3\n4 5 6\n7 8 9\n"),
        "{trace}/W0.txt: shape (3, 3) fits neither 4×3 (in × out) nor 3×4 (out × in), nor with the bias inside "
        "W (5×3 or 3×5) for sizes [4, 3, 2]; check the sizes in network.json",
    ),
    (
        "unknown-activation",
        _network(activations=["tanhh", "softmax"]),
        "{trace}/network.json: unknown activation 'tanhh' in activations[0]; choose "
        "one of: identity, sigmoid, tanh, relu, leaky_relu, elu, softplus, softmax",
    ),
    ("unknown-loss", _network(loss="hinge"), "{trace}/network.json: unknown loss 'hinge'; choose mse, ce or bce"),
    (
        "wrong-count-of-activations",
        _network(activations=["tanh"]),
        "{trace}/network.json: activations must list one name per weight layer (2 for [4, 3, 2])",
    ),
    ("bad-samples", _network(samples="cols"), "{trace}/network.json: samples must be 'rows' or 'columns', got 'cols'"),
    (
        "non-numeric-text",
        _write("b0.txt", "0.1 abc 0.3\n"),
        "{trace}/b0.txt: line 1: 'abc' is not a number; write numbers only (no "
        "header row or row names: R's write.table needs row.names=FALSE, col.names=FALSE)",
    ),
    (
        "ragged-row",
        _write("W1.txt", "# W1\n1 2\n3 4\n5\n"),
        "{trace}/W1.txt: line 4 has 1 numbers but line 2 has 2; every row of a matrix needs the same count",
    ),
    (
        "empty-file",
        _write("t.txt", "# nothing\n"),
        "{trace}/t.txt: holds no numbers; write the tensor (numpy.savetxt, saveMatrix, writedlm)",
    ),
    (
        "bad-json",
        _write("network.json", '{"sizes": [4, 3, 2],'),
        "{trace}/network.json: not valid JSON at line 1 column 21: Expecting property name enclosed in double quotes",
    ),
    (
        "no-network-json",
        _remove("network.json"),
        "{trace}/network.json: not found; write the network's sizes, activations and loss there " + HINT,
    ),
    (
        "unreadable-npy",
        _npy_instead("x", b"\x93NUMPY garbage"),
        "{trace}/x.npy: not a readable .npy array (ValueError); save it with numpy.save",
    ),
    ("pickled-npy", _pickled, "{trace}/x.npy: not a readable .npy array (ValueError); save it with numpy.save"),
    (
        "unreadable-npz",
        _write("trace.npz", b"PK\x03\x04 not a zip"),
        "{trace}/trace.npz: not a readable .npz archive (BadZipFile); save it with numpy.savez",
    ),
    (
        "given-twice",
        lambda trace: np.save(trace / "x.npy", np.zeros((5, 4))),
        "{trace}/x.txt: x is also given as {trace}/x.npy; keep one of them",
    ),
    (
        "targets-misshapen",
        _write("t.txt", "1 0 0\n"),
        "{trace}/t.txt: shape (1, 3) does not fit 5 samples of 2 targets (rows "
        "layout); write one target vector per sample of x",
    ),
    (
        "x-in-the-other-layout",
        _write("x.txt", "\n".join(["1 2 3 4 5"] * 4)),
        '{trace}/x.txt: shape (4, 5) does not hold samples of 4 inputs as rows; it fits "samples": "columns"',
    ),
    (
        "loss-not-one-number",
        _write("loss.txt", "1 2\n"),
        "{trace}/loss.txt: holds 2 numbers; write the batch's loss as one number",
    ),
    (
        "weights-not-finite",
        _write("W1.txt", "1 2\n3 nan\n4 5\n"),
        "{trace}/W1.txt: holds nan at (1, 1); the inputs and weights must be finite: trace a step before the "
        "values blow up",
    ),
    (
        "bias-declaration-unknown",
        _network(bias="sideways"),
        '{trace}/network.json: bias must be true, false, "first", "last" or "inside" (or a list of those), '
        "got 'sideways'",
    ),
    (
        "bias-list-too-short",
        _network(bias=[True]),
        "{trace}/network.json: bias must be one value or a list of 2 (one per weight layer)",
    ),
    ("update-unknown", _network(update="plus"), "{trace}/network.json: update must be 'subtract' or 'add', got 'plus'"),
    ("l2-negative", _network(l2=-0.1), "{trace}/network.json: l2 must be 0 or more, got -0.1"),
    (
        "optimizer-not-a-name",
        _network(optimizer=3),
        '{trace}/network.json: optimizer must be a name such as "sgd", "momentum" or "adam", got 3',
    ),
    (
        "no-bias-declared-but-given",
        _network(bias=False),
        "{trace}/b0.txt: network.json says layer 0 has no bias; remove b0 or declare the bias",
    ),
    (
        "db-without-b",
        _remove("b1.txt"),
        "{trace}: b1 is missing but db1 is given; write b1.txt (or b1.npy, or b1 in trace.npz), or leave out both "
        "b1 and db1 for a layer without bias " + HINT,
    ),
    (
        "x-with-a-column-that-is-not-ones",
        _bias_inside_with_bad_ones,
        "{trace}/x.txt: has 5 inputs per sample for a layer of 4, but its first column is not all ones (the constant "
        "input of a bias inside W0); write x with or without that column of ones",
    ),
    (
        "bias-misshapen",
        _write("b1.txt", "1 2 3\n"),
        "{trace}/b1.txt: shape (1, 3) is not a vector of 2; write one number per unit",
    ),
]


@pytest.mark.parametrize(("damage", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_naming_the_file(trace, capsys, damage, expected):
    damage_and_check(trace, capsys, damage, expected)


def test_bad_command_lines(tmp_path, example, capsys):
    assert (
        run_fails(["verify"], capsys) == "gradwise verify: give the TRACE folder to check (or --example DIR to write "
        "one)"
    )
    missing = tmp_path / "nope"
    assert (
        run_fails(["verify", str(missing)], capsys)
        == f"{missing}: no such trace folder; see `gradwise verify --example DIR` for "
        "a complete trace"
    )
    assert (
        run_fails(["verify", "--example", str(example)], capsys)
        == f"{example}: already exists and is not an empty folder; choose a new folder "
        "for the example"
    )
    assert run_fails(["verify", str(example), "--example", str(tmp_path / "x")], capsys).endswith("not both")
    assert not (tmp_path / "x").exists()


def test_a_real_process_prints_no_traceback(trace):
    (trace / "W0.txt").write_text("1 2\n")
    done = subprocess.run(
        [sys.executable, "-m", "gradwise", "verify", str(trace)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr


# --- fuzzing the reader: any text or bytes either read or raise the one-line TraceError ------------------


@FUZZ
@given(st.text(alphabet="0123456789.-+eE, \t;#\nabinfNA", max_size=200))
def test_any_text_parses_or_is_refused_in_one_line(text):
    try:
        array = parse_text(text, "f.txt")
    except TraceError as error:
        assert str(error).startswith("f.txt: ") and "\n" not in str(error)
    else:
        assert array.ndim == 2 and array.dtype == np.float64 and array.size > 0


@pytest.fixture(scope="module")
def npz_trace(example: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The example's tensors as the bytes of one trace.npz."""
    folder = tmp_path_factory.mktemp("npz")
    np.savez(folder / "trace.npz", **{p.stem: np.loadtxt(p) for p in example.glob("*.txt")})
    return (folder / "trace.npz").read_bytes()


@FUZZ
@given(st.data())
def test_damaged_files_are_read_or_refused(example, npz_trace, tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(example / "network.json", folder)
    raw = bytearray(npz_trace if data.draw(st.booleans()) else (example / "W0.txt").read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(1, len(raw)))]
    if raw[:2] == b"PK":
        (folder / "trace.npz").write_bytes(bytes(raw))
    else:
        for p in example.glob("*.txt"):
            shutil.copy(p, folder)
        (folder / "W0.txt").write_bytes(bytes(raw))
    try:
        report = gw.verify(folder)
    except TraceError as error:
        assert str(error).startswith(str(folder)) and "\n" not in str(error)
    else:
        assert report.verdict in ("correct", "wrong")


def test_class_labels_are_read_as_one_hot_targets(example):
    tensors = {p.stem: np.loadtxt(p, ndmin=2) for p in example.glob("*.txt")}
    labels = tensors["t"].argmax(axis=1)
    report = gw.verify({"network": json.loads((example / "network.json").read_text()), **tensors, "t": labels})
    assert report.verdict == "correct" and "t holds class labels: read as one-hot rows of 2" in report.notes


def test_read_trace_normalises_columns_and_out_by_in(example):
    tensors = {p.stem: np.loadtxt(p, ndmin=2) for p in example.glob("*.txt")}
    network = {**json.loads((example / "network.json").read_text()), "samples": "columns", "weights": "out_in"}
    flipped = {k: (v.T if k[0] in "xtzaW" or k.startswith(("delta", "dW")) else v) for k, v in tensors.items()}
    trace = read_trace({"network": network, **flipped})
    assert trace.x.shape == (5, 4) and trace.W[0].shape == (4, 3) and trace.delta[1].shape == (5, 2)
    np.testing.assert_array_equal(trace.W[0], tensors["W0"])


CONVENTION_KEYS = {
    "bias": [True, False, "first", "last", "inside", [True, False]],
    "update": ["add", "subtract"],
    "l2": [0.0, 0.01],
    "optimizer": ["sgd", "adam"],
    "lr": [0.1, -0.1],
    "samples": ["rows", "columns"],
    "weights": ["in_out", "out_in"],
    "reduction": ["mean", "sum"],
}


@FUZZ
@given(st.data())
def test_any_shapes_and_conventions_give_a_report_or_one_line(data):
    """Tensors of any shape (some fitting, some one off, some transposed) under any declared conventions: a
    report, or one TraceError line; never another exception, never a numpy warning."""
    draw = data.draw
    layers = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 5), min_size=layers + 1, max_size=layers + 1))
    batch = draw(st.integers(1, 5))
    activations = draw(
        st.lists(st.sampled_from(["sigmoid", "tanh", "relu", "identity", "softmax"]), min_size=layers, max_size=layers)
    )
    network = {"sizes": sizes, "activations": activations, "loss": draw(st.sampled_from(["mse", "ce", "bce"]))}
    for key, values in CONVENTION_KEYS.items():
        if draw(st.booleans()):
            network[key] = draw(st.sampled_from(values))
    if isinstance(network.get("bias"), list):
        network["bias"] = (network["bias"] * layers)[:layers]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def shape(n: int, m: int) -> tuple[int, int]:
        return draw(st.sampled_from([(n, m), (n, m), (m, n), (n + 1, m), (n, m + 1)]))

    trace = {
        "network": network,
        "x": rng.normal(size=shape(batch, sizes[0])),
        "t": rng.normal(size=shape(batch, sizes[-1])),
    }
    for i, (n, m) in enumerate(itertools.pairwise(sizes)):
        trace |= {f"W{i}": rng.normal(size=shape(n, m)), f"dW{i}": rng.normal(size=shape(n, m))}
        for name, size in (
            (f"b{i}", (m,)),
            (f"db{i}", (m,)),
            (f"delta{i}", shape(batch, m)),
            (f"W{i}.after", shape(n, m)),
        ):
            if draw(st.booleans()):
                trace[name] = rng.normal(size=size) * draw(st.sampled_from([0.0, 1.0, 1e3]))
    if draw(st.booleans()):
        trace["loss"] = rng.normal(size=draw(st.sampled_from([(1,), (batch,)])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            report = gw.verify(trace)
        except TraceError as error:
            assert "\n" not in str(error)
        else:
            assert report.verdict in ("correct", "wrong") and json.dumps(report.to_json()) and report.text()


def test_an_update_broadcast_to_a_matrix_is_a_finding_not_bad_input(trace, capsys):
    """b − lr·db with a (1, B) db broadcasts b.after to a matrix: the program ran, so it is a shape finding."""
    b0 = np.loadtxt(trace / "b0.txt")
    np.savetxt(trace / "b0.after.txt", b0[:, None] - 0.1 * np.ones((1, 5)))
    assert main(["verify", str(trace), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["first_wrong"] == "b0.after" and report["findings"][0]["kind"] == "shape"


def test_json_arrays_are_read_as_text(trace):
    """JavaScript's JSON.stringify of a matrix, [[...],[...]], is a tensor file like any other."""
    for name in ("W0", "dW0", "x"):
        matrix = np.loadtxt(trace / f"{name}.txt")
        (trace / f"{name}.txt").write_text(json.dumps(matrix.tolist()))
    report = gw.verify(trace)
    assert report.verdict == "correct" and report.findings == (), report.text()
    (trace / "W0.txt").write_text("[[1, 2], [3]]")
    with pytest.raises(TraceError, match="a JSON array that cannot be read"):
        gw.verify(trace)
