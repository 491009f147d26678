"""gradwise: a small NumPy neural-network library with readable backprop and training that explains itself."""

from gradwise import optim
from gradwise.health.gradcheck import gradcheck
from gradwise.nn import (
    Activation,
    Dense,
    Dropout,
    Loss,
    Network,
    get_activation,
    get_initializer,
    get_loss,
    grad,
    mlp,
)
from gradwise.optim import move

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "Dense",
    "Dropout",
    "Loss",
    "Network",
    "__version__",
    "get_activation",
    "get_initializer",
    "get_loss",
    "grad",
    "gradcheck",
    "mlp",
    "move",
    "optim",
]
