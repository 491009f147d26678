"""gradwise in Jupyter: progress in fit, the objects' text and HTML, plots, the doctor, and the example notebook
executed in a real kernel (nbclient + ipykernel), converted with nbconvert and opened in headless Chromium."""

from __future__ import annotations

import copy
import io
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

import gradwise as gw
from gradwise.cli.panels import diagnosis_panel
from gradwise.display import python_fix
from gradwise.health.fixes import Fix
from gradwise.train.history import EpochRecord, History
from gradwise.train.progress import EpochProgress, format_record

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "seed_2017.ipynb"
SATURATION = gw.Diagnosis(
    "saturation", 0, 0, {"saturated_fraction": 1.0, "mean_abs_z": 51.125}, "U(0, 1) weights add up",
    (Fix({"init": "glorot_uniform", "init_scale": None}), Fix({"lr": 0.005})),
)  # fmt: skip


def tiny_run(monitor: gw.HealthMonitor | None = None, progress: bool | None = None, steps: int = 60) -> History:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    t = gw.one_hot(rng.integers(0, 3, size=200), 3)
    net = gw.mlp([8, 16, 3], "sigmoid", init="uniform", rng=0)
    return gw.fit(net, "ce", gw.optim.sgd(0.1), gw.source(x, t) | gw.batch(20), gw.max_epochs(2) | gw.max_steps(steps),
                  callbacks=[monitor] if monitor else [], progress=progress)  # fmt: skip


# -- progress ---------------------------------------------------------------------------------------------------


