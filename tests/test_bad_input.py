"""The bad-input catalogue: every way a user can hand gradwise a broken file or value, and the one line it prints.

Each case asserts the exact message (naming the input, what is wrong and what to do), exit code 2, and that
nothing was written. Cases tested elsewhere are not repeated here:

* tests/test_idx.py -- the IDX reader on its own: every corrupt-header message (empty, truncated, wrong magic,
  unknown type code, 0 or > 8 dimensions, sizes that do not match the file, trailing bytes, absurd sizes),
  corrupt gzip, a directory or a missing file, image/label pairs that do not fit (counts, label range, shapes).
* tests/test_model_file.py -- ``load_model`` on its own: missing, extra, misshapen, integer and non-finite
  arrays, a missing or broken ``__meta__``, object arrays, truncated files, a zip that is not a model;
  ``config.json`` malformed or with unknown keys; a run folder that is a file.
* tests/test_cli.py -- flags out of range (--lr <= 0, --batch-size 0, --hidden 0, --dropout >= 1, unknown
  activation, loss, optimizer, initializer, preset), flags that are not numbers, --out that is a file, a PNG
  that is not an image, a missing run, the console entry point's exit code.
* tests/test_fuzz.py -- any bytes given to the IDX reader or the model loader.

Here: the same damage met through the ``gradwise`` command (train --dataset DIR, evaluate, predict), the
values and files those tests do not reach, and a real subprocess for each command to show no traceback.
``config.json`` is read by ``RunFolder.read_config`` + ``TrainConfig.from_dict``; until ``train --resume``
exists those are tested directly.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gradwise.cli.main import main
from gradwise.data.idx import write_idx
from gradwise.nn.network import mlp
from gradwise.train.archive import CheckpointError
from gradwise.train.config import ConfigError, TrainConfig, preset
from gradwise.train.model_file import architecture, save_model
from gradwise.train.run_folder import RunFolder

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DAMAGED = "the file is damaged or not an IDX file: re-download or re-create it"
TINY = ["--validation", "2", "--epochs", "1", "--hidden", "4", "--batch-size", "4"]


def fails(argv: list[str], capsys: pytest.CaptureFixture[str], printed: list[str] | None = None) -> str:
    """Run the command: it must exit 2 with exactly one line on stderr; -> that line without 'error: '.

    What it printed on stdout is appended to `printed`, if given.
    """
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err
    if printed is not None:
        printed.append(out)
    return err[len("error: ") : -1]


def leftovers(folder: Path) -> list[str]:
    """Files a failed command left where it should have written nothing."""
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


# --- IDX files, met through `gradwise train --dataset DIR` ---------------------------------------------------


def header(code: int, *shape: int) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def data_folder(folder: Path, **replace: bytes | np.ndarray | None) -> Path:
    """Four raw IDX files of 8 training and 3 test 4x4 images in 3 classes; `replace` swaps one (None: a folder)."""
    rng = np.random.default_rng(0)
    arrays = {
        STEMS[0]: rng.integers(0, 256, (8, 4, 4), dtype=np.uint8),
        STEMS[1]: np.array([0, 1, 2, 0, 1, 2, 0, 1], np.uint8),
        STEMS[2]: rng.integers(0, 256, (3, 4, 4), dtype=np.uint8),
        STEMS[3]: np.array([2, 1, 0], np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        content = replace.get(stem.replace("-", "_"), array)
        if content is None:
            (folder / stem).mkdir()
        elif isinstance(content, bytes):
            (folder / stem).write_bytes(content)
        else:
            write_idx(folder / stem, content, compress=False)
    return folder


TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = (stem.replace("-", "_") for stem in STEMS)
GOOD_IMAGES = header(0x08, 8, 4, 4) + bytes(128)

BROKEN_DATA = [
    pytest.param(TRAIN_IMAGES, b"", f"empty file (0 bytes); {DAMAGED}", id="empty"),
    pytest.param(
        TRAIN_IMAGES,
        GOOD_IMAGES[:100],
        f"truncated: header declares 128 items (128 bytes of data, shape 8x4x4) but the file holds 84; {DAMAGED}",
        id="truncated",
    ),
    pytest.param(
        TRAIN_LABELS,
        b"\x01\x02" + header(0x08, 8)[2:] + bytes(8),
        f"wrong magic number 0x01020801: IDX files start with two zero bytes; {DAMAGED}",
        id="wrong-magic",
    ),
    pytest.param(
        TRAIN_LABELS,
        header(0x07, 8) + bytes(8),
        "unknown type code 0x07 (known: 0x08 ubyte, 0x09 byte, 0x0b short, 0x0c int, 0x0d float, 0x0e double); "
        + DAMAGED,
        id="unknown-type-code",
    ),
    pytest.param(
        TEST_IMAGES,
        header(0x08, 7, 4, 4) + bytes(48),  # declares 7 images, holds 3
        f"truncated: header declares 112 items (112 bytes of data, shape 7x4x4) but the file holds 48; {DAMAGED}",
        id="sizes-do-not-match-the-file",
    ),
    pytest.param(
        TEST_LABELS,
        header(0x08, 3) + bytes(5),
        f"trailing bytes: header declares 3 items (3 bytes of data, shape 3) but the file holds 5; {DAMAGED}",
        id="trailing-bytes",
    ),
    pytest.param(
        TEST_LABELS,
        gzip.compress(header(0x08, 3) + bytes(3))[:-6],
        "corrupt gzip data (Compressed file ended before the end-of-stream marker was reached); "
        "re-download or re-create it",
        id="corrupt-gzip",
    ),
]


@pytest.mark.parametrize(("which", "content", "problem"), BROKEN_DATA)
def test_a_broken_idx_file_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str, content: bytes, problem: str
) -> None:
    folder = data_folder(tmp_path / "data", **{which: content})
    out = tmp_path / "run"
    message = fails(["train", "--dataset", str(folder), *TINY, "--out", str(out)], capsys)
    assert message == f"{folder / which.replace('_', '-')}: {problem}"
    assert not out.exists()  # the data is read before the run folder is made


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        pytest.param(
            {TEST_LABELS: np.array([0, 1], np.uint8)},
            "{d}/t10k-labels-idx1-ubyte: holds 2 labels but {d}/t10k-images-idx3-ubyte holds 3 images; "
            "both files must come from the same data set and split",
            id="images-and-labels-of-different-counts",
        ),
        pytest.param(
            {TRAIN_LABELS: np.array([0, 1, 2, 0, -1, 2, 0, 1], np.int8)},
            "{d}/train-labels-idx1-ubyte: label -1 at index 4 is negative; class labels are 0, 1, 2, ...: "
            "is it the right file?",
            id="negative-label",
        ),
        pytest.param(
            {TEST_LABELS: None},
            "{d}/t10k-labels-idx1-ubyte: is a folder, not an IDX file; put the file t10k-labels-idx1-ubyte "
            "(raw or .gz) in its place",
            id="a-directory-where-a-file-belongs",
        ),
        pytest.param(
            {TRAIN_IMAGES: np.zeros((0, 4, 4), np.uint8), TRAIN_LABELS: np.zeros(0, np.uint8)},
            "{d}/train-images-idx3-ubyte: holds no images; a data set needs at least one training image",
            id="no-training-images",
        ),
        pytest.param(
            {TEST_IMAGES: np.zeros((3, 0, 0), np.uint8)},
            "{d}/t10k-images-idx3-ubyte: holds images of 0x0 pixels; is it the right file?",
            id="images-of-no-pixels",
        ),
        pytest.param(
            {TEST_IMAGES: np.zeros((3, 5, 5), np.uint8)},
            "{d}/t10k-images-idx3-ubyte: images are 5x5 but those in {d}/train-images-idx3-ubyte are 4x4; "
            "both must come from one data set",
            id="images-of-two-sizes",
        ),
    ],
)
def test_files_that_do_not_fit_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], replace: dict[str, np.ndarray | None], message: str
) -> None:
    folder = data_folder(tmp_path / "data", **replace)
    out = tmp_path / "run"
    assert fails(["train", "--dataset", str(folder), *TINY, "--out", str(out)], capsys) == message.format(d=folder)
    assert not out.exists()


def test_labels_out_of_range_for_a_known_data_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRADWISE_DATA", raising=False)
    folder = data_folder(tmp_path / "fashion", train_labels_idx1_ubyte=np.array([0, 1, 2, 10, 1, 2, 0, 1], np.uint8))
    message = fails(["train", "--dataset", "fashion-mnist", "--data-dir", str(folder), *TINY], capsys)
    assert message == (
        f"{folder}/train-labels-idx1-ubyte: label 10 at index 3 is outside [0, 10); "
        "the labels do not belong to a 10-class data set"
    )


# --- model.npz, met through `gradwise evaluate` and `gradwise predict` -----------------------------------------


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A run folder holding an (untrained) 784-4-10 model.npz."""
    net = mlp([784, 4, 10], "relu", "softmax", rng=0)
    meta = {**architecture(net), "loss": "ce", "dataset": "mnist",
            "input": {"shift": 0.0, "scale": 255.0, "image_shape": [28, 28]}}  # fmt: skip
    (tmp_path / "run").mkdir()
    save_model(tmp_path / "run" / "model.npz", net, meta)
    return tmp_path / "run" / "model.npz"


