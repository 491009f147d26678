"""Layers, activations, losses, initializers and the network that chains them."""

from gradwise.nn.activations import ACTIVATIONS, Activation, get_activation
from gradwise.nn.init import INITIALIZERS, default_initializer, get_initializer
from gradwise.nn.layers import Dense, Dropout, Layer
from gradwise.nn.losses import LOSSES, Loss, get_loss
from gradwise.nn.network import Network, grad, mlp
from gradwise.nn.normalization import BatchNorm, LayerNorm

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "LOSSES",
    "Activation",
    "BatchNorm",
    "Dense",
    "Dropout",
    "Layer",
    "LayerNorm",
    "Loss",
    "Network",
    "default_initializer",
    "get_activation",
    "get_initializer",
    "get_loss",
    "grad",
    "mlp",
]
