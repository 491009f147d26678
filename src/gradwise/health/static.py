"""Checks before the first step: output/loss pairing, input range (columns on scales far apart: ``columns.py``),
labels (an ID for a label, skewed classes: ``classes.py``), activations and loss at initialization."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradwise.health import thresholds as T
from gradwise.health.classes import class_counts, id_like_label, imbalanced_classes
from gradwise.health.columns import row_counter, unscaled_columns
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.explain import explain
from gradwise.health.settings import Settings
from gradwise.health.stats import LayerStats, forward_stats
from gradwise.nn.losses import Loss, get_loss
from gradwise.nn.network import Network, fused_loss
from gradwise.nn.pairing import chance_loss, mismatched, pairing

Evidence = dict[str, float | int | str]


def _diagnosis(symptom: str, layer: int | None, evidence: Evidence, settings: Settings, words: str = "") -> Diagnosis:
    """The diagnosis with its cause and fixes; ``words`` (what this data shows) go before the symptom's cause."""
    cause, fix = explain(symptom, layer, settings)
    return Diagnosis(symptom, layer, 0, evidence, f"{words}: {cause}" if words else cause, fix)


def static_checks(
    net: Network,
    loss: str | Loss,
    x: np.ndarray,
    t: np.ndarray,
    settings: Settings | Mapping[str, Any] | None = None,
    features: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
) -> list[Diagnosis]:
    """Diagnoses found before training, from a sample of inputs x (N, features) and one-hot targets t (N, C);
    ``settings`` (a ``Settings`` or a dict of its fields) lets the causes and fixes name what to change;
    ``features`` names x's columns and ``classes`` t's (None: ``column 1`` ..., class numbers)."""
    loss, settings = get_loss(loss), Settings.of(settings)
    found: list[Diagnosis] = []
    output = net.output_activation
    last = len(net.layers) - 1
    if output is not None and mismatched(loss, output.name):
        found.append(_diagnosis("output_loss_mismatch", last, {"output": output.name, "loss": loss.name}, settings))
    found += _input_checks(x, settings, features)
    if class_counts(t) is not None and (counter := row_counter(x, features)) is not None:  # classes, not a curve fit
        found.append(_diagnosis("row_counter", 0, counter[0], settings, counter[1]))
    found += _label_checks(t, net, settings, classes)
    found += _activation_checks(net, x, settings)

    if not found or all(d.symptom != "bad_labels" for d in found):
        initial = _initial_loss(net, loss, x, t)
        expected = _expected_initial_loss(loss, t.shape[1], output.name if output else None)
        if expected is not None and math.isfinite(initial) and initial > T.INITIAL_LOSS_FACTOR * expected:
            evidence: Evidence = {"initial_loss": round(initial, 4), "expected": round(expected, 4)}
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


def _input_checks(x: np.ndarray, settings: Settings, features: Sequence[str] | None) -> list[Diagnosis]:
    """Columns on scales far apart (named), else inputs far from zero mean and unit scale as a whole: the
    column-level finding is the more precise one, and its fixes (per-column scaling) cure both."""
    x64 = np.asarray(x, dtype=np.float64)
    if (unscaled := unscaled_columns(x64, features)) is not None:
        return [_diagnosis("unscaled_columns", 0, unscaled[0], settings, unscaled[1])]
    mean, std, top = float(x64.mean()), float(x64.std()), float(np.abs(x64).max())
    if abs(mean) <= T.INPUT_ABS_MEAN and std <= T.INPUT_STD:
        return []
    evidence: Evidence = {"input_mean": round(mean, 3), "input_std": round(std, 3), "input_max_abs": round(top, 3)}
    return [_diagnosis("unnormalized_input", 0, evidence, settings)]


def _label_checks(t: np.ndarray, net: Network, settings: Settings, classes: Sequence[str] | None) -> list[Diagnosis]:
    found = []
    outputs = net.n_outputs
    if t.ndim != 2 or t.shape[1] != outputs:
        evidence: Evidence = {"target_columns": int(t.shape[1]) if t.ndim == 2 else -1, "outputs": int(outputs)}
        return [_diagnosis("bad_labels", None, evidence, settings)]
    if t.min() < 0 or t.max() > 1:
        found.append(
            _diagnosis("bad_labels", None, {"target_min": float(t.min()), "target_max": float(t.max())}, settings)
        )
    counts = class_counts(t)
    if counts is None or np.count_nonzero(counts) == 1:  # not classes, or a single class: no information
        counts = np.bincount(t.argmax(axis=1), minlength=outputs)
        majority = float(counts.max() / max(counts.sum(), 1))
        if majority >= T.LABEL_MAJORITY and len(t) >= T.LABEL_MIN_ROWS:
            found.append(_diagnosis("bad_labels", None, {"majority_class_share": round(majority, 4)}, settings))
        return found
    # An ID gives each row its own class; skewed classes are judged only when the label is a class at all.
    if (id_like := id_like_label(counts)) is not None:
        return [*found, _diagnosis("id_like_label", None, id_like[0], settings, id_like[1])]
    if (skewed := imbalanced_classes(counts, classes)) is not None:
        found.append(_diagnosis("imbalanced_classes", None, skewed[0], settings, skewed[1]))
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
