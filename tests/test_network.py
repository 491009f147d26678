import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import TorchMirror, torch_loss
from gradwise import optim
from gradwise.nn.layers import Dense, Dropout
from gradwise.nn.losses import get_loss
from gradwise.nn.network import Network, grad, mlp

ARCHITECTURES = [
    ([7, 5, 3], "relu", "softmax", "ce"),
    ([7, 6, 5, 4], "tanh", "softmax", "ce"),
    ([6, 9, 4], "sigmoid", "softmax", "mse"),  # the seed's pairing
    ([5, 4, 4, 4, 3], "elu", "sigmoid", "bce"),
    ([5, 8, 2], "leaky_relu", "identity", "mse"),
    ([5, 8, 2], "softplus", "identity", "bce_logits"),
]


@pytest.mark.parametrize(("sizes", "hidden", "output", "loss"), ARCHITECTURES)
def test_loss_and_every_gradient_match_torch_in_float64(sizes, hidden, output, loss, rng):
    net = mlp(sizes, hidden, output, rng=rng, dtype=np.float64)
    x = rng.normal(size=(8, sizes[0]))
    t = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=8)]
    value, grads = grad(net, loss, x, t)

    mirror = TorchMirror(net)
    expected = torch_loss(get_loss(loss).name, mirror.forward(x), torch.tensor(t))
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-7)
    assert set(grads) == set(mirror.params)
    for name, g in grads.items():
        np.testing.assert_allclose(g, mirror.params[name].grad.numpy(), rtol=1e-7, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_through_forward_backward_and_update(dtype, rng):
    net = mlp([6, 5, 3], "relu", "softmax", dropout=0.2, rng=rng, dtype=dtype)
    x = rng.normal(size=(4, 6))  # float64 input is cast to the network's dtype
    t = np.eye(3)[[0, 1, 2, 0]]
    y, _backprop = net.forward(x, train=True, rng=rng)
    assert y.dtype == dtype
    value, grads = grad(net, "ce", x, t, rng=rng)
    assert isinstance(value, float)
    assert all(g.dtype == dtype for g in grads.values())
    for opt in (
        optim.sgd(0.1),
        optim.adam(1e-3, weight_decay=1e-4),
        optim.rmsprop(momentum=0.9, clip_norm=1.0),
    ):
        state = opt.init(net.params)
        _, grads = grad(net, "ce", x, t, rng=rng)
        state = optim.move(net.params, grads, opt, state)
        assert all(p.dtype == dtype for p in net.params.values())
        assert all(s.dtype == dtype for s in state.values() if s.ndim)
    assert net.predict(x).dtype == dtype


def test_fused_and_unfused_paths_give_the_same_gradient(rng):
    net = mlp([4, 6, 3], "tanh", "softmax", rng=rng, dtype=np.float64)
    x, t = rng.normal(size=(5, 4)), np.eye(3)[[0, 1, 2, 2, 1]]
    value_fused, grads_fused = grad(net, "ce", x, t)
    grads_fused = {k: v.copy() for k, v in grads_fused.items()}
    value, grads = grad(net, "ce", x, t, fuse=False)
    assert value == pytest.approx(value_fused, rel=1e-12)
    for name in grads:
        np.testing.assert_allclose(grads[name], grads_fused[name], rtol=1e-9, atol=1e-15)


def test_parameter_names_and_shapes(rng):
    net = mlp([784, 100, 10], dropout=0.5, rng=rng)
    assert {k: v.shape for k, v in net.params.items()} == {
        "0.W": (784, 100),
        "0.b": (100,),
        "2.W": (100, 10),
        "2.b": (10,),
    }
    assert isinstance(net.layers[1], Dropout)
    assert net.params["0.W"] is net.layers[0].params["W"]  # the optimizer updates the layer itself


def test_same_seed_same_network():
    a, b = mlp([10, 7, 3], rng=5), mlp([10, 7, 3], rng=5)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert not np.array_equal(mlp([10, 7, 3], rng=6).params["0.W"], a.params["0.W"])


def test_dropout_is_inverted_and_off_at_evaluation(rng):
    layer = Dropout(0.25)
    x = np.ones((2000, 50), dtype=np.float32)
    y, backprop = layer.forward(x, train=True, rng=rng)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.01)
    assert y.mean() == pytest.approx(1.0, abs=0.01)  # the expectation is kept
    np.testing.assert_array_equal(backprop(np.ones_like(x)), y)  # same mask on the way back
    y_eval, _ = layer.forward(x, train=False)
    assert y_eval is x
    with pytest.raises(ValueError, match="needs an rng"):
        layer.forward(x, train=True)
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\), got 1"):
        Dropout(1)


