"""The GEMM backends (numpy's OpenBLAS, MKL from the optional wheel) and ``--blas auto|openblas|mkl``.

Every test here runs without MKL installed: where a second backend is needed, a stand-in "mkl" computes with
numpy and a fake clock says how long it took, so ``auto``'s choice is decided by the test, not by the machine.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gradwise import blas, gemm_backends
from gradwise.cli.main import main
from gradwise.gemm_backends import MKL_MISSING, Chooser, GemmBackend, load_mkl, numpy_gemm
from gradwise.train.config import ConfigError, TrainConfig

SMALL = ["--limit-train", "300", "--validation", "100", "--hidden", "16", "--batch-size", "50", "--seed", "1"]
MISSING_LINE = "error: --blas mkl: MKL is not installed; pip install 'gradwise[mkl]'\n"


class Clock:
    """A timer that only moves when a fake backend says it worked: ``cost[name]`` seconds a call."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def timed_backend(name, clock, cost, calls):
    """A backend that computes with numpy, advances ``clock`` by ``cost(a, b)`` and counts its calls."""

    def run(a, b, out, alpha, beta):
        numpy_gemm(a, b, out, alpha, beta)
        clock.now += cost(a, b)
        calls.append(name)

    return GemmBackend(name, run)


def reset_caches():
    for cached in (blas._mkl, blas._loaded, blas._chooser, blas._numpy_only):
        cached.cache_clear()


@pytest.fixture
def fresh_blas(monkeypatch):
    """blas's backends loaded again under the test's patches, and again for the next test, without them."""
    reset_caches()
    yield monkeypatch
    reset_caches()


@pytest.fixture
def no_mkl(fresh_blas):
    """A process in which the mkl wheel is not installed, whether or not this environment has it."""
    fresh_blas.setattr(blas, "load_mkl", lambda: None)
    return fresh_blas


@pytest.fixture
def stand_in_mkl(fresh_blas):
    """A process with a second backend named mkl, and a clock that says mkl takes 1 s a call, openblas 2 s;
    yields (the costs, the calls made, the monkeypatch)."""
    clock, calls, cost = Clock(), [], {"openblas": 2.0, "mkl": 1.0}
    fresh_blas.setattr(blas, "load_mkl", lambda: timed_backend("mkl", clock, lambda a, b: cost["mkl"], calls))
    openblas = lambda: timed_backend("openblas", clock, lambda a, b: cost["openblas"], calls)  # noqa: E731
    fresh_blas.setattr(blas, "_openblas", openblas)
    blas._chooser().timer = clock
    yield cost, calls, fresh_blas
    blas.use("auto")


def uninstall_mkl(monkeypatch):
    """The same process as if the mkl wheel had gone: loaded again, without it."""
    monkeypatch.setattr(blas, "load_mkl", lambda: None)
    reset_caches()


