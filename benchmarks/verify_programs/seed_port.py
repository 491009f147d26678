"""The question gradwise grew from: the 2017 Haskell (hmatrix) MNIST network, through its NumPy port.

examples/seed_2017_port.py is called as it is (not rewritten): 784-1000-10, sigmoid then softmax, squared
error, rows with the deltas kept units x batch, a negative learning rate added to the weights, the softmax
derivative stubbed to 1 and the output layer's derivative dropped. Its bug is always present.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path

PORT = Path(__file__).resolve().parents[2] / "examples" / "seed_2017_port.py"

EXPECTED = {
    # delta_out = out - tar with a softmax output under mse: dE/dy, not dE/dz
    "seed": (("missing_output_derivative",), "delta1"),
}


def write(folder, bug="seed"):
    if bug != "seed":
        raise ValueError("the seed's port has one case: its own bug")
    spec = importlib.util.spec_from_file_location("seed_2017_port", PORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with contextlib.redirect_stdout(io.StringIO()):
        module.main([str(folder)])
