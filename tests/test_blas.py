"""numpy's own BLAS for the optimizer's passes: bound where numpy has OpenBLAS, and equal to the plain numpy forms."""

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gradwise import blas, optim
from gradwise.optim.base import apply_updates

LARGE = blas.BLAS_MIN_SIZE + 7  # takes the BLAS path (an odd size: the kernels' tails are used too)


def numpy_has_mapped_openblas() -> bool:
    maps = Path("/proc/self/maps").read_text() if Path("/proc/self/maps").exists() else ""
    return any("openblas" in Path(line.split()[-1]).name.lower() for line in maps.splitlines() if line.split())


def test_numpy_openblas_is_bound_when_numpy_has_one():
    # numpy's wheels carry OpenBLAS; if this fails, its symbol names or integer width changed and the
    # optimizer silently lost its fast path.
    assert numpy_has_mapped_openblas(), "this numpy loads no OpenBLAS: the test has nothing to check"
    assert blas.backend() == "openblas"
    numpy_folder = Path(np.__file__).resolve().parents[1]  # site-packages: numpy/ and numpy.libs/ sit in it
    assert Path(blas.library()).resolve().is_relative_to(numpy_folder)
    assert "openblas" in Path(blas.library()).name


def test_overlapping_views_take_the_numpy_path(rng):
    # BLAS assumes x and y do not overlap; numpy computes y += a x as if x were copied first.
    buffer = rng.standard_normal(LARGE + 1)
    expected = buffer[1:] + 2.0 * buffer[:-1]
    blas.axpy(2.0, buffer[:-1], buffer[1:])
    np.testing.assert_array_equal(buffer[1:], expected)


def test_a_count_the_integer_type_cannot_hold_takes_the_numpy_path(monkeypatch, rng):
    def refuse(*args):
        raise AssertionError("BLAS called with a count beyond its integer type")

    functions = {(name, np.dtype(np.float64)): refuse for name in ("axpy", "axpby")}
    monkeypatch.setattr(blas, "_BLAS", blas._Bound(functions, max_n=LARGE - 1, library="small-int"))
    x, y = rng.standard_normal(LARGE), np.zeros(LARGE)
    blas.axpby(3.0, x, 0.0, y)
    np.testing.assert_array_equal(y, 3.0 * x)


def test_the_self_test_rejects_a_binding_that_ignores_the_stride():
    def axpy_unit_stride(n, a, x, incx, y, incy):
        xs = np.ctypeslib.as_array(ctypes.cast(x, ctypes.POINTER(ctypes.c_double)), (n,))
        ys = np.ctypeslib.as_array(ctypes.cast(y, ctypes.POINTER(ctypes.c_double)), (n,))
        ys += a * xs

    def axpby_unit_stride(n, a, x, incx, b, y, incy):
        ys = np.ctypeslib.as_array(ctypes.cast(y, ctypes.POINTER(ctypes.c_double)), (n,))
        ys *= b
        axpy_unit_stride(n, a, x, incx, y, incy)

    assert blas._BLAS is not None
    wrong = {**blas._BLAS.functions, ("axpy", np.dtype(np.float64)): axpy_unit_stride}
    wrong["axpby", np.dtype(np.float64)] = axpby_unit_stride
    assert blas._passes_self_test(blas._BLAS.functions)
    assert not blas._passes_self_test(wrong)


def test_the_environment_can_force_the_numpy_path():
    code = "from gradwise import blas; print(blas.backend())"
    env = {**os.environ, "GRADWISE_BLAS": "numpy"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "numpy"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [5, LARGE])
def test_axpy_and_axpby_equal_their_numpy_forms(dtype, size, rng):
    x = rng.standard_normal(size).astype(dtype)
    y = rng.standard_normal(size).astype(dtype)
    expected_axpy = y + dtype(-0.3) * x
    expected_axpby = dtype(2.5) * x + dtype(0.9) * y
    tolerance = 4 * np.finfo(dtype).eps  # of terms of order 1: a fused multiply-add rounds once, numpy twice
    got = y.copy()
    blas.axpy(-0.3, x, got)
    np.testing.assert_allclose(got, expected_axpy, rtol=tolerance, atol=tolerance)
    got = y.copy()
    blas.axpby(2.5, x, 0.9, got)
    np.testing.assert_allclose(got, expected_axpby, rtol=tolerance, atol=4 * tolerance)


