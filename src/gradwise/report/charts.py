"""The report's figures: one function per picture, each returning a matplotlib Figure (or None: nothing to draw).

Figures are built with ``matplotlib.figure.Figure`` directly, never pyplot: no global state, no GUI
backend, and a figure is freed when it goes out of scope. Every chart over training steps carries the
diagnoses and guard events as vertical markers, so a curve's turn can be read against what the monitor saw.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from gradwise.health import thresholds as T
from gradwise.health.stats import HIST_SYMLOG
from gradwise.report.data import Probes, RunData, TestSet

WIDTH = 10.0  # inches; at DPI 100 a figure is 1000 pixels wide, the page's column
DPI = 100
LAYER_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
EVENT_COLORS = {"rollback": "#c62828", "skip": "#ef6c00", "stop": "#4a148c", "give_up": "#4a148c"}
GUIDE_UPDATE_RATIO = 1e-3  # CS231n: the update / weight norm ratio of healthy training is around 1e-3


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _layer_label(probes: Probes, layer: int) -> str:
    last = probes.layers and layer == probes.layers[-1]
    return f"layer {layer} ({probes.activations.get(layer, '?')}{', output' if last else ''})"


def _line_figure(height: float, cols: int = 1) -> tuple[Figure, Any]:
    """A figure of ``cols`` side-by-side line charts with fixed margins (in inches) for ticks, labels and titles.

    Speed: a fixed layout; constrained layout would spend about a second per figure measuring text.
    """
    figure = Figure(figsize=(WIDTH, height))
    figure.subplots_adjust(left=0.75 / WIDTH, right=1 - 0.15 / WIDTH, bottom=0.55 / height, top=1 - 0.35 / height,
                           wspace=0.15 if cols > 1 else 0.2)  # fmt: skip
    return figure, figure.subplots(1, cols)


def _color(k: int) -> str:
    return LAYER_COLORS[k % len(LAYER_COLORS)]


# -- the timeline: diagnoses and guard events as markers -------------------------------------------------


def timeline_marks(run: RunData) -> list[tuple[float, str, str]]:
    """(step, label, colour) of every diagnosis (at its onset) and every guard event."""
    marks = []
    for d in run.diagnoses:
        layer = d.get("layer")
        where = f" L{layer}" if isinstance(layer, int) else ""
        marks.append((float(d.get("step") or 0), f"{d.get('symptom', '?')}{where}", "#6a1b9a"))
    for event in run.events:
        kind = str(event.get("event"))
        marks.append((float(event.get("step") or 0), kind.replace("_", " "), EVENT_COLORS.get(kind, "#424242")))
    return marks


def _mark(ax: Any, marks: Sequence[tuple[float, str, str]], color: str | None = None, text: bool = True) -> None:
    """Vertical lines at each mark, with the labels of marks at one step joined and written up the line.

    ``color`` overrides the marks' own colours (light on the dark heat strips); ``text=False`` draws lines only.
    """
    by_step: dict[float, list[tuple[str, str]]] = defaultdict(list)
    for step, label, own in marks:
        by_step[step].append((label, own))
    for step, labelled in sorted(by_step.items()):
        shade = color or labelled[0][1]
        ax.axvline(step, color=shade, linestyle="--", linewidth=1.2, alpha=0.9)
        if not text:
            continue
        joined = ", ".join(dict.fromkeys(label for label, _ in labelled))
        ax.text(step, 0.96, joined, rotation=90, va="top", ha="left", fontsize=8, color=shade,
                transform=ax.get_xaxis_transform(), clip_on=True)  # fmt: skip


def _step_limits(run: RunData) -> tuple[float, float] | None:
    """The x range every chart over steps shares, so they line up on the page; a mark at step 0 stays inside."""
    steps = [*run.probes.steps.tolist(), *(m[0] for m in timeline_marks(run)), *(r.step for r in run.metrics)]
    if not steps:
        return None
    lo, hi = min(0.0, min(steps)), max(steps)
    margin = max(1.0, 0.02 * (hi - lo))
    return lo - margin, hi + margin


def _steps_axis(ax: Any, run: RunData) -> None:
    ax.set_xlabel("step")
    ax.grid(True, alpha=0.3)
    if (limits := _step_limits(run)) is not None:
        ax.set_xlim(*limits)
    _mark(ax, timeline_marks(run))


def _legend(ax: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best", framealpha=0.85)


# -- training curves --------------------------------------------------------------------------------------


def loss_accuracy(run: RunData) -> Figure | None:
    """Loss (left) and accuracy (right) over steps: per-epoch train/validation points, probed-step losses."""
    probes, metrics = run.probes, run.metrics
    if not metrics and not len(probes):
        return None
    figure, (left, right) = _line_figure(3.6, cols=2)
    finite = np.isfinite(probes.loss)
    if finite.any():
        left.plot(probes.steps[finite], probes.loss[finite], color="#9e9e9e", linewidth=1, label="train (probed steps)")
    ends = [r.step for r in metrics]
    splits = (("train", "train", "-o", "#1f77b4"), ("val", "validation", "--s", "#d62728"))
    for name, ax in (("loss", left), ("accuracy", right)):
        for split, words, style, color in splits:
            values = [getattr(r, f"{split}_{name}") for r in metrics]
            points = [(s, v) for s, v in zip(ends, values, strict=True) if math.isfinite(v)]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, color=color, markersize=5, label=f"{words} (epoch), last {ys[-1]:.4g}")
    losses = [v for line in left.get_lines() for v in line.get_ydata() if np.isfinite(v)]
    if losses and min(losses) > 0 and max(losses) / min(losses) > 100:
        left.set_yscale("log")  # a loss that blew up would flatten the rest of the curve
    left.set_title("loss")
    right.set_title("accuracy")
    right.set_ylim(-0.02, 1.02)
    for ax in (left, right):
        _steps_axis(ax, run)
        _legend(ax)
    return figure


def gradient_norms(run: RunData) -> Figure | None:
    """Each layer's weight-gradient norm at the probed steps, on a log scale."""
    return _per_layer(run, "grad_norm", "gradient norm ||dL/dW|| per layer", log=True)


