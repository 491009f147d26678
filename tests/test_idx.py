"""IDX files: byte layout, round trips, memory maps, every corrupt-file message, pairs, a fuzzer."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradwise.data.idx import (
    MAX_DIMS,
    IdxError,
    atomic_open,
    check_labeled_images,
    read_decompressed,
    read_idx,
    read_idx_bytes,
    read_labeled_images,
    write_idx,
    write_images,
)

BUNDLED = Path(__file__).resolve().parents[1] / "src" / "gradwise" / "data" / "mnist"
# dtype -> IDX type code, written out independently of the module under test.
CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}
# SHA-256 of the canonical, uncompressed MNIST files (images with the 3-D header N x 28 x 28), as published
# in SHA256SUMS.uncompressed beside the canonical .gz files: written out here so no test trusts the bundle.
CANONICAL_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
IMAGE_STEMS = ["t10k-images-idx3-ubyte", "train-images-idx3-ubyte"]
DAMAGED = "the file is damaged or not an IDX file: re-download or re-create it"
ZEROS = "IDX files start with two zero bytes"
shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)


def encode(array: np.ndarray, compress: bool = False) -> bytes:
    """Reference IDX encoder: header, then the items big-endian."""
    header = bytes([0, 0, CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    return gzip.compress(data, mtime=0) if compress else data


def header(code: int, *shape: int) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder hypothesis tests may reuse (tmp_path is per test, not per example)."""
    return tmp_path_factory.mktemp("idx")


