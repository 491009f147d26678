"""The fast paths compute exactly what the plain paths compute: reused buffers, out= activations, batch 1."""

import numpy as np
import pytest
import torch

from conftest import TorchMirror, torch_loss
from gradwise import optim
from gradwise.nn.activations import ACTIVATIONS, elu, leaky_relu
from gradwise.nn.layers import Dense
from gradwise.nn.losses import LOSSES, get_loss
from gradwise.nn.network import grad, mlp

ALL = [*ACTIVATIONS.values(), leaky_relu(0.2), elu(0.5)]
IDS = [f"{a.name}{a.params or ''}" for a in ALL]


def fresh_grad(net, loss, x, t):
    """grad() without the work arrays: every tensor freshly allocated, as before buffers existed."""
    loss = get_loss(loss)
    fused = loss.fused.get(net.output_activation.name)
    y, backprop = net.forward(x, train=True, logits=fused is not None, reuse=False)
    value, dy = (fused or loss)(y, np.asarray(t, dtype=net.dtype))
    backprop(dy)
    return value, {k: v.copy() for k, v in net.grads.items()}, y


@pytest.mark.parametrize("act", ALL, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_into_a_buffer_equals_the_allocating_form_bit_for_bit(act, dtype, rng):
    z = rng.normal(0, 3, size=(9, 7)).astype(dtype)
    da = rng.normal(size=z.shape).astype(dtype)
    a = act.forward(z)
    a_into = act.forward_into(z, np.full_like(z, np.nan))  # stale contents must not leak through
    np.testing.assert_array_equal(a_into, a)
    assert a_into.dtype == dtype
    dz_into = act.backward_into(z, a, da, np.full_like(z, np.nan))
    np.testing.assert_array_equal(dz_into, act.backward(z, a, da))
    assert dz_into.dtype == dtype


def test_an_activation_without_out_still_works_with_buffers(rng):
    def forward(z):
        return np.tanh(z)

    def backward(z, a, da):
        return da * (1 - a * a)

    from gradwise.nn.activations import Activation

    plain = Activation("my_tanh", forward, backward, "saturating")
    net = mlp([5, 4, 3], plain, "softmax", rng=rng, dtype=np.float64)
    reference = mlp([5, 4, 3], "tanh", "softmax", rng=np.random.default_rng(1234), dtype=np.float64)
    x, t = rng.normal(size=(6, 5)), np.eye(3)[[0, 1, 2, 0, 1, 2]]
    _, grads = grad(net, "ce", x, t)
    _, expected = grad(reference, "ce", x, t)
    for name in grads:
        np.testing.assert_array_equal(grads[name], expected[name])


@pytest.mark.parametrize("sizes", [[7, 6, 3], [7, 8, 5, 4, 3]])
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_reused_buffers_give_bit_identical_results_to_fresh_arrays(sizes, batch, rng):
    net = mlp(sizes, "relu", "softmax", rng=rng)
    for _ in range(3):  # the second and third steps run in buffers the first one left behind
        x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
        t = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], size=batch)]
        value, grads, y = fresh_grad(net, "ce", x, t)
        reused_value, reused_grads, reused_y = grad(net, "ce", x, t, with_output=True)
        assert reused_value == value
        np.testing.assert_array_equal(reused_y, y)
        for name in grads:
            np.testing.assert_array_equal(reused_grads[name], grads[name], err_msg=name)


def test_batches_of_changing_size_share_the_buffers_correctly(rng):
    net = mlp([6, 9, 4], "tanh", "softmax", rng=rng)
    for batch in (8, 3, 8, 1, 5):  # shrinking, growing back, and the batch-1 path
        x = rng.normal(size=(batch, 6)).astype(np.float32)
        t = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=batch)]
        value, grads, y = fresh_grad(net, "ce", x, t)
        reused_value, reused_grads, reused_y = grad(net, "ce", x, t, with_output=True)
        np.testing.assert_array_equal(reused_y, y)
        assert reused_y.shape == (batch, 4)
        assert reused_value == value
        for name in grads:
            np.testing.assert_array_equal(reused_grads[name], grads[name], err_msg=f"batch {batch}: {name}")


def test_predict_between_forward_and_backprop_does_not_touch_the_work_arrays(rng):
    net = mlp([5, 8, 3], "relu", "softmax", rng=rng)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    dy = rng.normal(size=(4, 3)).astype(np.float32)
    _, backprop = net.forward(x, train=True, logits=True, reuse=True)
    backprop(dy)
    expected = {k: v.copy() for k, v in net.grads.items()}
    _, backprop = net.forward(x, train=True, logits=True, reuse=True)
    net.predict(rng.normal(size=(4, 5)).astype(np.float32))  # same batch size, so it would hit the buffers
    backprop(dy)
    for name, value in net.grads.items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)


def test_batch_one_weight_gradient_is_the_outer_product(rng):
    layer = Dense(6, 5, "tanh", rng=rng, dtype=np.float64)
    x = rng.normal(size=(1, 6))
    a, backprop = layer.forward(x, reuse=True)
    da = rng.normal(size=(1, 5))
    backprop(da, need_dx=False)
    dz = da * (1 - a * a)
    np.testing.assert_allclose(layer.grads["W"], np.matmul(x.T, dz), rtol=1e-15)
    np.testing.assert_array_equal(layer.grads["W"], x[0][:, None] * dz[0][None, :])


@pytest.mark.parametrize(("hidden", "output", "loss"), [("relu", "softmax", "ce"), ("tanh", "sigmoid", "bce")])
def test_batch_one_gradients_match_torch_in_float64(hidden, output, loss, rng):
    net = mlp([7, 6, 5, 3], hidden, output, rng=rng, dtype=np.float64)
    x = rng.normal(size=(1, 7))
    t = np.eye(3)[[2]]
    value, grads = grad(net, loss, x, t)
    mirror = TorchMirror(net)
    expected = torch_loss(get_loss(loss).name, mirror.forward(x), torch.tensor(t))
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-7)
    for name, g in grads.items():
        np.testing.assert_allclose(g, mirror.params[name].grad.numpy(), rtol=1e-7, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", LOSSES)
def test_losses_leave_their_inputs_alone(name, rng):
    y = rng.uniform(0.05, 0.95, size=(4, 3)).astype(np.float32)
    t = np.eye(3, dtype=np.float32)[[0, 1, 2, 1]]
    y_before, t_before = y.copy(), t.copy()
    _, dy = LOSSES[name](y, t)
    np.testing.assert_array_equal(y, y_before)
    np.testing.assert_array_equal(t, t_before)
    assert dy.dtype == np.float32
    assert not np.shares_memory(dy, y) and not np.shares_memory(dy, t)


def test_float32_stays_float32_through_a_training_step(rng):
    net = mlp([6, 5, 3], "relu", "softmax", rng=rng)
    opt = optim.momentum(0.05, 0.9)
    state = opt.init(net.params)
    x = rng.random((4, 6), dtype=np.float32)
    t = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    for _ in range(2):
        _, grads, y = grad(net, "ce", x, t, with_output=True)
        assert y.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
        state = optim.move(net.params, grads, opt, state)
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert all(work.dtype == np.float32 for layer in net.layers for work in layer._work.values())
