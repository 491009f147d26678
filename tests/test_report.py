"""Run reports: ``gradwise train --report``, ``gradwise report``, the activation histograms, ``--tensorboard``."""

import base64
import json
import re
import shutil
import struct
import sys

import numpy as np
import pytest
from PIL import Image

from gradwise.cli.main import main
from gradwise.health.stats import HIST_BINS, activation_histogram, symlog
from gradwise.nn.network import mlp
from gradwise.report.data import read_run
from gradwise.report.tensorboard import bucket_edges, export_run
from gradwise.report.write import write_report
from gradwise.train.model_file import save_model

# The seed's network (U(0, 1) weights into 784 inputs: every sigmoid saturated) on a sliver of MNIST.
SEED = ["--preset", "seed-2017", "--epochs", "1", "--limit-train", "1200", "--validation", "100", "--hidden", "32"]
RUN_FIGURES = {"loss", "gradient-norms", "saturation", "activations", "update-ratio", "confusion", "misclassified",
               "first-layer-weights"}  # fmt: skip


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory):
    """One run with --report and --tensorboard; the tests below read what it wrote."""
    root = tmp_path_factory.mktemp("report")
    out, tb = root / "seed", root / "tb"
    assert main(["train", *SEED, "--out", str(out), "--report", "--tensorboard", str(tb), "--json"]) == 0
    return out, tb


def images_of(page: str) -> list[str]:
    return re.findall(r'<img [^>]*src="([^"]*)"', page)


def test_train_report_is_one_self_contained_page_with_the_pngs_beside_it(seed_run):
    out, _ = seed_run
    page = (out / "report.html").read_text()
    sources = images_of(page)
    assert len(sources) == len(RUN_FIGURES)
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    assert not re.search(r"(src|href)=\"(?!data:)", page), "every resource is embedded"
    assert "<script" not in page and "http://" not in page and "https://" not in page
    beside = {p.name.removeprefix("report-").removesuffix(".png"): p for p in out.glob("report-*.png")}
    assert set(beside) == RUN_FIGURES
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in sources}
    assert embedded == {p.read_bytes() for p in beside.values()}  # the same pictures, byte for byte
    for path in beside.values():
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] >= 600


def test_report_shows_the_saturated_hidden_layer_and_the_diagnosis(seed_run):
    out, _ = seed_run
    page = (out / "report.html").read_text()
    assert "<b>saturation</b> in layer 0 since step 0" in page
    assert "<b>output_loss_mismatch</b> in layer 1" in page
    run = read_run(out)
    saturated = run.probes.columns["saturated"][0]
    assert len(saturated) >= 2 and (saturated > 0.99).all()  # what the saturation chart draws
    # The heat strip of layer 0: every activation in the top bin, [0.95, 1] (the sigmoid is pinned at 1).
    hist = run.probes.hist[0]
    assert run.probes.hist_range[0] == (0.0, 1.0, "linear")
    assert (hist[:, -1] == hist.sum(axis=1)).all() and hist.sum() > 0
    # Layer 0 learns nothing: its gradient is (nearly) zero, and exact zeros are drawn on the chart's floor, labelled 0.
    grad_norm = run.probes.columns["grad_norm"][0]
    assert (grad_norm < 1e-6).all() and (grad_norm == 0).any()
    assert {d["symptom"] for d in run.diagnoses} >= {"saturation", "output_loss_mismatch"}


def test_activation_histogram_bins_worked_example():
    # sigmoid: 20 bins of width 0.05 over [0, 1]; 0 -> bin 0, 0.5 -> bin 10, 1 -> bin 19 (the last bin is closed),
    # NaN is left out.
    counts, bins, scale = activation_histogram("sigmoid", np.array([[0.0, 0.5, 1.0, np.nan]]))
    assert (bins, scale) == ([0.0, 1.0], "linear")
    assert [i for i, c in enumerate(counts) for _ in range(c)] == [0, 10, 19]
    # relu: s = sign(a) log10(1 + |a| / 0.01) in 20 bins of 0.5 over [-5, 5]. 0 -> s 0 -> bin 10;
    # 1 -> s = log10(101) = 2.004 -> bin 14; 1e6 -> s = 8 -> clipped to 5 -> bin 19; -1 -> s = -2.004 -> bin 5.
    counts, bins, scale = activation_histogram("relu", np.array([[0.0, 1.0, 1e6, -1.0]]))
    assert (bins, scale) == ([-5.0, 5.0], "symlog")
    assert [i for i, c in enumerate(counts) for _ in range(c)] == [5, 10, 14, 19]
    assert symlog(np.array([1.0]))[0] == pytest.approx(np.log10(101))


