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

Every GEMM of a step (forward, weight gradient, input gradient, evaluation) goes through ``gemm``, which runs it on
the backend ``use`` set (``gemm_backends``): numpy's OpenBLAS, MKL where the optional wheel is installed, or, by
default (``"auto"``), whichever of them was faster on that shape when the process first met it.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradwise.gemm_backends import (
    MKL_MISSING,
    Chooser,
    GemmBackend,
    bind_vectors,
    cblas_call,
    cblas_layout,
    cblas_runner,
    forced_numpy,
    gemm_argtypes,
    gemm_passes,
    load_mkl,
    numpy_gemm,
    vector_passes,
)

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
SETTINGS = ("auto", "openblas", "mkl")  # what ``use`` (and ``--blas``) accepts
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
        try:
            bound = bind_vectors(library, pattern, integer)
            for dtype, (prefix, scalar) in _CTYPE.items():
                gemm = getattr(library, pattern.format(prefix + "gemm"))
                gemm.argtypes, gemm.restype = gemm_argtypes(scalar, integer), None
                bound["gemm", dtype] = gemm
        except AttributeError:
            continue
        return bound, integer
    return None


def _passes_self_test(functions: dict[tuple[str, np.dtype], Callable[..., None]]) -> bool:
    """A wrong integer width, argument order or calling convention shows here, not in a training run."""
    return vector_passes(functions) and gemm_passes(cblas_runner({d: functions["gemm", d] for d in _CTYPE}))


def _load() -> _Bound | None:
    if forced_numpy():
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
    # MKL's own axpy and axpby while the GEMMs run on MKL: one library's thread pool in a step, not two
    vector = _chooser().vector
    return (vector if vector and x.size < 2**31 else _BLAS.functions).get((name, x.dtype))


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


def _openblas() -> GemmBackend:
    """numpy's own BLAS as a GEMM backend: its gemm bound above, or numpy's matmul on the numpy path."""
    return GemmBackend("openblas", _openblas_gemm, library(), max_n=_BLAS.max_n if _BLAS is not None else 2**31 - 1)


def _openblas_gemm(a: Array, b: Array, out: Array, alpha: float, beta: float) -> None:
    bound = _BLAS
    if bound is None or (alpha == 1 and beta == 0):  # numpy's matmul calls the same gemm, for less than ctypes costs
        numpy_gemm(a, b, out, alpha, beta)
    else:
        cblas_call(bound.functions["gemm", out.dtype], a, b, out, alpha, beta)


@functools.cache
def _mkl() -> GemmBackend | None:
    """MKL's GEMM, loaded the first time it is asked for; None without the wheel or with ``GRADWISE_BLAS=numpy``."""
    return None if forced_numpy() else load_mkl()


@functools.cache
def _loaded() -> dict[str, GemmBackend]:
    """Every GEMM backend this process can use, numpy's own first (it wins a tie)."""
    mkl = _mkl()
    return {"openblas": _openblas(), **({"mkl": mkl} if mkl is not None else {})}


@functools.cache
def _numpy_only() -> bool:
    """True when numpy's own BLAS is the only GEMM backend (no MKL): every choice is made already."""
    return tuple(_loaded()) == ("openblas",)


@functools.cache
def _chooser() -> Chooser:
    return Chooser(dict(_loaded()))


def available() -> tuple[str, ...]:
    """The GEMM backends this process can use: ``("openblas",)`` or ``("openblas", "mkl")``."""
    return tuple(_loaded())


def missing(setting: str) -> str | None:
    """Why ``use(setting)`` cannot work here, in words for the user; None when it can."""
    if setting not in SETTINGS:
        return f"unknown {setting!r}; choose one of: {', '.join(SETTINGS)}"
    if setting == "mkl" and forced_numpy():
        return "GRADWISE_BLAS=numpy is set, so gradwise binds no library; unset it to use MKL"
    if setting in ("auto", "openblas") or _mkl() is not None:
        return None
    return MKL_MISSING


def use(setting: str) -> None:
    """Run every GEMM from now on on ``setting``'s backend: ``"openblas"``, ``"mkl"``, or ``"auto"`` (per shape, the
    faster, timed when the shape is first seen); ValueError for one this process cannot use."""
    if (why := missing(setting)) is not None:
        raise ValueError(f"blas {setting}: {why}")
    _chooser().configure(setting, dict(_loaded()))