def update_ratios(run: RunData) -> Figure | None:
    """||update|| / ||W|| per layer on a log scale, with the 1e-3 guide and the rules' limits."""
    figure = _per_layer(run, "update_ratio", "update / weight norm ratio per layer", log=True,
                        lowest=T.UPDATE_RATIO_LOW)  # fmt: skip
    if figure is None:
        return None
    ax = figure.axes[0]
    ax.axhline(GUIDE_UPDATE_RATIO, color="#2e7d32", linewidth=2, label="1e-3 guide (healthy)")
    ax.axhline(T.UPDATE_RATIO_HIGH, color="#c62828", linewidth=1, linestyle=":", label="rule: too high")
    ax.axhline(T.UPDATE_RATIO_LOW, color="#ef6c00", linewidth=1, linestyle=":", label="rule: too low")
    _legend(ax)
    return figure


def _per_layer(run: RunData, stat: str, title: str, *, log: bool, lowest: float = math.inf) -> Figure | None:
    """One line per layer over the probed steps. On a log scale exact zeros (a fully saturated layer's
    gradient) are drawn as triangles on a floor line labelled 0, a decade below the smallest positive value
    and below ``lowest`` (a guide line the caller draws)."""
    probes = run.probes
    if not len(probes):
        return None
    columns = {layer: probes.columns[stat][layer] for layer in probes.layers}
    positive = [v[np.isfinite(v) & (v > 0)] for v in columns.values()]
    smallest = min(min((float(v.min()) for v in positive if v.size), default=1.0), lowest)
    floor = 10 ** (math.floor(math.log10(smallest)) - 1)
    figure, ax = _line_figure(3.4)
    drawn = zeros = False
    for k, (layer, values) in enumerate(columns.items()):
        finite = np.isfinite(values)
        if not finite.any():
            continue
        label = _layer_label(probes, layer)
        shown = values.copy()
        if log:
            at_zero = finite & (values <= 0)
            if at_zero.any():
                label += f": 0 at {int(at_zero.sum())} of {int(finite.sum())} probes"
                shown[at_zero] = floor
                ax.plot(probes.steps[at_zero], shown[at_zero], "v", color=_color(k), markersize=7)
                zeros = True
        ax.plot(probes.steps[finite], shown[finite], "-", marker=".", color=_color(k), linewidth=1.3, label=label)
        drawn = True
    if not drawn:
        return None
    if log:
        ax.set_yscale("log")
        if zeros:
            ax.axhline(floor, color="#9e9e9e", linewidth=0.8)
            ax.text(0.002, floor, " 0 ", transform=ax.get_yaxis_transform(), va="bottom", ha="left", fontsize=8,
                    color="#616161")  # fmt: skip
    ax.set_title(title)
    _steps_axis(ax, run)
    _legend(ax)
    return figure


