"""Read and write IDX files, the container format of MNIST and its relatives, gzip-compressed or raw.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one big-endian
uint32 size per dimension, then the items in C order, big-endian. Every problem with a file is reported as one
`IdxError` whose message is a single line naming the file, what is wrong and, where possible, what to do.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from gradwise.files import atomic_open


class IdxError(ValueError):
    """A file is not valid IDX, or an images/labels pair does not fit together; the message is one line."""


# Type code -> dtype of the items as stored on disk (big-endian).
TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
TYPE_NAMES = {0x08: "ubyte", 0x09: "byte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double"}
# The format allows 255 dimensions; real files use 1 to 4, and a cap keeps corrupt headers from looking valid.
MAX_DIMS = 8
GZIP_MAGIC = b"\x1f\x8b"

_HEADER_MAX = 4 + 4 * MAX_DIMS
_CODE_FOR_DTYPE: dict[np.dtype, int] = {dt.newbyteorder("="): code for code, dt in TYPE_CODES.items()}
_KNOWN_CODES = ", ".join(f"0x{code:02x} {TYPE_NAMES[code]}" for code in TYPE_CODES)
_DAMAGED = "the file is damaged or not an IDX file: re-download or re-create it"


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzip or raw (told apart by content, not name) -> array of the declared shape.

    A raw file whose items are already in native byte order (always true for the 1-byte types) comes back as a
    read-only `np.memmap` view of the file: nothing is loaded until touched. Use `np.array(a)` for a writable
    copy. Gzip files and multi-byte raw files come back as a new, writable, native-byte-order array.
    """
    name = str(path)
    path = Path(path)
    if path.is_dir():
        raise IdxError(f"{name}: is a directory, not an IDX file; pass the path of a file in it")
    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER_MAX)
            if head[:2] == GZIP_MAGIC:
                return read_idx_bytes(head + f.read(), name)
            total = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise IdxError(f"{name}: cannot read: {_one_line(e.strerror or e)}") from e
    disk_dtype, shape, offset = _parse_header(head, total, name)
    native = disk_dtype.newbyteorder("=")
    if _is_empty(shape):
        return np.empty(shape, dtype=native)  # np.memmap refuses zero-length maps
    try:
        mapped = np.memmap(path, dtype=disk_dtype, mode="r", offset=offset, shape=shape)
    except (OSError, ValueError) as e:  # the file changed between reading its header and mapping it
        raise IdxError(f"{name}: cannot map it ({_one_line(e)}); did it change while being read?") from e
    # Big-endian multi-byte items must be byte-swapped on little-endian machines, which needs a copy anyway.
    return mapped if disk_dtype.isnative else mapped.astype(native)


def read_idx_bytes(data: bytes | bytearray, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an IDX file, gzip or raw -> a new writable array in native byte order.

    Any input either parses or raises `IdxError`; `name` is only used in error messages.
    """
    raw = _gunzip(data, name) if data[:2] == GZIP_MAGIC else data
    disk_dtype, shape, offset = _parse_header(bytes(raw[:_HEADER_MAX]), len(raw), name)
    native = disk_dtype.newbyteorder("=")
    if _is_empty(shape):
        return np.empty(shape, dtype=native)
    items = np.frombuffer(raw, dtype=disk_dtype, count=math.prod(shape), offset=offset)
    # astype copies: the result owns its memory (bytes are immutable) and is in native byte order.
    return items.reshape(shape).astype(native)


def read_decompressed(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a file, gunzipped when it starts with the gzip magic number (to checksum the content)."""
    name = str(path)
    if Path(path).is_dir():
        raise IdxError(f"{name}: is a directory, not an IDX file; pass the path of a file in it")
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise IdxError(f"{name}: cannot read: {_one_line(e.strerror or e)}") from e
    return _gunzip(data, name) if data[:2] == GZIP_MAGIC else data


def write_idx(path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None) -> None:
    """Write `array` (1 to MAX_DIMS dimensions) as an IDX file, atomically; gzip if `compress`, else by name.

    The type code follows the dtype: uint8, int8, int16, int32, float32, float64. Any other dtype raises
    TypeError (convert first); a shape IDX cannot hold raises IdxError. `compress=None` means gzip exactly
    when the name ends with `.gz`.
    """
    array = np.asarray(array)
    code = _CODE_FOR_DTYPE.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(
            f"{path}: IDX cannot store dtype {array.dtype}; convert first, e.g. array.astype(np.float32) "
            "(storable: uint8, int8, int16, int32, float32, float64)"
        )
    if not 1 <= array.ndim <= MAX_DIMS:
        raise IdxError(f"{path}: IDX holds 1 to {MAX_DIMS} dimensions but the array has {array.ndim}")
    if max(array.shape) > 0xFFFF_FFFF:
        raise IdxError(f"{path}: IDX sizes are 32-bit but the array has shape {array.shape}")
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    body = np.ascontiguousarray(array, dtype=TYPE_CODES[code])
    if compress is None:
        compress = Path(path).name.endswith(".gz")
    with atomic_open(path) as f:
        if compress:
            # mtime=0 and no file name make the output depend on the data only; level 6 is several times
            # faster than the default 9 for about 1% more bytes.
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=6, mtime=0) as gz:
                gz.write(header)
                gz.write(body.tobytes())
        else:
            f.write(header)
            f.write(body.tobytes())


