import io
import json
import zipfile

import numpy as np
import pytest

from gradwise import mlp
from gradwise.train.archive import CheckpointError
from gradwise.train.config import ConfigError, TrainConfig, preset
from gradwise.train.history import EpochRecord
from gradwise.train.model_file import architecture, load_model, save_model
from gradwise.train.run_folder import RunFolder


def saved(tmp_path, dtype=np.float32, sizes=(6, 5, 4, 3), dropout=0.0):
    net = mlp(list(sizes), "tanh", "softmax", dropout=dropout, rng=0, dtype=dtype)
    path = tmp_path / "model.npz"
    save_model(path, net, {**architecture(net), "input": {"shift": 0.0, "scale": 255.0}})
    return net, path


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_exact(tmp_path, dtype):
    net, path = saved(tmp_path, dtype, dropout=0.3)
    loaded, meta = load_model(path)
    assert loaded.dtype == dtype and meta["sizes"] == [6, 5, 4, 3] and {"kind": "Dropout", "p": 0.3} in meta["layers"]
    assert list(loaded.params) == list(net.params)
    for name, value in net.params.items():
        np.testing.assert_array_equal(loaded.params[name], value)
    x = np.random.default_rng(0).normal(size=(4, 6))
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
    assert load_model(tmp_path)[0].params.keys() == net.params.keys()  # a run folder works too


@pytest.mark.parametrize(("spec", "alpha"), [("leaky_relu:0.2", 0.2), ("elu:0.5", 0.5), ("leaky_relu", 0.01)])
def test_activation_parameters_survive_the_round_trip(tmp_path, spec, alpha):
    net = mlp([6, 5, 3], spec, "sigmoid", bias=-1.0, rng=0)  # the bias puts most units where alpha matters
    path = tmp_path / "model.npz"
    save_model(path, net, architecture(net))
    loaded, meta = load_model(path)
    assert meta["layers"][0]["activation"] == f"{spec.partition(':')[0]}:{alpha}"
    assert loaded.layers[0].activation.params == {"alpha": alpha}
    x = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))


@pytest.mark.parametrize(("name", "alpha"), [("leaky_relu", 0.01), ("elu", 1.0)])
def test_older_files_with_a_bare_activation_name_load_with_its_default(tmp_path, name, alpha):
    net = mlp([6, 5, 3], name, rng=0)
    path = tmp_path / "model.npz"
    older = {"sizes": [6, 5, 3], "activation": name, "output": "softmax", "dropout": 0.0, "dtype": "float32"}
    save_model(path, net, older)  # as files were written before they recorded their layers
    loaded, _ = load_model(path)
    assert loaded.layers[0].activation.params == {"alpha": alpha}


def test_non_finite_weights_are_never_written(tmp_path):
    net = mlp([3, 2], rng=0)
    net.params["0.W"][0, 0] = np.nan
    with pytest.raises(CheckpointError, match=r"model.npz: not written: parameters 0.W hold NaN or Inf"):
        save_model(tmp_path / "model.npz", net, architecture(net))
    assert list(tmp_path.iterdir()) == []  # no model, no temporary file left behind


def rewrite(path, **changes):
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays.update(changes)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"0.W": None}, "missing arrays 0.W"),
        ({"9.W": np.zeros(2)}, "unexpected arrays 9.W"),
        ({"0.W": np.zeros((5, 6), np.float32)}, r"array 0.W has shape \(5, 6\), the architecture needs \(6, 5\)"),
        ({"0.b": np.zeros(5, np.int32)}, "array 0.b has dtype int32, expected floats"),
        ({"2.b": np.array([1, np.inf, 0], np.float32)}, "array 2.b holds NaN or Inf"),
        ({"__meta__": None}, "no __meta__ entry: not a gradwise model file"),
        ({"__meta__": np.array("{not json")}, "__meta__ is not valid JSON"),
        ({"__meta__": np.array(json.dumps({"format": "other"}))}, "unknown model format"),
    ],
)
def test_damaged_models_name_the_problem(tmp_path, change, message):
    _, path = saved(tmp_path)
    rewrite(path, **change)
    with pytest.raises(CheckpointError, match=message):
        load_model(path)


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    _, path = saved(tmp_path)
    rewrite(path, **{"0.W": np.array([{"evil": 1}], dtype=object)})
    with pytest.raises(CheckpointError, match="holds object arrays, which are never unpickled"):
        load_model(path)


@pytest.mark.parametrize("cut", [10, 100, 1000])
def test_truncated_files(tmp_path, cut):
    _, path = saved(tmp_path)
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(CheckpointError, match="model.npz: "):
        load_model(path)


