"""Fuzz the IDX reader, the model loader and the trace reader: any bytes either parse or raise the documented error.

Targets: ``idx`` (``read_idx_bytes``, and ``read_idx`` on the same bytes as a file, which must agree),
``model`` (``load_model`` on a ``model.npz``; a model that loads must also predict) and ``trace``
(``gradwise verify`` on a trace whose ``trace.npz`` or ``W0.txt`` is damaged: a report or one TraceError
line). Each target gets N cases; for the first two a quarter are random bytes (half of them behind the
format's magic number), the rest mutations of valid files.

* IDX mutations: bit flips, byte changes, truncations, insertions, deletions, duplicated spans, and header
  fields rewritten (magic, type code, dimension count, sizes set to 0, 1, off by one, 2**31, 2**32 - 1, ...),
  on raw files and on gzip files (inside or outside the compression).
* model.npz mutations: the same byte-level damage to the zip, zip header fields rewritten (flags, compression
  method, sizes, name lengths, offsets), and rewrites inside the archive: ``.npy`` headers (shape, dtype, byte
  order, fortran_order, version, header length), members dropped, added, renamed or swapped for arrays of other
  shapes or dtypes (pickled object arrays among them), ``__meta__`` JSON fields deleted or given odd values,
  members deflated, bzip2'ed or lzma'ed.

A crash is any other exception, a message that is not one line naming the input, a model that loads but cannot
predict, a worker that dies, or a case that runs longer than ``--timeout`` seconds (a hang). Cases run in worker
processes (``--jobs``), each capped at ``--memory`` GiB of address space, so a runaway allocation is a
MemoryError crash rather than a swapping machine. Every crash is listed as ``TARGET:INDEX``;
``--replay TARGET:INDEX`` reruns that case here with its traceback. Cases depend on ``--seed`` only.

    python benchmarks/fuzz.py --cases 10000

The last line is ``N cases, K crashes`` (N counts every target's cases); the exit status is 1 when K > 0.
"""

from __future__ import annotations

import argparse
import ast
import functools
import gzip
import io
import itertools
import json
import multiprocessing as mp
import os
import struct
import sys
import tempfile
import time
import traceback
import zipfile
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path

import numpy as np

TARGETS = ("idx", "model", "trace")
IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
INTERESTING_U32 = (0, 1, 2, 3, 7, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1)


# --- byte-level damage, shared by both targets ---------------------------------------------------------------


def mutate_bytes(rng: np.random.Generator, data: bytes, rounds: int | None = None) -> bytes:
    """A few random flips, overwrites, cuts, insertions, deletions and duplicated spans."""
    out = bytearray(data)
    for _ in range(rounds if rounds is not None else int(rng.integers(1, 5))):
        at = int(rng.integers(0, len(out) + 1))
        op = rng.choice(["flip", "set", "cut", "insert", "delete", "duplicate"])
        if op == "flip" and at < len(out):
            out[at] ^= 1 << int(rng.integers(0, 8))
        elif op == "set" and at < len(out):
            out[at] = int(rng.choice([0, 1, 0x7F, 0x80, 0xFF, int(rng.integers(0, 256))]))
        elif op == "cut":
            del out[at:]
        elif op == "insert":
            out[at:at] = rng.bytes(int(rng.integers(1, 9)))
        elif op == "delete":
            del out[at : at + int(rng.integers(1, 9))]
        elif op == "duplicate":
            out[at:at] = out[at : at + int(rng.integers(1, 33))]
    return bytes(out)


def random_bytes(rng: np.random.Generator, magics: list[bytes]) -> bytes:
    """Random bytes, half the time behind one of the format's magic numbers."""
    body = rng.bytes(int(rng.choice([0, 1, 3, 4, 8, 16, 40, 100, 1000])))
    return (magics[int(rng.integers(len(magics)))] + body) if rng.random() < 0.5 else body


# --- IDX -------------------------------------------------------------------------------------------------