def test_bytes_on_disk_are_big_endian_with_the_documented_header(tmp_path: Path) -> None:
    write_idx(tmp_path / "a.idx", np.array([1, -2], dtype=np.int32))
    # magic 00 00 0C 01 (int, 1 dim), size 2, then 1 and -2 as big-endian int32.
    assert (tmp_path / "a.idx").read_bytes() == bytes.fromhex("00000c01 00000002 00000001 fffffffe")
    write_idx(tmp_path / "b.idx", np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert (tmp_path / "b.idx").read_bytes() == bytes.fromhex("00000802 00000002 00000003 000102030405")


def test_reads_the_bundled_mnist_test_labels() -> None:
    labels = read_idx(BUNDLED / "t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the well-known first MNIST test digits


@settings(max_examples=120, deadline=None)
@given(
    array=st.sampled_from(list(CODES)).flatmap(lambda dt: hnp.arrays(dt, shapes)),
    compress=st.booleans(),
    suffix=st.sampled_from(["", ".gz"]),
)
def test_round_trip_every_type_code(scratch: Path, array: np.ndarray, compress: bool, suffix: str) -> None:
    # The name's suffix and the compression disagree half the time: reading must go by content.
    path = scratch / f"round-trip{suffix}"
    write_idx(path, array, compress=compress)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if compress else b"\x00\x00")
    for back in (read_idx(path), read_idx_bytes(path.read_bytes())):
        assert back.shape == array.shape and back.dtype == array.dtype and back.dtype.isnative
        assert back.tobytes() == array.tobytes()  # bit-exact, NaN payloads and -0.0 included
    assert read_decompressed(path) == encode(array)


@settings(max_examples=30, deadline=None)
@given(array=st.sampled_from(list(CODES)).flatmap(lambda dt: hnp.arrays(dt, shapes)))
def test_writer_matches_the_reference_encoder(scratch: Path, array: np.ndarray) -> None:
    write_idx(scratch / "ref", array)
    assert (scratch / "ref").read_bytes() == encode(array)


def test_compression_follows_the_name_unless_told(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.int16)
    write_idx(tmp_path / "x.gz", array)
    write_idx(tmp_path / "x.idx", array)
    write_idx(tmp_path / "y.gz", array, compress=False)
    assert (tmp_path / "x.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "x.idx").read_bytes()[:2] == b"\x00\x00"
    assert (tmp_path / "y.gz").read_bytes()[:2] == b"\x00\x00"
    np.testing.assert_array_equal(read_idx(tmp_path / "y.gz"), array)


def test_raw_byte_files_are_read_only_memory_maps(tmp_path: Path) -> None:
    write_idx(tmp_path / "u8", np.arange(12, dtype=np.uint8).reshape(3, 4))
    images = read_idx(tmp_path / "u8")
    assert isinstance(images, np.memmap) and not images.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        images[0, 0] = 1
    assert images.tolist() == np.arange(12).reshape(3, 4).tolist()


def test_multi_byte_raw_and_gzip_files_come_back_writable_and_native(tmp_path: Path) -> None:
    write_idx(tmp_path / "i16", np.array([[1, -300]], dtype=np.int16))
    write_idx(tmp_path / "u8.gz", np.arange(3, dtype=np.uint8))
    wide, packed = read_idx(tmp_path / "i16"), read_idx(tmp_path / "u8.gz")
    assert wide.dtype == np.int16 and wide.dtype.isnative and wide.tolist() == [[1, -300]]
    assert not isinstance(packed, np.memmap) and packed.flags.writeable


def test_empty_arrays_round_trip(tmp_path: Path) -> None:
    write_idx(tmp_path / "e", np.zeros((0, 28, 28), dtype=np.uint8))
    assert read_idx(tmp_path / "e").shape == (0, 28, 28)


CORRUPT = [
    # (file content, message after "<name>: ")
    (b"", f"empty file (0 bytes); {DAMAGED}"),
    (b"\x00\x00", f"truncated: 2 bytes is less than the 4-byte magic number; {DAMAGED}"),
    (b"\x01\x02\x08\x01" + bytes(8), f"wrong magic number 0x01020801: {ZEROS}; {DAMAGED}"),
    (b"PK\x03\x04rest", f"wrong magic number 0x504b0304: {ZEROS}; {DAMAGED}"),
    (
        header(0x07, 1) + b"\x00",
        "unknown type code 0x07 (known: 0x08 ubyte, 0x09 byte, 0x0b short, 0x0c int, 0x0d float, "
        f"0x0e double); {DAMAGED}",
    ),
    (b"\x00\x00\x08\x00", f"header declares 0 dimensions, not 1 to {MAX_DIMS}; {DAMAGED}"),
    (b"\x00\x00\x08\x09" + bytes(36), f"header declares 9 dimensions, not 1 to {MAX_DIMS}; {DAMAGED}"),
    (
        b"\x00\x00\x08\x03" + bytes(6),
        f"truncated: header declares 3 dimensions (16-byte header) but the file holds 10 bytes; {DAMAGED}",
    ),
    (
        header(0x08, 10000) + bytes(5000),
        "truncated: header declares 10000 items (10000 bytes of data, shape 10000) but the file holds 5000; "
        + DAMAGED,
    ),
    (
        header(0x0C, 2, 3, 4) + bytes(24),  # 24 items of int32 need 96 bytes
        "truncated: header declares 24 items (96 bytes of data, shape 2x3x4) but the file holds 24; "
        + DAMAGED,
    ),
    (
        header(0x08, 3) + bytes(4),
        f"trailing bytes: header declares 3 items (3 bytes of data, shape 3) but the file holds 4; {DAMAGED}",
    ),
    (
        header(0x0E, *[0xFFFF_FFFF] * 8),  # 2**256 items: Python ints, so no overflow, just "truncated"
        f"truncated: header declares {0xFFFF_FFFF**8} items ({8 * 0xFFFF_FFFF**8} bytes of data, shape "
        + "x".join(["4294967295"] * 8)
        + f") but the file holds 0; {DAMAGED}",
    ),
    (
        header(0x08, 0, *[0xFFFF_FFFF] * 7),
        "header declares shape 0x" + "x".join(["4294967295"] * 7) + f", too large for NumPy; {DAMAGED}",
    ),
]


@pytest.mark.parametrize(("content", "message"), CORRUPT)
def test_corrupt_files_raise_one_line_idx_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(IdxError) as from_file:
        read_idx(path)
    assert str(from_file.value) == f"{path}: {message}"
    with pytest.raises(IdxError) as from_bytes:
        read_idx_bytes(content, "t10k-labels-idx1-ubyte")
    assert str(from_bytes.value) == f"t10k-labels-idx1-ubyte: {message}"
    if content:  # the same damage inside a gzip file is reported the same way
        gz = tmp_path / "t10k-labels-idx1-ubyte.gz"
        gz.write_bytes(gzip.compress(content))
        with pytest.raises(IdxError) as from_gzip:
            read_idx(gz)
        assert str(from_gzip.value) == f"{gz}: {message}"


def test_corrupt_gzip_is_an_idx_error(tmp_path: Path) -> None:
    good = gzip.compress(header(0x08, 1000) + bytes(range(250)) * 4, mtime=0)
    truncated, crc_broken = good[:-12], good[:-8] + b"\x00" * 4 + good[-4:]
    cases = {
        truncated: "Compressed file ended before the end-of-stream marker was reached",
        crc_broken: "CRC check failed",
        good[:10] + b"\xff" * 20 + good[30:]: "Error -3 while decompressing data",
        good + b"junk": "Not a gzipped file",
    }
    for content, reason in cases.items():
        path = tmp_path / "corrupt.gz"
        path.write_bytes(content)
        with pytest.raises(IdxError, match=r"corrupt gzip data \(") as error:
            read_idx(path)
        message = str(error.value)
        assert message.startswith(f"{path}: corrupt gzip data (") and reason in message
        assert message.endswith("); re-download or re-create it") and "\n" not in message


def test_directory_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(IdxError) as error:
        read_idx(tmp_path)
    assert str(error.value) == f"{tmp_path}: is a directory, not an IDX file; pass the path of a file in it"
    with pytest.raises(IdxError) as error:
        read_idx(tmp_path / "nope.gz")
    assert str(error.value) == f"{tmp_path / 'nope.gz'}: cannot read: No such file or directory"
    with pytest.raises(IdxError, match="is a directory"):
        read_decompressed(tmp_path)


def test_writer_refuses_what_idx_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(TypeError) as error:
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    assert str(error.value) == (
        f"{tmp_path / 'x'}: IDX cannot store dtype int64; convert first, e.g. array.astype(np.float32) "
        "(storable: uint8, int8, int16, int32, float32, float64)"
    )
    with pytest.raises(TypeError, match="cannot store dtype bool"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=bool))
    with pytest.raises(IdxError) as shape_error:
        write_idx(tmp_path / "x", np.float32(1.0))
    expected = f"{tmp_path / 'x'}: IDX holds 1 to {MAX_DIMS} dimensions but the array has 0"
    assert str(shape_error.value) == expected
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "labels.gz"
    write_idx(path, np.arange(5, dtype=np.uint8))
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="disk on fire"), atomic_open(path) as f:
        f.write(b"half a file")
        raise RuntimeError("disk on fire")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["labels.gz"]


