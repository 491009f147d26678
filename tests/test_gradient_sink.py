"""The gradient sink: on steps no probe looks at, the weight-gradient GEMM writes into the optimizer's arrays.

Both paths must agree with the optimizer's plain chain of transforms to float32 rounding, step after step,
and a probed step must still show the monitor the real gradients.
"""

import numpy as np
import pytest

from gradwise import blas, optim
from gradwise.data.stream import batch, source
from gradwise.nn.layers import Dense, GradientSink
from gradwise.nn.network import Network, grad, mlp
from gradwise.optim.base import apply_updates, chain
from gradwise.optim.schedules import step as step_decay
from gradwise.optim.transforms import scale_by_learning_rate, trace
from gradwise.train.loop import Callback, fit
from gradwise.train.stopping import max_steps

TOLERANCE = {np.float32: {"rtol": 2e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-14}}


def batches(rng, sizes, batch_size, count, dtype):
    out = []
    for _ in range(count):
        x = rng.normal(size=(batch_size, sizes[0])).astype(dtype)
        t = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], size=batch_size)]
        out.append((x, t))
    return out


def run_chain(net, transform, data):
    """The reference: gradients into grads, then the optimizer's chain of transforms, as optax would."""
    state = transform.init(net.params)
    for x, t in data:
        _, grads = grad(net, "ce", x, t)
        updates, state = transform.update(grads, state, net.params)
        apply_updates(net.params, updates)
    return net


def run_sink(net, optimizer, data):
    state = optimizer.init(net.params)
    for x, t in data:
        sink = GradientSink(*optimizer.sink.target(net.params, state))
        _, grads = grad(net, "ce", x, t, sink=sink)
        assert grads == {}  # nothing was written to the gradient arrays
        state = optimizer.sink.finish(net.params, state)
    return net