def test_non_contiguous_or_mixed_arrays_take_the_numpy_path(rng):
    x = rng.standard_normal((2 * LARGE,)).astype(np.float32)
    y = np.zeros(LARGE, np.float32)
    blas.axpy(2.0, x[::2], y)  # a strided view: BLAS is given only contiguous arrays
    np.testing.assert_array_equal(y, 2 * x[::2])
    y64 = np.ones(LARGE)
    blas.axpby(1.0, x[:LARGE], 0.5, y64)  # float32 into float64
    np.testing.assert_allclose(y64, x[:LARGE].astype(np.float64) + 0.5)


@pytest.mark.parametrize("make", [lambda: optim.sgd(0.05), lambda: optim.momentum(0.05, 0.9)], ids=["sgd", "momentum"])
def test_fused_step_equals_the_chain_it_replaces(make, rng):
    optimizer = make()
    assert optimizer.step is not None
    params = {"W": rng.standard_normal((LARGE // 7, 7)).astype(np.float32), "b": np.zeros(7, np.float32)}
    chained = {k: v.copy() for k, v in params.items()}
    state, chain_state = optimizer.init(params), optimizer.init(chained)
    for _ in range(5):
        grads = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in params.items()}
        state = optim.move(params, {k: v.copy() for k, v in grads.items()}, optimizer, state)
        updates, chain_state = optimizer.update(grads, chain_state, chained)
        apply_updates(chained, updates)
    assert sorted(state) == sorted(chain_state)
    for key, value in params.items():
        np.testing.assert_allclose(value, chained[key], rtol=1e-5, atol=1e-7, err_msg=key)
    for key, value in state.items():
        np.testing.assert_allclose(value, chain_state[key], rtol=1e-5, atol=1e-7, err_msg=key)


def test_fused_momentum_on_large_weights_matches_torch(rng):
    weight = rng.standard_normal((LARGE // 11, 11))
    params = {"W": weight.copy()}
    torch_weight = torch.tensor(weight, requires_grad=True)
    torch_opt = torch.optim.SGD([torch_weight], lr=0.05, momentum=0.9)
    optimizer = optim.momentum(0.05, 0.9)
    state = optimizer.init(params)
    for _ in range(5):
        g = rng.standard_normal(weight.shape)
        state = optim.move(params, {"W": g.copy()}, optimizer, state)
        torch_weight.grad = torch.tensor(g)
        torch_opt.step()
    np.testing.assert_allclose(params["W"], torch_weight.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_optimizers_with_extra_links_keep_the_chain():
    assert optim.momentum(0.1, weight_decay=1e-4).step is None
    assert optim.momentum(0.1, nesterov=True).step is None
    assert optim.sgd(0.1, clip_norm=1.0).step is None
    assert optim.adam(1e-3).step is None


# 20 momentum steps on 784-500-10: the first weight matrix (392,000 elements) takes the BLAS path.
MOMENTUM_STEPS = """
{prelude}
import hashlib
import numpy as np
from gradwise import blas, optim
from gradwise.nn.network import grad, mlp
net = mlp([784, 500, 10], rng=0)
data = np.random.default_rng(1)
x = data.standard_normal((64, 784)).astype(np.float32)
t = np.eye(10, dtype=np.float32)[data.integers(0, 10, 64)]
optimizer = optim.momentum(0.01, 0.9)
state = optimizer.init(net.params)
for _ in range(20):
    _, grads = grad(net, "cross_entropy", x, t)
    state = optim.move(net.params, grads, optimizer, state)
digest = hashlib.sha256(b"".join(net.params[k].tobytes() for k in sorted(net.params))).hexdigest()
print(blas.backend(), repr(float(net.params["0.W"].sum(dtype=np.float64))), digest)
"""


def momentum_steps(prelude: str) -> list[str]:
    code = MOMENTUM_STEPS.format(prelude=prelude)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_same_steps_give_the_same_weights_whatever_was_imported_first():
    # scikit-learn imports scipy, which maps its own OpenBLAS; gradwise must still bind numpy's.
    alone = momentum_steps("")
    after_scipy = momentum_steps("import scipy.linalg")
    assert alone[0] == after_scipy[0] == "openblas"
    assert alone == after_scipy
