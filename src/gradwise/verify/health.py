"""gradwise's static health checks on the traced network and batch: why it may not learn, beside whether it is right."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from gradwise.health.diagnosis import Diagnosis
from gradwise.health.settings import Settings
from gradwise.health.static import static_checks
from gradwise.nn.layers import Dense
from gradwise.nn.network import Network
from gradwise.verify.trace import Trace

# What a single traced batch can tell; label and initial-loss checks assume a classifier at initialization.
REPORTED = ("output_loss_mismatch", "unnormalized_input", "saturation", "dead_units")
# With a norm between the layers, the units' inputs are not those of a plain network of the same W and b: what is
# read off the hidden activations (saturated, dead) is left out.
REPORTED_WITH_NORM = ("output_loss_mismatch", "unnormalized_input")


def network_of(trace: Trace) -> Network:
    """The user's network in float64, with their W and b (in × out)."""
    rng = np.random.default_rng(0)
    layers = []
    for W, b, activation in zip(trace.W, trace.b, trace.network.activations, strict=True):
        dense = Dense(W.shape[0], W.shape[1], activation, "zeros", rng=rng, dtype=np.float64)
        dense.params["W"][...] = W
        dense.params["b"][...] = b
        layers.append(dense)
    return Network(layers)


def settings_of(trace: Trace) -> Settings:
    """What the explanations need to know: the activations, loss, lr, and the weights' look (U(0, s) or not)."""
    activations = [a.name for a in trace.network.activations]
    lr = abs(trace.network.lr) if trace.network.lr is not None else None
    init, init_scale = None, None
    weights = np.concatenate([W.ravel() for W in trace.W])
    if weights.min() >= 0 and weights.max() <= 1 and weights.mean() > 0.25:  # all positive: U(0, s), the seed's init
        init, init_scale = "uniform", round(float(weights.max()), 2)
    x = trace.x
    raw = x.min() >= 0 and x.max() > 2 and np.all(x == np.round(x))  # whole numbers above 2: raw pixels, unscaled
    return Settings(activation=activations[0], output=activations[-1], loss=trace.network.loss, lr=lr,
                    init=init, init_scale=init_scale, normalize="none" if raw else None)  # fmt: skip


def health_checks(trace: Trace) -> list[Diagnosis]:
    """Saturated or dead hidden units at these weights, an output/loss mismatch, unnormalized input."""
    with np.errstate(all="ignore"), warnings.catch_warnings():  # a user's overflow: a finding, not a console line
        warnings.simplefilter("ignore")
        found = static_checks(network_of(trace), trace.network.loss, trace.x, trace.t, settings_of(trace))
    normalized = any(trace.network.norm_of(i) for i in range(trace.network.layers))
    kept = [d for d in found if d.symptom in (REPORTED_WITH_NORM if normalized else REPORTED)]
    return [
        dataclasses.replace(d, evidence={**d.evidence, "at": "the traced weights"}) if "at" in d.evidence else d
        for d in kept
    ]
