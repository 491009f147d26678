"""The model file, ``model.npz``: everything ``predict`` and ``evaluate`` need, and nothing they could trip on.

It is the parameter dict (``"0.W"``, ``"0.b"``, ...) and the buffers (BatchNorm's running statistics, named as
``Network.buffers``: ``"1.running_mean"``) saved with ``np.savez``, plus one string array, ``__meta__``, holding the
layers (``nn.specs``) and the input scaling as JSON, so a model file alone is enough to predict. It is
read through ``train.archive.NpzReader``: an object array is refused, never unpickled, and every header is checked
against the layers before its data is read. Non-finite weights are never written.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gradwise.files import atomic_open
from gradwise.nn.activations import get_activation
from gradwise.nn.losses import get_loss
from gradwise.nn.network import Network
from gradwise.nn.specs import from_specs, layer_specs, param_shapes
from gradwise.train.archive import CheckpointError, NpzReader
from gradwise.train.run_folder import MODEL_FILE

if TYPE_CHECKING:
    from gradwise.data.datasets import Dataset
    from gradwise.train.config import TrainConfig

META_KEY = "__meta__"
FORMAT = "gradwise-model-1"
_META_MAX_BYTES = 1 << 20  # __meta__ is a few hundred bytes of JSON (a wide table's columns: a few KB)
_MAX_SIZE = 2**31 - 1  # a layer size beyond this is a damaged file, not a network


def save_model(path: str | Path, net: Network, meta: dict[str, Any]) -> None:
    """Write the network's parameters, its buffers and ``meta`` (architecture, input scaling) atomically.

    Raises CheckpointError, and writes nothing, when a weight or a running statistic is NaN or infinite.
    """
    path = Path(path)
    arrays = {**net.params, **net.buffers}  # no name is both: a layer's parameters and buffers have other keys
    bad = [name for name, value in arrays.items() if not np.isfinite(value).all()]
    if bad:
        what = "parameters" if set(bad) <= set(net.params) else "arrays"
        raise CheckpointError(f"{path}: not written: {what} {', '.join(bad)} hold NaN or Inf")
    arrays[META_KEY] = np.array(json.dumps({"format": FORMAT, **meta}))
    with atomic_open(path) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def architecture(net: Network) -> dict[str, Any]:
    """What ``load_model`` needs to rebuild ``net``: its layers (``nn.specs``), any mix of Dense, Dropout, BatchNorm
    and LayerNorm, and ``sizes``, the input and each Dense layer's outputs, which ``predict`` and ``evaluate`` check
    data against.

    Older files describe an ``mlp`` instead (sizes, one hidden activation, the output's, a dropout rate); they load
    as that.
    """
    shapes = [info.shape for info in net.layer_info() if info.shape is not None]
    sizes = [shapes[0][0], *(n_out for _, n_out in shapes)]
    return {"layers": layer_specs(net), "sizes": sizes, "dtype": str(net.dtype)}


def load_model(path: str | Path) -> tuple[Network, dict[str, Any]]:
    """Rebuild the network saved at ``path`` (a model.npz or a run folder); return it and its meta.

    Any file either loads or raises CheckpointError. Nothing is allocated beyond what the file really holds:
    every array's header must match the architecture ``__meta__`` declares and the bytes the archive holds.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise CheckpointError(f"{path}: {what}; give a run folder or its {MODEL_FILE}")
    with NpzReader(path, "model file", "re-save the model", "the architecture") as archive:
        if META_KEY not in archive.keys:
            raise CheckpointError(f"{path}: no {META_KEY} entry: not a gradwise model file")
        meta = _meta(path, archive.array(META_KEY, max_bytes=_META_MAX_BYTES))
        specs = meta["layers"] if "layers" in meta else _mlp_specs(meta)
        expected = param_shapes(specs)
        _check_names(path, expected, archive.keys - {META_KEY})
        arrays = {name: archive.array(name, shape) for name, shape in expected.items()}
    for name, value in arrays.items():
        if value.dtype.kind != "f":
            raise CheckpointError(f"{path}: array {name} has dtype {value.dtype}, expected floats; re-save the model")
        if not np.isfinite(value).all():
            raise CheckpointError(f"{path}: array {name} holds NaN or Inf; re-save the model from a finite run")
    net = from_specs(specs, meta["dtype"])
    targets = {**net.params, **net.buffers}  # the layers' own arrays
    for name, value in arrays.items():
        targets[name][...] = value
    return net, meta


def _meta(path: Path, raw: np.ndarray) -> dict[str, Any]:
    if raw.shape != () or raw.dtype.kind != "U":
        raise CheckpointError(f"{path}: {META_KEY} is not a JSON text: not a gradwise model file")
    # NumPy turns UCS-4 code points past U+10FFFF into a malformed str that later string methods choke on.
    codes = np.frombuffer(raw.tobytes(), dtype=raw.dtype.byteorder.replace("|", "=") + "u4")
    if codes.size and codes.max() > 0x10FFFF:
        raise CheckpointError(f"{path}: {META_KEY} is not valid text; re-save the model")
    try:
        meta = json.loads(str(raw[()]))
    except (json.JSONDecodeError, RecursionError, UnicodeError, ValueError):
        raise CheckpointError(f"{path}: {META_KEY} is not valid JSON; re-save the model") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown model format; expected {FORMAT}")
    _check_meta(path, meta)
    return meta


def _check_meta(path: Path, meta: dict[str, Any]) -> None:
    """CheckpointError unless every field predict and evaluate use holds a value they can use."""

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise CheckpointError(f"{path}: its architecture is unusable ({what}); re-save the model")

    sizes: Any = meta.get("sizes")  # JSON: Any until need() has checked it
    need(
        isinstance(sizes, list) and len(sizes) >= 2 and all(type(n) is int and 1 <= n <= _MAX_SIZE for n in sizes),
        f"sizes must be a list of 2 or more positive layer sizes, not {_short(sizes)}",
    )
    if "layers" in meta:
        _check_layers(meta["layers"], sizes, need)
    else:
        _check_mlp(meta, need)
    need(
        meta.get("dtype") in ("float32", "float64"),
        f"dtype must be float32 or float64, not {_short(meta.get('dtype'))}",
    )
    if "loss" in meta:
        loss = meta["loss"]
        need(isinstance(loss, str), f"loss must be a loss name, not {_short(loss)}")
        try:
            get_loss(loss)
        except ValueError as error:
            need(False, str(error))
    if "dataset" in meta:
        need(isinstance(meta["dataset"], str), f"dataset must be a name, not {_short(meta['dataset'])}")
    if "input" in meta:
        _check_input(meta["input"], sizes[0], need)
    if "features" in meta:
        _check_table(meta, sizes, need)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_input(scaling: Any, inputs: int, need: Callable[[bool, str], None]) -> None:
    """The input scaling: one shift and scale for every pixel, or a list of each, one per column of a table."""
    if isinstance(scaling, dict) and isinstance(scaling.get("shift"), list):
        shift, scale = scaling["shift"], scaling.get("scale")
        need(
            isinstance(scale, list)
            and len(shift) == len(scale) == inputs
            and all(_finite(v) for v in shift + scale)
            and all(v != 0 for v in scale),
            f"input must hold {inputs} finite shifts and {inputs} finite non-zero scales, not {_short(scaling)}",
        )
        return
    need(
        isinstance(scaling, dict)
        and _finite(scaling.get("shift"))
        and _finite(scaling.get("scale"))
        and scaling["scale"] != 0,
        f"input must hold a finite shift and a finite non-zero scale, not {_short(scaling)}",
    )


def _check_table(meta: dict[str, Any], sizes: list[int], need: Callable[[bool, str], None]) -> None:
    """A table model's column names, class names, label and the recipe that re-reads its test rows."""

    def names(value: object, count: int) -> bool:
        return isinstance(value, list) and len(value) == count and all(isinstance(v, str) for v in value)

    features, classes, split = meta["features"], meta.get("classes"), meta.get("split")
    need(names(features, sizes[0]), f"features must be {sizes[0]} column names, not {_short(features)}")
    need(names(classes, sizes[-1]), f"classes must be {sizes[-1]} class names, not {_short(classes)}")
    need(isinstance(meta.get("label"), str), f"label must be a column name, not {_short(meta.get('label'))}")
    need(
        isinstance(split, dict)
        and isinstance(split.get("dataset"), str)
        and all(_finite(split.get(k)) and 0 <= split[k] < 1 for k in ("val_fraction", "test_fraction"))
        and type(split.get("seed")) is int
        and split["seed"] >= 0
        and (split.get("test_data") is None or isinstance(split["test_data"], str)),
        f"split must hold the table's path, val_fraction, test_fraction, seed and test_data, not {_short(split)}",
    )


def data_meta(config: TrainConfig, data: Dataset) -> dict[str, Any]:
    """What the model file records of its data: the input scaling; for a table also its columns, its class names
    and the recipe of its split (absolute paths), so ``evaluate`` re-reads the same test rows."""
    if data.image_shape is not None:
        image = {"shift": data.shift, "scale": data.scale, "image_shape": list(data.image_shape)}
        return {"dataset": data.name, "input": image}
    features = list(data.features or (f"column {i + 1}" for i in range(data.num_features)))
    split = {
        "dataset": str(Path(config.dataset).resolve()),
        "label": data.label,
        "val_fraction": config.val_fraction,
        "test_fraction": config.test_fraction,
        "seed": config.seed,
        "test_data": str(Path(config.test_data).resolve()) if config.test_data else None,
    }
    return {
        "dataset": data.name,
        "input": {"shift": np.asarray(data.shift, float).tolist(), "scale": np.asarray(data.scale, float).tolist()},
        "features": features,
        "classes": list(data.classes or (str(i) for i in range(data.num_classes))),
        "label": data.label,
        "split": split,
    }


def _check_layers(layers: Any, sizes: list[int], need: Callable[[bool, str], None]) -> None:
    """The layer list (``nn.specs``), and sizes that agree with it."""
    try:
        param_shapes(layers)
    except ValueError as error:
        need(False, str(error))
    dense = [spec["shape"] for spec in layers if spec["kind"] == "Dense"]
    need(sizes == [dense[0][0], *(n_out for _, n_out in dense)], f"sizes {sizes} disagree with its layers")


def _check_mlp(meta: dict[str, Any], need: Callable[[bool, str], None]) -> None:
    """An older file's mlp: its hidden and output activations and its dropout rate."""
    for key in ("activation", "output"):
        value: Any = meta.get(key)
        if key == "activation" and value is None and len(meta["sizes"]) == 2:
            continue  # no hidden layer, no hidden activation
        need(isinstance(value, str), f"{key} must be an activation name, not {_short(value)}")
        try:
            get_activation(value)
        except ValueError as error:
            need(False, str(error))
    dropout: Any = meta.get("dropout")
    ok = isinstance(dropout, int | float) and not isinstance(dropout, bool) and 0 <= dropout < 1
    need(ok, f"dropout must be a number in [0, 1), not {_short(dropout)}")


def _mlp_specs(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The layers of the ``mlp`` an older file describes: a Dropout after each hidden layer when it had a rate."""
    sizes, dropout = meta["sizes"], meta["dropout"]
    hidden = meta.get("activation") or "identity"  # None (or absent) when there is no hidden layer
    specs: list[dict[str, Any]] = []
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        last = k == len(sizes) - 2
        specs.append({"kind": "Dense", "shape": [n_in, n_out], "activation": meta["output"] if last else hidden})
        if dropout and not last:
            specs.append({"kind": "Dropout", "p": dropout})
    return specs


def _check_names(path: Path, expected: dict[str, tuple[int, ...]], found: set[str]) -> None:
    missing = sorted(set(expected) - found)
    extra = sorted(found - set(expected))
    if missing:
        raise CheckpointError(f"{path}: missing arrays {', '.join(missing)} for the architecture it declares")
    if extra:
        raise CheckpointError(f"{path}: unexpected arrays {', '.join(extra)} for the architecture it declares")


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, np.ndarray) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