def write_images(path: str | os.PathLike[str], images: np.ndarray, compress: bool | None = None) -> None:
    """Write images (N, rows, cols) or (N, side * side) as IDX with the canonical 3-D header (N, rows, cols).

    Standard IDX readers insist on the 3-D form, so MNIST read in either form and written back gives the
    canonical file byte for byte (before compression). Otherwise as `write_idx`.
    """
    images = np.asarray(images)
    try:
        stack = image_stack(images, str(path))
    except IdxError:
        raise IdxError(
            f"{path}: images must have shape (N, rows, cols) or (N, side * side), not "
            f"{_shape_text(images.shape)}; reshape them first"
        ) from None
    write_idx(path, stack, compress)


def read_labeled_images(
    images_path: str | os.PathLike[str], labels_path: str | os.PathLike[str], num_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file and its labels file and check they fit -> images (N, rows, cols), labels (N,)."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    check_labeled_images(images, labels, str(images_path), str(labels_path), num_classes)
    return image_stack(images, str(images_path)), labels


def image_stack(images: np.ndarray, name: str) -> np.ndarray:
    """Images (N, rows, cols) as they are, or flattened (N, side * side) reshaped to (N, side, side).

    Canonical MNIST files hold (N, 28, 28); some copies (the one older gradwise bundled included)
    hold (N, 784) despite the `idx3` in their names, so a square pixel count is read as a square image.
    Anything else raises IdxError.
    """
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side == images.shape[1] and side > 0:
            return images.reshape(len(images), side, side)
    if images.ndim != 3:
        raise IdxError(
            f"{name}: expected images of shape (N, rows, cols) or (N, side * side) but the file holds shape "
            f"{_shape_text(images.shape)}; is it the right file?"
        )
    if 0 in images.shape[1:]:
        raise IdxError(f"{name}: holds images of {images.shape[1]}x{images.shape[2]} pixels; is it the right file?")
    return images


def check_labeled_images(
    images: np.ndarray, labels: np.ndarray, images_name: str, labels_name: str, num_classes: int | None = 10
) -> None:
    """Raise IdxError unless images fit `image_stack` and labels are (N,) integers in [0, num_classes).

    `num_classes=None` (a data set of unknown origin) only refuses negative labels.
    """
    image_stack(images, images_name)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise IdxError(
            f"{labels_name}: expected integer labels of shape (N,) but the file holds {labels.dtype} "
            f"of shape {_shape_text(labels.shape)}; is it the right file?"
        )
    if len(images) != len(labels):
        raise IdxError(
            f"{labels_name}: holds {len(labels)} labels but {images_name} holds {len(images)} images; "
            "both files must come from the same data set and split"
        )
    if num_classes is None:
        if labels.size and labels.min() < 0:
            i = int(np.argmax(labels < 0))
            raise IdxError(
                f"{labels_name}: label {labels[i]} at index {i} is negative; class labels are 0, 1, 2, ...: "
                "is it the right file?"
            )
        return
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        i = int(np.argmax(bad))
        raise IdxError(
            f"{labels_name}: label {labels[i]} at index {i} is outside [0, {num_classes}); "
            f"the labels do not belong to a {num_classes}-class data set"
        )


def _parse_header(head: bytes, total: int, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """Check the header of an uncompressed IDX file of `total` bytes -> (disk dtype, shape, data offset)."""
    if total == 0:
        raise IdxError(f"{name}: empty file (0 bytes); {_DAMAGED}")
    if total < 4:
        raise IdxError(f"{name}: truncated: {total} bytes is less than the 4-byte magic number; {_DAMAGED}")
    if head[0] or head[1]:
        raise IdxError(
            f"{name}: wrong magic number 0x{head[:4].hex()}: IDX files start with two zero bytes; {_DAMAGED}"
        )
    code, ndim = head[2], head[3]
    if code not in TYPE_CODES:
        raise IdxError(f"{name}: unknown type code 0x{code:02x} (known: {_KNOWN_CODES}); {_DAMAGED}")
    if not 1 <= ndim <= MAX_DIMS:
        raise IdxError(f"{name}: header declares {ndim} dimensions, not 1 to {MAX_DIMS}; {_DAMAGED}")
    offset = 4 + 4 * ndim
    if total < offset:
        raise IdxError(
            f"{name}: truncated: header declares {ndim} dimensions ({offset}-byte header) "
            f"but the file holds {total} bytes; {_DAMAGED}"
        )
    shape = struct.unpack(f">{ndim}I", head[4:offset])
    dtype = TYPE_CODES[code]
    items = math.prod(shape)  # Python ints: absurd sizes cannot overflow, they just fail the length check
    expected, held = items * dtype.itemsize, total - offset
    if held != expected:
        problem = "truncated" if held < expected else "trailing bytes"
        raise IdxError(
            f"{name}: {problem}: header declares {items} items ({expected} bytes of data, shape "
            f"{_shape_text(shape)}) but the file holds {held}; {_DAMAGED}"
        )
    if math.prod(max(n, 1) for n in shape) * dtype.itemsize > np.iinfo(np.intp).max:
        # An empty array whose other sides are huge: NumPy refuses to build it.
        raise IdxError(f"{name}: header declares shape {_shape_text(shape)}, too large for NumPy; {_DAMAGED}")
    return dtype, shape, offset


def _gunzip(data: bytes | bytearray, name: str) -> bytes:
    """Decompress gzip `data`; any corruption becomes one IdxError."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise IdxError(f"{name}: corrupt gzip data ({_one_line(e)}); re-download or re-create it") from e


def _is_empty(shape: tuple[int, ...]) -> bool:
    return math.prod(shape) == 0


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape) if shape else "()"


def _one_line(message: object) -> str:
    return " ".join(str(message).split())

