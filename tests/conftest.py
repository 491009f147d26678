"""Shared test helpers: PyTorch mirrors of gradwise networks and losses (the test oracle)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradwise.nn.activations import Activation
from gradwise.nn.layers import Dense
from gradwise.nn.network import Network

torch.set_num_threads(1)


def torch_activation(act: Activation, z: torch.Tensor) -> torch.Tensor:
    """The PyTorch function of the same name."""
    match act.name:
        case "identity":
            return z
        case "sigmoid":
            return torch.sigmoid(z)
        case "tanh":
            return torch.tanh(z)
        case "relu":
            return torch.relu(z)
        case "leaky_relu":
            return F.leaky_relu(z, act.params["alpha"])
        case "elu":
            return F.elu(z, act.params["alpha"])
        case "softplus":
            return F.softplus(z)
        case "softmax":
            return torch.softmax(z, dim=1)
    raise AssertionError(f"no torch mirror for {act.name}")


def torch_loss(name: str, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Per-sample sum, batch mean: gradwise's reduction for every loss."""
    batch = y.shape[0]
    match name:
        case "mse":
            return 0.5 * ((y - t) ** 2).sum() / batch
        case "binary_cross_entropy":
            return F.binary_cross_entropy(y, t, reduction="sum") / batch
        case "binary_cross_entropy_from_logits":
            return F.binary_cross_entropy_with_logits(y, t, reduction="sum") / batch
        case "cross_entropy":
            return -(t * torch.log(y)).sum() / batch
        case "softmax_cross_entropy":
            return F.cross_entropy(y, t, reduction="sum") / batch
    raise AssertionError(f"no torch mirror for {name}")


class TorchMirror:
    """A PyTorch copy of a gradwise network made of Dense layers, sharing its initial weights."""

    def __init__(self, net: Network) -> None:
        self.layers = [layer for layer in net.layers if isinstance(layer, Dense)]
        assert len(self.layers) == len(net.layers), "mirror supports Dense-only networks"
        self.params = {
            name: torch.tensor(value.copy(), requires_grad=True) for name, value in net.params.items()
        }

    def forward(self, x: np.ndarray, logits: bool = False) -> torch.Tensor:
        h = torch.tensor(x)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            h = h @ self.params[f"{i}.W"] + self.params[f"{i}.b"]
            if not (logits and i == last):
                h = torch_activation(layer.activation, h)
        return h

    def forward_logits(self, x: np.ndarray) -> torch.Tensor:
        return self.forward(x, logits=True)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Decoded data sets go to a temporary cache, not the user's home."""
    import os

    os.environ["GRADWISE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
