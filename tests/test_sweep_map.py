"""The stability map from constructed trials: panels, the terminal table, the PNG."""

import numpy as np
from PIL import Image

from gradwise.sweep.grid import Trial
from gradwise.sweep.outcome import OUTCOMES
from gradwise.sweep.stability_map import COLORS, Cell, draw, layout, summary, table
from gradwise.train.config import TrainConfig

CONFIG = TrainConfig()


def grid_trials():
    """hidden x lr x batch_size, two values each; key = the labels joined."""
    trials = []
    for hidden in ("16", "32"):
        for lr in ("0.1", "10"):
            for batch in ("10", "100"):
                trials.append(
                    Trial(f"{hidden}-{lr}-{batch}", {"hidden": hidden, "lr": lr, "batch_size": batch}, CONFIG)
                )
    return trials


def cells():
    return {
        "16-0.1-10": Cell("trained", 0.91),
        "16-10-10": Cell("non_finite", 0.098, onset=3),
        "32-0.1-10": Cell("slow", 0.8),
        "32-10-10": Cell("diverged", 0.1, onset=40),
        "16-0.1-100": Cell("stalled", 0.2),
        "16-10-100": Cell("saturated", 0.11, onset=50),
        # 32-0.1-100 has not run yet; 32-10-100 failed
        "32-10-100": Cell("error"),
    }


def test_layout_facets_the_axes_left_over():
    plan = layout(grid_trials(), cells(), "lr", "hidden")
    assert (plan.x_labels, plan.y_labels, plan.rows, plan.cols) == (("0.1", "10"), ("16", "32"), 1, 2)
    assert [p.title for p in plan.panels] == ["batch_size=10", "batch_size=100"]
    assert plan.panels[1].cells["32", "0.1"] == Cell("not run")


def test_table_reads_like_the_map():
    plan = layout(grid_trials(), cells(), "lr", "hidden")
    assert table(plan) == (
        "batch_size=10\n"
        "hidden \\ lr  0.1               10\n"
        "16           trained 0.910     non_finite 0.098\n"
        "32           slow 0.800        diverged 0.100\n"
        "\n"
        "batch_size=100\n"
        "hidden \\ lr  0.1               10\n"
        "16           stalled 0.200     saturated 0.110\n"
        "32           not run           error"
    )
    assert (
        summary(list(cells().values()))
        == "trained 1, slow 1, stalled 1, saturated 1, diverged 1, non_finite 1, error 1"
    )


def test_two_facet_axes_make_rows_and_columns():
    trials = [
        Trial(f"{a}{b}{c}{d}", {"a": a, "b": b, "c": c, "d": d}, CONFIG)
        for a in "12"
        for b in "12"
        for c in "123"
        for d in "12"
    ]
    plan = layout(trials, {}, "d", "c")
    assert (plan.rows, plan.cols) == (2, 2)  # rows: a, columns: b (the last facet axis)
    assert [p.title for p in plan.panels] == ["a=1, b=1", "a=1, b=2", "a=2, b=1", "a=2, b=2"]


def test_every_outcome_has_a_colour():
    assert set(OUTCOMES) < set(COLORS)


def test_draw_writes_a_png_once_and_again_when_a_cell_changes(tmp_path):
    path = tmp_path / "map.png"
    plan = layout(grid_trials(), cells(), "lr", "hidden")
    assert draw(plan, path, "title") is True
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 400 and image.height > 200
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert (np.abs(pixels - [0x2E, 0x7D, 0x32]).sum(axis=1) < 10).any()  # the trained cell's green
    assert draw(plan, path, "title") is False  # unchanged: not drawn again
    changed = layout(grid_trials(), {**cells(), "32-0.1-100": Cell("slow", 0.5)}, "lr", "hidden")
    assert draw(changed, path, "title") is True