def valid_idx(rng: np.random.Generator) -> tuple[bytes, int]:
    """A valid raw IDX file of a random type and shape -> (bytes, number of dimensions)."""
    code = int(rng.choice(list(IDX_DTYPES)))
    shape = tuple(int(n) for n in rng.integers(0, 7, size=int(rng.integers(1, 5))))
    dtype = np.dtype(IDX_DTYPES[code])
    values = rng.integers(-128, 128, size=shape) if dtype.kind in "iu" else rng.normal(size=shape) * 1e3
    header = bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    return header + values.astype(dtype).tobytes(), len(shape)


def mutate_idx_header(rng: np.random.Generator, data: bytes, ndim: int) -> bytes:
    """Rewrite one header field: a magic byte, the type code, the dimension count or one size."""
    out = bytearray(data)
    field = rng.choice(["magic", "code", "ndim", "size"])
    if field == "magic":
        out[int(rng.integers(0, 2))] = int(rng.integers(1, 256))
    elif field == "code":
        out[2] = int(rng.choice([*IDX_DTYPES, 0, 0x07, 0x0A, 0x0F, 0xFF, int(rng.integers(0, 256))]))
    elif field == "ndim":
        out[3] = int(rng.choice([0, 1, ndim - 1, ndim + 1, 8, 9, 255, int(rng.integers(0, 256))])) % 256
    else:
        i = int(rng.integers(0, ndim))
        old = struct.unpack_from(">I", out, 4 + 4 * i)[0]
        new = int(rng.choice([*INTERESTING_U32, old + 1, max(old - 1, 0), int(rng.integers(0, 2**32))]))
        struct.pack_into(">I", out, 4 + 4 * i, new % 2**32)
    return bytes(out)


def idx_case(rng: np.random.Generator) -> bytes:
    if rng.random() < 0.25:
        return random_bytes(rng, [b"\x00\x00", b"\x00\x00\x08\x01", b"\x00\x00\x0d\x03", b"\x1f\x8b"])
    data, ndim = valid_idx(rng)
    compress = rng.random() < 0.3
    if rng.random() < 0.5:
        data = mutate_idx_header(rng, data, ndim)
        if rng.random() < 0.5:
            data = mutate_bytes(rng, data, rounds=1)
    elif not compress or rng.random() < 0.5:
        data = mutate_bytes(rng, data)
    data = gzip.compress(data, mtime=0) if compress else data
    if compress and rng.random() < 0.5:
        data = mutate_bytes(rng, data)  # damage the compressed stream itself
    return data


def check_idx(data: bytes, scratch: Path) -> str:
    """Parse `data` as bytes and as a file; both must agree. -> "parsed" or "refused"."""
    from gradwise.data.idx import IdxError, read_idx, read_idx_bytes

    try:
        from_bytes: np.ndarray | str = read_idx_bytes(data, "fuzz.idx")
    except IdxError as error:
        from_bytes = one_line(error, "fuzz.idx")
    else:
        assert from_bytes.dtype.isnative and from_bytes.flags.writeable, "not a native, writable array"
    path = scratch / "fuzz.idx"
    path.write_bytes(data)
    try:
        from_file: np.ndarray | str = np.array(read_idx(path))  # a copy: the memory map closes at once
    except IdxError as error:
        from_file = one_line(error, str(path)).replace(str(path), "fuzz.idx", 1)
    if isinstance(from_bytes, str):
        assert from_file == from_bytes, f"file and bytes disagree: {from_file!r} vs {from_bytes!r}"
        return "refused"
    assert isinstance(from_file, np.ndarray), f"the file is refused but the bytes parse: {from_file}"
    assert from_file.shape == from_bytes.shape and from_file.tobytes() == from_bytes.tobytes(), "file != bytes"
    return "parsed"


# --- model.npz -------------------------------------------------------------------------------------------

