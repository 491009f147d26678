"""Fuzzing the two readers of untrusted bytes: any input either parses or raises the documented one-line error.

``load_model`` (model.npz) must raise only CheckpointError, and ``read_idx_bytes`` only IdxError, whatever the
bytes; neither may allocate what the file cannot back. test_idx.py already fuzzes the IDX reader with random
bytes and byte-level damage; here are its header fields, and everything for the model loader. The budget is
small so ``make test`` stays quick: ``python benchmarks/fuzz.py --cases 10000`` is the long run.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradwise.data.idx import IdxError, read_idx_bytes
from gradwise.nn.network import mlp
from gradwise.nn.specs import layer_specs, param_shapes
from gradwise.train.archive import CheckpointError
from gradwise.train.model_file import _mlp_specs, architecture, load_model, save_model

FUZZ = settings(max_examples=60, deadline=None)
U32 = st.one_of(st.sampled_from([0, 1, 2, 255, 2**31, 2**32 - 1]), st.integers(0, 2**32 - 1))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def members(scratch: Path) -> dict[str, bytes]:
    """The members (name -> .npy bytes) of a valid 5-4-3 tanh/softmax model.npz with dropout."""
    net = mlp([5, 4, 3], "tanh", "softmax", dropout=0.5, rng=0)
    path = scratch / "valid.npz"
    save_model(path, net, {**architecture(net), "loss": "ce", "input": {"shift": 0, "scale": 255}})
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def load_or_refuse(scratch: Path, data: bytes) -> str:
    """Load `data` as a model.npz: "loaded" (and it predicts) or "refused" with a one-line message naming it."""
    path = scratch / "model.npz"
    path.write_bytes(data)
    try:
        net, meta = load_model(path)
    except CheckpointError as error:
        message = str(error)
        assert message.startswith(f"{path}: ") and "\n" not in message, message
        return "refused"
    assert net.predict(np.zeros((2, meta["sizes"][0]))).shape == (2, meta["sizes"][-1])
    return "loaded"


def test_the_valid_model_loads(scratch: Path, members: dict[str, bytes]) -> None:
    assert load_or_refuse(scratch, zipped(members)) == "loaded"


@FUZZ
@given(data=st.binary(max_size=300) | st.binary(max_size=100).map(lambda tail: b"PK\x03\x04" + tail))
def test_random_bytes_are_refused(scratch: Path, data: bytes) -> None:
    assert load_or_refuse(scratch, data) == "refused"


@FUZZ
@given(data=st.data())
def test_damaged_archives_load_or_raise_checkpoint_error(
    scratch: Path, members: dict[str, bytes], data: st.DataObject
) -> None:
    archive = bytearray(zipped(members))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(archive) - 1))
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if op == "flip":
            archive[at] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del archive[at:]
        elif op == "insert":
            archive[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del archive[at : at + data.draw(st.integers(1, 8))]
        if not archive:
            break
    load_or_refuse(scratch, bytes(archive))


@FUZZ
@given(
    name=st.sampled_from(["0.W.npy", "0.b.npy", "2.W.npy", "__meta__.npy"]),
    shape=st.lists(st.integers(-1, 2**63 - 1) | st.sampled_from([0, 1, 3, 4, 5, 10**12]), max_size=3),
    descr=st.sampled_from(["<f4", ">f8", "<f2", "|O", "<i4", "|b1", "<U8", "|V8", "<c8", "|S2"]),
    fortran=st.booleans(),
)
def test_any_npy_header_is_checked_before_reading(
    scratch: Path, members: dict[str, bytes], name: str, shape: list[int], descr: str, fortran: bool
) -> None:
    # The header may declare 2**63 items of an object dtype: the loader must refuse without allocating them.
    old = members[name]
    header_len = struct.unpack_from("<H", old, 8)[0]
    header = f"{{'descr': {descr!r}, 'fortran_order': {fortran}, 'shape': {tuple(shape)!r}, }}\n"
    damaged = old[:8] + struct.pack("<H", len(header)) + header.encode() + old[10 + header_len :]
    load_or_refuse(scratch, zipped({**members, name: damaged}))


def test_a_header_declaring_gigabytes_is_refused_without_reading_them(scratch: Path, members: dict[str, bytes]) -> None:
    # __meta__ and the .npy header agree on a 5 x 10**9 float32 array (20 GB); the member holds 80 bytes.
    meta = json.loads(str(np.lib.format.read_array(io.BytesIO(members["__meta__.npy"]))))
    old = members["0.W.npy"]
    header_len = struct.unpack_from("<H", old, 8)[0]
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': (5, {10**9}), }}".ljust(header_len - 1) + "\n"
    dense = [layer for layer in meta["layers"] if layer["kind"] == "Dense"]
    dense[0]["shape"], dense[1]["shape"] = [5, 10**9], [10**9, 3]
    damaged = {
        **members,
        "__meta__.npy": npy(np.array(json.dumps({**meta, "sizes": [5, 10**9, 3]}))),
        "0.W.npy": old[:10] + header.encode() + old[10 + header_len :],
    }
    (scratch / "model.npz").write_bytes(zipped(damaged))
    with pytest.raises(CheckpointError) as error:
        load_model(scratch / "model.npz")
    assert str(error.value) == (
        f"{scratch / 'model.npz'}: array 0.W holds 80 bytes but its header declares 20000000000; "
        "the file is damaged: re-save the model"
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(
    key=st.sampled_from(["format", "sizes", "activation", "output", "dropout", "dtype", "loss", "input", "dataset"]),
    value=JSON | st.lists(st.integers(-2, 2**40), min_size=0, max_size=5),
    delete=st.booleans(),
)
def test_any_meta_value_loads_or_is_refused(
    scratch: Path, members: dict[str, bytes], key: str, value: object, delete: bool
) -> None:
    meta = json.loads(str(np.lib.format.read_array(io.BytesIO(members["__meta__.npy"]))))
    if delete:
        meta.pop(key, None)
    else:
        meta[key] = value
    load_or_refuse(scratch, zipped({**members, "__meta__.npy": npy(np.array(json.dumps(meta)))}))


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    dropout=st.sampled_from([0.0, 0.3]),
)
def test_the_loaders_parameter_shapes_match_mlp(sizes: list[int], dropout: float) -> None:
    # load_model checks every array against these shapes before building the network: they must be the
    # network's, from its saved layers and from an older file's mlp description alike.
    net = mlp(sizes, "relu", "softmax", dropout=dropout, rng=0)
    expected = {name: value.shape for name, value in net.params.items()}
    assert param_shapes(layer_specs(net)) == expected
    older = {"sizes": sizes, "activation": "relu", "output": "softmax", "dropout": dropout}
    assert param_shapes(_mlp_specs(older)) == expected


# --- IDX header fields ---------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]) | st.integers(0, 255),
    ndim=st.integers(0, 10) | st.integers(0, 255),
    sizes=st.lists(U32, max_size=10),
    payload=st.integers(0, 200),
    gz=st.booleans(),
)
def test_any_idx_header_parses_or_raises_idx_error(
    code: int, ndim: int, sizes: list[int], payload: int, gz: bool
) -> None:
    import gzip

    raw = bytes([0, 0, code, ndim]) + b"".join(struct.pack(">I", n) for n in sizes) + bytes(payload)
    try:
        array = read_idx_bytes(gzip.compress(raw, mtime=0) if gz else raw, "fuzz.idx")
    except IdxError as error:
        assert str(error).startswith("fuzz.idx: ") and "\n" not in str(error)
        return
    # It parsed, so the header matched the bytes after it (the payload is zeros: sizes past the list read as 0).
    assert array.shape == tuple((sizes + [0] * ndim)[:ndim])
    assert array.nbytes == len(raw) - 4 - 4 * ndim