def write_pair(folder: Path, images: np.ndarray, labels: np.ndarray) -> tuple[Path, Path]:
    write_idx(folder / "images.gz", images)
    write_idx(folder / "labels.gz", labels)
    return folder / "images.gz", folder / "labels.gz"


def test_labeled_images_pair(tmp_path: Path) -> None:
    images, labels = read_labeled_images(
        *write_pair(tmp_path, np.zeros((4, 2, 3), np.uint8), np.array([0, 9, 3, 1], np.uint8))
    )
    assert images.shape == (4, 2, 3) and labels.tolist() == [0, 9, 3, 1]


def test_flattened_square_images_are_reshaped(tmp_path: Path) -> None:
    flat, _ = read_labeled_images(*write_pair(tmp_path, np.ones((2, 9), np.uint8), np.zeros(2, np.uint8)))
    assert flat.shape == (2, 3, 3)


# --- the bundled MNIST is the canonical one -------------------------------------------------------------


@pytest.fixture(scope="module")
def canonical() -> dict[str, bytes]:
    """The decompressed bytes of the bundled MNIST files, decompressed once for all tests."""
    return {stem: gzip.decompress((BUNDLED / f"{stem}.gz").read_bytes()) for stem in CANONICAL_SHA256}


def two_d_form(canonical_images: bytes) -> bytes:
    """The same images with the 2-D header (N x 784) older gradwise bundled: magic 00 00 08 02, two sizes."""
    count, rows, cols = struct.unpack(">3I", canonical_images[4:16])
    return header(0x08, count, rows * cols) + canonical_images[16:]