@pytest.fixture
def digit(tmp_path: Path) -> Path:
    picture = np.full((40, 30), 255, np.uint8)
    picture[8:32, 13:17] = 0  # a "1", black on white
    Image.fromarray(picture).save(tmp_path / "digit.png")
    return tmp_path / "digit.png"


def rewrite(path: Path, **changes: np.ndarray | None) -> None:
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays.update(changes)
    np.savez(path, **{name: value for name, value in arrays.items() if value is not None})  # type: ignore[arg-type]


def with_meta(path: Path, **changes: object) -> None:
    with np.load(path) as archive:
        meta = json.loads(str(archive["__meta__"]))
    rewrite(path, __meta__=np.array(json.dumps({**meta, **changes})))


BROKEN_MODELS = [
    pytest.param(
        lambda p: p.write_bytes(p.read_bytes()[:-100]),
        "damaged or not a model file (BadZipFile); re-save the model",
        id="truncated",
    ),
    pytest.param(
        lambda p: p.write_bytes(b""), "damaged or not a model file (BadZipFile); re-save the model", id="empty"
    ),
    pytest.param(
        lambda p: rewrite(p, **{"0.W": np.zeros((4, 784), np.float32)}),
        "array 0.W has shape (4, 784), the architecture needs (784, 4)",
        id="wrong-shape",
    ),
    pytest.param(
        lambda p: rewrite(p, **{"1.b": None}),
        "missing arrays 1.b for the architecture it declares",
        id="missing-array",
    ),
    pytest.param(
        lambda p: rewrite(p, optimizer_state=np.zeros(3)),
        "unexpected arrays optimizer_state for the architecture it declares",
        id="extra-array",
    ),
    pytest.param(
        lambda p: with_meta(p, sizes=[784, 10**9, 10], layers=[  # checked before 3 GB are allocated for it
            {"kind": "Dense", "shape": [784, 10**9], "activation": "relu"},
            {"kind": "Dense", "shape": [10**9, 10], "activation": "softmax"}]),
        "array 0.W has shape (784, 4), the architecture needs (784, 1000000000)",
        id="absurd-sizes",
    ),
    pytest.param(
        lambda p: with_meta(p, dtype="int8"),
        'its architecture is unusable (dtype must be float32 or float64, not "int8"); re-save the model',
        id="meta-dtype",
    ),
    pytest.param(
        lambda p: with_meta(p, input={"shift": 0, "scale": 0}),
        'its architecture is unusable (input must hold a finite shift and a finite non-zero scale, not {"shift": 0, '
        '"scale": 0}); re-save the model',
        id="meta-input-scaling",
    ),
    pytest.param(
        lambda p: with_meta(p, loss="hinge"),
        "its architecture is unusable (unknown loss 'hinge'; choose one of: mse, bce, ce (mse, binary_cross_entropy, "
        "binary_cross_entropy_from_logits, cross_entropy, softmax_cross_entropy)); re-save the model",
        id="meta-loss",
    ),
]