def test_bias_constant_and_bad_sizes(rng):
    layer = Dense(3, 4, "sigmoid", rng=rng, bias=0.1)
    np.testing.assert_array_equal(layer.params["b"], np.float32(0.1))
    with pytest.raises(ValueError, match="Dense sizes must be >= 1, got 3 -> 0"):
        Dense(3, 0, rng=rng)
    with pytest.raises(ValueError, match="one dtype"):
        Network([Dense(3, 4, rng=rng, dtype=np.float32), Dense(4, 2, rng=rng, dtype=np.float64)])


def test_predict_in_chunks_equals_one_pass(rng):
    net = mlp([5, 7, 3], rng=rng)
    x = rng.normal(size=(23, 5)).astype(np.float32)
    np.testing.assert_allclose(net.predict(x, batch_size=4), net.forward(x)[0], rtol=1e-6)
    np.testing.assert_allclose(net.predict(x).sum(axis=1), 1.0, rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 9), min_size=2, max_size=5),
    batch=st.integers(1, 7),
    seed=st.integers(0, 2**31),
)
def test_gradient_shapes_match_parameters(sizes, batch, seed):
    rng = np.random.default_rng(seed)
    net = mlp(sizes, "relu", "softmax", rng=rng)
    x = rng.normal(size=(batch, sizes[0]))
    t = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=batch)]
    value, grads = grad(net, "ce", x, t)
    assert np.isfinite(value)
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in net.params.items()}
    assert all(np.isfinite(g).all() for g in grads.values())


def test_probe_sees_every_dense_layer_forward_then_backward(rng):
    seen = []

    class Recorder:
        def observe(self, layer, tensor, value):
            seen.append((layer, tensor, value.shape))

    net = mlp([4, 6, 5, 3], "relu", "softmax", dropout=0.5, rng=rng)
    grad(net, "ce", rng.normal(size=(2, 4)), np.eye(3)[[0, 1]], rng=rng, probe=Recorder())
    assert seen == [
        (0, "z", (2, 6)),
        (0, "a", (2, 6)),
        (2, "z", (2, 5)),
        (2, "a", (2, 5)),
        (4, "z", (2, 3)),
        (4, "a", (2, 3)),
        (4, "delta", (2, 3)),
        (2, "delta", (2, 5)),
        (0, "delta", (2, 6)),
    ]


def test_a_layer_that_appears_twice_is_refused(rng):
    # Its work arrays would be overwritten by the second use and its grads assigned twice, not summed.
    shared = Dense(4, 4, "tanh", rng=rng)
    with pytest.raises(ValueError, match=r"^Network: layers 0 and 1 are the same Dense object; a layer "):
        Network([shared, shared, Dense(4, 2, "softmax", rng=rng)])


def test_a_trailing_dropout_is_refused(rng):
    with pytest.raises(ValueError, match=r"^Network: the last layer is a Dropout, which would drop the outputs "):
        Network([Dense(4, 3, "relu", rng=rng), Dense(3, 2, "softmax", rng=rng), Dropout(0.5)])


def test_the_network_backprop_returns_dx_like_a_layer(rng):
    first, last = Dense(4, 3, "tanh", rng=rng, dtype=np.float64), Dense(3, 2, "sigmoid", rng=rng, dtype=np.float64)
    net = Network([first, last])
    x, dy = rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    _, backprop = net.forward(x, train=True)
    dx = backprop(dy)
    h, back_first = first.forward(x, train=True)
    _, back_last = last.forward(h, train=True)
    np.testing.assert_allclose(dx, back_first(back_last(dy)), rtol=1e-12)
    assert dx.shape == x.shape


def test_predict_on_no_rows_gives_no_rows_of_the_output_width(rng):
    net = mlp([5, 7, 3], dropout=0.5, rng=rng)
    assert net.predict(np.empty((0, 5), np.float32)).shape == (0, 3)
    assert net.predict(np.empty((0, 5), np.float32)).dtype == np.float32
