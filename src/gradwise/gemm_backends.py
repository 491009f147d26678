"""The GEMMs gradwise can run, and the choice among them: numpy's OpenBLAS, and Intel's MKL where the optional
``mkl`` wheel is installed (``pip install 'gradwise[mkl]'``).

A backend is a name and a function ``run(a, b, out, alpha, beta)`` computing ``out = alpha a @ b + beta out``
in place. MKL's ``cblas_sgemm``/``cblas_dgemm`` are bound through ctypes from the wheel's ``libmkl_rt``, found
under ``sys.prefix/lib`` (where the wheel puts it) or beside site-packages, and checked on a small case before use,
as ``blas`` checks numpy's OpenBLAS; without the wheel the backend is simply absent.

``Chooser`` picks the backend. Given a backend's name it runs every GEMM there; given ``"auto"`` with more than
one backend, it times each backend on a shape the first time the shape is seen (``REPEATS`` calls each, median),
records which was faster on it, and runs every shape on the backend with the least time over the shapes seen so
far (the first step's shapes settle it); a tie (within ``MARGIN``) goes to the first backend, numpy's own.
Two libraries in one step run two thread pools, which fight over the cores when one's threads spin as the other
works (on a 2-core AMD EPYC, a 784-1000-10 step at batch 128 took 2.6 ms on OpenBLAS alone, 14 ms with MKL's
GEMMs beside OpenBLAS's vector updates, 3.1 ms with MKL for both), so a backend must win a shape clearly to take it.
"""

from __future__ import annotations

import ctypes
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Array = np.ndarray
GemmRun = Callable[[Array, Array, Array, float, float], None]  # run(a, b, out, alpha, beta): out = alpha a b + beta out
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS's enum values
SCALARS: dict[np.dtype[Any], tuple[str, Any]] = {
    np.dtype(np.float32): ("s", ctypes.c_float),
    np.dtype(np.float64): ("d", ctypes.c_double),
}
REPEATS = 5  # timed calls per backend when a shape is first seen
# Another backend must be this much faster than the first to be chosen: no flip-flop on a tie, and no second thread
# pool for a few per cent (the AMD EPYC above: MKL 4-8 % ahead of OpenBLAS on dz W^T, behind on the rest; on an
# Intel Xeon the issue measured MKL 1.25-1.35x ahead on every step shape).
MARGIN = 0.15
TIMED_ROWS = 512  # a larger batch (an evaluation's) is timed on its first rows: the time per row is what differs
MKL_MISSING = "MKL is not installed; pip install 'gradwise[mkl]'"
_MKL_LP64 = 0  # MKL_INTERFACE_LP64: 32-bit integers, what the binding below declares


@dataclass(frozen=True)
class GemmBackend:
    """One library's GEMM: ``run`` takes float32 or float64 matrices of one dtype, ``a`` and ``b`` C-contiguous or
    transposes of C-contiguous, ``out`` C-contiguous and apart from both (``cblas_runner`` says which can)."""

    name: str
    run: GemmRun
    library: str = ""  # the file it was bound from
    set_threads: Callable[[int], int] | None = None  # sets this thread's thread count, returns the one before
    max_n: int = 2**31 - 1  # the largest dimension or element count its integer type holds
    vector: dict[tuple[str, np.dtype], Callable[..., None]] = field(default_factory=dict)  # its axpy and axpby


def operand(m: Array) -> tuple[int, int] | None:
    """(CBLAS transpose flag, leading dimension) of a matrix that is C-contiguous or the transpose of one."""
    if m.flags.c_contiguous:
        return NO_TRANS, m.shape[1]
    if m.T.flags.c_contiguous:
        return TRANS, m.shape[0]
    return None


Layout = tuple[int, int, int, int]  # CBLAS transpose flag and leading dimension of a, then of b


