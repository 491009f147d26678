"""The report in a notebook: charts from a run still in memory, and the report page shown inline.

``history.plot()`` and ``monitor.plot()`` draw with the report's own chart functions (``charts.py``) on a
``RunData`` built from the objects in memory instead of a run folder; ``report(...)`` writes the same
report.html that ``gradwise report`` writes and shows it in an iframe, so its style stays its own.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from gradwise.report import charts
from gradwise.report.data import RunData, probes_from_lines

if TYPE_CHECKING:
    from gradwise.health.diagnosis import Diagnosis
    from gradwise.health.monitor import HealthMonitor
    from gradwise.train.history import History

REPORT_HEIGHT = 900  # pixels of the inline report's frame; the page scrolls inside it


def run_data(
    history: History | None = None, monitor: HealthMonitor | None = None, diagnoses: Sequence[Diagnosis] = ()
) -> RunData:
    """What the charts read, from a History and a HealthMonitor in memory (either may be None)."""
    found = list(diagnoses) or (list(monitor.diagnoses) if monitor is not None else [])
    return RunData(
        path=Path("."),
        config=monitor.settings.known() if monitor is not None else {},
        metrics=list(history.epochs) if history is not None else [],
        probes=probes_from_lines(list(monitor.timeline) if monitor is not None else []),
        diagnoses=[d.to_json() for d in found],
        events=[],
    )


def inline(figure: Figure) -> Figure:
    """The figure, shown as PNG when a notebook displays it (charts draw without pyplot, so no backend would)."""
    figure._repr_png_ = lambda: charts.png(figure)  # type: ignore[attr-defined]
    return figure


def stacked(figures: Sequence[Figure]) -> Figure:
    """Several of the report's figures one above the other in one figure, each as the report draws it."""
    images = [_pixels(f) for f in figures]
    height = sum(image.shape[0] for image in images) / charts.DPI
    figure = Figure(figsize=(charts.WIDTH, height), dpi=charts.DPI)
    top = 1.0
    for image in images:
        share = image.shape[0] / charts.DPI / height
        ax = figure.add_axes((0.0, top - share, 1.0, share))
        ax.imshow(image, interpolation="none")
        ax.set_axis_off()
        top -= share
    return inline(figure)


def _pixels(figure: Figure) -> np.ndarray:
    import io

    from matplotlib.image import imread

    return np.asarray(imread(io.BytesIO(charts.png(figure)), format="png"))


def nothing_to_draw(what: str) -> ValueError:
    return ValueError(f"nothing to plot yet: {what}")


def framed(page: str) -> str:
    """A whole HTML page inside an iframe: srcdoc keeps it self-contained and its stylesheet out of the notebook's."""
    return (
        f'<iframe class="gradwise-report" srcdoc="{html.escape(page, quote=True)}" '
        f'style="width:100%;height:{REPORT_HEIGHT}px;border:1px solid #e0e0e0"></iframe>'
    )


def sweep_html(folder: Path) -> str:
    """A sweep folder's trials and map as the report shows them, without writing report.html."""
    from gradwise.report.data import read_sweep
    from gradwise.report.write import sweep_page

    return framed(sweep_page(read_sweep(folder))[0])


class InlineReport:
    """A run's or a sweep's report.html, shown inline by a notebook (``_repr_html_``); ``path`` is the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.page = path.read_text(encoding="utf-8")

    def _repr_html_(self) -> str:
        return framed(self.page)

    def __repr__(self) -> str:
        return f"InlineReport({str(self.path)!r})"


def report(run: Any) -> InlineReport:
    """Write the report of a run folder, a sweep folder or a ``Result`` trained with a folder, and show it."""
    from gradwise.report.write import write_report

    folder = getattr(run, "run_dir", run)
    if folder is None:
        raise ValueError("this Result has no run folder to report on: train it with an out folder, "
                         "e.g. gw.train(config, out='runs/mine')")  # fmt: skip
    return InlineReport(write_report(folder))