def read_strict_images(data: bytes) -> np.ndarray:
    """A reader as strict as the seed's: the magic number must say ubyte with 3 dimensions, sizes must add up."""
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"not an IDX file of unsigned bytes: magic 0x{data[:4].hex()}")
    ndim = data[3]  # the magic number's last byte is the number of dimensions, one uint32 size each follows
    if ndim != 3:
        raise ValueError(f"images need 3 dimensions (N, rows, cols), the header declares {ndim}")
    shape = struct.unpack(">3I", data[4:16])
    if len(data) != 16 + shape[0] * shape[1] * shape[2]:
        raise ValueError(f"{len(data) - 16} bytes of pixels do not fill shape {shape}")
    return np.frombuffer(data, np.uint8, offset=16).reshape(shape)


def test_the_bundled_mnist_decompresses_to_the_canonical_bytes(canonical: dict[str, bytes]) -> None:
    assert {stem: hashlib.sha256(data).hexdigest() for stem, data in canonical.items()} == CANONICAL_SHA256
    # The loader checks the files against its own list: it must list the same hashes.
    listed = dict(line.split()[::-1] for line in (BUNDLED / "SHA256SUMS.uncompressed").read_text().splitlines())
    assert listed == CANONICAL_SHA256
    assert {stem: canonical[stem][:4].hex() for stem in IMAGE_STEMS} == dict.fromkeys(IMAGE_STEMS, "00000803")


@pytest.mark.parametrize("stem", IMAGE_STEMS)
def test_both_image_header_forms_read_to_identical_arrays(
    canonical: dict[str, bytes], tmp_path: Path, stem: str
) -> None:
    count = 10000 if stem.startswith("t10k") else 60000
    three_d, two_d = read_idx_bytes(canonical[stem]), read_idx_bytes(two_d_form(canonical[stem]))
    assert three_d.shape == (count, 28, 28) and two_d.shape == (count, 784)
    np.testing.assert_array_equal(two_d, three_d.reshape(count, 784))
    labels_path = BUNDLED / f"{stem.replace('images-idx3', 'labels-idx1')}.gz"
    (tmp_path / "old").write_bytes(two_d_form(canonical[stem]))
    old, _ = read_labeled_images(tmp_path / "old", labels_path)
    new, _ = read_labeled_images(BUNDLED / f"{stem}.gz", labels_path)
    assert old.shape == new.shape == (count, 28, 28) and old.dtype == new.dtype == np.uint8
    np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("stem", IMAGE_STEMS)
def test_images_written_back_are_the_canonical_bytes(canonical: dict[str, bytes], tmp_path: Path, stem: str) -> None:
    expected = CANONICAL_SHA256[stem]
    # Read in either header form, written back raw and gzip: always the canonical file, byte for byte.
    for form, data in {"3-D": canonical[stem], "2-D": two_d_form(canonical[stem])}.items():
        images = read_idx_bytes(data)
        write_images(tmp_path / "raw", images, compress=False)
        write_images(tmp_path / "images.gz", images)
        for path in (tmp_path / "raw", tmp_path / "images.gz"):
            assert hashlib.sha256(read_decompressed(path)).hexdigest() == expected, f"{form} -> {path.name}"
    # write_idx keeps the shape it is given: the loaded 3-D images come back canonical too.
    write_idx(tmp_path / "plain", read_idx(BUNDLED / f"{stem}.gz"))
    assert hashlib.sha256((tmp_path / "plain").read_bytes()).hexdigest() == expected


