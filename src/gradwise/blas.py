"""``y += a x`` and ``y = a x + b y`` in one pass: numpy's own BLAS when it can be reached, numpy ufuncs otherwise.

Speed: numpy has no axpy, so a momentum step written with ufuncs (``m *= b; m += g; p -= lr * m``) makes
five single-threaded passes over every weight matrix. The OpenBLAS that numpy already loaded has
``axpby`` and ``axpy``: two passes, on numpy's BLAS threads. This module finds that library among the
process's mapped files (Linux), binds the two functions with ctypes and checks them on a small case
before use. Anywhere else, or with ``GRADWISE_BLAS=numpy`` in the environment, the same functions run as
numpy ufuncs. The two paths agree to rounding (BLAS may fuse the multiply-add); one process always
takes the same path, so a seed gives the same numbers.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

Array = np.ndarray
# (symbol pattern, integer type): scipy-openblas64 in numpy's wheels prefixes and suffixes its names and
# takes 64-bit integers; a system OpenBLAS exports plain cblas_* names with 32-bit integers.
_NAMINGS = (("scipy_cblas_{}64_", ctypes.c_int64), ("cblas_{}64_", ctypes.c_int64), ("cblas_{}", ctypes.c_int32))
# Below this many elements the arrays sit in cache, numpy's ufuncs are as fast, and ctypes' call costs more.
BLAS_MIN_SIZE = 1 << 17
_CTYPE = {np.dtype(np.float32): ("s", ctypes.c_float), np.dtype(np.float64): ("d", ctypes.c_double)}


def _mapped_openblas() -> Path | None:
    """The OpenBLAS shared library this process has loaded (numpy loads its BLAS on import), if any."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        path = line.split(maxsplit=5)[-1]
        if "openblas" in Path(path).name.lower() and ".so" in path:
            return Path(path)
    return None


def _bind(library: ctypes.CDLL) -> dict[tuple[str, np.dtype], Callable[..., None]] | None:
    for pattern, integer in _NAMINGS:
        bound: dict[tuple[str, np.dtype], Callable[..., None]] = {}
        try:
            for dtype, (prefix, scalar) in _CTYPE.items():
                axpy = getattr(library, pattern.format(prefix + "axpy"))
                axpy.argtypes = [integer, scalar, ctypes.c_void_p, integer, ctypes.c_void_p, integer]
                axpby = getattr(library, pattern.format(prefix + "axpby"))
                axpby.argtypes = [integer, scalar, ctypes.c_void_p, integer, scalar, ctypes.c_void_p, integer]
                axpy.restype = axpby.restype = None
                bound["axpy", dtype], bound["axpby", dtype] = axpy, axpby
        except AttributeError:
            continue
        return bound
    return None


def _load() -> dict[tuple[str, np.dtype], Callable[..., None]] | None:
    if os.environ.get("GRADWISE_BLAS", "").lower() == "numpy":
        return None
    path = _mapped_openblas()
    if path is None:
        return None
    try:
        bound = _bind(ctypes.CDLL(str(path)))  # the library is already loaded: this only looks up symbols
    except OSError:
        return None
    if bound is None:
        return None
    for dtype in _CTYPE:  # a wrong integer width or calling convention shows here, not in a training run
        x, y = np.arange(1, 8, dtype=dtype), np.full(7, 2, dtype=dtype)
        bound["axpby", dtype](7, 3, x.ctypes.data, 1, 0.5, y.ctypes.data, 1)
        bound["axpy", dtype](7, -1, x.ctypes.data, 1, y.ctypes.data, 1)
        if not np.array_equal(y, 2 * x + 1):
            return None
    return bound


_BLAS = _load()


def backend() -> str:
    """Which path runs: ``"openblas"`` or ``"numpy"``."""
    return "openblas" if _BLAS is not None else "numpy"


def _blas(name: str, x: Array, y: Array) -> Callable[..., None] | None:
    """The BLAS function for these arrays, or None when they need the numpy path."""
    if _BLAS is None or x.size < BLAS_MIN_SIZE or x.dtype != y.dtype or x.shape != y.shape:
        return None
    if not (x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable):
        return None
    return _BLAS.get((name, x.dtype))


def axpy(a: float, x: Array, y: Array) -> None:
    """``y += a * x`` in place."""
    fn = _blas("axpy", x, y)
    if fn is not None:
        fn(x.size, a, x.ctypes.data, 1, y.ctypes.data, 1)
    elif a == 1:
        y += x
    else:
        y += y.dtype.type(a) * x


def axpby(a: float, x: Array, b: float, y: Array) -> None:
    """``y = a * x + b * y`` in place."""
    fn = _blas("axpby", x, y)
    if fn is not None:
        fn(x.size, a, x.ctypes.data, 1, b, y.ctypes.data, 1)
        return
    if b != 1:
        y *= y.dtype.type(b)
    axpy(a, x, y)