def test_fit_prints_a_line_per_epoch_with_progress_true(capsys):
    history = tiny_run(progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [format_record(r, 2) for r in history.epochs] + ["stopped: reached 2 epochs"]
    assert lines[0].startswith("epoch 1/2  loss ")


def test_fit_is_silent_when_output_is_not_watched_or_progress_is_false(capsys):
    tiny_run()  # under pytest stdout and stderr are captured: not interactive
    tiny_run(progress=False)
    assert capsys.readouterr() == ("", "")


def test_the_bar_draws_on_a_terminal_and_counts_every_step(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, lines = Terminal(), io.StringIO()
    monkeypatch.setattr("sys.stderr", terminal)
    progress = EpochProgress(2, stream=lines)
    x, t = np.zeros((40, 8), np.float32), gw.one_hot(np.zeros(40, int), 3)
    net = gw.mlp([8, 3], rng=0)
    gw.fit(net, "ce", gw.optim.sgd(0.1), gw.source(x, t) | gw.batch(20), gw.max_epochs(2), callbacks=[progress],
           progress=False)  # fmt: skip
    assert progress.steps_per_epoch == 2  # read from the stream's length
    assert "epoch 1/2:   0%|          | 0/2" in terminal.getvalue() and "epoch 2/2:" in terminal.getvalue()
    assert lines.getvalue().count("epoch ") == 2


def test_a_bar_off_in_a_log_formats_nothing_each_step(monkeypatch):
    """With stderr a log the bar is off: its steps must not format a loss figure nobody reads (it cost a tenth
    of a batch-1 step)."""
    monkeypatch.setattr("sys.stderr", io.StringIO())
    progress, formatted = EpochProgress(1, stream=io.StringIO()), []
    x, t = np.zeros((40, 8), np.float32), gw.one_hot(np.zeros(40, int), 3)
    net = gw.mlp([8, 3], rng=0)

    def fit_watching_the_bar() -> None:
        progress._open_bar(1)
        progress.bar.set_postfix = lambda *args, **kwargs: formatted.append(kwargs)
        gw.fit(net, "ce", gw.optim.sgd(0.1), gw.source(x, t) | gw.batch(1), gw.max_epochs(1), callbacks=[progress],
               progress=False)  # fmt: skip

    fit_watching_the_bar()
    assert progress.bar is None and formatted == []


# -- text and HTML ----------------------------------------------------------------------------------------------


def test_a_diagnosis_reads_as_the_doctor_prints_it_with_the_fix_in_python():
    text = repr(SATURATION)
    assert text.splitlines() == [
        "!! saturation in layer 0 since step 0 (before training)",
        "   evidence: saturated_fraction 1, mean_abs_z 51.12",
        "   cause:    U(0, 1) weights add up",
        "   fix:      config.with_overrides(init='glorot_uniform', init_scale=None)",
        "   or:       config.with_overrides(lr=0.005)",
    ]
    html = SATURATION._repr_html_()
    assert "<b style=\"color:#4a148c\">saturation</b> in layer 0 since step 0 (before training)" in html
    assert "<code>config.with_overrides(init=&#x27;glorot_uniform&#x27;, init_scale=None)</code>" in html
    assert "cause" in html and "evidence" in html and "51.12" in html


def test_the_cli_panel_keeps_the_fix_as_flags():
    panel = diagnosis_panel(SATURATION)
    assert "   fix:      --init glorot_uniform  " not in panel
    assert "   fix:      leave out" not in panel
    assert "   fix:      --init glorot_uniform" in panel and "   or:       --lr 0.005" in panel


def test_a_fix_without_changes_is_its_advice_in_python_too():
    assert python_fix(Fix({}, "check the labels file")) == "check the labels file"


def test_history_shows_its_epochs_as_a_table():
    history = History([EpochRecord(1, 250, 0.47935938, 0.91, math.nan, math.nan, 1.25)], "reached 1 epochs")
    assert repr(history).splitlines() == [
        "History: 1 epoch, stopped: reached 1 epochs",
        "epoch  step  train loss  train acc  val loss  val acc  seconds",
        "    1   250      0.4794     0.9100         -        -      1.2",
    ]
    html = history._repr_html_()
    assert "<th style=" in html and ">0.4794</td>" in html and "reached 1 epochs" in html


def test_network_and_monitor_read_in_one_glance():
    monitor = gw.HealthMonitor({"loss": "ce", "activation": "sigmoid", "init": "uniform", "batch_size": 20})
    tiny_run(monitor, steps=120)
    net = gw.mlp([8, 16, 3], "sigmoid", rng=0)
    assert repr(net) == "Network(Dense 8 -> 16 sigmoid, Dense 16 -> 3 softmax; 195 parameters, float32)"
    assert "<td style=" in net._repr_html_() and "195 parameters" in net._repr_html_()
    assert repr(monitor).startswith(f"HealthMonitor: {len(monitor.timeline)} probes\nhealth: ")
    assert monitor.timeline and "HealthMonitor" in monitor._repr_html_()


def test_history_and_monitor_plot_the_reports_charts():
    monitor = gw.HealthMonitor({"loss": "ce", "activation": "sigmoid", "batch_size": 20}, interval=5)
    history = tiny_run(monitor, steps=120)
    figure = history.plot()
    assert isinstance(figure, Figure) and [ax.get_title() for ax in figure.axes] == ["loss", "accuracy"]
    assert figure._repr_png_().startswith(b"\x89PNG")  # what a notebook shows
    timelines = monitor.plot()
    assert isinstance(timelines, Figure) and len(timelines.axes) == 3  # gradients, saturation, update ratio


def test_plotting_before_training_says_so():
    with pytest.raises(ValueError, match="nothing to plot yet: the history has no epochs"):
        History().plot()
    with pytest.raises(ValueError, match=r"nothing to plot yet: the monitor has probed no step"):
        gw.HealthMonitor().plot()


# -- doctor, train, report --------------------------------------------------------------------------------------

SMALL = "--preset seed-2017 --limit-train 1200 --validation 100 --hidden 32"


def test_doctor_takes_flags_and_returns_the_clis_findings():
    found = gw.doctor(SMALL, steps=60)
    assert not found.healthy
    assert {d.symptom for d in found.diagnoses} >= {"output_loss_mismatch", "saturation"}
    assert repr(found).startswith("Doctor: unhealthy: ")
    assert "gradwise-diagnosis" in found._repr_html_()


def test_doctor_repair_returns_the_configuration_to_train():
    found = gw.doctor(gw.preset("seed-2017", limit_train=1200, validation=100, hidden=(32,)), steps=60, repair=True)
    assert found.changes["loss"] == "ce"
    assert found.config.loss == "ce" and found.given.loss == "mse"
    assert "attempt" in found._repr_html_()


def test_train_and_report_inline(tmp_path):
    result = gw.train(SMALL + " --epochs 1", out=tmp_path / "run")
    assert isinstance(result, gw.Result)
    assert repr(result).startswith(f"Result: test accuracy {result.test_accuracy:.4f}\n")
    assert "<b>Result</b>" in result._repr_html_() and "gradwise-diagnosis" in result._repr_html_()
    shown = gw.report(result)
    assert shown.path == tmp_path / "run" / "report.html"
    assert shown._repr_html_().startswith('<iframe class="gradwise-report" srcdoc="&lt;!DOCTYPE html&gt;')


def test_report_of_a_result_without_a_folder_says_what_to_do():
    result = gw.train(SMALL + " --epochs 1 --no-monitor", progress=False)
    with pytest.raises(ValueError, match="train it with an out folder"):
        gw.report(result)


def test_a_sweeps_results_show_as_counts_and_as_the_reports_table(tmp_path):
    from gradwise.sweep.results import Results

    results = Results(tmp_path)
    for key, outcome in (("a" * 16, "healthy"), ("b" * 16, "diverged"), ("c" * 16, "healthy")):
        results.append({"key": key, "axes": {"lr": key[0]}, "outcome": outcome, "val_accuracy": 0.5, "steps": 10})
    assert repr(results) == f"Results({str(tmp_path)!r}): 3 trials (1 diverged, 2 healthy)"
    html = results._repr_html_()
    assert html.startswith('<iframe class="gradwise-report"') and "Trials (3)" in html and "diverged" in html


# -- the example notebook, in a real kernel and a real browser ---------------------------------------------------


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """examples/seed_2017.ipynb run top to bottom by an ipykernel kernel that imports this checkout's gradwise."""
    import nbformat
    from nbclient import NotebookClient

    assert all(not cell.get("outputs") for cell in nbformat.read(NOTEBOOK, 4).cells), "commit it without outputs"
    folder = tmp_path_factory.mktemp("notebook")
    shutil.copy(NOTEBOOK.parent / "seed_2017_port.py", folder)  # the notebook reads it from beside itself
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    with pytest.MonkeyPatch.context() as patch:  # the kernel inherits the environment
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
        client.execute()
    return notebook, folder


def outputs(notebook, mime: str) -> list[str]:
    return ["".join(o["data"][mime]) for c in notebook.cells for o in c.get("outputs", ()) if mime in o.get("data", {})]


def test_the_notebook_runs_and_shows_the_diagnosis_and_the_fixed_run(executed):
    notebook, _ = executed
    errors = [o for c in notebook.cells for o in c.get("outputs", ()) if o["output_type"] == "error"]
    assert errors == []
    html = outputs(notebook, "text/html")
    assert any("gradwise-diagnosis" in h and "since step 0 (before training)" in h for h in html)
    assert any("config.with_overrides(" in h for h in html)
    assert sum(h.startswith('<iframe class="gradwise-report"') for h in html) == 1
    assert any("missing_output_derivative" in h for h in html), "verify's finding on the seed's port"
    assert len(outputs(notebook, "image/png")) >= 3  # history.plot twice, monitor.plot
    printed = "".join("".join(o.get("text", "")) for c in notebook.cells for o in c.get("outputs", ()))
    accuracy = float(re.findall(r"test accuracy: (\d\.\d+)", printed)[-1])
    assert accuracy >= 0.98
    assert re.search(r"epoch 1(/\d+)?  loss ", printed), "fit's line per epoch"


def test_the_notebook_as_html_opens_in_chromium(executed, browser, screenshots):
    from nbconvert import HTMLExporter

    notebook, folder = executed
    # Offline: no CDN scripts. The page has no math (MathJax) and its progress widgets are closed (require.js
    # and the widget manager only bring them back to life), so the HTML shows every output without them.
    notebook = copy.deepcopy(notebook)
    notebook.metadata.pop("widgets", None)
    empty_script = "data:text/javascript,"
    exporter = HTMLExporter(template_name="lab", require_js_url=empty_script, mathjax_url=empty_script)
    page, _ = exporter.from_notebook_node(notebook)
    assert not re.findall(r'(?:src|href)="(https?://[^"]+)"', page), "the page would fetch from the network"
    path = folder / "seed_2017.html"
    path.write_text(page, encoding="utf-8")
    browser.get(path.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    images = browser.execute_script(
        "return [...document.images].map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))"
    )
    assert len(images) >= 3
    assert [i for i in images if not (i["complete"] and i["width"] > 0)] == [], "images that did not load"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    assert "saturation" in browser.find_element("tag name", "body").text
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1100, min(height, 16000))
    assert browser.save_screenshot(str(screenshots / "notebook.png"))
