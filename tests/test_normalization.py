"""BatchNorm and LayerNorm: gradient checks, PyTorch as the oracle, and the running statistics carried end to end
(model file, checkpoint and resume, the guard's rollback, the configuration and the command line)."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradwise import optim
from gradwise.cli.main import main
from gradwise.data.stream import batch, source
from gradwise.health.gradcheck import gradcheck
from gradwise.nn import BatchNorm, LayerNorm
from gradwise.nn.layers import Dense, Dropout, GradientSink
from gradwise.nn.network import Network, grad, mlp
from gradwise.nn.specs import from_specs, layer_specs, param_shapes
from gradwise.train import checkpoint as checkpoint_module
from gradwise.train.archive import CheckpointError
from gradwise.train.config import ConfigError, TrainConfig, settings_of
from gradwise.train.loop import fit
from gradwise.train.model_file import architecture, load_model, save_model
from gradwise.train.recovery import NonFiniteGuard
from gradwise.train.stopping import max_epochs

NORMS = {"batch": BatchNorm, "layer": LayerNorm}


def numeric_gradient(f, array, h=1e-5):
    """d f() / d array by central differences (perturbs ``array`` in place and restores it)."""
    g = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        original = array[i]
        array[i] = original + h
        up = f()
        array[i] = original - h
        down = f()
        array[i] = original
        g[i] = (up - down) / (2 * h)
    return g


def random_affine(layer, rng):
    layer.params["gamma"][...] = rng.uniform(0.5, 2.0, size=layer.size)
    layer.params["beta"][...] = rng.normal(size=layer.size)


# --- gradient checks, float64 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "train"), [("batch", True), ("batch", False), ("layer", True), ("layer", False)])
def test_a_norm_layer_alone_passes_the_gradient_check(kind, train):
    rng = np.random.default_rng(0)
    layer = NORMS[kind](5, dtype=np.float64)
    random_affine(layer, rng)
    if kind == "batch":  # evaluation normalizes by these: make them unlike a batch's own statistics
        layer.buffers["running_mean"][...] = rng.normal(size=5)
        layer.buffers["running_var"][...] = rng.uniform(0.5, 3.0, size=5)
    x = rng.normal(1.0, 2.0, size=(6, 5))
    w = rng.normal(size=(6, 5))  # L = sum(w y): dL/dy = w

    def loss():
        return float((w * layer.forward(x, train=train)[0]).sum())

    _, backprop = layer.forward(x, train=train)
    dx = backprop(w)
    analytic = {name: g.copy() for name, g in layer.grads.items()}
    np.testing.assert_allclose(dx, numeric_gradient(loss, x), rtol=1e-6, atol=1e-8)
    for name in ("gamma", "beta"):
        np.testing.assert_allclose(analytic[name], numeric_gradient(loss, layer.params[name]), rtol=1e-6, atol=1e-8)
    assert backprop(w, need_dx=False) is None


@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_an_mlp_with_norm_layers_passes_the_gradient_check(norm, dropout):
    rng = np.random.default_rng(1)
    net = mlp([5, 7, 6, 3], "tanh", "softmax", norm=norm, dropout=dropout, rng=2, dtype=np.float64)
    for layer in net.layers:
        if isinstance(layer, BatchNorm | LayerNorm):
            random_affine(layer, rng)
    x = rng.normal(size=(8, 5))
    t = np.eye(3)[rng.integers(0, 3, size=8)]
    errors = gradcheck(net, "ce", x, t)
    norm_params = {"1.gamma", "1.beta", "4.gamma", "4.beta"} if dropout else {"1.gamma", "1.beta", "3.gamma", "3.beta"}
    assert norm_params <= set(errors)
    assert max(errors.values()) < 1e-6, errors
    # and the input gradient through every layer
    y, backprop = net.forward(x, train=True, rng=np.random.default_rng(0))
    w = rng.normal(size=y.shape)
    dx = backprop(w)

    def loss():
        return float((w * net.forward(x, train=True, rng=np.random.default_rng(0))[0]).sum())

    np.testing.assert_allclose(dx, numeric_gradient(loss, x), rtol=1e-6, atol=1e-8)


def test_norm_gradients_go_through_the_optimizers_sink_as_through_grads():
    # The sink path (no gradient arrays) and the gradient path agree for gamma and beta, step after step.
    rng = np.random.default_rng(3)
    data = [(rng.normal(size=(16, 6)), np.eye(4)[rng.integers(0, 4, size=16)]) for _ in range(5)]
    nets = [mlp([6, 8, 4], "relu", "softmax", norm="batch", rng=0, dtype=np.float64) for _ in range(2)]
    for use_sink, net in zip((False, True), nets, strict=True):
        optimizer = optim.momentum(0.1, 0.9)
        state = optimizer.init(net.params)
        for x, t in data:
            if use_sink:
                sink = GradientSink(*optimizer.sink.target(net.params, state))
                assert grad(net, "ce", x, t, sink=sink)[1] == {}
                state = optimizer.sink.finish(net.params, state)
            else:
                _, grads = grad(net, "ce", x, t)
                updates, state = optimizer.update(grads, state, net.params)
                for name, update in updates.items():
                    net.params[name] += update
    assert not np.allclose(nets[0].params["1.gamma"], 1)  # gamma moved
    for name in nets[0].params:
        np.testing.assert_allclose(nets[1].params[name], nets[0].params[name], rtol=1e-12, atol=1e-14)
    for name in nets[0].buffers:
        np.testing.assert_array_equal(nets[1].buffers[name], nets[0].buffers[name])


# --- PyTorch as the oracle ---------------------------------------------------------------------------------------


def torch_norm(layer):
    if isinstance(layer, BatchNorm):
        module = torch.nn.BatchNorm1d(layer.size, eps=layer.eps, momentum=layer.momentum, dtype=torch.float64)
    else:
        module = torch.nn.LayerNorm(layer.size, eps=layer.eps, dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(layer.params["gamma"]))
        module.bias.copy_(torch.tensor(layer.params["beta"]))
    return module


@pytest.mark.parametrize(
    "make",
    [
        lambda: BatchNorm(6, dtype=np.float64),
        lambda: BatchNorm(6, momentum=0.3, eps=1e-3, dtype=np.float64),
        lambda: LayerNorm(6, dtype=np.float64),
        lambda: LayerNorm(6, eps=1e-2, dtype=np.float64),
    ],
)
def test_forward_backward_and_running_statistics_match_pytorch(make):
    rng = np.random.default_rng(4)
    layer = make()
    random_affine(layer, rng)
    module = torch_norm(layer)
    for step in range(4):  # several training steps: the running statistics follow PyTorch's
        x = rng.normal(step, 1 + step, size=(9, 6))
        dy = rng.normal(size=(9, 6))
        y, backprop = layer.forward(x, train=True)
        dx = backprop(dy)
        xt = torch.tensor(x, requires_grad=True)
        module.train()
        module.zero_grad()
        yt = module(xt)
        yt.backward(torch.tensor(dy))
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads["gamma"], module.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.grads["beta"], module.bias.grad.numpy(), rtol=1e-12, atol=1e-12)
    if isinstance(layer, BatchNorm):
        np.testing.assert_allclose(layer.buffers["running_mean"], module.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(layer.buffers["running_var"], module.running_var.numpy(), rtol=1e-12)
        assert not np.allclose(layer.buffers["running_var"], 1)
    module.eval()
    x = rng.normal(2, 3, size=(5, 6))
    dy = rng.normal(size=(5, 6))
    y, backprop = layer.forward(x)  # evaluation: BatchNorm by its running statistics
    xt = torch.tensor(x, requires_grad=True)
    yt = module(xt)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(backprop(dy), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_an_mlp_with_norm_layers_matches_a_pytorch_sequential(norm):
    rng = np.random.default_rng(5)
    net = mlp([5, 7, 6, 3], "tanh", "softmax", norm=norm, rng=0, dtype=np.float64)
    modules = []
    for layer in net.layers:
        if isinstance(layer, Dense):
            linear = torch.nn.Linear(*layer.shape, dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.tensor(layer.params["W"].T))
                linear.bias.copy_(torch.tensor(layer.params["b"]))
            modules += [linear, torch.nn.Tanh()] if layer.activation.name == "tanh" else [linear]
        else:
            random_affine(layer, rng)
            modules.append(torch_norm(layer))
    model = torch.nn.Sequential(*modules)
    named = [(f"{i}.{key}", tensor) for i, (w, b) in _torch_params(net, model) for key, tensor in (w, b)]
    for _ in range(3):
        x = rng.normal(size=(10, 5))
        t = np.eye(3)[rng.integers(0, 3, size=10)]
        value, grads = grad(net, "ce", x, t)
        model.train()
        model.zero_grad()
        loss = F.cross_entropy(model(torch.tensor(x)), torch.tensor(t), reduction="sum") / len(x)
        loss.backward()
        assert value == pytest.approx(loss.item(), rel=1e-12)
        for name, tensor in named:
            expected = tensor.grad.numpy().T if name.endswith(".W") else tensor.grad.numpy()
            np.testing.assert_allclose(grads[name], expected, rtol=1e-9, atol=1e-12, err_msg=name)
    model.eval()
    x = rng.normal(size=(4, 5))
    expected = torch.softmax(model(torch.tensor(x)), dim=1).detach().numpy()
    np.testing.assert_allclose(net.predict(x), expected, rtol=1e-10, atol=1e-12)


def _torch_params(net, model):
    """(layer position, ((key, tensor), (key, tensor))) for each layer with parameters, in order."""
    with_params = [m for m in model if isinstance(m, torch.nn.Linear | torch.nn.BatchNorm1d | torch.nn.LayerNorm)]
    positions = [i for i, layer in enumerate(net.layers) if layer.params]
    for i, module in zip(positions, with_params, strict=True):
        keys = ("W", "b") if isinstance(net.layers[i], Dense) else ("gamma", "beta")
        yield i, ((keys[0], module.weight), (keys[1], module.bias))


# --- a batch of one row ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_batch_of_one_row_gives_no_nan(dtype):
    layer = BatchNorm(4, dtype=dtype)
    layer.params["beta"][...] = [1, 2, 3, 4]
    x = np.array([[0.5, -1.0, 2.0, 3.0]], dtype=dtype)
    y, backprop = layer.forward(x, train=True)
    dx = backprop(np.ones_like(y))
    assert y.dtype == dtype and dx.dtype == dtype
    np.testing.assert_array_equal(y, [[1, 2, 3, 4]])  # xhat is 0: the output is beta
    np.testing.assert_array_equal(dx, np.zeros_like(x))  # the output does not depend on the one row
    assert all(np.isfinite(g).all() for g in layer.grads.values())
    np.testing.assert_allclose(layer.buffers["running_mean"], 0.1 * x[0], rtol=1e-6)
    np.testing.assert_array_equal(layer.buffers["running_var"], np.ones(4))  # one row says nothing of the spread
    net = mlp([4, 5, 3], norm="batch", rng=0)
    value, grads = grad(net, "ce", x.astype(np.float32), np.eye(3, dtype=np.float32)[:1])
    assert np.isfinite(value) and all(np.isfinite(g).all() for g in grads.values())
    assert all(np.isfinite(b).all() for b in net.buffers.values())


# --- the network ---------------------------------------------------------------------------------------------------


def test_mlp_puts_one_norm_layer_after_each_hidden_layer_before_its_dropout():
    net = mlp([4, 6, 5, 3], "relu", "softmax", norm="batch", dropout=0.2, rng=0)
    kinds = [info.kind for info in net.layer_info()]
    assert kinds == ["Dense", "BatchNorm", "Dropout", "Dense", "BatchNorm", "Dropout", "Dense"]
    info = net.layer_info()[1]
    assert (info.shape, info.parameters, info.detail) == (None, 12, "6 eps=1e-05 momentum=0.1")
    assert net.layer_info()[3].detail == "" and mlp([4, 6, 3], norm="layer").layer_info()[1].detail == "6 eps=1e-05"
    assert list(net.buffers) == ["1.running_mean", "1.running_var", "4.running_mean", "4.running_var"]
    assert net.buffers["4.running_var"] is net.layers[4].buffers["running_var"]  # the layer's own array
    assert not any("running" in name for name in net.params)  # no optimizer ever sees them
    assert mlp([4, 6, 3], norm="layer").buffers == {} and mlp([4, 3], norm="batch").buffers == {}
    assert [type(layer).__name__ for layer in mlp([4, 6, 3], norm="layer").layers] == ["Dense", "LayerNorm", "Dense"]
    with pytest.raises(ValueError, match=r"^mlp: unknown norm 'group'; choose one of: None, 'batch', 'layer'$"):
        mlp([4, 6, 3], norm="group")


def test_a_network_refuses_a_norm_layer_last_or_of_the_wrong_size():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"^Network: the last layer is a BatchNorm, which would rescale the outputs"):
        Network([Dense(4, 3, rng=rng), BatchNorm(3)])
    with pytest.raises(ValueError, match=r"^Network: layer 1 is a LayerNorm of 5 features, but the layer before "
                                         r"gives 3; make it LayerNorm\(3\)$"):  # fmt: skip
        Network([Dense(4, 3, rng=rng), LayerNorm(5), Dense(5, 2, rng=rng)])
    Network([BatchNorm(4), Dense(4, 3, rng=rng), Dropout(0.1), LayerNorm(3), Dense(3, 2, rng=rng)])  # fine


def test_evaluation_uses_the_running_statistics_and_training_updates_them():
    net = mlp([3, 4, 2], "identity", "softmax", norm="batch", rng=0, dtype=np.float64)
    x = np.random.default_rng(0).normal(5, 2, size=(8, 3))
    before = net.predict(x)
    net.forward(x, train=False)
    np.testing.assert_array_equal(net.buffers["1.running_mean"], np.zeros(4))  # evaluation changes nothing
    net.forward(x, train=True)
    z = x @ net.params["0.W"] + net.params["0.b"]
    np.testing.assert_allclose(net.buffers["1.running_mean"], 0.1 * z.mean(axis=0))
    np.testing.assert_allclose(net.buffers["1.running_var"], 0.9 + 0.1 * z.var(axis=0, ddof=1))
    assert not np.allclose(net.predict(x), before)


def test_restoring_the_best_epoch_restores_its_running_statistics_too():
    # Before: --patience put the best epoch's weights back but left the last epoch's running statistics, so a
    # BatchNorm network ended with weights and statistics of different epochs.
    from gradwise.train.stopping import no_improvement

    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, size=(64, 5))
    t = np.eye(3)[rng.integers(0, 3, size=64)]
    val_x, val_t = rng.normal(0, 1, size=(32, 5)), np.eye(3)[rng.integers(0, 3, size=32)]
    net = mlp([5, 8, 3], "relu", "softmax", norm="batch", rng=0, dtype=np.float64)
    snapshots = []

    class Keep:
        def on_begin(self, session): ...
        def probe(self, step): ...
        def on_gradients(self, step, grads): ...
        def on_step(self, progress, loss): ...
        def on_end(self, history): ...
        def on_epoch(self, progress, record):
            snapshots.append({k: v.copy() for k, v in {**net.params, **net.buffers}.items()})

    # A rate so large that validation loss gets worse after the first epochs: no_improvement restores the best.
    history = fit(net, "ce", optim.sgd(3.0), source(x, t) | batch(16), max_epochs(12) | no_improvement(2),
                  validation=(val_x, val_t), callbacks=[Keep()], rng=rng, progress=False)  # fmt: skip
    assert "restored the weights of epoch" in history.stop_reason
    best = int(history.stop_reason.rsplit("epoch ", 1)[1]) - 1
    for name, value in {**net.params, **net.buffers}.items():
        np.testing.assert_array_equal(value, snapshots[best][name], err_msg=name)


# --- specs and the model file ----------------------------------------------------------------------------------


def trained(norm, dtype=np.float32, dropout=0.0):
    """An mlp with norm layers a few training steps in: its running statistics are far from their start."""
    rng = np.random.default_rng(6)
    net = mlp([6, 5, 4, 3], "tanh", "softmax", norm=norm, dropout=dropout, rng=0, dtype=dtype)
    for layer in net.layers:
        if isinstance(layer, BatchNorm | LayerNorm):
            random_affine(layer, rng)
    for _ in range(5):
        x = rng.normal(3, 2, size=(16, 6)).astype(dtype)
        grad(net, "ce", x, np.eye(3, dtype=dtype)[rng.integers(0, 3, size=16)], rng=rng)
    return net


def test_specs_describe_norm_layers_and_their_buffers():
    net = mlp([6, 5, 4, 3], "tanh", "softmax", norm="batch", dropout=0.1, rng=0)
    net.layers[4].eps, net.layers[4].momentum = 1e-3, 0.25
    specs = layer_specs(net)
    assert specs[1] == {"kind": "BatchNorm", "size": 5, "eps": 1e-5, "momentum": 0.1}
    assert specs[4] == {"kind": "BatchNorm", "size": 4, "eps": 1e-3, "momentum": 0.25}
    assert layer_specs(mlp([6, 5, 3], norm="layer"))[1] == {"kind": "LayerNorm", "size": 5, "eps": 1e-5}
    shapes = param_shapes(specs)
    assert shapes == {name: value.shape for name, value in {**net.params, **net.buffers}.items()}
    rebuilt = from_specs(json.loads(json.dumps(specs)), "float64")
    assert layer_specs(rebuilt) == specs and rebuilt.dtype == np.float64
    assert rebuilt.buffers.keys() == net.buffers.keys()


@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_model_file_round_trip_keeps_the_running_statistics(tmp_path, norm, dtype):
    net = trained(norm, dtype, dropout=0.2)
    save_model(tmp_path / "model.npz", net, architecture(net))
    with np.load(tmp_path / "model.npz") as archive:
        assert set(archive.files) == {*net.params, *net.buffers, "__meta__"}
    loaded, meta = load_model(tmp_path / "model.npz")
    assert [spec["kind"] for spec in meta["layers"]].count("BatchNorm" if norm == "batch" else "LayerNorm") == 2
    assert loaded.dtype == dtype and list(loaded.buffers) == list(net.buffers)
    for name, value in {**net.params, **net.buffers}.items():
        np.testing.assert_array_equal({**loaded.params, **loaded.buffers}[name], value, err_msg=name)
    x = np.random.default_rng(7).normal(3, 2, size=(9, 6)).astype(dtype)
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))


def test_a_model_without_norm_layers_stores_only_its_parameters(tmp_path):
    net = mlp([6, 5, 3], rng=0)
    save_model(tmp_path / "model.npz", net, architecture(net))
    with np.load(tmp_path / "model.npz") as archive:
        assert sorted(archive.files) == ["0.W", "0.b", "1.W", "1.b", "__meta__"]


def test_non_finite_running_statistics_are_never_written(tmp_path):
    net = trained("batch")
    net.buffers["1.running_var"][0] = np.inf
    with pytest.raises(CheckpointError, match=r"not written: arrays 1.running_var hold NaN or Inf$"):
        save_model(tmp_path / "model.npz", net, architecture(net))


def rewrite(path, **changes):
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays.update(changes)
    np.savez(path, **{name: value for name, value in arrays.items() if value is not None})


def damage_layer(path, position, **changes):
    with np.load(path) as archive:
        meta = json.loads(str(archive["__meta__"]))
    meta["layers"][position] = {**meta["layers"][position], **changes}
    rewrite(path, __meta__=np.array(json.dumps(meta)))


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda p: damage_layer(p, 1, size=4), "layer 1: a BatchNorm of size 4, but the layer before gives 5"),
        (lambda p: damage_layer(p, 1, size="5"), "layer 1: a BatchNorm needs a positive integer size, not '5'"),
        (lambda p: damage_layer(p, 1, eps=0), "layer 1: a BatchNorm needs eps a finite number > 0, not 0"),
        (lambda p: damage_layer(p, 1, eps=10**400), "layer 1: a BatchNorm needs eps a finite number > 0, not 1000"),
        (lambda p: damage_layer(p, 1, momentum=1.5), "layer 1: a BatchNorm needs momentum in [0, 1], not 1.5"),
        (
            lambda p: damage_layer(p, 1, kind="GroupNorm"),
            "layer 1 must be a Dense, Dropout, BatchNorm or LayerNorm layer, not {'kind': 'GroupNorm'",
        ),
    ],
)
def test_a_damaged_norm_layer_is_one_line(tmp_path, capsys, damage, problem):
    net = trained("batch")
    meta = {**architecture(net), "loss": "ce"}
    save_model(tmp_path / "model.npz", net, meta)
    damage(tmp_path / "model.npz")
    with pytest.raises(CheckpointError) as error:
        load_model(tmp_path / "model.npz")
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'model.npz'}: its architecture is unusable (") and problem in message
    assert message.endswith("); re-save the model") and "\n" not in message


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"1.running_var": None}, "missing arrays 1.running_var for the architecture it declares"),
        ({"1.running_mean": np.zeros(4, np.float32)}, "array 1.running_mean has shape (4,), the architecture needs "
                                                      "(5,)"),
        ({"4.running_var": np.array([1, np.nan, 1, 1], np.float32)}, "array 4.running_var holds NaN or Inf"),
    ],
)
def test_damaged_running_statistics_in_a_model_file_are_named(tmp_path, change, problem):
    net = trained("batch", dropout=0.1)
    save_model(tmp_path / "model.npz", net, architecture(net))
    rewrite(tmp_path / "model.npz", **change)
    with pytest.raises(CheckpointError) as error:
        load_model(tmp_path / "model.npz")
    assert problem in str(error.value)


def test_a_damaged_norm_layer_met_through_evaluate_is_one_line(tmp_path, capsys):
    net = mlp([784, 4, 10], norm="batch", rng=0)
    folder = tmp_path / "run"
    folder.mkdir()
    meta = {**architecture(net), "loss": "ce", "dataset": "mnist",
            "input": {"shift": 0.0, "scale": 255.0, "image_shape": [28, 28]}}  # fmt: skip
    save_model(folder / "model.npz", net, meta)
    damage_layer(folder / "model.npz", 1, size=3)
    assert main(["evaluate", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {folder / 'model.npz'}: its architecture is unusable (layer 1: a BatchNorm of size 3, but the layer "
        "before gives 4); re-save the model\n"
    )


# --- the guard's snapshots -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["stop", "rollback", "skip"])
def test_the_guard_restores_the_running_statistics_a_bad_batch_damaged(policy):
    # A NaN input row turns the loss and, in the same forward pass, BatchNorm's running statistics non-finite.
    # Restoring the weights alone would leave every later evaluation NaN.
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    x = (rng.normal(0, 2, size=(3, 6))[labels] + rng.normal(size=(200, 6))).astype(np.float32)
    x[105, 2] = np.nan  # in the sixth batch of every epoch
    t = np.eye(3, dtype=np.float32)[labels]
    net = mlp([6, 16, 3], "relu", "softmax", norm="batch", rng=0)
    guard = NonFiniteGuard(policy, snapshot_every=2, max_retries=8)
    fit(net, "ce", optim.momentum(0.05), source(x, t) | batch(20), max_epochs(3), callbacks=[guard])
    assert guard.events and guard.events[0]["event"] == policy
    assert all(np.isfinite(b).all() for b in net.buffers.values()), net.buffers
    assert all(np.isfinite(p).all() for p in net.params.values())
    assert np.isfinite(net.predict(x[:100])).all()


# --- configuration and command line ------------------------------------------------------------------------------


def test_the_configuration_takes_norm_and_builds_it():
    from gradwise.train.config import build_network

    config = TrainConfig(hidden=(8, 6), norm="layer", dropout=0.1)
    kinds = [type(layer).__name__ for layer in build_network(config, 5, 3).layers]
    assert kinds == ["Dense", "LayerNorm", "Dropout", "Dense", "LayerNorm", "Dropout", "Dense"]
    assert [type(layer).__name__ for layer in build_network(TrainConfig(hidden=(8,)), 5, 3).layers] == ["Dense"] * 2
    assert settings_of(config).norm == "layer" and settings_of(TrainConfig()).norm == "none"
    assert TrainConfig.from_dict(json.loads(config.to_json())) == config
    with pytest.raises(ConfigError) as error:
        TrainConfig(norm="group")
    assert str(error.value) == "norm: unknown 'group'; choose one of: none, batch, layer"
    with pytest.raises(ConfigError) as error:
        TrainConfig(norm="batch", batch_size=1)
    assert str(error.value).startswith("norm batch: BatchNorm needs batches of 2 or more rows")


def test_norm_batch_with_batches_of_one_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--norm", "batch", "--batch-size", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: --norm batch: BatchNorm needs batches of 2 or more rows to normalize over, got --batch-size 1; use "
        "a larger --batch-size, or --norm layer (LayerNorm normalizes each row alone)\n"
    )
    assert not out.exists()
    assert main(["train", "--norm", "group", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--norm: invalid choice: 'group'" in err
    assert not out.exists()


RUN = ["--limit-train", "600", "--validation", "100", "--hidden", "24,16", "--epochs", "2", "--batch-size", "32",
       "--dropout", "0.1", "--checkpoint-every", "3", "--seed", "5", "--json"]  # fmt: skip


def arrays(path):
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files if name != "__meta__"}


def metrics(folder):
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "seconds"} for line in lines]


def interrupt_at(monkeypatch, step):
    """Stop the next run as a kill would, just after the checkpoint of ``step`` is on disk."""
    original = checkpoint_module.Checkpointer.on_step

    def on_step(self, progress, loss):
        original(self, progress, loss)
        if progress.step == step:
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_module.Checkpointer, "on_step", on_step)


@pytest.mark.parametrize(("norm", "stop_at"), [("batch", 9), ("batch", 24), ("layer", 24)])
def test_an_interrupted_run_with_norm_layers_resumes_bit_identical(tmp_path, monkeypatch, capsys, norm, stop_at):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert main(["train", *RUN, "--norm", norm, "--out", str(straight)]) == 0
    with monkeypatch.context() as patch:
        interrupt_at(patch, stop_at)  # 600 / 32: 19 steps an epoch, so 24 is inside the second
        assert main(["train", *RUN, "--norm", norm, "--out", str(stopped)]) == 130
    saved = arrays(stopped / "checkpoint.npz")
    assert json.loads(str(np.load(stopped / "checkpoint.npz")["__run__"]))["step"] == stop_at
    if norm == "batch":
        assert {"buffer/1.running_mean", "buffer/1.running_var", "buffer/4.running_var"} <= set(saved)
    assert main(["train", "--resume", str(stopped), "--json"]) == 0
    expected, got = arrays(straight / "model.npz"), arrays(stopped / "model.npz")
    assert expected.keys() == got.keys()
    assert ("1.running_var" in expected) == (norm == "batch")
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert metrics(stopped) == metrics(straight)  # validation in evaluation mode: the running statistics


def test_a_checkpoint_without_its_running_statistics_is_refused(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "run"
    with monkeypatch.context() as patch:
        interrupt_at(patch, 6)
        assert main(["train", *RUN, "--norm", "batch", "--out", str(folder)]) == 130
    rewrite(folder / "checkpoint.npz", **{"buffer/1.running_var": None})
    capsys.readouterr()
    assert main(["train", "--resume", str(folder), "--json"]) == 2
    assert capsys.readouterr().err == (
        f"error: {folder / 'checkpoint.npz'}: buffer/1.running_var is missing or has the wrong shape; start the run "
        "again\n"
    )