@pytest.mark.parametrize("command", ["evaluate", "predict"])
@pytest.mark.parametrize(("damage", "problem"), BROKEN_MODELS)
def test_a_broken_model_is_named(
    model: Path, digit: Path, capsys: pytest.CaptureFixture[str], command: str, damage, problem: str
) -> None:
    damage(model)
    argv = [command, str(model), *([str(digit)] if command == "predict" else [])]
    assert fails(argv, capsys) == f"{model}: {problem}"


class Trap:
    """Unpickling this would create a file: the proof that a model's object arrays are never unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_object_arrays_are_refused_never_unpickled(
    model: Path, digit: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    marker = tmp_path / "unpickled"
    rewrite(model, **{"0.b": np.array([Trap(marker)], dtype=object)})
    argv = [command, str(model), *([str(digit)] if command == "predict" else [])]
    assert fails(argv, capsys) == f"{model}: holds object arrays, which are never unpickled; re-save the model"
    assert not marker.exists()
    with np.load(model, allow_pickle=True) as archive:
        archive["0.b"]  # what load_model must never do: the trap is armed
    assert marker.exists()


def test_a_model_for_other_data(model: Path, tmp_path: Path, digit: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = data_folder(tmp_path / "data")  # 4x4 images: 16 pixels, 3 classes
    assert fails(["evaluate", str(model), "--dataset", str(folder)], capsys) == (
        f"{model}: the model takes 784 inputs and predicts 10 classes, but data has 16 pixels per image and 3 "
        "classes; give --dataset the data set it was trained on"
    )
    net = mlp([16, 3], "identity", "softmax", rng=0)
    save_model(model, net, {**architecture(net), "input": {"shift": 0.0, "scale": 255.0}})
    assert fails(["predict", str(model), str(digit)], capsys) == (
        f"{model}: the model takes 16 inputs, but predict turns pictures into 28x28 = 784 pixels; use a model "
        "trained on 28x28 images such as MNIST"
    )


def test_a_run_folder_without_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run" / "model.npz").mkdir(parents=True)  # a folder where the file belongs
    assert fails(["evaluate", str(tmp_path / "run")], capsys) == (
        f"{tmp_path / 'run' / 'model.npz'}: is not a file; give a run folder or its model.npz"
    )


# --- pictures, met through `gradwise predict` -----------------------------------------------------------------


def png_header(width: int, height: int) -> bytes:
    """An 8-bit grey PNG of that size whose pixel data is empty: Pillow learns its size, decodes nothing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    size = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + size + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(b"", "not a readable image (UnidentifiedImageError); give a PNG or JPEG file", id="empty"),
        pytest.param("truncate", "not a readable image (OSError); give a PNG or JPEG file", id="truncated-png"),
        pytest.param(
            png_header(100_000, 100_000),  # refused before any pixel is decoded
            "too large (over 64 million pixels); shrink it or crop it to the digit",
            id="decompression-bomb",
        ),
        pytest.param("blank", "the picture is blank; it holds no digit", id="blank"),
        pytest.param("folder", "is a folder, not an image file", id="a-folder"),
        pytest.param("missing", "does not exist", id="missing"),
    ],
)
def test_a_picture_that_is_not_a_digit(
    model: Path, digit: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | str, problem: str
) -> None:
    path = tmp_path / "picture.png"
    if content == "truncate":
        path.write_bytes(digit.read_bytes()[:60])
    elif content == "blank":
        Image.new("L", (20, 20), 255).save(path)
    elif content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    printed: list[str] = []
    assert fails(["predict", str(model), str(digit), str(path)], capsys, printed) == f"{path}: {problem}"
    assert printed == [""]  # every picture is read before the first prediction is printed