def saturation(run: RunData) -> Figure | None:
    """The fraction of saturated unit-samples (sigmoid, tanh: |z| > 5) and of dead units (relu) per layer."""
    probes = run.probes
    if not len(probes):
        return None
    figure, ax = _line_figure(3.4)
    drawn = False
    for k, layer in enumerate(probes.layers):
        activation = probes.activations.get(layer, "")
        if activation in ("sigmoid", "tanh"):
            stat, what = "saturated", f"saturated |z| > {T.SATURATION_Z:g}"
        elif activation == "relu":
            stat, what = "dead", "dead (zero for the whole batch)"
        else:
            continue
        values = probes.columns[stat][layer]
        keep = np.isfinite(values)
        ax.plot(probes.steps[keep], values[keep], "-", marker=".", color=_color(k), linewidth=1.5,
                label=f"{_layer_label(probes, layer)}: {what}")  # fmt: skip
        drawn = True
    if not drawn:
        return None
    ax.axhline(T.SATURATED_FRACTION, color="#757575", linestyle=":", linewidth=1, label="rule: half the layer")
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("fraction")
    ax.set_title("saturated and dead units per layer")
    _steps_axis(ax, run)
    _legend(ax)
    return figure


def _symlog_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick positions on the symlog scale (see gradwise.health.stats) for round activation values."""
    threshold = HIST_SYMLOG[2]
    ticks, labels = [], []
    for value in (-100.0, -10.0, -1.0, -0.1, 0.0, 0.1, 1.0, 10.0, 100.0):
        s = math.copysign(math.log10(1 + abs(value) / threshold), value)
        if lo <= s <= hi:
            ticks.append(s)
            labels.append(f"{value:g}")
    return ticks, labels


def activation_histograms(run: RunData) -> Figure | None:
    """One heat strip per layer: the distribution of its activations (rows: bins, columns: probed steps)."""
    probes = run.probes
    layers = [layer for layer in probes.layers if layer in probes.hist and probes.hist[layer].sum() > 0]
    if not layers:
        return None
    figure = Figure(figsize=(WIDTH, 0.4 + 1.9 * len(layers)), layout="constrained")
    axes = figure.subplots(len(layers), 1, sharex=True, squeeze=False)[:, 0]
    steps = probes.steps
    edges_x = np.concatenate([[steps[0] - 0.5], (steps[1:] + steps[:-1]) / 2, [steps[-1] + 0.5]])
    norm = LogNorm(vmin=1e-3, vmax=1.0)
    image = None
    marks = timeline_marks(run)
    for ax, layer in zip(axes, layers, strict=True):
        counts = probes.hist[layer]
        lo, hi, scale = probes.hist_range[layer]
        bins = counts.shape[1]
        edges_y = np.linspace(lo, hi, bins + 1)
        totals = counts.sum(axis=1, keepdims=True)
        fractions = np.where(totals > 0, counts / np.maximum(totals, 1), np.nan)
        if scale == "symlog" and not counts[:, : bins // 2].any():
            fractions, edges_y = fractions[:, bins // 2 :], edges_y[bins // 2 :]  # nothing negative: drop that half
        masked = np.ma.masked_less_equal(np.ma.masked_invalid(fractions.T), 0)
        image = ax.pcolormesh(edges_x, edges_y, masked, norm=norm, cmap="magma", shading="flat")
        ax.set_facecolor("black")  # empty bins read as "nothing here", like the darkest colour
        if scale == "symlog":
            ticks, labels = _symlog_ticks(edges_y[0], edges_y[-1])
            ax.set_yticks(ticks, labels)
            ax.set_ylabel("a (log scale)", fontsize=8)
        else:
            ax.set_ylabel("a", fontsize=8)
        ax.set_title(_layer_label(probes, layer), fontsize=9, loc="left")
        _mark(ax, marks, color="#80deea", text=False)  # too narrow for the labels
    axes[-1].set_xlabel("step")
    if (limits := _step_limits(run)) is not None:
        axes[-1].set_xlim(*limits)  # shared by every strip
    if image is not None:
        bar = figure.colorbar(image, ax=list(axes), shrink=0.9, pad=0.01)
        bar.set_label("fraction of activations", fontsize=8)
    figure.suptitle("activation histograms over time (one strip per layer)", fontsize=11)
    return figure


# -- the model on its test set ---------------------------------------------------------------------------


def confusion(test: TestSet) -> Figure:
    """Rows: true class, columns: predicted; colour is the row's share, the number the count."""
    classes = test.classes
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (test.labels, test.predicted), 1)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = min(6.0, 1.5 + 0.45 * classes)
    figure = Figure(figsize=(size + 1.2, size), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    if classes <= 20:
        for i in range(classes):
            for j in range(classes):
                if matrix[i, j]:
                    color = "white" if shares[i, j] > 0.5 else "black"
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8, color=color)
    if test.names is not None:  # a table's class names
        ax.set_xticks(range(classes), test.names, rotation=45, ha="right")
        ax.set_yticks(range(classes), test.names)
    else:
        ax.set_xticks(range(classes))
        ax.set_yticks(range(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    items = "images" if test.images is not None else "rows"
    ax.set_title(f"confusion matrix: {len(test.labels):,} test {items}, accuracy {test.accuracy:.4f}")
    figure.colorbar(image, ax=ax, shrink=0.8, label="share of the true class")
    return figure


def misclassified(test: TestSet, count: int = 24) -> Figure | None:
    """The wrong predictions the network was surest of, with the predicted and the true label."""
    wrong = np.flatnonzero(test.predicted != test.labels)
    if not wrong.size or test.images is None:  # a table's rows are no pictures
        return None
    confidence = test.probabilities[wrong, test.predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")[:count]]
    cols = 8
    rows = -(-len(order) // cols)
    height = 0.8 + 1.45 * rows  # inches: the heading, then rows of a digit under two lines of labels
    figure = Figure(figsize=(WIDTH, height))
    # Speed: a fixed layout; constrained layout takes seconds to place two dozen small axes.
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.8 / height, hspace=0.55)
    axes = figure.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, i in zip(axes.flat, order, strict=False):
        ax.imshow(test.images[i], cmap="gray_r", vmin=0, vmax=255)
        p = test.probabilities[i, test.predicted[i]]
        ax.set_title(f"predicted {test.predicted[i]} ({p:.0%})\ntrue {test.labels[i]}", fontsize=8, color="#b71c1c")
    figure.suptitle(f"the {len(order)} most confident mistakes of {wrong.size:,}", fontsize=11)
    return figure


def mosaic(tiles: np.ndarray, cols: int, gap: int = 2) -> np.ndarray:
    """(N, h, w) tiles -> one (rows * (h + gap) - gap, cols * (w + gap) - gap) image, NaN between tiles."""
    n, h, w = tiles.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tiles[k]
    return out


def first_layer_weights(weights: np.ndarray, image_shape: tuple[int, int], count: int = 64) -> Figure | None:
    """The first ``count`` hidden units' incoming weights (columns of W (inputs, units)) as images, row by row.

    Each unit is scaled by its own largest |w| (red positive, blue negative): the pattern it looks for.
    """
    inputs, units = weights.shape
    if inputs != image_shape[0] * image_shape[1] or not np.isfinite(weights).all():
        return None
    shown = min(count, units)
    tiles = weights[:, :shown].T.reshape(shown, *image_shape).astype(np.float64)
    tiles /= np.maximum(np.abs(tiles).max(axis=(1, 2), keepdims=True), 1e-30)
    cols = min(16, shown)
    image = mosaic(tiles, cols)
    height = WIDTH * image.shape[0] / image.shape[1]
    figure = Figure(figsize=(WIDTH, height + 0.45))
    ax = figure.add_axes((0.005, 0.005, 0.99, height / (height + 0.45) - 0.01))
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="white")
    ax.imshow(image, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    figure.suptitle(f"first-layer weights: units 0-{shown - 1} of {units}, {cols} per row; red positive, "
                    "blue negative, each unit on its own scale", fontsize=10)  # fmt: skip
    return figure