def test_activation_histogram_subsamples_whole_rows_and_applies_a_fused_output():
    a = np.ones((64, 1000))
    counts, _, _ = activation_histogram("tanh", a)
    assert sum(counts) == 8000  # 8192 // 1000 = 8 rows of 1000 units
    # A softmax output fused with its loss shows the probe its logits; the histogram is of the probabilities.
    z = np.array([[0.0, 0.0], [100.0, 0.0]])
    counts, _, _ = activation_histogram("softmax", z, logits=True)
    assert [i for i, c in enumerate(counts) for _ in range(c)] == [0, 10, 10, 19]  # 1/2, 1/2, 1, 0
    assert len(counts) == HIST_BINS


def test_torn_last_lines_are_skipped(seed_run, tmp_path):
    out, _ = seed_run
    copy = tmp_path / "torn"
    shutil.copytree(out, copy)
    before = read_run(copy)
    with open(copy / "health.jsonl", "a") as f:
        f.write('{"step": 999, "loss": 0.5, "layers": [{"lay')
    with open(copy / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 2, "st')
    after = read_run(copy)
    assert len(after.probes) == len(before.probes) and len(after.metrics) == len(before.metrics) == 1
    assert after.probes.steps.tolist() == before.probes.steps.tolist() and after.diagnoses == before.diagnoses


def _small_run(folder, dataset):
    """A run folder by hand: config, one epoch of metrics, two probes, a model that names ``dataset``."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"dataset": dataset, "hidden": [8], "activation": "relu"}))
    (folder / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "step": 10, "train_loss": 1.0,
        "train_accuracy": 0.5, "val_loss": None, "val_accuracy": None, "seconds": 0.1}) + "\n")  # fmt: skip
    layer = {"layer": 0, "activation": "relu", "grad_norm": 0.1, "update_ratio": 1e-3, "dead": 0.25,
             "a_hist": [0] * 10 + [5, 3] + [0] * 8, "a_bins": [-5.0, 5.0], "a_scale": "symlog"}  # fmt: skip
    lines = [{"step": s, "loss": 1.0, "layers": [layer]} for s in (1, 10)]
    lines.append({"event": "rollback", "reason": "non_finite", "step": 5, "restored_step": 0, "lr_scale": 0.5})
    (folder / "health.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    net = mlp([784, 8, 10], "relu", "softmax", rng=np.random.default_rng(0))
    meta = {"sizes": [784, 8, 10], "activation": "relu", "output": "softmax", "dropout": 0.0, "dtype": "float32",
            "dataset": dataset, "input": {"shift": 0.0, "scale": 255.0, "image_shape": [28, 28]}}  # fmt: skip
    save_model(folder / "model.npz", net, meta)
    return folder


@pytest.fixture(scope="module")
def hand_run(tmp_path_factory):
    """A hand-made run folder whose data set is missing, after ``gradwise report FOLDER --tensorboard TB``."""
    root = tmp_path_factory.mktemp("hand")
    folder = _small_run(root / "run", str(root / "no-such-data"))
    assert main(["report", str(folder), "--tensorboard", str(root / "tb")]) == 0
    return folder, root / "tb"


def test_missing_data_set_leaves_out_the_test_figures_with_a_note(hand_run):
    folder, _ = hand_run
    page = (folder / "report.html").read_text()
    assert f"data set &#x27;{folder.parent / 'no-such-data'}&#x27; not loaded" in page
    assert "the confusion matrix and the misclassified digits are left out" in page
    names = {p.name for p in folder.glob("report-*.png")}
    assert names == {f"report-{n}.png" for n in ("loss", "gradient-norms", "saturation", "activations",
                                                  "update-ratio", "first-layer-weights")}  # fmt: skip
    assert "rollback" in page  # the guard's event, in the table and on the timeline


def test_no_model_leaves_out_the_model_figures_and_stale_pngs_go(tmp_path):
    folder = _small_run(tmp_path / "run", str(tmp_path / "no-such-data"))
    (folder / "model.npz").unlink()
    (folder / "report-first-layer-weights.png").write_bytes(b"an earlier report's")
    page = write_report(folder).read_text()
    assert "no model.npz (a run that ended on non-finite weights saves none)" in page
    assert not (folder / "report-first-layer-weights.png").exists()  # a figure this report does not have


def test_sweep_report_embeds_the_map_and_lists_the_trials(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    Image.new("RGB", (40, 30), "green").save(sweep / "map.png")
    records = [
        {"key": "a" * 16, "axes": {"lr": "0.1", "hidden": "30"}, "outcome": "trained", "onset_step": None,
         "val_accuracy": 0.91, "steps": 100, "seconds": 1.5, "diagnoses": []},
        {"key": "b" * 16, "axes": {"lr": "10", "hidden": "30"}, "outcome": "non_finite", "onset_step": 12,
         "val_accuracy": None, "train_accuracy": 0.1, "steps": 12, "seconds": 0.4,
         "diagnoses": [{"symptom": "non_finite"}]},
    ]  # fmt: skip
    (sweep / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"key": "c')
    assert main(["report", str(sweep)]) == 0
    assert capsys.readouterr().out.startswith(f"report: {sweep / 'report.html'}")
    page = (sweep / "report.html").read_text()
    (source,) = images_of(page)
    assert base64.b64decode(source.split(",", 1)[1]) == (sweep / "map.png").read_bytes()
    assert "Trials (2)" in page and ">trained</span>" in page and ">non_finite</span>" in page
    assert "<td class=\"num\">0.9100</td>" in page and "<td class=\"num\">12</td>" in page
    (sweep / "map.png").unlink()
    assert "no map.png in" in write_report(sweep).read_text()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "absent", "{p}: does not exist; give a run folder (train --out) or a sweep folder "
                                 "(sweep --out)"),
        (lambda p: p, "{p}: neither a run folder (no config.json or metrics.jsonl) nor a sweep folder (no "
                      "results.jsonl); give the folder gradwise train --out or gradwise sweep --out wrote"),
    ],
)  # fmt: skip
def test_report_on_a_folder_that_is_not_a_run_or_sweep_is_one_line_exit_2(tmp_path, capsys, make, message):
    path = make(tmp_path)
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {message.format(p=path)}\n"


def test_tensorboard_without_tensorboardx_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import tensorboardX now raises ImportError
    assert main(["train", *SEED, "--out", str(tmp_path / "r"), "--tensorboard", str(tmp_path / "tb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --tensorboard: tensorboardX is not installed (") and err.count("\n") == 1
    assert err.endswith("pip install 'gradwise[tensorboard]' (tensorboardX)\n")
    assert not (tmp_path / "r").exists()  # refused before training


# -- TensorBoard files, read back without TensorBoard: TFRecord framing with CRC-32C, then the Event protobuf ----


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), bit by bit: slow, and independent of the writer's table."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(folder):
    from tensorboardX.proto.event_pb2 import Event

    (path,) = folder.glob("events.out.tfevents.*")
    data, i, events = path.read_bytes(), 0, []
    while i < len(data):
        header = data[i : i + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[i + 8 : i + 12])[0] == masked(crc32c(header))
        payload = data[i + 12 : i + 12 + length]
        assert struct.unpack("<I", data[i + 12 + length : i + 16 + length])[0] == masked(crc32c(payload))
        events.append(Event.FromString(payload))
        i += 16 + length
    return events


def summaries(events):
    """tag -> [(step, value)]: a float for a scalar, the HistogramProto for a histogram, the text for a text."""
    found = {}
    for event in events:
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            shown = {"simple_value": value.simple_value, "histo": value.histo}.get(kind, kind)
            if kind == "tensor":
                shown = b"".join(value.tensor.string_val).decode()
            found.setdefault(value.tag, []).append((event.step, shown))
    return found


def test_crc32c_check_value():
    assert crc32c(b"123456789") == 0xE3069283  # the catalogue's check value for CRC-32C


def test_tensorboard_scalars_and_histograms_read_back(seed_run):
    out, tb = seed_run
    found = summaries(read_events(tb))
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert found["loss/train"] == [(metrics[0]["step"], pytest.approx(metrics[0]["train_loss"]))]
    assert found["accuracy/val"] == [(metrics[0]["step"], pytest.approx(metrics[0]["val_accuracy"]))]
    run = read_run(out)
    steps = run.probes.steps.astype(int).tolist()
    for tag in ("grad_norm/layer_0", "grad_norm/layer_1", "saturated/layer_0", "update_ratio/layer_1", "loss/probed"):
        assert [s for s, _ in found[tag]] == steps, tag
    assert [v for _, v in found["saturated/layer_0"]] == pytest.approx(run.probes.columns["saturated"][0].tolist())
    assert "dead/layer_0" not in found  # a sigmoid layer has no dead fraction
    step, histo = found["activations/layer_0"][-1]
    assert step == steps[-1] and histo.num == sum(histo.bucket) > 0
    assert list(histo.bucket_limit) == pytest.approx(np.linspace(0, 1, HIST_BINS + 1)[1:].tolist())
    assert histo.bucket[-1] == histo.num  # saturated: every activation in the top bucket
    texts = [text for _, text in found["diagnoses/text_summary"]]
    assert any(text.startswith("**saturation** (layer 0) since step 0: weights drawn from U(0, 1)") for text in texts)


def test_tensorboard_export_of_a_run_folder_and_symlog_buckets(hand_run, tmp_path):
    folder, tb = hand_run
    found = summaries(read_events(tb))
    assert [s for s, _ in found["dead/layer_0"]] == [1, 10]
    (_, histo), _ = found["activations/layer_0"]
    # The symlog edges mapped back to activations: s = 0.5 -> a = 0.01 (10^0.5 - 1) = 0.0216.
    assert histo.bucket_limit[10] == pytest.approx(0.01 * (10**0.5 - 1))
    assert list(histo.bucket[10:12]) == [5, 3] and histo.num == 8
    assert bucket_edges(-5, 5, "symlog", 20)[0] == pytest.approx(-0.01 * (1e5 - 1))
    assert export_run(folder, tmp_path / "tb2") == tmp_path / "tb2"
    assert summaries(read_events(tmp_path / "tb2")).keys() == found.keys()
