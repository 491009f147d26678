"""Reading a trace's tensor files: numbers as text, ``.npy``, or one ``trace.npz``; never unpickled.

Text is what ``numpy.savetxt``, hmatrix's ``saveMatrix``, Julia's ``writedlm``, R's ``write.table`` and
Octave's ``save -ascii`` write: one row per line, numbers separated by spaces, tabs, commas or semicolons,
``#`` starting a comment. Every problem is one ``TraceError`` line naming the file, what is wrong and the fix.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from gradwise.files import DAMAGED_ARCHIVE_ERRORS

TEXT_SUFFIXES = (".txt", ".csv", ".tsv", ".dat")
NPZ_NAME = "trace.npz"
_SEPARATORS = re.compile(r"[\s,;]+")
_DAMAGED = DAMAGED_ARCHIVE_ERRORS


class TraceError(ValueError):
    """A trace cannot be read: a file is missing, malformed or does not fit the network; the message is one line."""


def parse_text(text: str, name: str) -> np.ndarray:
    """Numbers as text -> float64 array (rows, columns); a ragged row or a word raises TraceError."""
    rows: list[list[float]] = []
    first_line = 0
    for number, line in enumerate(text.splitlines(), start=1):
        fields = [f for f in _SEPARATORS.split(line.split("#", 1)[0].strip()) if f]
        if not fields:
            continue
        try:
            values = [float(field) for field in fields]
        except ValueError:
            word = next(f for f in fields if not _is_number(f))
            raise TraceError(
                f"{name}: line {number}: {word[:40]!r} is not a number; write numbers only "
                "(no header row or row names: R's write.table needs row.names=FALSE, col.names=FALSE)"
            ) from None
        if rows and len(values) != len(rows[0]):
            raise TraceError(
                f"{name}: line {number} has {len(values)} numbers but line {first_line} has {len(rows[0])}; "
                "every row of a matrix needs the same count"
            )
        first_line = first_line or number
        rows.append(values)
    if not rows:
        raise TraceError(f"{name}: holds no numbers; write the tensor (numpy.savetxt, saveMatrix, writedlm)")
    return np.array(rows, dtype=np.float64)


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def read_text(path: Path) -> np.ndarray:
    """A text tensor file -> float64 array (rows, columns)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise TraceError(f"{path}: is not text; write numbers as text, or save it as .npy") from None
    except OSError as error:
        raise TraceError(f"{path}: cannot read: {error.strerror or error}") from None
    return parse_text(text, str(path))


def checked_array(array: np.ndarray, name: str) -> np.ndarray:
    """A numeric array of at most 2 dimensions as float64; anything else raises TraceError."""
    if array.dtype.kind not in "biuf":
        raise TraceError(f"{name}: holds {array.dtype} values, not numbers; save a float array")
    if array.ndim > 2:
        raise TraceError(f"{name}: has {array.ndim} dimensions {array.shape}; save a vector or a matrix")
    return np.asarray(array, dtype=np.float64)


def read_npy(path: Path) -> np.ndarray:
    """A ``.npy`` tensor file -> float64 array; pickled object arrays are refused, never loaded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = np.load(path, allow_pickle=False)
    except _DAMAGED as error:
        raise TraceError(
            f"{path}: not a readable .npy array ({type(error).__name__}); save it with numpy.save"
        ) from None
    if not isinstance(array, np.ndarray):
        raise TraceError(f"{path}: is an .npz archive, not one .npy array; name it {NPZ_NAME}")
    return checked_array(array, str(path))


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of a ``trace.npz`` -> {name: float64 array}; a damaged archive raises TraceError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.load(path, allow_pickle=False) as archive:
                if not isinstance(archive, np.lib.npyio.NpzFile):
                    raise TraceError(f"{path}: is not an .npz archive; save it with numpy.savez")
                arrays = {name: archive[name] for name in archive.files}
    except TraceError:
        raise
    except _DAMAGED as error:
        raise TraceError(
            f"{path}: not a readable .npz archive ({type(error).__name__}); save it with numpy.savez"
        ) from None
    return {name: checked_array(array, f"{path}[{name}]") for name, array in arrays.items()}


def read_folder(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors of a trace folder -> ({name: array}, {name: where it came from}); a name given twice is refused."""
    tensors: dict[str, np.ndarray] = {}
    sources: dict[str, str] = {}
    npz = folder / NPZ_NAME
    if npz.is_file():
        for name, array in read_npz(npz).items():
            tensors[name], sources[name] = array, f"{npz}[{name}]"
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in (*TEXT_SUFFIXES, ".npy"):
            continue
        name = path.name[: -len(suffix)]
        if name in sources:
            raise TraceError(f"{path}: {name} is also given as {sources[name]}; keep one of them")
        tensors[name] = read_npy(path) if suffix == ".npy" else read_text(path)
        sources[name] = str(path)
    return tensors, sources