ACTIVATIONS = ("relu", "tanh", "sigmoid", "identity", "elu", "softplus", "leaky_relu")
# fmt: off
ODD_VALUES: list[object] = [
    None, True, -1, 0, 1, 0.5, 1.5, 1e308, -0.0, 2**31, 10**12, "", "x", "float16", "softmax", [], [0], [784],
    [3, -1], [1, 10**9, 10**9, 1], [2.5, 3], ["a", "b"], {}, {"shift": 0}, {"shift": "a", "scale": 1},
    {"shift": 0.0, "scale": 0.0}, [[[[[]]]]], "gradwise-model-1", "gradwise-model-2",
]
DESCRS = [
    "<f4", ">f4", "<f8", ">f8", "<f2", "|O", "<i4", "|u1", "|b1", "<U5", "|S3", "|V8", "<c16", "<M8[s]",
    "[('a', '<f4')]", "('<f4', (2,))", "'nonsense'", "<f0", "|V0",
]
# fmt: on


def valid_model_members(rng: np.random.Generator) -> dict[str, bytes]:
    """The members of a valid model.npz (name -> .npy bytes), as ``save_model`` writes them."""
    from gradwise.nn.network import mlp
    from gradwise.train.model_file import FORMAT, META_KEY, architecture

    sizes = [int(n) for n in rng.integers(1, 6, size=int(rng.integers(2, 5)))]
    dropout = float(rng.choice([0.0, 0.25]))
    dtype = str(rng.choice(["float32", "float64"]))
    net = mlp(
        sizes,
        str(rng.choice(ACTIVATIONS)),
        str(rng.choice(["softmax", "sigmoid", "identity"])),
        dropout=dropout,
        rng=int(rng.integers(2**31)),
        dtype=dtype,
    )
    meta = {
        "format": FORMAT,
        **architecture(net),
        "loss": str(rng.choice(["ce", "mse", "bce"])),
        "dataset": "mnist",
        "input": {"shift": 0.0, "scale": 255.0, "image_shape": [28, 28]},
    }
    arrays = {**net.params, META_KEY: np.array(json.dumps(meta))}
    return {f"{name}.npy": npy_bytes(value) for name, value in arrays.items()}


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=allow_pickle)
    return buffer.getvalue()


def mutate_npy_header(rng: np.random.Generator, data: bytes) -> bytes:
    """Rewrite the header dict of a version 1.0 .npy: shape, descr or fortran_order; or its version or length."""
    header_len = struct.unpack_from("<H", data, 8)[0]
    header = data[10 : 10 + header_len].decode("latin1")
    body = data[10 + header_len :]
    fields = ast.literal_eval(header)
    part = rng.choice(["shape", "descr", "fortran", "version", "length", "text"])
    if part == "version":
        return data[:6] + bytes([int(rng.choice([0, 2, 3, 9, 255])), int(rng.choice([0, 1]))]) + data[8:]
    if part == "length":
        new = int(rng.choice([0, 1, header_len - 1, header_len + 1, 10001, 65535]))
        return data[:8] + struct.pack("<H", new) + data[10:]
    if part == "shape":
        choices = [(), (0,), (-1,), (10**12,), (2**63,), (1, 2**62), (3, 4, 5), ("a",), (1.5,)]
        shape = choices[int(rng.integers(len(choices)))]
        if rng.random() < 0.5 and fields["shape"]:
            shape = tuple(n + int(rng.choice([-1, 1])) for n in fields["shape"])
        text = f"{{'descr': {fields['descr']!r}, 'fortran_order': {fields['fortran_order']}, 'shape': {shape!r}, }}"
    elif part == "descr":
        descr = DESCRS[int(rng.integers(len(DESCRS)))]
        descr_text = descr if descr.startswith(("[", "(", "'")) else repr(descr)
        text = f"{{'descr': {descr_text}, 'fortran_order': {fields['fortran_order']}, 'shape': {fields['shape']!r}, }}"
    elif part == "fortran":
        value = rng.choice(["True", "False", "1", "'yes'"])
        text = f"{{'descr': {fields['descr']!r}, 'fortran_order': {value}, 'shape': {fields['shape']!r}, }}"
    else:
        text = header[: int(rng.integers(0, len(header) + 1))] + rng.choice(["", "(((", "}", "'", "\\x00"])
    text = text.ljust(header_len - 1) + "\n" if len(text) < header_len else text + "\n"
    return data[:8] + struct.pack("<H", len(text)) + text.encode("latin1") + body