def cblas_layout(a: Array, b: Array, out: Array, max_n: int) -> Layout | None:
    """How a CBLAS gemm takes these matrices as they are: (a's transpose flag, lda, b's, ldb); None when it
    cannot (numpy's matmul must). Speed: a step at batch 1 makes a GEMM every few microseconds, so the
    cheap tests come first and the layout found here is what ``cblas_call`` passes on."""
    if not (out.flags.c_contiguous and out.flags.writeable) or not a.dtype == b.dtype == out.dtype:
        return None
    if a.dtype not in SCALARS or out.shape != (a.shape[0], b.shape[1]) or 0 in out.shape or a.shape[1] == 0:
        return None
    left, right = operand(a), operand(b)
    if left is None or right is None or max(a.size, b.size, out.size) > max_n:
        return None
    if np.may_share_memory(out, a) or np.may_share_memory(out, b):
        return None
    return (*left, *right)


def cblas_call(
    fn: Callable[..., None], a: Array, b: Array, out: Array, alpha: float, beta: float, layout: Layout | None = None
) -> None:
    """``out = alpha a b + beta out`` through a library's ``cblas_?gemm``; ``layout`` is ``cblas_layout``'s (found
    here when not given), which the caller has checked is not None."""
    left, lda, right, ldb = layout or cblas_layout(a, b, out, 2**63)  # type: ignore[misc]
    (m, k), n = a.shape, b.shape[1]
    fn(ROW_MAJOR, left, right, m, n, k, alpha, a.ctypes.data, lda, b.ctypes.data, ldb, beta, out.ctypes.data, n)


def cblas_runner(functions: dict[np.dtype, Callable[..., None]]) -> GemmRun:
    """``run`` for a library's ``cblas_?gemm`` functions by dtype."""

    def run(a: Array, b: Array, out: Array, alpha: float, beta: float) -> None:
        cblas_call(functions[out.dtype], a, b, out, alpha, beta)

    return run


def gemm_argtypes(scalar: type, integer: type) -> list[type]:
    """``cblas_?gemm``'s arguments: order, two transposes, m n k, alpha, A lda, B ldb, beta, C ldc."""
    return [
        ctypes.c_int, ctypes.c_int, ctypes.c_int, integer, integer, integer,
        scalar, ctypes.c_void_p, integer, ctypes.c_void_p, integer, scalar, ctypes.c_void_p, integer,
    ]  # fmt: skip


def gemm_passes(run: GemmRun) -> bool:
    """A wrong integer width, argument order or transpose flag shows here, not in a training run."""
    for dtype in SCALARS:
        a = np.arange(6, dtype=dtype).reshape(3, 2)
        b = np.arange(12, dtype=dtype).reshape(3, 4)
        c = np.ones((2, 4), dtype)
        run(a.T, b, c, 2.0, 3.0)  # c = 2 a^T b + 3
        d = np.full((4, 2), 5, dtype)
        run(b.T, a, d, 1.0, 0.0)  # beta 0: the 5s are not read
        if not (np.array_equal(c, 2 * a.T @ b + 3) and np.array_equal(d, b.T @ a)):
            return False
    return True


def mkl_candidates() -> Iterator[Path]:
    """Where the ``mkl`` wheel puts ``libmkl_rt.so.N``: the environment's lib folder, or beside site-packages."""
    folders = [Path(sys.prefix) / "lib", Path(sys.base_prefix) / "lib"]
    folders += [Path(p).parents[2] for p in sys.path if p.endswith("site-packages") and len(Path(p).parents) > 2]
    seen: set[Path] = set()
    for folder in folders:
        if folder in seen or not folder.is_dir():
            continue
        seen.add(folder)
        yield from sorted(folder.glob("libmkl_rt.so*"), reverse=True)  # the highest version first


def load_mkl(candidates: Iterator[Path] | None = None) -> GemmBackend | None:
    """MKL's GEMM from the first ``libmkl_rt`` that loads and passes the self-test; None without one."""
    for path in mkl_candidates() if candidates is None else candidates:
        try:
            library = ctypes.CDLL(str(path))
            library.MKL_Set_Interface_Layer.argtypes = [ctypes.c_int]
            library.MKL_Set_Interface_Layer(_MKL_LP64)  # before any other call: the default could be ILP64
            functions: dict[np.dtype[Any], Callable[..., None]] = {}
            for dtype, (prefix, scalar) in SCALARS.items():
                fn = getattr(library, f"cblas_{prefix}gemm")
                fn.argtypes, fn.restype = gemm_argtypes(scalar, ctypes.c_int32), None
                functions[dtype] = fn
            set_threads = library.MKL_Set_Num_Threads_Local
            set_threads.argtypes, set_threads.restype = [ctypes.c_int], ctypes.c_int
            vector = bind_vectors(library, "cblas_{}", ctypes.c_int32)  # MKL's LP64 interface
        except (OSError, AttributeError):
            continue
        run = cblas_runner(functions)
        if gemm_passes(run) and vector_passes(vector):
            return GemmBackend("mkl", run, str(path), set_threads, vector=vector)
    return None


