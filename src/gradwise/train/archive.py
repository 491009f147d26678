"""The one reader of the ``.npz`` archives gradwise writes (the model file and the checkpoint).

It never unpickles, checks each array's ``.npy`` header before reading a byte of data, and allocates only what the
archive really holds: every way a zip, its compression or a header can be damaged becomes one CheckpointError line
that names the file and what to do.
"""

from __future__ import annotations

import math
import warnings
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from gradwise.files import DAMAGED_ARCHIVE_ERRORS


class CheckpointError(ValueError):
    """A model file, checkpoint or run folder that cannot be used: one line naming the file, what is wrong, what to
    do."""


class NpzReader:
    """Reads the arrays of an ``np.savez`` archive safely.

    ``kind`` names the archive in messages ("model file", "checkpoint"), ``fix`` says what to do about a damaged one,
    and ``owner`` what dictates the shapes ("the architecture", "the run").
    """

    def __init__(self, path: Path, kind: str, fix: str, owner: str) -> None:
        self.path, self.kind, self.fix, self.owner = path, kind, fix, owner
        try:
            self._zip = zipfile.ZipFile(path)
        except DAMAGED_ARCHIVE_ERRORS as error:
            raise self._damaged(error) from None
        names = self._zip.namelist()
        strange = [name for name in names if not name.endswith(".npy")]
        if strange:
            self._zip.close()
            raise CheckpointError(f"{path}: holds {strange[0][:80]!r}, which is not a NumPy array; not a {kind}")
        self.keys = {name[: -len(".npy")] for name in names}

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def array(self, key: str, shape: tuple[int, ...] | None = None, max_bytes: int | None = None) -> np.ndarray:
        """The array stored under ``key``; CheckpointError unless its header declares ``shape`` (if given) and at most
        ``max_bytes`` (if given).

        The header is checked before any data is read, and the data read is only what the archive holds.
        """
        try:
            with self._zip.open(f"{key}.npy") as f, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy warns about Python 2 headers; the file is checked anyway
                declared, fortran_order, dtype = self._header(f, key)
                if shape is not None and tuple(declared) != shape:
                    raise CheckpointError(
                        f"{self.path}: array {key} has shape {tuple(declared)}, {self.owner} needs {shape}"
                    )
                nbytes = math.prod(declared) * dtype.itemsize
                if min(declared, default=0) < 0 or (max_bytes is not None and nbytes > max_bytes):
                    raise CheckpointError(f"{self.path}: array {key} declares an impossible shape {tuple(declared)}")
                # Reading one byte more than declared checks the length and makes zipfile verify the CRC.
                data = f.read(nbytes + 1)
            if len(data) != nbytes:
                raise CheckpointError(
                    f"{self.path}: array {key} holds {len(data)} bytes but its header declares {nbytes}; "
                    f"the file is damaged: {self.fix}"
                )
            return np.frombuffer(data, dtype=dtype).reshape(declared, order="F" if fortran_order else "C")
        except CheckpointError:
            raise
        except DAMAGED_ARCHIVE_ERRORS as error:
            raise self._damaged(error) from None

    def _header(self, f: object, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
        version = npy_format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise CheckpointError(
                f"{self.path}: array {key} has .npy format version {version[0]}.{version[1]}, which gradwise "
                f"does not read; {self.fix}"
            )
        read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        declared, fortran_order, dtype = read_header(f)
        if dtype.hasobject:
            raise CheckpointError(f"{self.path}: holds object arrays, which are never unpickled; {self.fix}")
        return tuple(declared), fortran_order, dtype

    def _damaged(self, error: BaseException) -> CheckpointError:
        return CheckpointError(f"{self.path}: damaged or not a {self.kind} ({type(error).__name__}); {self.fix}")