def mutate_meta(rng: np.random.Generator, data: bytes) -> bytes:
    """__meta__ with one field deleted or set to an odd value, or replaced by something that is not JSON text."""
    meta = json.loads(str(np.lib.format.read_array(io.BytesIO(data))[()]))
    choice = rng.random()
    if choice < 0.1:  # not a unicode scalar at all
        others = [np.array(b"{}"), np.array([json.dumps(meta)]), np.array(7), np.array("{" * 5000 + "}" * 5000)]
        return npy_bytes(others[int(rng.integers(len(others)))])
    if choice < 0.15:
        return npy_bytes(np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    key = str(rng.choice([*meta, "format", "sizes", "sizes", "layers", "layers", "input", "extra"]))
    if rng.random() < 0.2:
        meta.pop(key, None)
    elif key == "sizes" and rng.random() < 0.5 and isinstance(meta.get("sizes"), list):
        i = int(rng.integers(len(meta["sizes"])))
        meta["sizes"][i] = ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]
    elif key == "layers" and rng.random() < 0.7 and isinstance(meta.get("layers"), list):
        layer = meta["layers"][int(rng.integers(len(meta["layers"])))]  # one field of one layer
        field = str(rng.choice(["kind", "shape", "activation", "p", "shape"]))
        layer[field] = ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]
    else:
        meta[key] = ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]
    return npy_bytes(np.array(json.dumps(meta)))


def replacement_array(rng: np.random.Generator) -> bytes:
    choices: list[Callable[[], bytes]] = [
        lambda: npy_bytes(np.zeros(int(rng.integers(0, 5)), np.float32)),
        lambda: npy_bytes(np.ones((2, 3), np.int32)),
        lambda: npy_bytes(np.full((2, 2), np.nan)),
        lambda: npy_bytes(np.array([{"evil": 1}], dtype=object), allow_pickle=True),
        lambda: npy_bytes(np.array(["a", "b"])),
        lambda: npy_bytes(np.zeros((3, 3), np.float64).T),  # fortran order
        lambda: b"not an array",
    ]
    return choices[int(rng.integers(len(choices)))]()


