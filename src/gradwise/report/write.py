"""``write_report(folder)``: a run's or a sweep's ``report.html``, with its PNGs beside it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gradwise.data.tables import is_table
from gradwise.files import atomic_open
from gradwise.health.fixes import Fix
from gradwise.report import charts
from gradwise.report import html as H
from gradwise.report.data import (
    MAP_FILE,
    RunData,
    SweepData,
    is_run,
    is_sweep,
    load_model_and_test_set,
    not_a_report_folder,
    read_run,
    read_sweep,
)
from gradwise.train.model_data import is_table_model

REPORT_FILE = "report.html"
FixText = Callable[[Fix], str]  # how the page writes a fix: Fix.python, or the command line's flags
PNG_PREFIX = "report-"  # the figures beside report.html: report-loss.png, ...


def write_report(folder: str | Path, fix_text: FixText = Fix.python) -> Path:
    """Write ``folder/report.html`` for a run folder or a sweep folder; return its path. Fixes read as
    ``fix_text`` writes them: ``TrainConfig`` arguments by default, flags from the command line.

    CheckpointError (one line) when ``folder`` is neither.
    """
    folder = Path(folder)
    if folder.is_dir() and is_sweep(folder):
        return _write(folder, *sweep_page(read_sweep(folder)))
    if folder.is_dir() and is_run(folder):
        return _write(folder, *run_page(read_run(folder), fix_text))
    raise not_a_report_folder(folder)


def _write(folder: Path, text: str, images: list[H.Image]) -> Path:
    for old in folder.glob(f"{PNG_PREFIX}*.png"):  # figures of an earlier report that this one has not
        if old.name not in {image.name for image in images}:
            old.unlink(missing_ok=True)
    for image in images:
        if image.name != MAP_FILE:
            with atomic_open(folder / image.name) as f:
                f.write(image.data)
    path = folder / REPORT_FILE
    with atomic_open(path) as f:
        f.write(text.encode("utf-8"))
    return path


# -- a run -----------------------------------------------------------------------------------------------

CAPTIONS = {
    "loss": "Per-epoch training and validation loss and accuracy; the grey line is the training loss at the steps the "
    "health monitor probed. Dashed vertical lines mark diagnoses (at their onset) and rollbacks.",
    "gradients": "The norm of each layer's weight gradient. A first layer far below the last means the gradient "
    "vanishes on its way down; a sudden climb precedes a blow-up.",
    "saturation": "Sigmoid and tanh layers: the share of unit-samples with |z| > 5, where the derivative is below "
    "0.007 and learning stalls. ReLU layers: the share of units that are zero for a whole batch.",
    "activations": "Each strip is one layer; a column is the distribution of its activations at one probed step "
    "(brighter: more of them). Mass piled at 0 or 1 (sigmoid) or at -1 and 1 (tanh) is saturation; everything "
    "at 0 for a ReLU layer is collapse. Light dashed lines mark the diagnoses named on the charts above.",
    "updates": "How far each step moves the weights relative to their size. Healthy training sits near 1e-3; far "
    "above, the learning rate is too high, far below, the weights hardly move.",
    "confusion": "Test-set predictions by true class (rows) and predicted class (columns).",
    "mistakes": "The test images the network got wrong with the highest confidence: predicted label (its "
    "probability) and the true label.",
    "weights": "Each hidden unit's incoming weights drawn as an image: the pattern it responds to. Unstructured "
    "noise after training means the layer has not learned.",
}


def run_page(run: RunData, fix_text: FixText = Fix.python) -> tuple[str, list[H.Image]]:
    """The page and its figures for one run."""
    images: list[H.Image] = []
    notes = list(run.notes)

    def add(name: str, figure: Any, title: str, caption_key: str, missing: str | None = None) -> None:
        if figure is None:
            if missing:
                notes.append(missing)
            return
        images.append(H.Image(f"{PNG_PREFIX}{name}.png", charts.png(figure), title, CAPTIONS[caption_key]))

    no_probes = "no probe lines in health.jsonl (trained with --no-monitor?): the per-layer charts are left out"
    add("loss", charts.loss_accuracy(run), "Loss and accuracy", "loss", "no metrics yet: nothing to plot")
    add("gradient-norms", charts.gradient_norms(run), "Gradient norm per layer", "gradients",
        no_probes if not len(run.probes) else None)  # fmt: skip
    add("saturation", charts.saturation(run), "Saturated and dead units", "saturation")
    add("activations", charts.activation_histograms(run), "Activation histograms over time", "activations",
        "no activation histograms in health.jsonl (written by an older gradwise)" if len(run.probes) else None)
    add("update-ratio", charts.update_ratios(run), "Update / weight ratio", "updates")

    net, meta, test, model_notes = load_model_and_test_set(run.path)
    notes += model_notes
    if test is not None:
        add("confusion", charts.confusion(test), "Confusion matrix", "confusion")
    if test is not None and test.images is not None:  # a table's rows are no pictures
        add("misclassified", charts.misclassified(test), "Most confident mistakes", "mistakes",
            "no test image is misclassified")  # fmt: skip
    if net is not None and meta is not None and not is_table_model(meta):
        given = (meta.get("input") or {}).get("image_shape") or [28, 28]
        shape = (int(given[0]), int(given[-1]))
        hidden = len(meta["sizes"]) > 2
        weights = net.params["0.W"]
        figure = charts.first_layer_weights(weights, shape) if hidden else None
        add("first-layer-weights", figure, "First-layer weights", "weights",
            f"first-layer weights not drawn: {weights.shape[0]} inputs are not {shape[0]}x{shape[-1]} images"
            if hidden else "no hidden layer: no first-layer weights to draw")  # fmt: skip

    sections = [_summary(run, test), _diagnoses(run, fix_text)]
    sections += [H.note_html(n) for n in notes]
    sections += [H.figure_html(image) for image in images]
    subtitle = f"{run.path} · report written {time.strftime('%Y-%m-%d %H:%M')}"
    return H.page(f"gradwise run {run.name}", subtitle, sections), images


def _summary(run: RunData, test: Any) -> str:
    c = run.config
    hidden = c.get("hidden")
    widths = ",".join(map(str, hidden)) if isinstance(hidden, list) else hidden
    data = str(c.get("dataset", "?"))
    items = "rows" if is_table(data) else "images"
    if c.get("limit_train"):
        data += f", first {c['limit_train']:,} training {items}"
    network = f"hidden {widths} {c.get('activation', '?')}, output {c.get('output', '?')}, loss {c.get('loss', '?')}"
    pairs: list[tuple[str, Any]] = [
        ("data", data),
        ("network", f"{network}, init {c.get('init', '?')}"),
        ("optimizer", f"{c.get('optimizer', '?')}, lr {c.get('lr', '?')}, batch {c.get('batch_size', '?')}"),
    ]
    if run.metrics:
        last = run.metrics[-1]
        seconds = sum(r.seconds for r in run.metrics)
        epochs = f"{len(run.metrics)} epoch" + ("s" if len(run.metrics) != 1 else "")
        pairs.append(("trained", f"{epochs}, {last.step:,} steps, {seconds:.1f} s"))
        if not math.isnan(last.val_accuracy):
            pairs.append(("validation accuracy", f"{last.val_accuracy:.4f}"))
    if test is not None:
        pairs.append(("test accuracy", f"{test.accuracy:.4f} on {len(test.labels):,} {items}"))
    return "<h2>Run</h2>\n" + H.facts(pairs)


def _diagnoses(run: RunData, fix_text: FixText) -> str:
    parts = ["<h2>Diagnoses</h2>"]
    if not run.diagnoses:
        probed = "the health monitor found nothing wrong" if len(run.probes) else "no health log to read"
        parts.append(f'<div class="healthy">{H.escape(probed)}.</div>')
    parts += [H.diagnosis_html(d, fix_text) for d in run.diagnoses]
    if run.repair is not None:  # --repair's verdict and what it changed
        listed = run.repair.get("changes")
        changes = [(_change(c, fix_text), c.get("symptom", ""), c.get("step", ""))
                   for c in (listed if isinstance(listed, list) else []) if isinstance(c, dict)]  # fmt: skip
        parts.append(H.note_html(f"repair: {run.repair.get('verdict', '')}"))
        if changes:
            parts.append(H.table(("change", "for", "since step"), changes, (2,)))
    if run.events:
        rows = [
            (e.get("event"), e.get("step"), e.get("reason", ""), e.get("restored_step", ""), e.get("lr_scale", ""))
            for e in run.events
        ]
        parts.append(H.table(("guard event", "step", "reason", "restored step", "learning-rate scale"), rows, (1, 3)))
    return "\n".join(parts)


def _change(change: dict[str, Any], fix_text: FixText) -> str:
    """A change --repair applied, in the reader's words (an older repair.json kept it as flag text)."""
    changes = change.get("changes")
    return fix_text(Fix(changes)) if isinstance(changes, dict) else str(change.get("flags", ""))


