"""``y += a x``, ``y = a x + b y`` and ``C = alpha A B + beta C`` in one pass: numpy's own BLAS when it can be
reached, numpy otherwise.

Speed: numpy has no axpy, so a momentum step written with ufuncs (``m *= b; m += g; p -= lr * m``) makes
five single-threaded passes over every weight matrix. The OpenBLAS that numpy links has ``axpby`` and
``axpy``: two passes, on numpy's BLAS threads. This module looks the two functions up among the
libraries numpy's own extension module depends on (never another package's OpenBLAS that happens to be
loaded, such as scipy's), binds them with ctypes through their real signatures and checks them on a
small case before use. ``gemm`` is the product numpy's ``matmul`` runs, plus what ``matmul`` cannot say:
add into the output (``beta``), which lets an optimizer's momentum take the weight gradient straight from
the product, with no gradient array written and read back. Where numpy's BLAS lacks these, or with
``GRADWISE_BLAS=numpy`` in the environment, the same functions run as numpy ufuncs. The two paths agree to
rounding (BLAS may fuse the multiply-add); the choice is made once, at import, so a process never changes
path mid-run and a seed gives the same numbers whatever was imported before gradwise.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Array = np.ndarray
# (symbol pattern, integer type): scipy-openblas64 in numpy's wheels prefixes and suffixes its names and
# takes 64-bit integers; a system OpenBLAS exports plain cblas_* names with 32-bit integers.
_NAMINGS = (("scipy_cblas_{}64_", ctypes.c_int64), ("cblas_{}64_", ctypes.c_int64), ("cblas_{}", ctypes.c_int32))
_THREAD_NAMINGS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)
# A training step whose forward pass has at most this many multiply-adds runs on one BLAS thread. Its GEMMs
# then take ~0.1 ms each on one core, and a second thread gains little when it is awake (784-1000-10 at batch 1:
# 0.43 ms a step on one thread, 0.48 on two) and costs 2-5x when the second core must be woken first, as on a
# busy or virtual machine (0.9 to 2.6 ms a step, from run to run). Above it two threads win (medians of
# alternating rounds, one thread / two: 784-1000-10 at batch 10 0.98 / 0.71-0.76 ms, 784-512-512-512-10 at batch 10
# 2.1 / 1.6 ms and at batch 3 1.50 / 1.10 ms, 784-30-10 at batch 128 0.36 / 0.30 ms).
SINGLE_THREAD_MACS = 2_000_000
# Below this many elements the arrays sit in cache, numpy's ufuncs are as fast, and ctypes' call costs more.
BLAS_MIN_SIZE = 1 << 17
_CTYPE = {np.dtype(np.float32): ("s", ctypes.c_float), np.dtype(np.float64): ("d", ctypes.c_double)}
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS's enum values
# numpy's extension module that links its BLAS (numpy 2 moved it from numpy.core to numpy._core).
_NUMPY_EXTENSIONS = ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath")


@dataclass(frozen=True)
class _Bound:
    """numpy's BLAS functions, bound with their signatures, and what they were bound from."""

    functions: dict[tuple[str, np.dtype], Callable[..., None]]
    max_n: int  # the largest element count the library's integer type holds
    library: str  # the file the functions live in
    get_threads: Callable[[], int] | None = None  # OpenBLAS's thread count, where the library exports it
    set_threads: Callable[[int], None] | None = None


def _numpy_extension() -> str | None:
    """The file of numpy's own extension module, whose dependencies include the BLAS numpy links."""
    for name in _NUMPY_EXTENSIONS:
        try:
            return str(importlib.import_module(name).__file__)
        except (ImportError, AttributeError):
            continue
    return None