def test_a_picture_too_large_to_decode(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.png"
    Image.new("L", (9000, 8000), 255).save(path)  # 72 million pixels, a few kB of PNG
    assert fails(["predict", str(model), str(path)], capsys) == (
        f"{path}: too large (9000x8000, over 64 million pixels); shrink it or crop it to the digit"
    )


# --- config.json (RunFolder.read_config + TrainConfig.from_dict: the CLI path comes with --resume) ---------------


def read_config(folder: Path) -> TrainConfig:
    return TrainConfig.from_dict(RunFolder(folder).read_config(), str(folder / "config.json"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("[1, 2]", "must hold a JSON object", id="not-an-object"),
        pytest.param(
            "[" * 100_000,
            "malformed JSON (maximum recursion depth exceeded while decoding a JSON array from a unicode string); "
            "fix or delete it",
            id="deeply-nested",
        ),
        pytest.param(
            b"\xff\xfe{}",
            "malformed JSON ('utf-8' codec can't decode byte 0xff in position 0: invalid start byte); fix or delete it",
            id="not-utf-8",
        ),
    ],
)
def test_malformed_config(tmp_path: Path, text: str | bytes, problem: str) -> None:
    config = tmp_path / "config.json"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(CheckpointError) as error:
        read_config(tmp_path)
    assert str(error.value) == f"{config}: {problem}"


def test_config_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "config.json").mkdir()
    with pytest.raises(CheckpointError) as error:
        read_config(tmp_path)
    assert str(error.value) == f"{tmp_path / 'config.json'}: cannot read it (Is a directory); is it a file?"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"lr": "fast"}, 'lr must be a number, not "fast"; fix the value'),
        ({"lr": None}, "lr must be a number, not null; fix the value"),
        ({"hidden": 100}, "hidden must be a list of integers, not 100; fix the value"),
        ({"hidden": [100, 1.5]}, "hidden must be a list of integers, not [100, 1.5]; fix the value"),
        ({"batch_size": 12.0}, "batch_size must be an integer, not 12.0; fix the value"),
        ({"seed": True}, "seed must be an integer, not true; fix the value"),
        ({"clip_norm": "1"}, 'clip_norm must be a number or null, not "1"; fix the value'),
        ({"init": 3}, "init must be a string or null, not 3; fix the value"),
        # A value out of range in a file names the file's key (before: the flag, --lr, which the file does not use).
        ({"lr": 0}, "lr must be > 0, got 0"),
        ({"dropout": 1.0}, "dropout must be in [0, 1), got 1"),
        ({"optimizer": "lion"}, "optimizer: unknown 'lion'; choose one of: sgd, momentum, nesterov, adam, adamw, "
                                "rmsprop"),
    ],
)
def test_config_values_of_the_wrong_type_or_out_of_range(
    tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**json.loads(preset("default").to_json()), **change}))
    with pytest.raises(ConfigError) as error:
        read_config(tmp_path)
    assert str(error.value) == f"{tmp_path / 'config.json'}: {problem}"


