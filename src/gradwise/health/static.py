"""Checks before the first step: output/loss pairing, input range, labels, initial loss."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from gradwise.health import thresholds as T
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.explain import explain
from gradwise.health.settings import Settings
from gradwise.health.stats import LayerStats, forward_stats
from gradwise.nn.losses import Loss, get_loss
from gradwise.nn.network import Network, fused_loss
from gradwise.nn.pairing import chance_loss, mismatched, pairing


def _diagnosis(
    symptom: str, layer: int | None, evidence: dict[str, float | int | str], settings: Settings
) -> Diagnosis:
    cause, fix = explain(symptom, layer, settings)
    return Diagnosis(symptom, layer, 0, evidence, cause, fix)


def static_checks(
    net: Network, loss: str | Loss, x: np.ndarray, t: np.ndarray, settings: Settings | Mapping[str, Any] | None = None
) -> list[Diagnosis]:
    """Diagnoses found before training, from a sample of inputs x (N, features) and one-hot targets t (N, C);
    ``settings`` (a ``Settings`` or a dict of its fields) lets the causes and fixes name what to change."""
    loss, settings = get_loss(loss), Settings.of(settings)
    found: list[Diagnosis] = []
    output = net.output_activation
    last = len(net.layers) - 1
    if output is not None and mismatched(loss, output.name):
        found.append(_diagnosis("output_loss_mismatch", last, {"output": output.name, "loss": loss.name}, settings))

    x64 = np.asarray(x, dtype=np.float64)
    mean, std, top = float(x64.mean()), float(x64.std()), float(np.abs(x64).max())
    if abs(mean) > T.INPUT_ABS_MEAN or std > T.INPUT_STD:
        evidence: dict[str, float | int | str] = {
            "input_mean": round(mean, 3),
            "input_std": round(std, 3),
            "input_max_abs": round(top, 3),
        }
        found.append(_diagnosis("unnormalized_input", 0, evidence, settings))

    found += _label_checks(t, net, settings)
    found += _activation_checks(net, x, settings)

    if not found or all(d.symptom != "bad_labels" for d in found):
        initial = _initial_loss(net, loss, x, t)
        expected = _expected_initial_loss(loss, t.shape[1], output.name if output else None)
        if expected is not None and math.isfinite(initial) and initial > T.INITIAL_LOSS_FACTOR * expected:
            evidence = {"initial_loss": round(initial, 4), "expected": round(expected, 4)}
            found.append(_diagnosis("bad_initial_loss", None, evidence, settings))
        elif not math.isfinite(initial):
            found.append(_diagnosis("non_finite", None, {"initial_loss": str(initial)}, settings))
    return found


class _InitProbe:
    """Per-layer saturated and dead fractions of one forward pass at initialization."""

    def __init__(self, net: Network) -> None:
        self.stats = {info.index: LayerStats(info.index, info.activation) for info in net.layer_info() if info.weighted}
        self.rms: dict[int, float] = {}  # each layer's activations, root mean square
        self._z: np.ndarray | None = None

    def observe(self, layer: int, tensor: str, value: np.ndarray) -> None:
        if tensor == "z":
            self._z = value
        elif tensor == "a" and self._z is not None:
            forward_stats(self.stats[layer], self._z, value)
            self.rms[layer] = float(np.sqrt(np.mean(np.square(value, dtype=np.float64))))


def _activation_checks(net: Network, x: np.ndarray, settings: Settings) -> list[Diagnosis]:
    """Hidden layers nearly all saturated or dead before the first update: they cannot start learning."""
    probe = _InitProbe(net)
    with np.errstate(all="ignore"):
        net.forward(x, probe=probe)
    found = []
    hidden = sorted(probe.stats)[:-1]
    for i in hidden:
        stats = probe.stats[i]
        evidence: dict[str, float | int | str] = {"at": "initialization", "mean_abs_z": round(abs(stats.z_mean), 3)}
        if stats.saturated >= T.SATURATED_AT_INIT:
            found.append(
                _diagnosis("saturation", i, {"saturated_fraction": round(stats.saturated, 4), **evidence}, settings)
            )
        if stats.dead >= T.DEAD_AT_INIT:
            found.append(_diagnosis("dead_units", i, {"dead_fraction": round(stats.dead, 4), **evidence}, settings))
    if not found and len(hidden) >= 2:
        found += _signal_check(probe, hidden, settings)
    return found


def _signal_check(probe: _InitProbe, hidden: list[int], settings: Settings) -> list[Diagnosis]:
    """The activations' scale falling tenfold from the first hidden layer to the last before any update."""
    first, last = probe.rms.get(hidden[0], 0.0), probe.rms.get(hidden[-1], 0.0)
    if not (math.isfinite(first) and math.isfinite(last) and first > 0 and last < T.SIGNAL_SHRINK_AT_INIT * first):
        return []
    evidence: dict[str, float | int | str] = {
        "at": "initialization",
        "hidden_layers": len(hidden),
        "rms_first_hidden": float(f"{first:.3g}"),
        "rms_last_hidden": float(f"{last:.3g}"),
    }
    return [_diagnosis("shrinking_signal", hidden[-1], evidence, settings)]


def _label_checks(t: np.ndarray, net: Network, settings: Settings) -> list[Diagnosis]:
    found = []
    outputs = net.n_outputs
    if t.ndim != 2 or t.shape[1] != outputs:
        evidence: dict[str, float | int | str] = {
            "target_columns": int(t.shape[1]) if t.ndim == 2 else -1,
            "outputs": int(outputs),
        }
        return [_diagnosis("bad_labels", None, evidence, settings)]
    if t.min() < 0 or t.max() > 1:
        found.append(
            _diagnosis("bad_labels", None, {"target_min": float(t.min()), "target_max": float(t.max())}, settings)
        )
    counts = np.bincount(t.argmax(axis=1), minlength=outputs)
    majority = float(counts.max() / max(counts.sum(), 1))
    if majority >= T.LABEL_MAJORITY and len(t) >= 20:
        found.append(_diagnosis("bad_labels", None, {"majority_class_share": round(majority, 4)}, settings))
    return found


def _initial_loss(net: Network, loss: Loss, x: np.ndarray, t: np.ndarray) -> float:
    fused = fused_loss(net, loss)
    with np.errstate(all="ignore"):
        y, _ = net.forward(x, logits=fused is not None)
        return float((fused or loss)(y, np.asarray(t, dtype=net.dtype))[0])


def _expected_initial_loss(loss: Loss, classes: int, output: str | None) -> float | None:
    """The loss of a network that knows nothing yet: uniform probabilities (CS231n's sanity check), for a
    cross-entropy on the output it is made for."""
    if output is None or not pairing(loss).cross_entropy or mismatched(loss, output):
        return None
    return chance_loss(loss, output, classes)