def _file_holding(address: int) -> str:
    """The mapped file that holds ``address`` (Linux's /proc/self/maps); "" where that cannot be read."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return ""
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        low, _, high = fields[0].partition("-")
        if int(low, 16) <= address < int(high, 16) and len(fields) == 6:
            return fields[5]
    return ""


def _bind(library: ctypes.CDLL) -> tuple[dict[tuple[str, np.dtype], Callable[..., None]], type] | None:
    """axpy and axpby for float32 and float64 under the first naming the library exports, with argtypes set."""
    for pattern, integer in _NAMINGS:
        bound: dict[tuple[str, np.dtype], Callable[..., None]] = {}
        try:
            for dtype, (prefix, scalar) in _CTYPE.items():
                axpy = getattr(library, pattern.format(prefix + "axpy"))
                axpy.argtypes = [integer, scalar, ctypes.c_void_p, integer, ctypes.c_void_p, integer]
                axpby = getattr(library, pattern.format(prefix + "axpby"))
                axpby.argtypes = [integer, scalar, ctypes.c_void_p, integer, scalar, ctypes.c_void_p, integer]
                gemm = getattr(library, pattern.format(prefix + "gemm"))
                gemm.argtypes = [
                    ctypes.c_int, ctypes.c_int, ctypes.c_int, integer, integer, integer,
                    scalar, ctypes.c_void_p, integer, ctypes.c_void_p, integer, scalar, ctypes.c_void_p, integer,
                ]  # fmt: skip
                axpy.restype = axpby.restype = gemm.restype = None
                bound["axpy", dtype], bound["axpby", dtype], bound["gemm", dtype] = axpy, axpby, gemm
        except AttributeError:
            continue
        return bound, integer
    return None


def _passes_self_test(functions: dict[tuple[str, np.dtype], Callable[..., None]]) -> bool:
    """A wrong integer width, argument order or calling convention shows here, not in a training run."""
    for dtype in _CTYPE:
        x, y = np.arange(1, 15, dtype=dtype), np.full(7, 2, dtype=dtype)
        functions["axpby", dtype](7, 3, x.ctypes.data, 2, 0.5, y.ctypes.data, 1)  # y = 3 x[::2] + 1
        functions["axpy", dtype](7, -1, x.ctypes.data, 2, y.ctypes.data, 1)  # y = 2 x[::2] + 1
        if not np.array_equal(y, 2 * x[::2] + 1):
            return False
        a, b, c = (
            np.arange(6, dtype=dtype).reshape(3, 2),
            np.arange(12, dtype=dtype).reshape(3, 4),
            np.ones((2, 4), dtype),
        )
        functions["gemm", dtype](_ROW_MAJOR, _TRANS, _NO_TRANS, 2, 4, 3, 2, a.ctypes.data, 2, b.ctypes.data, 4, 3,
                                 c.ctypes.data, 4)  # fmt: skip
        if not np.array_equal(c, 2 * a.T @ b + 3):
            return False
    return True


def _load() -> _Bound | None:
    if os.environ.get("GRADWISE_BLAS", "").lower() == "numpy":
        return None
    extension = _numpy_extension()
    if extension is None:
        return None
    try:
        # Already loaded: this only opens a handle, and a handle's symbols are looked up in the module and
        # the libraries it depends on, so another package's OpenBLAS in the process is never found.
        found = _bind(ctypes.CDLL(extension))
    except OSError:
        return None
    if found is None or not _passes_self_test(found[0]):
        return None
    functions, integer = found
    address = ctypes.cast(functions["axpy", np.dtype(np.float64)], ctypes.c_void_p).value or 0
    get, set_ = _thread_control(ctypes.CDLL(extension))
    return _Bound(functions, 2 ** (8 * ctypes.sizeof(integer) - 1) - 1, _file_holding(address), get, set_)


def _thread_control(library: ctypes.CDLL) -> tuple[Callable[[], int] | None, Callable[[int], None] | None]:
    """OpenBLAS's get/set of its thread count (what threadpoolctl calls), under either naming."""
    for get_name, set_name in _THREAD_NAMINGS:
        try:
            get, set_ = getattr(library, get_name), getattr(library, set_name)
        except AttributeError:
            continue
        get.argtypes, get.restype = [], ctypes.c_int
        set_.argtypes, set_.restype = [ctypes.c_int], None
        return get, set_
    return None, None


