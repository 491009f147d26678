"""Shared test helpers: PyTorch mirrors of gradwise networks and losses (the test oracle)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium driven by selenium, for the report's and the notebook's pages; fails, never skips."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.fail(
            f"headless Chromium is needed for this test but {', '.join(missing)} is missing: run `make test` (it "
            "installs it) or `apt-get install -y chromium chromium-driver`"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                 "--window-size=1100,900"):  # fmt: skip
        options.add_argument(flag)  # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """build/screenshots (or $GRADWISE_SCREENSHOTS): the browser tests' screenshots, for a person to look at."""
    folder = Path(os.environ.get("GRADWISE_SCREENSHOTS", Path(__file__).resolve().parents[1] / "build" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