# -- a sweep ---------------------------------------------------------------------------------------------


def sweep_page(sweep: SweepData) -> tuple[str, list[H.Image]]:
    """The stability map and one table row per finished trial."""
    from gradwise.sweep.stability_map import COLORS

    sections = []
    images = []
    if sweep.map_path is not None:
        image = H.Image(MAP_FILE, sweep.map_path.read_bytes(), "Stability map",
                        "Each cell is one trial: its outcome, validation accuracy and, for a failure, the step it "
                        "began.")  # fmt: skip
        images.append(image)
        sections.append(H.figure_html(image))
    else:
        sections.append(H.note_html(f"no {MAP_FILE} in {sweep.path}: run the gradwise sweep command again to draw it"))
    axes = list(dict.fromkeys(name for r in sweep.records if isinstance(r.get("axes"), dict) for name in r["axes"]))
    rows = []
    for r in sweep.records:
        labels: dict[str, Any] = r["axes"] if isinstance(r.get("axes"), dict) else {}
        outcome = str(r.get("outcome"))
        background, color = COLORS.get(outcome, ("#ffffff", "#212121"))
        badge = H.Raw(f'<span style="background:{background};color:{color};padding:1px 6px;border-radius:3px">'
                      f"{H.escape(outcome)}</span>")  # fmt: skip
        accuracy = r.get("val_accuracy") if r.get("val_accuracy") is not None else r.get("train_accuracy")
        symptoms = ", ".join(dict.fromkeys(str(d.get("symptom")) for d in r.get("diagnoses") or []
                                           if isinstance(d, dict)))  # fmt: skip
        rows.append([
            *(labels.get(name, "") for name in axes),
            badge,
            f"{accuracy:.4f}" if isinstance(accuracy, int | float) else "-",
            r.get("onset_step") if r.get("onset_step") is not None else "",
            r.get("steps", ""),
            f"{r['seconds']:.1f}" if isinstance(r.get("seconds"), int | float) else "",
            symptoms,
        ])  # fmt: skip
    n = len(axes)
    header = (*axes, "outcome", "accuracy", "onset step", "steps", "seconds", "diagnoses")
    sections.append(f"<h2>Trials ({len(rows)})</h2>\n" + H.table(header, rows, (n + 1, n + 2, n + 3, n + 4)))
    subtitle = f"{sweep.path} · report written {time.strftime('%Y-%m-%d %H:%M')}"
    return H.page(f"gradwise sweep {sweep.name}", subtitle, sections), images