_BLAS = _load()


def backend() -> str:
    """Which path runs: ``"openblas"`` or ``"numpy"``. Chosen once, at import."""
    return "openblas" if _BLAS is not None else "numpy"


def library() -> str:
    """The file numpy's BLAS functions were bound from ("" on the numpy path)."""
    return _BLAS.library if _BLAS is not None else ""


def _blas(name: str, x: Array, y: Array) -> Callable[..., None] | None:
    """The BLAS function for these arrays, or None when they need the numpy path."""
    if _BLAS is None or x.size < BLAS_MIN_SIZE or x.dtype != y.dtype or x.shape != y.shape:
        return None
    if not (x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable):
        return None
    if x.size > _BLAS.max_n or np.may_share_memory(x, y):  # a count the int type cannot hold; BLAS assumes no overlap
        return None
    return _BLAS.functions.get((name, x.dtype))


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


def _operand(m: Array) -> tuple[int, int] | None:
    """(CBLAS transpose flag, leading dimension) of a matrix that is C-contiguous or the transpose of one."""
    if m.flags.c_contiguous:
        return _NO_TRANS, m.shape[1]
    if m.T.flags.c_contiguous:
        return _TRANS, m.shape[0]
    return None


def _gemm(a: Array, b: Array, out: Array) -> Callable[..., None] | None:
    """The BLAS gemm for these matrices, or None when they need the numpy path."""
    if _BLAS is None or not a.dtype == b.dtype == out.dtype or 0 in (*a.shape, b.shape[1]):
        return None
    if not (out.flags.c_contiguous and out.flags.writeable and out.shape == (a.shape[0], b.shape[1])):
        return None
    if max(a.size, b.size, out.size) > _BLAS.max_n or np.may_share_memory(out, a) or np.may_share_memory(out, b):
        return None
    return _BLAS.functions.get(("gemm", out.dtype))


def gemm(a: Array, b: Array, out: Array, alpha: float = 1.0, beta: float = 0.0) -> Array:
    """``out = alpha * a @ b + beta * out`` in place; ``a`` and ``b`` may be transposed views (``x.T``)."""
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"gemm: shapes {a.shape} and {b.shape} do not chain")
    fn, left, right = _gemm(a, b, out), _operand(a), _operand(b)
    if fn is not None and left is not None and right is not None:
        (m, k), n = a.shape, b.shape[1]
        fn(_ROW_MAJOR, left[0], right[0], m, n, k, alpha, a.ctypes.data, left[1], b.ctypes.data, right[1], beta,
           out.ctypes.data, n)  # fmt: skip
        return out
    product = np.matmul(a, b)
    if beta == 0:  # as BLAS: the output's old contents are not read, so a NaN there does not survive
        return np.multiply(product, out.dtype.type(alpha), out=out)
    out *= out.dtype.type(beta)
    out += out.dtype.type(alpha) * product
    return out


class threads_for:  # lower case: it reads as a function, ``with threads_for(macs):``
    """Within the block, one BLAS thread if the work's forward pass has at most ``SINGLE_THREAD_MACS``
    multiply-adds; the thread count set before is given back at the end. A class, not a generator: the
    training step enters it every step."""

    def __init__(self, forward_macs: int) -> None:
        self.forward_macs = forward_macs
        self.restore: Callable[[], None] | None = None  # gives the thread count back, once it was lowered

    def __enter__(self) -> None:
        bound = _BLAS
        if bound is None or bound.get_threads is None or (set_threads := bound.set_threads) is None:
            return
        if self.forward_macs <= SINGLE_THREAD_MACS and (threads := bound.get_threads()) > 1:
            set_threads(1)
            self.restore = functools.partial(set_threads, threads)

    def __exit__(self, *exc: object) -> None:
        if self.restore is not None:
            self.restore()
            self.restore = None