def bind_vectors(library: ctypes.CDLL, pattern: str, integer: Any) -> dict[tuple[str, np.dtype], Callable[..., None]]:
    """``?axpy`` and ``?axpby`` for float32 and float64, named by ``pattern`` (``"cblas_{}"``), with their argtypes;
    AttributeError when the library lacks one."""
    functions: dict[tuple[str, np.dtype], Callable[..., None]] = {}
    for dtype, (prefix, scalar) in SCALARS.items():
        axpy, axpby = (getattr(library, pattern.format(prefix + name)) for name in ("axpy", "axpby"))
        axpy.argtypes = [integer, scalar, ctypes.c_void_p, integer, ctypes.c_void_p, integer]
        axpby.argtypes = [integer, scalar, ctypes.c_void_p, integer, scalar, ctypes.c_void_p, integer]
        axpy.restype = axpby.restype = None
        functions["axpy", dtype], functions["axpby", dtype] = axpy, axpby
    return functions


def vector_passes(functions: dict[tuple[str, np.dtype], Callable[..., None]]) -> bool:
    """axpy and axpby on a strided case: a wrong integer width or argument order shows here."""
    for dtype in SCALARS:
        x, y = np.arange(1, 15, dtype=dtype), np.full(7, 2, dtype=dtype)
        functions["axpby", dtype](7, 3, x.ctypes.data, 2, 0.5, y.ctypes.data, 1)  # y = 3 x[::2] + 1
        functions["axpy", dtype](7, -1, x.ctypes.data, 2, y.ctypes.data, 1)  # y = 2 x[::2] + 1
        if not np.array_equal(y, 2 * x[::2] + 1):
            return False
    return True


def numpy_gemm(a: Array, b: Array, out: Array, alpha: float = 1.0, beta: float = 0.0) -> None:
    """``out = alpha a @ b + beta out`` with numpy's matmul: any layout or dtype numpy accepts."""
    if alpha == 1 and beta == 0:
        np.matmul(a, b, out=out)
        return
    product = np.matmul(a, b)
    if beta == 0:  # as BLAS: the output's old contents are not read, so a NaN there does not survive
        np.multiply(product, out.dtype.type(alpha), out=out)
        return
    out *= out.dtype.type(beta)
    out += out.dtype.type(alpha) * product


def _shape_key(a: Array, b: Array) -> str:
    """What a GEMM's speed depends on: dtype, layouts, m x k @ k x n (``"float32 NT 128x784@784x1000"``)."""
    layout = "".join("N" if m.flags.c_contiguous else "T" for m in (a, b))
    return f"{a.dtype} {layout} {a.shape[0]}x{a.shape[1]}@{b.shape[0]}x{b.shape[1]}"


def _fast_key(a: Array, b: Array) -> tuple[object, ...]:
    """What ``_shape_key`` says (layouts as strides), as a tuple: a step makes a GEMM every few microseconds, and this
    is cheaper to build."""
    return a.dtype, a.shape, a.strides, b.shape, b.strides