@pytest.mark.parametrize(("mkl_cost", "expected"), [(1.0, "mkl"), (3.0, "openblas"), (1.75, "openblas")])
def test_auto_keeps_the_faster_backend_for_a_shape(mkl_cost, expected, rng):
    # 1.75 s against 2 s is within the 15 % margin: a tie, which numpy's own backend (listed first) wins.
    clock, calls = Clock(), []
    costs = {"openblas": 2.0, "mkl": mkl_cost}
    backends = {name: timed_backend(name, clock, lambda a, b, n=name: costs[n], calls) for name in costs}
    chooser = Chooser(backends, "auto", timer=clock)
    a, b = rng.standard_normal((8, 5)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    assert chooser.pick(a, b, np.empty((8, 3), np.float32)).name == expected
    repeats = gemm_backends.REPEATS
    assert calls == ["openblas", "mkl", *["openblas"] * repeats, *["mkl"] * repeats]  # a warm-up call each, then each
    assert chooser.chosen == {"float32 NN 8x5@5x3": expected} and chooser.current() == expected
    calls.clear()
    assert chooser.pick(a, b, np.empty((8, 3), np.float32)).name == expected
    assert calls == []  # a shape is timed once


def test_auto_times_each_shape_and_runs_all_on_the_least_total_time(rng):
    # The stand-in mkl is faster on tall products only. Each shape's own winner is recorded; all shapes run on the
    # library with the least time over the shapes seen: one thread pool in a step, not two.
    clock, calls = Clock(), []
    costs = {"openblas": lambda a, b: 1.0, "mkl": lambda a, b: 0.5 if a.shape[0] > 100 else 2.0}
    chooser = Chooser({n: timed_backend(n, clock, costs[n], calls) for n in costs}, "auto", timer=clock)
    tall, wide = rng.standard_normal((128, 6)).astype(np.float32), rng.standard_normal((2, 6)).astype(np.float32)
    w = rng.standard_normal((6, 4)).astype(np.float32)
    assert chooser.pick(tall, w, np.empty((128, 4), np.float32)).name == "mkl"  # totals: openblas 1, mkl 0.5
    calls.clear()
    assert chooser.pick(tall.copy(), w, np.empty((128, 4), np.float32)).name == "mkl"  # the same shape: not timed
    assert calls == []
    assert chooser.pick(wide, w, np.empty((2, 4), np.float32)).name == "openblas"  # totals: openblas 2, mkl 2.5
    assert chooser.pick(tall, w, np.empty((128, 4), np.float32)).name == "openblas"  # every shape follows
    assert chooser.pick(w.T, tall.T, np.empty((4, 128), np.float32)).name == "openblas"  # "TT 4x6@6x128": new
    assert chooser.chosen == {
        "float32 NN 128x6@6x4": "mkl", "float32 NN 2x6@6x4": "openblas", "float32 TT 4x6@6x128": "openblas",
    }  # fmt: skip
    assert chooser.current() == "openblas"


def test_a_set_backend_is_never_timed(rng):
    clock, calls = Clock(), []
    backends = {n: timed_backend(n, clock, lambda a, b: 1.0, calls) for n in ("openblas", "mkl")}
    chooser = Chooser(backends, "mkl", timer=clock)
    a = rng.standard_normal((4, 4)).astype(np.float32)
    assert chooser.pick(a, a, np.empty((4, 4), np.float32)).name == "mkl"
    assert calls == [] and chooser.chosen == {}


def test_gemm_runs_on_the_backend_auto_chose(stand_in_mkl, rng):
    _, calls, _ = stand_in_mkl
    x, w = rng.standard_normal((32, 20)).astype(np.float32), rng.standard_normal((20, 7)).astype(np.float32)
    out = blas.gemm(x, w, np.empty((32, 7), np.float32))
    np.testing.assert_allclose(out, x @ w, rtol=1e-5, atol=1e-5)
    calls.clear()
    dw = blas.gemm(x.T, out, np.ones((20, 7), np.float32), 0.5, 0.9)  # a sink's GEMM: a new shape, timed
    np.testing.assert_allclose(dw, 0.5 * x.T @ out + 0.9, rtol=1e-5, atol=1e-5)
    assert calls[-1] == "mkl"
    assert blas.gemm_state() == {
        "setting": "auto",
        "used": ["mkl"],
        "fastest": {"float32 NN 32x20@20x7": "mkl", "float32 TN 20x32@32x7": "mkl"},
    }
    blas.use("openblas")
    calls.clear()
    blas.gemm(x.T, out, np.ones((20, 7), np.float32), 0.5, 0.9)
    assert calls == ["openblas"]
    assert blas.gemm_state()["used"] == ["openblas"]


def test_the_same_seed_on_the_same_backend_gives_the_same_bits(rng):
    from gradwise import optim
    from gradwise.nn.network import grad, mlp

    def weights_after_steps():
        net, optimizer = mlp([30, 40, 5], rng=4), optim.momentum(0.05, 0.9)
        state = optimizer.init(net.params)
        data = np.random.default_rng(2)
        for _ in range(5):
            x = data.standard_normal((16, 30)).astype(np.float32)
            t = np.eye(5, dtype=np.float32)[data.integers(0, 5, 16)]
            _, grads = grad(net, "ce", x, t)
            state = optim.move(net.params, grads, optimizer, state)
        return net.params

    for setting in blas.available():
        blas.use(setting)
        first, second = weights_after_steps(), weights_after_steps()
        assert all(np.array_equal(first[k], second[k]) for k in first), setting
    blas.use("auto")


# The throughput grid's GEMMs (forward, x^T dz, dz W^T), smaller ones, and a sink's alpha and beta.
SHAPES = [((128, 784), (784, 1000), "NN"), ((128, 784), (128, 1000), "TN"), ((128, 1000), (784, 1000), "NT"),
          ((10, 100), (100, 10), "NN"), ((2, 30), (2, 10), "TN"), ((512, 512), (512, 512), "NN")]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_backend_agrees_with_a_float64_product_to_its_precision(dtype, rng):
    # With the mkl wheel installed this compares MKL with OpenBLAS; without it, numpy's OpenBLAS bound through ctypes
    # with numpy's own matmul (both are checked against the float64 product either way).
    runs = {name: backend.run for name, backend in blas._loaded().items()} | {"numpy": numpy_gemm}
    assert len(runs) >= 2 and "openblas" in runs
    for (ra, ca), (rb, cb), layout in SHAPES:
        a, b = rng.standard_normal((ra, ca)).astype(dtype), rng.standard_normal((rb, cb)).astype(dtype)
        left, right = (a.T if layout[0] == "T" else a), (b.T if layout[1] == "T" else b)
        start = rng.standard_normal((left.shape[0], right.shape[1])).astype(dtype)
        exact = -0.5 * (left.astype(np.float64) @ right.astype(np.float64)) + 0.9 * start
        # 2 k eps (the float64 reference rounds too): a k-term sum rounds by at most ~k eps times the sum of |terms|,
        # and far less here, while a wrong transpose, stride or scalar is off by the values' own size (~sqrt(k)).
        scale = 2 * left.shape[1]
        results = {}
        for name, run in runs.items():
            out = start.copy()
            assert gemm_backends.cblas_layout(left, right, out, 2**31 - 1) is not None
            run(left, right, out, -0.5, 0.9)
            np.testing.assert_allclose(out, exact, rtol=0, atol=scale * np.finfo(dtype).eps, err_msg=name)
            results[name] = out
        first = results.pop("openblas")
        for name, out in results.items():
            np.testing.assert_allclose(out, first, rtol=0, atol=2 * scale * np.finfo(dtype).eps, err_msg=name)


def test_a_missing_mkl_is_simply_not_there(no_mkl, tmp_path):
    assert blas.available() == ("openblas",)
    assert blas.missing("mkl") == MKL_MISSING == "MKL is not installed; pip install 'gradwise[mkl]'"
    assert blas.missing("auto") is None and blas.missing("openblas") is None
    with pytest.raises(ValueError, match=r"^blas mkl: MKL is not installed; pip install 'gradwise\[mkl\]'$"):
        blas.use("mkl")
    with pytest.raises(ConfigError) as caught:
        TrainConfig(blas="mkl")
    assert str(caught.value) == "blas mkl: MKL is not installed; pip install 'gradwise[mkl]'"
    with pytest.raises(ConfigError, match="^blas: unknown 'atlas'; choose one of: auto, openblas, mkl$"):
        TrainConfig(blas="atlas")
    x = np.ones((3, 2), np.float32)
    np.testing.assert_array_equal(blas.gemm(x, x.T), np.full((3, 3), 2, np.float32))  # auto runs on what is there


def test_load_mkl_passes_over_what_is_not_mkl(tmp_path):
    junk = tmp_path / "libmkl_rt.so.2"
    junk.write_bytes(b"not a shared library")
    not_mkl = blas.library()  # numpy's OpenBLAS: a real library without MKL's functions
    assert not_mkl, "numpy's OpenBLAS is not bound: nothing real to pass over"
    assert load_mkl(iter([junk, tmp_path / "libmkl_rt.so.9"])) is None
    assert load_mkl(iter([junk, *([gemm_backends.Path(not_mkl)])])) is None


def test_the_wheel_is_looked_for_in_the_environments_lib_folder(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("libmkl_rt.so.2", "libmkl_rt.so.3", "libmkl_core.so.2"):
        (lib / name).write_bytes(b"")
    monkeypatch.setattr(gemm_backends.sys, "prefix", str(tmp_path))
    found = list(gemm_backends.mkl_candidates())
    assert found[:2] == [lib / "libmkl_rt.so.3", lib / "libmkl_rt.so.2"]


def test_blas_mkl_without_mkl_is_one_line_and_exit_2(no_mkl, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *SMALL, "--max-steps", "2", "--blas", "mkl", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err == MISSING_LINE
    assert not out.exists()
    assert main(["train", *SMALL, "--blas", "fast"]) == 2
    assert "--blas: invalid choice: 'fast' (choose from 'auto', 'openblas', 'mkl')" in capsys.readouterr().err


def run_state(folder):
    with np.load(folder / "checkpoint.npz") as archive:
        return json.loads(str(archive["__run__"]))


def test_the_checkpoint_records_the_choice_and_a_resume_without_that_backend_says_so(stand_in_mkl, tmp_path, capsys):
    cost, _, monkeypatch = stand_in_mkl
    folder = tmp_path / "run"
    flags = [*SMALL, "--max-steps", "3", "--checkpoint-every", "2", "--out", str(folder), "--no-monitor"]
    assert main(["train", *flags, "--blas", "auto"]) == 0
    gemm = run_state(folder)["gemm"]
    assert gemm["setting"] == "auto" and gemm["used"] == ["mkl"]
    assert "float32 NN 50x784@784x16" in gemm["fastest"] and set(gemm["fastest"].values()) == {"mkl"}
    capsys.readouterr()

    cost["mkl"] = 5.0  # now slower: a resumed run still keeps to mkl, for the same bits
    assert main(["train", "--resume", str(folder)]) == 0
    assert "GEMMs ran on" not in capsys.readouterr().out
    assert blas.gemm_state()["used"] == ["mkl"]

    uninstall_mkl(monkeypatch)
    assert main(["train", "--resume", str(folder)]) == 0
    expected = (
        "resume: the checkpoint's GEMMs ran on mkl, which this process cannot use (MKL is not installed; pip install "
        "'gradwise[mkl]'); they run on openblas here, and the numbers can differ from an uninterrupted run in the last "
        "bits"
    )
    assert expected in capsys.readouterr().out.splitlines()


def test_a_run_set_to_mkl_records_it_and_its_resume_without_mkl_is_one_line(stand_in_mkl, tmp_path, capsys):
    folder = tmp_path / "run"
    flags = [*SMALL, "--max-steps", "3", "--checkpoint-every", "2", "--out", str(folder), "--no-monitor"]
    assert main(["train", *flags, "--blas", "mkl"]) == 0
    assert run_state(folder)["gemm"] == {"setting": "mkl", "used": ["mkl"], "fastest": {}}
    assert json.loads((folder / "config.json").read_text())["blas"] == "mkl"
    capsys.readouterr()
    uninstall_mkl(stand_in_mkl[2])
    assert main(["train", "--resume", str(folder)]) == 2
    assert capsys.readouterr().err == (
        f"error: {folder / 'config.json'}: blas mkl: MKL is not installed; pip install 'gradwise[mkl]'\n"
    )


def test_a_small_step_runs_mkl_on_one_thread_and_gives_its_count_back(stand_in_mkl):
    seen = []

    def set_threads(n):
        seen.append(n)
        return 4 if n == 1 else 1

    mkl = blas._chooser().backends["mkl"]
    blas._chooser().library = GemmBackend("mkl", mkl.run, set_threads=set_threads)  # what auto chose, or --blas mkl
    with blas.threads_for(blas.SINGLE_THREAD_MACS):
        assert seen == [1]
    assert seen == [1, 4]
    with blas.threads_for(blas.SINGLE_THREAD_MACS + 1):
        pass
    assert seen == [1, 4]


def test_gradwise_blas_numpy_still_forces_the_numpy_path():
    code = "from gradwise import blas; print(blas.backend(), blas.available(), blas.missing('mkl'))"
    env = {**os.environ, "GRADWISE_BLAS": "numpy"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "numpy ('openblas',) GRADWISE_BLAS=numpy is set, so gradwise binds no library; unset it to use MKL"
    )


def test_the_optimizers_vector_passes_follow_the_gemms_onto_mkl(stand_in_mkl, rng):
    # axpy and axpby on MKL too while the GEMMs are there: one library's thread pool per step, not two.
    if blas._BLAS is None:
        raise AssertionError("numpy's OpenBLAS is not bound: the vector passes take the numpy path")
    ran = []

    def axpy(n, a, x, incx, y, incy):
        ran.append("mkl axpy")
        blas._BLAS.functions["axpy", np.dtype(np.float32)](n, a, x, incx, y, incy)

    mkl = blas._loaded()["mkl"]
    blas._loaded()["mkl"] = GemmBackend("mkl", mkl.run, vector={("axpy", np.dtype(np.float32)): axpy})
    x, y = rng.standard_normal(blas.BLAS_MIN_SIZE).astype(np.float32), np.ones(blas.BLAS_MIN_SIZE, np.float32)
    blas.use("openblas")
    blas.axpy(2.0, x, y)
    assert ran == []
    blas.use("mkl")
    blas.axpy(-2.0, x, y)
    assert ran == ["mkl axpy"]
    np.testing.assert_allclose(y, 1.0, atol=1e-6)