def zip_members(rng: np.random.Generator, members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    methods = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            method = zipfile.ZIP_STORED if rng.random() < 0.7 else methods[int(rng.integers(len(methods)))]
            archive.writestr(name, data, compress_type=method)
    return buffer.getvalue()


def mutate_zip_fields(rng: np.random.Generator, data: bytes) -> bytes:
    """Rewrite one field of a local header, a central directory entry or the end record."""
    out = bytearray(data)
    # signature -> [(offset, struct format)] of the fields worth damaging
    layouts = {
        b"PK\x03\x04": [(6, "<H"), (8, "<H"), (14, "<I"), (18, "<I"), (22, "<I"), (26, "<H"), (28, "<H")],
        b"PK\x01\x02": [
            (8, "<H"),
            (10, "<H"),
            (16, "<I"),
            (20, "<I"),
            (24, "<I"),
            (28, "<H"),
            (30, "<H"),
            (32, "<H"),
            (42, "<I"),
        ],
        b"PK\x05\x06": [(8, "<H"), (10, "<H"), (12, "<I"), (16, "<I"), (20, "<H")],
    }
    spots = [(at, layout) for sig, layout in layouts.items() for at in find_all(out, sig)]
    if not spots:
        return mutate_bytes(rng, data)
    at, layout = spots[int(rng.integers(len(spots)))]
    offset, fmt = layout[int(rng.integers(len(layout)))]
    if at + offset + struct.calcsize(fmt) > len(out):
        return bytes(out)
    bits = 8 * struct.calcsize(fmt)
    old = struct.unpack_from(fmt, out, at + offset)[0]
    pool = [0, 1, old + 1, old - 1, 2**bits - 1, 2 ** (bits - 1), int(rng.integers(0, 2**bits)), 1, 12, 14, 99]
    struct.pack_into(fmt, out, at + offset, int(rng.choice(pool)) % 2**bits)
    return bytes(out)


def find_all(data: bytes | bytearray, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


def model_case(rng: np.random.Generator) -> bytes:
    if rng.random() < 0.25:
        return random_bytes(rng, [b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY"])
    members = valid_model_members(rng)
    if rng.random() < 0.6:  # damage inside the archive, then zip it up properly
        names = list(members)
        name = names[int(rng.integers(len(names)))]
        op = rng.choice(["header", "header", "meta", "meta", "replace", "drop", "add", "rename", "bytes"])
        if op == "header":
            members[name] = mutate_npy_header(rng, members[name])
        elif op == "meta":
            members["__meta__.npy"] = mutate_meta(rng, members["__meta__.npy"])
        elif op == "replace":
            members[name] = replacement_array(rng)
        elif op == "drop":
            del members[name]
        elif op == "add":
            members[str(rng.choice(["9.W.npy", "extra.npy", "readme.txt", "__meta__.npy"]))] = replacement_array(rng)
        elif op == "rename":
            members[str(rng.choice(["x.W.npy", "0.W", ".npy", "../0.W.npy"]))] = members.pop(name)
        else:
            members[name] = mutate_bytes(rng, members[name])
    data = zip_members(rng, members)
    if rng.random() < 0.4:
        data = mutate_zip_fields(rng, data) if rng.random() < 0.5 else mutate_bytes(rng, data)
    return data


def check_model(data: bytes, scratch: Path) -> str:
    """Load `data` as a model.npz -> "loaded" (and it predicts) or "refused"."""
    from gradwise.train.archive import CheckpointError
    from gradwise.train.model_file import load_model

    path = scratch / "model.npz"
    path.write_bytes(data)
    try:
        net, meta = load_model(path)
    except CheckpointError as error:
        one_line(error, str(path))
        return "refused"
    out = net.predict(np.zeros((2, meta["sizes"][0]), dtype=net.dtype))
    assert out.shape == (2, meta["sizes"][-1]), f"predict gave shape {out.shape}"
    return "loaded"


# --- trace: gradwise verify's reader, on a trace.npz or a text tensor file ----------------------------------

TRACE_TEXT_DAMAGE = (b"abc", b",,", b"\t", b"#", b"\n\n1 2\n", b"nan", b"-inf", b"1e999", b"\x00", b"\xff", b";")


@functools.cache
def _example_tensors() -> dict[str, np.ndarray]:
    from gradwise.verify.example import write_example

    with tempfile.TemporaryDirectory() as folder:
        write_example(Path(folder) / "ex")
        return {p.stem: np.loadtxt(p, ndmin=2) for p in (Path(folder) / "ex").glob("*.txt")}


def trace_case(rng: np.random.Generator) -> bytes:
    """b"N" + the bytes of a damaged trace.npz, or b"T" + a damaged W0.txt (the rest of the trace intact)."""
    tensors = _example_tensors()
    if rng.random() < 0.5:
        buffer = io.BytesIO()
        np.savez(buffer, **tensors)
        data = buffer.getvalue()
        return b"N" + (mutate_zip_fields(rng, data) if rng.random() < 0.3 else mutate_bytes(rng, data))
    text = bytearray(b"\n".join(b" ".join(b"%.17g" % v for v in row) for row in tensors["W0"]))
    for _ in range(int(rng.integers(1, 4))):
        at = int(rng.integers(0, len(text)))
        text[at:at] = TRACE_TEXT_DAMAGE[int(rng.integers(len(TRACE_TEXT_DAMAGE)))]
    return b"T" + (mutate_bytes(rng, bytes(text)) if rng.random() < 0.5 else bytes(text))


def check_trace(data: bytes, scratch: Path) -> str:
    """Verify a trace holding `data` -> "verified" (a report) or "refused" (one TraceError line naming the trace)."""
    import shutil

    from gradwise.verify import TraceError, verify
    from gradwise.verify.example import NETWORK

    folder = scratch / "trace"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "network.json").write_text(json.dumps(NETWORK))
    if data[:1] == b"N":
        (folder / "trace.npz").write_bytes(data[1:])
    else:
        for name, value in _example_tensors().items():
            np.savetxt(folder / f"{name}.txt", value)
        (folder / "W0.txt").write_bytes(data[1:])
    try:
        report = verify(folder)
    except TraceError as error:
        assert str(error).startswith(str(folder)), f"message does not name the trace: {str(error)[:200]!r}"
        assert "\n" not in str(error), f"message is not one line: {str(error)[:200]!r}"
        return "refused"
    assert report.verdict in ("correct", "wrong")
    return "verified"


# --- running cases ---------------------------------------------------------------------------------------

CASES: dict[str, tuple[Callable[[np.random.Generator], bytes], Callable[[bytes, Path], str]]] = {
    "idx": (idx_case, check_idx),
    "model": (model_case, check_model),
    "trace": (trace_case, check_trace),
}


def one_line(error: BaseException, name: str) -> str:
    message = str(error)
    assert message.startswith(f"{name}: "), f"message does not start with the input's name: {message[:200]!r}"
    assert "\n" not in message and "\r" not in message, f"message is not one line: {message[:200]!r}"
    return message


def run_case(target: str, seed: int, index: int, scratch: Path) -> tuple[str, str | None]:
    """-> (outcome, crash description or None). Never raises."""
    make, check = CASES[target]
    try:
        data = make(np.random.default_rng([seed, TARGETS.index(target), index]))
    except Exception as error:  # a bug in this fuzzer, not in gradwise; still reported
        return "generator", f"case generator failed: {type(error).__name__}: {error}"
    try:
        return check(data, scratch), None
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # any other exception is exactly what we are looking for
        text = " ".join(str(error).split())[:300]
        return "crash", f"{type(error).__name__}: {text}"


def worker(conn: Connection, target: str, seed: int, start: int, stop: int, memory_gib: float) -> None:
    """Run cases start..stop-1, reporting ("start", i) before and ("done", i, outcome, crash) after each."""
    import resource

    limit = int(memory_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import gradwise.data.idx
    import gradwise.train.model_file  # noqa: F401

    with tempfile.TemporaryDirectory(prefix="gradwise-fuzz-") as folder:
        conn.send(("ready",))
        for index in range(start, stop):
            conn.send(("start", index))
            outcome, crash = run_case(target, seed, index, Path(folder))
            conn.send(("done", index, outcome, crash))
    conn.close()


class Slot:
    """One worker process running a contiguous range of cases; restarted past a case that kills or hangs it."""

    def __init__(
        self, ctx: mp.context.BaseContext, target: str, seed: int, start: int, stop: int, memory: float
    ) -> None:
        self.ctx, self.target, self.seed, self.stop, self.memory = ctx, target, seed, stop, memory
        self.current: int | None = None
        self.started_at = 0.0
        self.launch(start)

    def launch(self, start: int) -> None:
        self.next = start
        self.current = None
        if start >= self.stop:
            self.conn: Connection | None = None
            return
        parent, child = self.ctx.Pipe(duplex=False)
        self.process = self.ctx.Process(
            target=worker, args=(child, self.target, self.seed, start, self.stop, self.memory), daemon=True
        )
        self.process.start()
        child.close()
        self.conn = parent

    def abandon(self) -> int:
        """Kill the worker; -> the case it was running."""
        assert self.current is not None
        self.process.kill()
        self.process.join()
        assert self.conn is not None
        self.conn.close()
        return self.current


def run_target(
    target: str, cases: int, seed: int, jobs: int, timeout: float, memory: float, crashes: list[str]
) -> Counter[str]:
    ctx = mp.get_context("spawn")  # fresh interpreters: no state shared with this process or each other
    bounds = np.linspace(0, cases, jobs + 1).astype(int)
    slots = [Slot(ctx, target, seed, int(a), int(b), memory) for a, b in itertools.pairwise(bounds)]
    outcomes: Counter[str] = Counter()
    while any(slot.conn is not None for slot in slots):
        live = {slot.conn: slot for slot in slots if slot.conn is not None}
        for conn in wait(list(live), timeout=0.5):
            slot = live[conn]  # type: ignore[index]
            try:
                message = conn.recv()  # type: ignore[union-attr]
            except EOFError:  # the worker died: mid-case, a crash; after its last case, done
                slot.process.join()
                code = slot.process.exitcode
                if slot.current is not None:
                    crashes.append(f"{target}:{slot.current} worker died (exit code {code})")
                    outcomes["crash"] += 1
                    slot.launch(slot.current + 1)
                elif slot.next < slot.stop:  # between cases: the worker itself is broken, not a case
                    raise SystemExit(
                        f"fuzz: a {target} worker died before case {slot.next} (exit code {code})"
                    ) from None
                else:
                    slot.conn = None
                continue
            if message[0] == "start":
                slot.current, slot.started_at = message[1], time.monotonic()
            elif message[0] == "done":
                _, index, outcome, crash = message
                outcomes[outcome] += 1
                slot.next = index + 1
                if crash is not None:
                    crashes.append(f"{target}:{index} {crash}")
                slot.current = None
        now = time.monotonic()
        for slot in slots:
            if slot.conn is not None and slot.current is not None and now - slot.started_at > timeout:
                index = slot.abandon()
                crashes.append(f"{target}:{index} hang: still running after {timeout:g} s")
                outcomes["crash"] += 1
                slot.launch(index + 1)
    return outcomes


def replay(spec: str, seed: int) -> int:
    target, _, index = spec.partition(":")
    make, check = CASES[target]
    data = make(np.random.default_rng([seed, TARGETS.index(target), int(index)]))
    print(f"{spec}: {len(data)} bytes: {data[:120]!r}{'...' if len(data) > 120 else ''}")
    with tempfile.TemporaryDirectory() as folder:
        try:
            print("outcome:", check(data, Path(folder)))
        except BaseException:
            traceback.print_exc()
            return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000, help="cases per target")
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated, from {', '.join(TARGETS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1), help="worker processes")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a case counts as a hang")
    parser.add_argument("--memory", type=float, default=2.0, help="GiB of address space per worker")
    parser.add_argument("--replay", metavar="TARGET:INDEX", help="rerun one case here, with its traceback")
    args = parser.parse_args()
    if args.replay:
        return replay(args.replay, args.seed)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown or args.cases < 1:
        parser.error(f"unknown targets {unknown}" if unknown else "--cases must be >= 1")
    # One BLAS thread a worker: the cases are tiny, and idle BLAS threads only reserve address space.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    crashes: list[str] = []
    total = 0
    for target in targets:
        started = time.perf_counter()
        outcomes = run_target(target, args.cases, args.seed, max(1, args.jobs), args.timeout, args.memory, crashes)
        count = sum(outcomes.values())
        total += count
        detail = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items()))
        print(f"{target}: {count} cases ({detail}) in {time.perf_counter() - started:.1f} s", flush=True)
    for crash in crashes:
        print(f"crash {crash}")
    print(f"{total} cases, {len(crashes)} crashes")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
