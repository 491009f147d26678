"""``dump_trace``: write one step of a NumPy network as a trace folder, in one call.

    gw.dump_trace("trace", {"sizes": [3, 4, 2], "activations": ["tanh", "sigmoid"], "loss": "mse", "lr": 0.1},
                  x=x, t=t, W=[W0, W1], b=[b0, b1], dW=[dW0, dW1], db=[db0, db1], delta=[d0, d1])
    gw.verify("trace")

Per-layer tensors go in as lists (``W=[W0, W1]``, None for a layer that has none) or one by one (``W0=...``);
``W_after=[...]`` (or ``W0_after=``) are the weights after the update. Every number is written in full (text
with 17 significant digits for float64, 9 for float32; or ``.npy`` files), so the trace holds exactly what the
program computed. Everything is checked before anything is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gradwise.files import atomic_open, atomic_write_text
from gradwise.verify.files import NETWORK_NAME, NPZ_NAME, TEXT_SUFFIXES, TraceError
from gradwise.verify.network import parse_network

PER_LAYER = ("W", "b", "dW", "db", "z", "a", "delta", "W_after", "b_after", "gamma", "beta", "dgamma", "dbeta", "xhat")
_SINGLE = re.compile(r"(W|b|dW|db|z|a|delta|gamma|beta|dgamma|dbeta|xhat|y)(\d+)(_after)?")
FORMATS = ("txt", "npy")


def dump_trace(
    folder: str | Path, network: Mapping[str, Any], *, format: str = "txt", overwrite: bool = False, **tensors: Any
) -> Path:
    """Write network.json and one file per tensor into ``folder`` -> the folder; bad input raises TraceError."""
    folder = Path(folder)
    if format not in FORMATS:
        raise TraceError(f"dump_trace: format must be 'txt' or 'npy', got {format!r}")
    parse_network(dict(network), f"{folder}/network.json")  # refused here, not when verify reads it
    named = _named(tensors)
    for required in ("x", "t"):
        if required not in named:
            raise TraceError(f"dump_trace: {required} is missing; pass {required}=... (the batch's inputs and targets)")
    _clear(folder, overwrite)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / NETWORK_NAME, json.dumps(dict(network), indent=2) + "\n")
    for name, array in named.items():
        if format == "npy":
            with atomic_open(folder / f"{name}.npy") as file:
                np.save(file, np.ascontiguousarray(array), allow_pickle=False)
        else:
            atomic_write_text(folder / f"{name}.txt", _text(array))
    return folder


def _named(tensors: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Keyword arguments -> {trace name: array}: lists spread over layers, ``_after`` becomes ``.after``."""
    named: dict[str, np.ndarray] = {}
    for key, value in tensors.items():
        if key in PER_LAYER:
            if not isinstance(value, Sequence) or isinstance(value, str | bytes):
                raise TraceError(
                    f"dump_trace: {key} must be a list with one array per layer, e.g. {key}=[{key}0, {key}1]"
                )
            for i, array in enumerate(value):
                if array is not None:
                    named[_trace_name(key, i)] = _array(array, f"{key}[{i}]")
        elif key in ("x", "t", "loss") or _SINGLE.fullmatch(key):
            named[key.replace("_after", ".after")] = _array(value, key)
        else:
            raise TraceError(
                f"dump_trace: unknown tensor {key!r}; use x, t, loss, and W, b, dW, db, z, a, delta, W_after, b_after, "
                "gamma, beta, dgamma, dbeta, xhat (as lists, or numbered: W0, db1, W0_after, y0)"
            )
    return named


def _trace_name(key: str, layer: int) -> str:
    base, after = (key[: -len("_after")], ".after") if key.endswith("_after") else (key, "")
    return f"{base}{layer}{after}"


def _array(value: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise TraceError(f"dump_trace: {name} is not an array of numbers") from None
    if array.dtype.kind not in "biuf" or array.ndim > 2:
        raise TraceError(f"dump_trace: {name} must be a number, a vector or a matrix of numbers, got {array.dtype} "
                         f"with shape {array.shape}")  # fmt: skip
    return array


def _clear(folder: Path, overwrite: bool) -> None:
    """A folder that holds files is only reused with overwrite=True, and then only its trace files go."""
    if folder.exists() and not folder.is_dir():
        raise TraceError(f"{folder}: is a file; choose a folder for the trace")
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    if not overwrite:
        raise TraceError(f"{folder}: already holds files; choose a new folder, or pass overwrite=True to replace them")
    for path in folder.iterdir():
        trace_file = path.suffix.lower() in (*TEXT_SUFFIXES, ".npy") or path.name in (NPZ_NAME, NETWORK_NAME)
        if path.is_file() and trace_file:
            path.unlink()


def _text(array: np.ndarray) -> str:
    """Every digit: 17 significant digits round-trip a float64, 9 a float32; integers as they are."""
    rows = np.atleast_2d(array)
    if array.dtype.kind in "biu":
        return "\n".join(" ".join(str(int(v)) for v in row) for row in rows) + "\n"
    digits = 9 if array.dtype.itemsize <= 4 else 17
    return "\n".join(" ".join(f"{float(v):.{digits}g}" for v in row) for row in rows) + "\n"