# --- flags out of range (those tests/test_cli.py does not cover) -----------------------------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--output", "swish"], "--output: unknown activation 'swish'; choose one of: identity, sigmoid, tanh, "
                                "relu, leaky_relu, elu, softplus, softmax"),
        (["--schedule", "linear"], "--schedule: unknown 'linear'; choose one of: constant, step, exponential, cosine"),
        (["--dtype", "float16"], "--dtype: unknown 'float16'; choose one of: float32, float64"),
        (["--normalize", "zscore"], "--normalize: unknown 'zscore'; choose one of: unit, standard, none"),
        (["--lr", "nan"], "--lr must be > 0, got nan"),
        (["--epochs", "0"], "--epochs must be >= 1, got 0"),
        (["--dropout", "-0.1"], "--dropout must be in [0, 1), got -0.1"),
        (["--momentum", "1"], "--momentum must be in [0, 1), got 1"),
        (["--seed", "-1"], "--seed must be >= 0, got -1"),
        (["--bias-init", "nan"], "--bias-init must be a finite number, got nan"),
        (["--weight-decay", "inf"], "--weight-decay must be finite, got inf"),
        (["--close-enough", "0"], "--close-enough must be > 0, got 0.0"),
        (["--target-accuracy", "95"], "--target-accuracy must be in (0, 1], got 95.0"),
        (["--init-scale", "0.1"], "--init-scale needs --init too (normal, uniform or constant)"),
        (["--init", "normal", "--init-scale", "-1"], "--init-scale must be > 0 for --init normal, got -1"),
        (["--validation", "60000"], "validation=60000 is out of range: mnist has 60000 training images; use 0 to "
                                    "59999"),
    ],
)
def test_flags_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    out = tmp_path / "run"
    assert fails(["train", *flags, "--out", str(out)], capsys) == message
    assert not out.exists()


def test_an_output_folder_inside_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = data_folder(tmp_path / "data")
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "run"
    assert fails(["train", "--dataset", str(folder), *TINY, "--out", str(out)], capsys) == (
        f"{out}: cannot create the run folder (Not a directory); choose another --out"
    )


def test_a_network_too_large_to_allocate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = data_folder(tmp_path / "data")
    out = tmp_path / "run"
    message = fails(["train", "--dataset", str(folder), *TINY, "--hidden", "10000000000000", "--out", str(out)], capsys)
    assert message == (
        "--hidden 10000000000000: a 16-10000000000000-3 network needs 745058.1 GiB for its weights alone, more "
        "than this machine can allocate; use smaller layers"
    )
    assert "model.npz" not in leftovers(out) and not any(name.endswith(".tmp") for name in leftovers(out))


# --- no traceback: the real command in a subprocess ------------------------------------------------------------


def test_the_command_prints_one_line_and_no_traceback(model: Path, tmp_path: Path) -> None:
    folder = data_folder(tmp_path / "data", train_images_idx3_ubyte=GOOD_IMAGES[:100])
    model.write_bytes(model.read_bytes()[:-100])
    commands = {
        ("train", "--dataset", str(folder), *TINY, "--out", str(tmp_path / "new-run")): (
            f"{folder}/train-images-idx3-ubyte: truncated: header declares 128 items (128 bytes of data, shape "
            f"8x4x4) but the file holds 84; {DAMAGED}"
        ),
        ("evaluate", str(model)): f"{model}: damaged or not a model file (BadZipFile); re-save the model",
    }
    for argv, message in commands.items():
        result = subprocess.run([sys.executable, "-m", "gradwise", *argv], capture_output=True, text=True, check=False)
        assert (result.returncode, result.stderr) == (2, f"error: {message}\n")
    assert not (tmp_path / "new-run").exists()