def test_missing_file_and_folder_without_model(tmp_path):
    with pytest.raises(CheckpointError, match="nothing.npz: does not exist; give a run folder"):
        load_model(tmp_path / "nothing.npz")
    with pytest.raises(CheckpointError, match="model.npz: does not exist"):
        load_model(tmp_path)


def test_zip_that_is_not_a_model(tmp_path):
    path = tmp_path / "model.npz"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("readme.txt", "hello")
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match="model.npz: "):
        load_model(path)


def test_metrics_log_tolerates_a_torn_last_line(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.create(preset("default").to_json())
    records = [EpochRecord(i, 10 * i, 0.5, 0.9, float("nan"), float("nan"), 1.0) for i in (1, 2)]
    for record in records:
        folder.append_metrics(record)
    with open(folder.path / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 3, "step": 3')  # the process died mid-write
    read = folder.read_metrics()
    assert [r.numbers()[:4] for r in read] == [r.numbers()[:4] for r in records]
    assert np.isnan(read[0].val_loss)


def test_config_round_trip_and_unknown_keys(tmp_path):
    config = preset("nielsen", seed=7)
    assert TrainConfig.from_dict(json.loads(config.to_json())) == config
    with pytest.raises(ConfigError, match="config.json: unknown keys colour, speed; valid keys: activation"):
        TrainConfig.from_dict({"colour": 1, "speed": 2}, "config.json")
    folder = RunFolder(tmp_path)
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="config.json: malformed JSON"):
        folder.read_config()


def test_run_folder_that_is_a_file(tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(CheckpointError, match="taken: is a file, not a folder; choose another --out"):
        RunFolder(tmp_path / "taken").create("{}")


def test_any_network_of_dense_and_dropout_layers_reloads(tmp_path):
    # Before: a model file described an mlp (one hidden activation, dropout after every hidden layer), so a
    # network built by hand lost its shape on reloading.
    from gradwise.nn.layers import Dense, Dropout
    from gradwise.nn.network import Network

    rng = np.random.default_rng(0)
    net = Network([Dropout(0.1), Dense(6, 8, "tanh", rng=rng), Dense(8, 5, "leaky_relu:0.3", rng=rng), Dropout(0.4),
                   Dense(5, 3, "sigmoid", rng=rng)])  # fmt: skip
    save_model(tmp_path / "model.npz", net, architecture(net))
    loaded, meta = load_model(tmp_path / "model.npz")
    assert meta["sizes"] == [6, 8, 5, 3]
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dropout", "Dense", "Dense", "Dropout", "Dense"]
    assert [layer.p for layer in loaded.layers if isinstance(layer, Dropout)] == [0.1, 0.4]
    x = rng.normal(size=(7, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))


def test_an_older_mlp_file_with_dropout_loads(tmp_path):
    net = mlp([6, 5, 4, 3], "relu", "softmax", dropout=0.25, rng=0)
    older = {"sizes": [6, 5, 4, 3], "activation": "relu", "output": "softmax", "dropout": 0.25, "dtype": "float32"}
    save_model(tmp_path / "model.npz", net, older)
    loaded, _ = load_model(tmp_path / "model.npz")
    assert list(loaded.params) == list(net.params)
    x = np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))


@pytest.mark.parametrize(
    ("layers", "problem"),
    [
        ("dense", "layers must be a non-empty list of layers, not 'dense'"),
        ([{"kind": "Conv2D"}], "layer 0 must be a Dense, Dropout, BatchNorm or LayerNorm layer"),
        ([{"kind": "Dense", "shape": [6, -5], "activation": "relu"}], "layer 0: a Dense needs shape [n_in, n_out]"),
        ([{"kind": "Dense", "shape": [6, 5], "activation": "relu"}, {"kind": "Dense", "shape": [4, 3],
          "activation": "softmax"}], "layer 1: takes 4 inputs, but the layer before gives 5"),
        ([{"kind": "Dense", "shape": [6, 3], "activation": "swish"}], "unknown activation 'swish'"),
        ([{"kind": "Dense", "shape": [6, 3], "activation": "relu"}, {"kind": "Dropout", "p": 2}],
         "layer 1: a Dropout needs p in [0, 1), not 2"),
    ],
)
def test_a_damaged_layer_list_is_named(tmp_path, layers, problem):
    _, path = saved(tmp_path)
    with np.load(path) as archive:
        meta = json.loads(str(archive["__meta__"]))
    rewrite(path, __meta__=np.array(json.dumps({**meta, "layers": layers})))
    with pytest.raises(CheckpointError) as error:
        load_model(path)
    assert problem in str(error.value) and str(error.value).startswith(f"{path}: its architecture is unusable (")