@dataclass
class Chooser:
    """The backend of every GEMM, by ``setting``: a backend's name, or ``"auto"``: each shape is timed on every
    backend when first seen, and all shapes run on the library with the least time over the shapes timed so far.
    One library, not the winner of each shape: two libraries in a step run two thread pools that fight over the
    cores (see the module's docstring); ``chosen`` still records each shape's own winner."""

    backends: dict[str, GemmBackend]  # in order of preference on a tie
    setting: str = "auto"
    timer: Callable[[], float] = time.perf_counter
    chosen: dict[str, str] = field(default_factory=dict)  # shape key -> the backend fastest on it alone
    timings: dict[str, dict[str, float]] = field(default_factory=dict)  # shape key -> backend -> median seconds
    fixed: GemmBackend | None = field(init=False, default=None)  # the backend of every GEMM from now on, if settled
    library: GemmBackend | None = field(init=False, default=None)  # the backend GEMMs run on now (None: none yet)
    seen: set[tuple[object, ...]] = field(init=False, default_factory=set)  # ``_fast_key`` of every shape timed
    vector: dict[tuple[str, np.dtype], Callable[..., None]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.configure(self.setting, self.backends)

    def configure(self, setting: str, backends: dict[str, GemmBackend]) -> None:
        """Choose among ``backends`` by ``setting`` from now on (under ``auto``, shapes are timed again)."""
        self.setting, self.backends = setting, backends
        self.timings, self.seen = {}, set()
        only = next(iter(backends.values())) if len(backends) == 1 else None
        self._settle(backends[setting] if setting != "auto" else only)

    def _settle(self, backend: GemmBackend | None) -> None:
        self.fixed, self.library = backend, backend
        self.vector = backend.vector if backend is not None else {}

    def current(self) -> str | None:
        """The name of the backend GEMMs run on now; None before auto timed anything."""
        return self.library.name if self.library is not None else None

    def known(self, a: Array, b: Array) -> GemmBackend | None:
        """The backend for a GEMM whose shape needs no timing (cheaper than ``pick``); None if it does."""
        if self.fixed is not None:
            return self.fixed
        return self.library if _fast_key(a, b) in self.seen else None

    def pick(self, a: Array, b: Array, out: Array) -> GemmBackend:
        """The backend for this GEMM; under ``auto`` a new shape is timed on scratch arrays first."""
        if self.fixed is not None:
            return self.fixed
        key = _shape_key(a, b)
        if key not in self.timings:
            medians = self.timings[key] = self.fastest(a, b, out)
            self.chosen[key] = _winner(medians)
            totals = {name: sum(t[name] for t in self.timings.values()) for name in self.backends}
            self.library = self.backends[_winner(totals)]
            self.vector = self.library.vector
            self.seen.add(_fast_key(a, b))
        assert self.library is not None
        return self.library

    def fastest(self, a: Array, b: Array, out: Array) -> dict[str, float]:
        """Time every backend on copies of these shapes: a warm-up call each, then ``REPEATS`` calls of each in turn,
        numpy's own first, so a challenger runs while the threads before it still spin and must win despite that."""
        rows = min(a.shape[0], TIMED_ROWS)
        rng = np.random.default_rng(0)
        left = _like(a[:rows], rng)
        right, product = _like(b, rng), np.empty((rows, out.shape[1]), out.dtype)
        for backend in self.backends.values():  # wakes threads and touches memory
            backend.run(left, right, product, 1.0, 0.0)
        medians: dict[str, float] = {}
        for name, backend in self.backends.items():
            spent = []
            for _ in range(REPEATS):
                started = self.timer()
                backend.run(left, right, product, 1.0, 0.0)
                spent.append(self.timer() - started)
            medians[name] = statistics.median(spent)
        return medians


def _winner(seconds: dict[str, float]) -> str:
    """The backend with the least time, if it beats the first (numpy's own) by ``MARGIN``; else the first."""
    first = next(iter(seconds))
    best = min(seconds, key=seconds.__getitem__)
    return best if seconds[best] < (1 - MARGIN) * seconds[first] else first


def _like(m: Array, rng: np.random.Generator) -> Array:
    """A matrix of ``m``'s shape, dtype and layout (C-contiguous or a transpose of one), filled with noise."""
    values = rng.standard_normal(m.shape[::-1] if not m.flags.c_contiguous else m.shape).astype(m.dtype)
    return values.T if not m.flags.c_contiguous else values


def forced_numpy() -> bool:
    """``GRADWISE_BLAS=numpy``: every product and update in numpy's own terms, no library bound by gradwise."""
    return os.environ.get("GRADWISE_BLAS", "").lower() == "numpy"