def gemm_state() -> dict[str, object]:
    """What a checkpoint records of the GEMMs: the setting, the backend they ran on (none yet: []), and for ``auto``
    the backend fastest on each shape alone."""
    chooser = _chooser()
    current = chooser.current()
    return {"setting": chooser.setting, "used": [current] if current else [], "fastest": dict(chooser.chosen)}


def continue_from(state: dict[str, object]) -> list[str]:
    """Take up a saved run's GEMM backend (``gemm_state()``'s): ``auto`` keeps the backend the run used, so the run
    goes on with the same numbers. Returns the backends it used that this process lacks."""
    used = state.get("used")
    names = [str(name) for name in used] if isinstance(used, list) else []
    lacking = [name for name in names if name not in _loaded()]
    chooser = _chooser()
    if chooser.setting == "auto" and names and not lacking:
        chooser.configure("auto", {name: backend for name, backend in _loaded().items() if name in names})
    return lacking


def gemm(a: Array, b: Array, out: Array | None = None, alpha: float = 1.0, beta: float = 0.0) -> Array:
    """``out = alpha * a @ b + beta * out`` in place, on the chosen backend; ``a`` and ``b`` may be transposed
    views (``x.T``). Without ``out``, a new array of the product's dtype (``alpha a @ b``)."""
    if out is not None and (_numpy_only() or _on_numpys_own(a, b)):
        return _numpys_gemm(a, b, out, alpha, beta)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"gemm: shapes {a.shape} and {b.shape} do not chain")
    if out is None:
        out, beta = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b)), 0.0
    chooser = _chooser()
    if cblas_layout(a, b, out, min(backend.max_n for backend in chooser.backends.values())) is not None:
        (chooser.known(a, b) or chooser.pick(a, b, out)).run(a, b, out, alpha, beta)
    else:
        numpy_gemm(a, b, out, alpha, beta)
    return out


def _on_numpys_own(a: Array, b: Array) -> bool:
    """Whether this GEMM's shape is known to run on numpy's own BLAS (auto chose it, or it was asked for)."""
    known = _chooser().known(a, b)
    return known is not None and known.run is _openblas_gemm  # numpy's own gemm, which _numpys_gemm calls directly


def _numpys_gemm(a: Array, b: Array, out: Array, alpha: float, beta: float) -> Array:
    """``gemm`` on numpy's own BLAS. Speed: a step at batch 1 makes a GEMM every few microseconds, so this path
    checks the least: numpy's matmul where it computes the same (for less than a ctypes call costs), else the
    bound gemm with the layout found once."""
    if alpha == 1 and beta == 0:
        return np.matmul(a, b, out=out)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"gemm: shapes {a.shape} and {b.shape} do not chain")
    bound = _BLAS
    if bound is not None and (layout := cblas_layout(a, b, out, bound.max_n)) is not None:
        cblas_call(bound.functions["gemm", out.dtype], a, b, out, alpha, beta, layout)
    else:
        numpy_gemm(a, b, out, alpha, beta)
    return out


class threads_for:  # lower case: it reads as a function, ``with threads_for(macs):``
    """Within the block, one BLAS thread if the work's forward pass has at most ``SINGLE_THREAD_MACS``
    multiply-adds; the thread count set before is given back at the end. A class, not a generator: the
    training step enters it every step."""

    def __init__(self, forward_macs: int) -> None:
        self.forward_macs = forward_macs
        self.restore: list[Callable[[], object]] = []  # give the thread counts back, once they were lowered

    def __enter__(self) -> None:
        if self.forward_macs > SINGLE_THREAD_MACS:
            return
        undo: list[Callable[[], object]] = []
        bound = _BLAS
        if bound is not None and bound.get_threads is not None and (set_threads := bound.set_threads) is not None:
            if (threads := bound.get_threads()) > 1:
                set_threads(1)
                undo.append(functools.partial(set_threads, threads))
        mkl = None if _numpy_only() else _chooser().library  # MKL's count is per calling thread: set, given back
        if mkl is not None and mkl.set_threads is not None:
            undo.append(functools.partial(mkl.set_threads, mkl.set_threads(1)))
        self.restore = undo

    def __exit__(self, *exc: object) -> None:
        for restore in self.restore:
            restore()
        self.restore = []
