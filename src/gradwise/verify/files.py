"""Reading a trace's tensor files: numbers as text, ``.npy``, or one ``trace.npz``; never unpickled.

Text is what ``numpy.savetxt``, hmatrix's ``saveMatrix``, Julia's ``writedlm``, R's ``write.table`` and
Octave's ``save -ascii`` write: one row per line, numbers separated by spaces, tabs, commas or semicolons,
``#`` starting a comment. Every problem is one ``TraceError`` line naming the file, what is wrong and the fix.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gradwise.files import DAMAGED_ARCHIVE_ERRORS
from gradwise.verify.precision import dtype_rounding, text_rounding

TEXT_SUFFIXES = (".txt", ".csv", ".tsv", ".dat")
NPZ_NAME = "trace.npz"
NETWORK_NAME = "network.json"  # the trace's description of the network (verify/network.py)
_SEPARATORS = re.compile(r"[\s,;]+")
_JSON_SEPARATORS = re.compile(r"[\s,\[\]]+")
DIGITS_SAMPLE = 5000


class TraceError(ValueError):
    """A trace cannot be read: a file is missing, malformed or does not fit the network; the message is one line."""


def parse_text(text: str, name: str) -> np.ndarray:
    """Numbers as text -> float64 array (rows, columns); a ragged row or a word raises TraceError."""
    return parse_text_digits(text, name)[0]


@dataclass(frozen=True)
class TextFormat:
    """How a text file writes its numbers: the most significant digits of any (0: integers only), and the number
    of decimals when every number has the same (a fixed-point format such as C's %f or JavaScript's toFixed)."""

    digits: int
    decimals: int | None


def parse_text_digits(text: str, name: str) -> tuple[np.ndarray, TextFormat]:
    """Numbers as text -> (float64 array, the format they are written in).

    The format is read off the first DIGITS_SAMPLE numbers.
    """
    if text.lstrip().startswith("["):
        return _json_array(text, name)
    rows: list[list[float]] = []
    first_line = 0
    digits = 0
    decimals: set[int | None] = set()
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
        if len(rows) * len(values) < DIGITS_SAMPLE:
            digits = max(digits, *map(_significant_digits, fields))
            decimals |= {_decimals(field) for field in fields}
        first_line = first_line or number
        rows.append(values)
    if not rows:
        raise TraceError(f"{name}: holds no numbers; write the tensor (numpy.savetxt, saveMatrix, writedlm)")
    fixed = next(iter(decimals)) if len(decimals) == 1 else None
    return np.array(rows, dtype=np.float64), TextFormat(digits, fixed)


def _json_array(text: str, name: str) -> tuple[np.ndarray, TextFormat]:
    """A JSON array of numbers, or of rows of numbers (JavaScript's JSON.stringify of a matrix)."""
    try:
        data = json.loads(text)
        array = np.array(data, dtype=np.float64)
    except (json.JSONDecodeError, ValueError, TypeError, RecursionError) as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else "not numbers in rows of one length"
        raise TraceError(
            f"{name}: a JSON array that cannot be read ({reason}); write numbers, or rows of numbers of one length"
        ) from None
    if array.size == 0:
        raise TraceError(f"{name}: holds no numbers; write the tensor (numpy.savetxt, saveMatrix, writedlm)")
    if array.ndim > 2:
        raise TraceError(f"{name}: a JSON array of {array.ndim} dimensions {array.shape}; save a vector or a matrix")
    fields = [f for f in _JSON_SEPARATORS.split(text) if f][:DIGITS_SAMPLE]
    digits = max(map(_significant_digits, fields), default=0)
    decimals = {_decimals(field) for field in fields}
    return array, TextFormat(digits, next(iter(decimals)) if len(decimals) == 1 else None)


def _decimals(field: str) -> int | None:
    """The digits after the point of a number written without an exponent; None for 1e-5 or 7."""
    _, point, fraction = field.partition(".")
    return len(fraction) if point and "e" not in field.lower() else None


def _significant_digits(field: str) -> int:
    """How many significant digits a number is written with: 0 for an integer, 5 for 0.012340 or 1.2340e-2."""
    mantissa, e, _ = field.lower().partition("e")
    whole, point, fraction = mantissa.lstrip("+-").partition(".")
    if (not point and not e) or not (whole + fraction).strip("0"):
        return 0  # an integer, or zero, is exact
    return len((whole + fraction).lstrip("0"))


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def read_text(path: Path) -> tuple[np.ndarray, TextFormat]:
    """A text tensor file -> (float64 array (rows, columns), how its numbers are written)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a byte-order mark (PowerShell, Excel) is no number
    except UnicodeDecodeError:
        raise TraceError(f"{path}: is not text; write numbers as text, or save it as .npy") from None
    except OSError as error:
        raise TraceError(f"{path}: cannot read: {error.strerror or error}") from None
    return parse_text_digits(text, str(path))


def checked_array(array: np.ndarray, name: str) -> np.ndarray:
    """A numeric array of at most 2 dimensions (after dropping axes of length 1, as in a stack of (n, 1) column
    vectors) as float64; anything else raises TraceError."""
    if array.dtype.kind not in "biuf":
        raise TraceError(f"{name}: holds {array.dtype} values, not numbers; save a float array")
    if array.ndim > 2:
        array = array.squeeze()
        if array.ndim > 2:
            raise TraceError(f"{name}: has {array.ndim} dimensions {array.shape}; save a vector or a matrix")
    return np.asarray(array, dtype=np.float64)


def read_npy(path: Path) -> tuple[np.ndarray, float]:
    """A ``.npy`` tensor file -> (float64 array, its dtype's rounding); pickled arrays are refused, never loaded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = np.load(path, allow_pickle=False)
    except DAMAGED_ARCHIVE_ERRORS as error:
        raise TraceError(
            f"{path}: not a readable .npy array ({type(error).__name__}); save it with numpy.save"
        ) from None
    if not isinstance(array, np.ndarray):
        raise TraceError(f"{path}: is an .npz archive, not one .npy array; name it {NPZ_NAME}")
    return checked_array(array, str(path)), dtype_rounding(array.dtype)


def read_npz(path: Path) -> dict[str, tuple[np.ndarray, float]]:
    """Every array of a ``trace.npz`` -> {name: (float64 array, its dtype's rounding)}; damage raises TraceError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.load(path, allow_pickle=False) as archive:
                if not isinstance(archive, np.lib.npyio.NpzFile):
                    raise TraceError(f"{path}: is not an .npz archive; save it with numpy.savez")
                arrays = {name: archive[name] for name in archive.files}
    except TraceError:
        raise
    except DAMAGED_ARCHIVE_ERRORS as error:
        raise TraceError(
            f"{path}: not a readable .npz archive ({type(error).__name__}); save it with numpy.savez"
        ) from None
    return {
        name: (checked_array(array, f"{path}[{name}]"), dtype_rounding(array.dtype)) for name, array in arrays.items()
    }


@dataclass
class Tensors:
    """A trace's tensors by name, where each came from, and how finely each was stored (relative rounding)."""

    values: dict[str, np.ndarray] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    rounding: dict[str, float] = field(default_factory=dict)
    absolute: dict[str, float] = field(default_factory=dict)  # per-entry rounding of fixed-point text (%f)

    def add(self, name: str, values: np.ndarray, source: str, rounding: float, absolute: float = 0.0) -> None:
        if name in self.sources:
            raise TraceError(f"{source}: {name} is also given as {self.sources[name]}; keep one of them")
        self.values[name], self.sources[name], self.rounding[name] = values, source, rounding
        if absolute:
            self.absolute[name] = absolute


def read_folder(folder: Path) -> Tensors:
    """The tensors of a trace folder; a name given twice is refused."""
    tensors = Tensors()
    npz = folder / NPZ_NAME
    if npz.is_file():
        for name, (array, rounding) in read_npz(npz).items():
            tensors.add(name, array, f"{npz}[{name}]", rounding)
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in (*TEXT_SUFFIXES, ".npy"):
            continue
        name = path.name[: -len(suffix)]
        absolute = 0.0
        if suffix == ".npy":
            array, rounding = read_npy(path)
        else:
            array, written = read_text(path)
            rounding, absolute = text_rounding(name, written.digits, written.decimals, array)
        tensors.add(name, array, str(path), rounding, absolute)
    return tensors
