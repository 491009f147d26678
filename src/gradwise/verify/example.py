"""``gradwise verify --example DIR``: a correct trace of a small network in the text format, ready to edit."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

from gradwise.files import atomic_write_text
from gradwise.verify.files import NETWORK_NAME, TraceError
from gradwise.verify.reference import reference
from gradwise.verify.trace import read_trace

SIZES = [4, 3, 2]
NETWORK = {
    "sizes": SIZES,
    "activations": ["tanh", "softmax"],
    "loss": "ce",
    "reduction": "mean",
    "samples": "rows",
    "weights": "in_out",
    "lr": 0.1,
}
BATCH = 5


def _matrix_text(name: str, value: np.ndarray) -> str:
    rows = np.atleast_2d(value)
    shape = " x ".join(map(str, np.shape(value))) or "one number"
    lines = [f"# {name}: {shape}"] + [" ".join(f"{v:.17g}" for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def write_example(folder: str | Path, seed: int = 0) -> list[Path]:
    """Write network.json and one .txt file per tensor of a correct step into a new folder -> the files written."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise TraceError(f"{folder}: already exists and is not an empty folder; choose a new folder for the example")
    rng = np.random.default_rng(seed)
    tensors: dict[str, np.ndarray] = {"x": rng.normal(size=(BATCH, SIZES[0]))}
    tensors["t"] = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], BATCH)]
    for i, (n_in, n_out) in enumerate(itertools.pairwise(SIZES)):
        tensors[f"W{i}"] = rng.normal(scale=1 / np.sqrt(n_in), size=(n_in, n_out))
        tensors[f"b{i}"] = rng.normal(scale=0.1, size=n_out)
    ref = reference(read_trace({"network": NETWORK, **tensors, **_zero_grads()}))
    lr = float(NETWORK["lr"])  # type: ignore[arg-type]
    for i in range(len(SIZES) - 1):
        tensors |= {f"z{i}": ref.z[i], f"a{i}": ref.a[i], f"delta{i}": ref.delta[i]}
        tensors |= {f"dW{i}": ref.dW[i], f"db{i}": ref.db[i]}
        tensors |= {f"W{i}.after": tensors[f"W{i}"] - lr * ref.dW[i], f"b{i}.after": tensors[f"b{i}"] - lr * ref.db[i]}
    tensors["loss"] = np.array(ref.loss)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / NETWORK_NAME]
    atomic_write_text(written[0], json.dumps(NETWORK, indent=2) + "\n")
    for name, value in tensors.items():
        written.append(folder / f"{name}.txt")
        atomic_write_text(written[-1], _matrix_text(name, value))
    return written


def _zero_grads() -> dict[str, np.ndarray]:
    """Placeholder gradients: the reader needs dW and db, the reference does not use them."""
    pairs = list(itertools.pairwise(SIZES))
    return {f"dW{i}": np.zeros((n_in, n_out)) for i, (n_in, n_out) in enumerate(pairs)} | {
        f"db{i}": np.zeros(n_out) for i, (_, n_out) in enumerate(pairs)
    }
