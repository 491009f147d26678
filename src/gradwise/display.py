"""How gradwise's objects read: as text (``__repr__``, the CLI's panels), as HTML (Jupyter's ``_repr_html_``) and
as figures (``plot()``).

One place for all three, so a diagnosis reads the same in a terminal and in a notebook: symptom, layer, since
when, evidence, cause and fix. A fix is written in the reader's terms: flags for the CLI
(``gradwise.cli.flags.fix_flags``), ``TrainConfig`` arguments for Python (``Fix.python()``). Presentation sits on
top: this module imports the classes it renders and registers its renderers with ``gradwise.looks`` (at ``import
gradwise``), which the classes ask; none of them imports this module. The figures import matplotlib only when drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from gradwise import looks
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.fixes import Fix
from gradwise.health.monitor import HealthMonitor
from gradwise.nn.network import Network
from gradwise.report import html as H
from gradwise.sweep.results import Results
from gradwise.train.doctor import DoctorReport
from gradwise.train.history import History
from gradwise.train.result import Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FixText = Callable[[Fix], str]
BOX = "border-left:5px solid {edge};background:{fill};padding:8px 12px;margin:8px 0;font-family:system-ui,sans-serif"
DIAGNOSIS_BOX = BOX.format(edge="#6a1b9a", fill="#f3e5f5")
HEALTHY_BOX = BOX.format(edge="#2e7d32", fill="#e8f5e9")
LEFT = "text-align:left"  # JupyterLab right-aligns table cells; sentences read from the left


def python_fix(fix: Fix) -> str:
    """A fix as Python: ``config.with_overrides(init='glorot_uniform')``, or its advice when it changes nothing."""
    return f"config.with_overrides({fix.python()})" if fix.changes else fix.advice


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def diagnosis_parts(d: Diagnosis, fix_text: FixText) -> list[tuple[str, str]]:
    """(label, text) lines of a diagnosis after its headline: where, evidence, cause, fix (and alternatives)."""
    evidence = ", ".join(f"{k} {_number(v)}" for k, v in d.evidence.items() if k != "first_bad")
    parts = [("where", str(d.evidence["first_bad"]))] if "first_bad" in d.evidence else []
    parts += [("evidence", evidence)] if evidence else []
    parts += [("cause", d.cause)] if d.cause else []
    if d.fix:
        parts.append(("fix", fix_text(d.fix[0])))
        parts += [("or", fix_text(f)) for f in d.fix[1:]]
    return parts


def headline(d: Diagnosis) -> str:
    """``saturation in layer 0 since step 0 (before training)``."""
    return d.headline() + (" (before training)" if d.step == 0 else "")


def diagnosis_panel(d: Diagnosis, fix_text: FixText = python_fix) -> str:
    """A few lines: the headline, then where, evidence, cause and fix (in the reader's terms: ``fix_text``)."""
    lines = [f"!! {headline(d)}"]
    lines += [f"   {label + ':':<9} {text}" for label, text in diagnosis_parts(d, fix_text)]
    return "\n".join(lines)


def diagnosis_html(d: Diagnosis) -> str:
    """The panel as an HTML box, the fix as Python code."""
    rows = "".join(
        f"<tr><td style='{LEFT};color:#616161;padding:1px 10px 1px 0;vertical-align:top'>{H.escape(label)}</td>"
        f"<td style='{LEFT};padding:1px 0'>{_cell(label, text)}</td></tr>"
        for label, text in diagnosis_parts(d, python_fix)
    )
    return (
        f'<div class="gradwise-diagnosis" style="{DIAGNOSIS_BOX}"><b style="color:#4a148c">{H.escape(d.symptom)}</b>'
        f" in {H.escape(_where(d))} since step {d.step}{' (before training)' if d.step == 0 else ''}"
        f"<table style='border-collapse:collapse;margin-top:4px'>{rows}</table></div>"
    )


def _cell(label: str, text: str) -> str:
    return f"<code>{H.escape(text)}</code>" if label in ("fix", "or") else H.escape(text)


def _where(d: Diagnosis) -> str:
    return f"layer {d.layer}" if d.layer is not None else "the network"


def diagnoses_text(diagnoses: Sequence[Diagnosis], fix_text: FixText = python_fix) -> str:
    if not diagnoses:
        return "health: no problems found"
    count = f"{len(diagnoses)} diagnos{'is' if len(diagnoses) == 1 else 'es'}"
    return "\n".join([f"health: {count}", *(diagnosis_panel(d, fix_text) for d in diagnoses)])


def diagnoses_html(diagnoses: Sequence[Diagnosis]) -> str:
    if not diagnoses:
        return f'<div style="{HEALTHY_BOX}">health: no problems found</div>'
    return "".join(diagnosis_html(d) for d in diagnoses)


# -- History, Result, Network, HealthMonitor ----------------------------------------------------------------

HISTORY_HEADER = ("epoch", "step", "train loss", "train acc", "val loss", "val acc", "seconds")


def _history_rows(history: History) -> list[tuple[str, ...]]:
    def metric(v: float) -> str:
        return "-" if math.isnan(v) else f"{v:.4f}"

    return [
        (str(r.epoch), f"{r.step:,}", metric(r.train_loss), metric(r.train_accuracy), metric(r.val_loss),
         metric(r.val_accuracy), f"{r.seconds:.1f}")
        for r in history.epochs
    ]  # fmt: skip


def history_text(history: History, shown: int = 10) -> str:
    """A heading, then the epochs as a table (the first and last few of a long run)."""
    n = len(history)
    head = f"History: {n} epoch{'s' * (n != 1)}" + (f", stopped: {history.stop_reason}" if history.stop_reason else "")
    rows = _history_rows(history)
    if len(rows) > shown:
        rows = [*rows[: shown // 2], ("...",) * len(HISTORY_HEADER), *rows[-(shown // 2) :]]
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(HISTORY_HEADER)] if rows else []
    table = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in [HISTORY_HEADER, *rows]]
    return "\n".join([head, *(table if rows else [])])


def history_html(history: History) -> str:
    n = len(history)
    stopped = f" · stopped: {H.escape(history.stop_reason)}" if history.stop_reason else ""
    rows = _table(HISTORY_HEADER, _history_rows(history))
    return f"<div><b>History</b>: {n} epoch{'s' * (n != 1)}{stopped}{rows}</div>"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cell = "border:1px solid #e0e0e0;padding:2px 8px;text-align:right"
    head = "".join(f"<th style='{cell};background:#f5f5f5'>{H.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='{cell}'>{H.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table style='border-collapse:collapse;margin:6px 0'><tr>{head}</tr>{body}</table>"


def result_facts(result: Result) -> list[tuple[str, str]]:
    """(label, text) pairs: what ran, how long, how well, and the repair's verdict."""
    c, last, epochs = result.config, result.history.last, len(result.history)
    pairs = [
        ("network", f"hidden {','.join(map(str, c.hidden))} {c.activation}, output {c.output}, loss {c.loss}, "
                    f"init {c.init or 'the default for ' + c.activation}"),
        ("optimizer", f"{c.optimizer}, lr {c.lr:g}, batch {c.batch_size}"),
        ("trained", f"{epochs} epoch{'s' * (epochs != 1)}, {last.step if last else 0:,} steps, {result.seconds:.1f} s"),
        ("stopped", result.history.stop_reason),
        ("test accuracy", f"{result.test_accuracy:.4f}"),
        ("test loss", f"{result.test_loss:.4f}"),
    ]  # fmt: skip
    pairs += [("run folder", str(result.run_dir))] if result.run_dir is not None else []
    pairs += [("repair", result.repair.verdict)] if result.repair is not None else []
    pairs += [("warning", result.model_error)] if result.model_error else []
    return pairs


def result_text(result: Result) -> str:
    facts = [f"  {label + ':':<14} {text}" for label, text in result_facts(result)]
    return "\n".join([f"Result: test accuracy {result.test_accuracy:.4f}", *facts, diagnoses_text(result.diagnoses)])


def result_html(result: Result) -> str:
    facts = "".join(
        f"<tr><td style='{LEFT};color:#616161;padding:1px 12px 1px 0'>{H.escape(k)}</td>"
        f"<td style='{LEFT}'>{H.escape(v)}</td></tr>"
        for k, v in result_facts(result)
    )
    return (
        f"<div><b>Result</b>: test accuracy {result.test_accuracy:.4f}<table>{facts}</table>"
        f"{diagnoses_html(result.diagnoses)}<details><summary>epochs</summary>{history_html(result.history)}"
        "</details></div>"
    )


def _layer_rows(net: Network) -> list[tuple[str, str, str, str]]:
    rows = []
    for info in net.layer_info():
        if info.shape is not None:
            n_in, n_out = info.shape
            rows.append((str(info.index), f"{info.kind} {n_in} -> {n_out}", info.activation, f"{info.parameters:,}"))
        else:
            rows.append((str(info.index), f"{info.kind} {info.detail}".strip(), "", f"{info.parameters:,}"))
    return rows


def network_text(net: Network) -> str:
    total = sum(p.size for p in net.params.values())
    layers = ", ".join(f"{kind} {activation}".strip() for _, kind, activation, _ in _layer_rows(net))
    return f"Network({layers}; {total:,} parameters, {net.dtype})"


def network_html(net: Network) -> str:
    total = sum(p.size for p in net.params.values())
    rows = _table(("layer", "kind", "activation", "parameters"), _layer_rows(net))
    return f"<div><b>Network</b>: {total:,} parameters, {net.dtype}{rows}</div>"


def monitor_text(monitor: HealthMonitor) -> str:
    probes = f"{len(monitor.timeline)} probes" if monitor.timeline else "no probes yet"
    return f"HealthMonitor: {probes}\n{diagnoses_text(monitor.diagnoses)}"


def monitor_html(monitor: HealthMonitor) -> str:
    probes = f"{len(monitor.timeline)} probes" if monitor.timeline else "no probes yet"
    return f"<div><b>HealthMonitor</b>: {probes}{diagnoses_html(monitor.diagnoses)}</div>"


# -- the doctor ---------------------------------------------------------------------------------------------


def _attempt_rows(found: Any) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for number, attempt in enumerate(found.plan.attempts):
        changed = "; ".join(f.python() for _, f in attempt.applied) or "as given"
        verdict = "healthy" if attempt.healthy else ", ".join(d.headline() for d in attempt.diagnoses)
        rows.append((str(number), changed, str(attempt.steps), f"{attempt.accuracy:.4f}",
                     verdict + ("  (kept)" if attempt.kept else "")))  # fmt: skip
    return rows


def doctor_verdict(found: Any) -> str:
    """One line: healthy, or how many problems; with repair, the changes that probed healthy."""
    if found.plan is None:
        return "healthy: no problems found" if found.healthy else f"unhealthy: {len(found.diagnoses)} problem(s)"
    changes = ", ".join(f"{k}={v!r}" for k, v in found.changes.items())
    if found.healthy:
        return f"repaired: config.with_overrides({changes}) probed healthy" if changes else "healthy as given"
    return f"not repaired: tried {changes or 'nothing'}; what remains is " + ", ".join(
        d.headline() for d in found.plan.chosen.diagnoses
    )


def doctor_text(found: Any) -> str:
    lines = [f"Doctor: {doctor_verdict(found)}", diagnoses_text(found.diagnoses)]
    if found.plan is not None:
        lines += [f"attempt {n} ({changed}): {steps} steps, accuracy {acc}: {verdict}"
                  for n, changed, steps, acc, verdict in _attempt_rows(found)]  # fmt: skip
    return "\n".join(lines)


def doctor_html(found: Any) -> str:
    parts = [f"<div><b>Doctor</b>: {H.escape(doctor_verdict(found))}", diagnoses_html(found.diagnoses)]
    if found.plan is not None:
        parts.append(_table(("attempt", "changes", "steps", "accuracy", "found"), _attempt_rows(found)))
    return "".join(parts) + "</div>"


# -- figures (matplotlib only when one is drawn) --------------------------------------------------------------


def history_figure(history: History) -> Figure:
    """Loss and accuracy per epoch, the report's chart."""
    from gradwise.report import charts
    from gradwise.report.notebook import inline, nothing_to_draw, run_data

    figure = charts.loss_accuracy(run_data(history))
    if figure is None:
        raise nothing_to_draw("the history has no epochs")
    result: Figure = inline(figure)
    return result


def monitor_figure(monitor: HealthMonitor) -> Figure:
    """The per-layer timelines of the report, stacked, the diagnoses marked at their onset."""
    from gradwise.report import charts
    from gradwise.report.notebook import nothing_to_draw, run_data, stacked

    run = run_data(monitor=monitor)
    figures = [f for f in (charts.gradient_norms(run), charts.saturation(run), charts.update_ratios(run)) if f]
    if not figures:
        raise nothing_to_draw("the monitor has probed no step (pass it to fit in callbacks=[...])")
    result: Figure = stacked(figures)
    return result


def sweep_html(results: Results) -> str:
    """The sweep's map and trials, as its report page shows them."""
    from gradwise.report.notebook import sweep_html as page

    return page(results.path.parent)


looks.register(Network, text=network_text, html=network_html)
looks.register(Diagnosis, text=lambda d: diagnosis_panel(d, python_fix), html=diagnosis_html)
looks.register(HealthMonitor, text=monitor_text, html=monitor_html, plot=monitor_figure)
looks.register(History, text=history_text, html=history_html, plot=history_figure)
looks.register(Result, text=result_text, html=result_html)
looks.register(DoctorReport, text=doctor_text, html=doctor_html)
looks.register(Results, html=sweep_html)