def test_write_images_refuses_what_is_not_images(tmp_path: Path) -> None:
    with pytest.raises(IdxError) as error:
        write_images(tmp_path / "x", np.zeros((2, 10), np.uint8))
    assert str(error.value) == (
        f"{tmp_path / 'x'}: images must have shape (N, rows, cols) or (N, side * side), not 2x10; "
        "reshape them first"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_strict_idx_reader_accepts_the_bundled_images(canonical: dict[str, bytes]) -> None:
    for stem in IMAGE_STEMS:
        strict = read_strict_images(gzip.decompress((BUNDLED / f"{stem}.gz").read_bytes()))
        assert strict.shape[1:] == (28, 28)
        np.testing.assert_array_equal(strict, read_idx(BUNDLED / f"{stem}.gz"))
        # The 2-D form older gradwise bundled is what such readers refused.
        with pytest.raises(ValueError, match="^images need 3 dimensions .*, the header declares 2$"):
            read_strict_images(two_d_form(canonical[stem]))


BAD_PAIRS = [
    (
        np.zeros((3, 2, 2), np.uint8),
        np.array([1, 2], np.uint8),
        "{labels}: holds 2 labels but {images} holds 3 images; "
        "both files must come from the same data set and split",
    ),
    (
        np.zeros((5, 2, 2), np.uint8),
        np.array([1, 2, 3, 10, 11], np.uint8),
        "{labels}: label 10 at index 3 is outside [0, 10); the labels do not belong to a 10-class data set",
    ),
    (
        np.zeros((2, 2, 2), np.uint8),
        np.array([0, -1], np.int8),
        "{labels}: label -1 at index 1 is outside [0, 10); the labels do not belong to a 10-class data set",
    ),
    (
        np.zeros((2, 2, 2), np.uint8),
        np.zeros((2, 1), np.uint8),
        "{labels}: expected integer labels of shape (N,) but the file holds uint8 of shape 2x1; "
        "is it the right file?",
    ),
    (
        np.zeros((2, 2, 2), np.uint8),
        np.zeros(2, np.float32),
        "{labels}: expected integer labels of shape (N,) but the file holds float32 of shape 2; "
        "is it the right file?",
    ),
    (
        np.zeros(4, np.uint8),
        np.zeros(4, np.uint8),
        "{images}: expected images of shape (N, rows, cols) or (N, side * side) but the file holds shape 4; "
        "is it the right file?",
    ),
    (
        np.zeros((2, 10), np.uint8),
        np.zeros(2, np.uint8),
        "{images}: expected images of shape (N, rows, cols) or (N, side * side) but the file holds "
        "shape 2x10; is it the right file?",
    ),
]


@pytest.mark.parametrize(("images", "labels", "message"), BAD_PAIRS)
def test_mismatched_pairs_name_the_file(
    tmp_path: Path, images: np.ndarray, labels: np.ndarray, message: str
) -> None:
    images_path, labels_path = write_pair(tmp_path, images, labels)
    with pytest.raises(IdxError) as error:
        read_labeled_images(images_path, labels_path)
    assert str(error.value) == message.format(images=images_path, labels=labels_path)


def test_num_classes_bounds_the_labels() -> None:
    check_labeled_images(np.zeros((2, 1, 1), np.uint8), np.array([0, 25]), "i", "l", num_classes=26)
    with pytest.raises(IdxError, match=r"^l: label 26 at index 1 is outside \[0, 26\)"):
        check_labeled_images(np.zeros((2, 1, 1), np.uint8), np.array([0, 26]), "i", "l", num_classes=26)


# --- fuzzing: any bytes either parse or raise IdxError with a one-line message -------------------------


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """A valid IDX file, raw or gzip, with a few random flips, cuts, insertions and deletions."""
    array = draw(st.sampled_from(list(CODES)).flatmap(lambda dt: hnp.arrays(dt, shapes)))
    data = bytearray(encode(array, compress=draw(st.booleans())))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete", "append"]))
        if op == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "append":
            data += draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def assert_only_idx_error(data: bytes) -> np.ndarray | str:
    """Parse `data`: the array, or the IdxError message after checking it is one line naming the input."""
    try:
        array = read_idx_bytes(data, "fuzz.idx")
    except IdxError as e:
        message = str(e)
        assert message.startswith("fuzz.idx: ") and "\n" not in message
        return message
    assert array.dtype.isnative and array.flags.writeable
    return array


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64) | st.binary(max_size=16).map(lambda tail: b"\x00\x00" + tail))
def test_fuzz_random_bytes_raise_only_idx_error(data: bytes) -> None:
    assert_only_idx_error(data)


@settings(max_examples=400, deadline=None)
@given(mutated_files())
def test_fuzz_mutated_files_raise_only_idx_error(data: bytes) -> None:
    assert_only_idx_error(data)


@settings(max_examples=100, deadline=None)
@given(mutated_files())
def test_fuzz_files_and_bytes_agree(scratch: Path, data: bytes) -> None:
    path = scratch / "fuzz.idx"
    path.write_bytes(data)
    try:
        from_file: np.ndarray | str = np.array(read_idx(path))
    except IdxError as e:
        from_file = str(e).replace(str(path), "fuzz.idx", 1)
    from_bytes = assert_only_idx_error(data)
    if isinstance(from_bytes, str):
        assert from_file == from_bytes
    else:
        assert isinstance(from_file, np.ndarray) and from_file.tobytes() == from_bytes.tobytes()
