"""The stability map: which combinations train, stall, saturate or blow up, as ``map.png`` and as a table.

Two axes of the grid span each heatmap (``x`` across, ``y`` down); the other axes facet it into panels,
the last of them across the page and the rest down it. Every cell says its outcome and accuracy in words,
so the picture needs no legend.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gradwise.files import atomic_open
from gradwise.sweep.grid import Trial
from gradwise.sweep.outcome import OUTCOMES

NOT_RUN, ERROR = "not run", "error"
# Outcome -> (cell colour, text colour): green trains, grey learns nothing, orange saturates, red and
# purple blow up; the darker the cell, the worse the failure.
COLORS: dict[str, tuple[str, str]] = {
    "trained": ("#2e7d32", "white"),
    "slow": ("#aed581", "black"),
    "stalled": ("#bdbdbd", "black"),
    "saturated": ("#ffb74d", "black"),
    "diverged": ("#e53935", "white"),
    "non_finite": ("#4a148c", "white"),
    NOT_RUN: ("#ffffff", "#757575"),
    ERROR: ("#ffffff", "#c62828"),
}


@dataclass(frozen=True)
class Cell:
    """One trial on the map: its outcome, its accuracy, and when a failure began."""

    outcome: str
    accuracy: float | None = None
    onset: int | None = None

    def lines(self) -> list[str]:
        lines = [self.outcome]
        if self.accuracy is not None:
            lines.append(f"{self.accuracy:.3f}")
        if self.onset is not None and self.outcome in ("diverged", "non_finite", "saturated"):
            lines.append(f"step {self.onset}")
        return lines


@dataclass(frozen=True)
class Panel:
    title: str  # the facet's labels, e.g. "batch_size=10, activation=relu"; "" without facets
    cells: dict[tuple[str, str], Cell]  # (y label, x label) -> cell


@dataclass(frozen=True)
class Layout:
    x: str
    y: str
    x_labels: tuple[str, ...]
    y_labels: tuple[str, ...]
    rows: int
    cols: int
    panels: tuple[Panel, ...]


def layout(trials: Sequence[Trial], cells: dict[str, Cell], x: str, y: str) -> Layout:
    """Arrange the trials' cells (by trial key; a missing one is "not run") into panels over (y, x)."""
    names = list(trials[0].axes) if trials else []
    values = {name: _ordered(t.axes[name] for t in trials) for name in names}
    facets = [name for name in names if name not in (x, y)]
    for name in (x, y):
        values.setdefault(name, ("",))  # a sweep with a single axis draws one row
    by_labels = {tuple(t.axes.get(name, "") for name in (*facets, y, x)): t for t in trials}
    panels = []
    for facet in itertools.product(*(values[name] for name in facets)):
        title = ", ".join(f"{name}={label}" for name, label in zip(facets, facet, strict=True))
        panel_cells = {}
        for row in values[y]:
            for col in values[x]:
                trial = by_labels.get((*facet, row, col))
                if trial is not None:
                    panel_cells[row, col] = cells.get(trial.key, Cell(NOT_RUN))
        panels.append(Panel(title, panel_cells))
    if len(facets) >= 2:
        cols = len(values[facets[-1]])
    else:
        cols = min(len(panels), 4)
    return Layout(x, y, values[x], values[y], -(-len(panels) // cols), cols, tuple(panels))


def _ordered(labels: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(labels))


def table(plan: Layout) -> str:
    """The map as text: one block per panel, rows ``y``, columns ``x``, each cell "outcome accuracy"."""
    corner = f"{plan.y} \\ {plan.x}" if plan.y else plan.x
    panels = [{where: " ".join(cell.lines()[:2]) for where, cell in p.cells.items()} for p in plan.panels]
    first = max(len(corner), *(len(label) for label in plan.y_labels))
    width = max(8, *(len(label) for label in plan.x_labels), *(len(t) for texts in panels for t in texts.values()))
    blocks = []
    for panel, texts in zip(plan.panels, panels, strict=True):
        lines = [panel.title] if panel.title else []
        lines.append("  ".join([corner.ljust(first), *(label.ljust(width) for label in plan.x_labels)]).rstrip())
        for row in plan.y_labels:
            cells = (texts.get((row, col), "").ljust(width) for col in plan.x_labels)
            lines.append("  ".join([row.ljust(first), *cells]).rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def summary(cells: Sequence[Cell]) -> str:
    """How many trials ended each way, e.g. "trained 3, slow 1, non_finite 2"."""
    counts = Counter(cell.outcome for cell in cells)
    return ", ".join(f"{name} {counts[name]}" for name in (*OUTCOMES, ERROR, NOT_RUN) if counts[name])


def draw(plan: Layout, path: str | Path, title: str = "") -> bool:
    """Write the map as a PNG to ``path`` (replaced whole, never half-written); False if it was already there.

    The PNG carries a fingerprint of what it shows, so a rerun that changed nothing skips the drawing,
    which costs a second or two (most of it importing matplotlib).
    """
    fingerprint = hashlib.sha256(repr((_DRAWING, plan, title)).encode()).hexdigest()
    if _fingerprint(path) == fingerprint:
        return False
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, and no GUI toolkit to find
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb

    nx, ny = len(plan.x_labels), len(plan.y_labels)
    panel_w, panel_h = 1.3 * nx + 1.1, 0.78 * ny + 1.0
    figure, grid = plt.subplots(
        plan.rows,
        plan.cols,
        figsize=(max(plan.cols * panel_w, 6.5), plan.rows * panel_h + (0.7 if title else 0.2)),  # room for the title
        squeeze=False,
        layout="constrained",
    )
    for ax in grid.flat[len(plan.panels) :]:
        ax.set_visible(False)
    for ax, panel in zip(grid.flat, plan.panels, strict=False):
        cells = [[panel.cells.get((row, col)) for col in plan.x_labels] for row in plan.y_labels]
        image = [[to_rgb(COLORS[cell.outcome][0] if cell else "#f5f5f5") for cell in row] for row in cells]
        ax.imshow(image, aspect="auto")
        for i, row in enumerate(cells):
            for j, cell in enumerate(row):
                if cell is not None:
                    color = COLORS[cell.outcome][1]
                    ax.text(j, i, "\n".join(cell.lines()), ha="center", va="center", fontsize=9, color=color)
        ax.set_xticks(range(nx), plan.x_labels)
        ax.set_yticks(range(ny), plan.y_labels)
        ax.set_xlabel(plan.x)
        ax.set_ylabel(plan.y)
        ax.set_xticks([k - 0.5 for k in range(1, nx)], minor=True)
        ax.set_yticks([k - 0.5 for k in range(1, ny)], minor=True)
        ax.grid(which="minor", color="white", linewidth=2)
        ax.tick_params(which="both", length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        if panel.title:
            ax.set_title(panel.title, fontsize=10)
    if title:
        figure.suptitle(title, fontsize=11)
    with atomic_open(path) as f:
        figure.savefig(f, format="png", dpi=110, metadata={_FINGERPRINT: fingerprint})
    plt.close(figure)
    return True


_FINGERPRINT = "gradwise-map"  # the PNG text chunk holding what the map shows, hashed
_DRAWING = 2  # bump when `draw` changes how a map looks, so old maps are drawn again


def _fingerprint(path: str | Path) -> str | None:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.info.get(_FINGERPRINT)  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None