CASES = {
    "momentum": (lambda: optim.momentum(0.05, 0.9), lambda: chain(trace(0.9), scale_by_learning_rate(0.05))),
    "sgd": (lambda: optim.sgd(0.1), lambda: chain(scale_by_learning_rate(0.1))),
    "scheduled momentum": (
        lambda: optim.momentum(step_decay(0.05, 2, 0.5), 0.8),
        lambda: chain(trace(0.8), scale_by_learning_rate(step_decay(0.05, 2, 0.5))),
    ),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("batch_size", [1, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_sink_path_agrees_with_the_chain_of_transforms(case, batch_size, dtype, rng):
    sizes = [9, 8, 6, 4]
    make_optimizer, make_chain = CASES[case]
    data = batches(rng, sizes, batch_size, 6, dtype)
    reference = run_chain(mlp(sizes, "relu", "softmax", rng=3, dtype=dtype), make_chain(), data)
    fused = run_sink(mlp(sizes, "relu", "softmax", rng=3, dtype=dtype), make_optimizer(), data)
    for name, value in fused.params.items():
        np.testing.assert_allclose(value, reference.params[name], **TOLERANCE[dtype], err_msg=name)
        assert not np.array_equal(value, mlp(sizes, "relu", "softmax", rng=3, dtype=dtype).params[name])


def test_the_sink_path_agrees_with_the_chain_at_the_benchmark_size(rng):
    # Large enough that OpenBLAS blocks and threads the GEMM, and the update takes the BLAS path.
    sizes = [784, 300, 10]
    data = batches(rng, sizes, 64, 4, np.float32)
    reference = run_chain(mlp(sizes, rng=5), chain(trace(0.9), scale_by_learning_rate(0.05)), data)
    fused = run_sink(mlp(sizes, rng=5), optim.momentum(0.05, 0.9), data)
    for name, value in fused.params.items():
        np.testing.assert_allclose(value, reference.params[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_only_descent_optimizers_offer_a_sink():
    assert optim.momentum(0.1).sink is not None and optim.sgd(0.1).sink is not None
    for optimizer in (
        optim.adam(),
        optim.nesterov(0.1),
        optim.momentum(0.1, clip_norm=1.0),
        optim.sgd(0.1, weight_decay=1e-4),
    ):
        assert optimizer.sink is None  # clipping, decay and adaptive steps need the gradient itself


def test_a_layer_that_takes_no_sink_still_has_its_gradient_put_through_it(rng):
    data = batches(rng, [5, 3], 4, 3, np.float32)

    def first():
        return Dense(5, 4, "tanh", rng=np.random.default_rng(1))

    def last():
        return Dense(4, 3, "softmax", rng=np.random.default_rng(2))

    reference = run_chain(Network([first(), last()]), chain(trace(0.9), scale_by_learning_rate(0.1)), data)

    class Opaque:  # has params and grads, but its backprop takes no sink
        def __init__(self, inner):
            self.inner, self.params, self.grads = inner, inner.params, inner.grads

        def forward(self, x, train=False, rng=None):
            y, backprop = self.inner.forward(x, train, rng)
            return y, lambda dy, need_dx=True: backprop(dy, need_dx)

    fused = run_sink(Network([Opaque(first()), last()]), optim.momentum(0.1, 0.9), data)
    for name, value in fused.params.items():
        np.testing.assert_allclose(value, reference.params[name], rtol=2e-5, atol=1e-6, err_msg=name)


class GradientRecorder(Callback):
    """Probes every third step and keeps the gradients the loop shows it."""

    def __init__(self):
        self.seen = {}

    def probe(self, step):
        return self if step % 3 == 0 else None

    def observe(self, layer, tensor, value):
        pass

    def on_gradients(self, step, grads):
        self.seen[step] = {k: v.copy() for k, v in grads.items()}


def test_fit_shows_a_probed_step_the_real_gradients_and_sinks_the_others(rng):
    x = rng.normal(size=(48, 6)).astype(np.float32)
    t = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=48)]
    stream = source(x, t) | batch(8)
    recorder = GradientRecorder()
    net = mlp([6, 5, 3], rng=0)
    fit(net, "ce", optim.momentum(0.05, 0.9), stream, max_steps(6), callbacks=[recorder], rng=0, progress=False)
    assert sorted(recorder.seen) == [3, 6]
    # Replay the same run by hand on the plain path: step 3's gradients are the ones the probe saw.
    replay, optimizer = mlp([6, 5, 3], rng=0), optim.momentum(0.05, 0.9)
    state = optimizer.init(replay.params)
    for step, (xb, tb) in enumerate(stream.epoch(0), start=1):
        _, grads = grad(replay, "ce", xb, tb)
        if step == 3:
            for name, g in recorder.seen[3].items():
                np.testing.assert_allclose(g, grads[name], rtol=2e-5, atol=1e-7, err_msg=name)
        state = optim.move(replay.params, grads, optimizer, state)
    for name, value in net.params.items():
        np.testing.assert_allclose(value, replay.params[name], rtol=2e-5, atol=1e-6, err_msg=name)


def test_backprop_leaves_the_callers_output_gradient_alone(rng):
    net = mlp([5, 4, 4, 3], "tanh", "sigmoid", rng=rng)
    x = rng.normal(size=(6, 5)).astype(np.float32)
    dy = rng.normal(size=(6, 3)).astype(np.float32)
    before = dy.copy()
    _, backprop = net.forward(x, train=True, reuse=True)
    backprop(dy)
    np.testing.assert_array_equal(dy, before)  # the layers below overwrite only their own work arrays


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta", [0.0, 0.9, 1.0])
def test_gemm_adds_into_its_output_with_transposed_operands(dtype, beta, rng):
    a = rng.normal(size=(7, 5)).astype(dtype)
    b = rng.normal(size=(7, 6)).astype(dtype)
    out = rng.normal(size=(5, 6)).astype(dtype)
    expected = -0.5 * (a.T @ b) + beta * out
    blas.gemm(a.T, b, out, -0.5, beta)
    np.testing.assert_allclose(out, expected, **TOLERANCE[dtype])
    w = rng.normal(size=(6, 4)).astype(dtype)
    dx = np.full((7, 4), np.nan, dtype)  # beta 0 ignores what the output held
    blas.gemm(b, w, dx)
    np.testing.assert_allclose(dx, b @ w, **TOLERANCE[dtype])


def test_gemm_on_the_numpy_path_computes_the_same(monkeypatch, rng):
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    out = rng.normal(size=(3, 2))
    expected = 2.0 * (a.T @ b) + 0.25 * out
    monkeypatch.setattr(blas, "_BLAS", None)
    blas.gemm(a.T, b, out, 2.0, 0.25)
    np.testing.assert_allclose(out, expected, rtol=1e-14)


class ThreadWatcher:
    """A probe that records OpenBLAS's thread count while the step runs."""

    def __init__(self):
        self.seen = set()

    def observe(self, layer, tensor, value):
        self.seen.add(blas._BLAS.get_threads())


# 784-30-10 at batch 128: its largest product (3M multiply-adds) is small, but the step as a whole is faster on two.
@pytest.mark.parametrize(
    ("sizes", "batch_size", "inside"), [([20, 30, 5], 4, 1), ([784, 30, 10], 128, 2), ([400, 2000, 10], 16, 2)]
)
def test_a_small_step_runs_on_one_blas_thread_and_gives_the_count_back(sizes, batch_size, inside, rng):
    from threadpoolctl import threadpool_limits

    from gradwise.nn.losses import get_loss
    from gradwise.train.loop import train_step

    assert blas._BLAS is not None and blas._BLAS.get_threads is not None, "numpy's OpenBLAS exports no thread control"
    net, optimizer = mlp(sizes, rng=0), optim.momentum(0.01, 0.9)
    (x, t), watcher = batches(rng, sizes, batch_size, 1, np.float32)[0], ThreadWatcher()
    assert (batch_size * net.macs_per_sample <= blas.SINGLE_THREAD_MACS) == (inside == 1)
    with threadpool_limits(limits=2, user_api="blas"):
        train_step(net, get_loss("ce"), optimizer, optimizer.init(net.params), x, t, probe=watcher)
        assert watcher.seen == {inside}
        assert blas._BLAS.get_threads() == 2  # given back
