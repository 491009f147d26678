"""``gradwise sweep`` end to end on a small subset of MNIST: results, map, skipping, resuming, early stops."""

import json
import time

import numpy as np
import pytest
from PIL import Image

from gradwise import mlp, optim
from gradwise.cli.main import main
from gradwise.data.stream import batch, source
from gradwise.sweep.executor import BLAS_VARIABLES, blas_threads, blas_variables, run_local
from gradwise.sweep.outcome import OUTCOMES
from gradwise.sweep.trial import run_trial
from gradwise.train.config import preset
from gradwise.train.loop import fit
from gradwise.train.recovery import NonFiniteGuard
from gradwise.train.stopping import max_epochs

SMALL = ["--limit-train", "300", "--validation", "100", "--hidden", "16"]
GRID = ["--grid", "lr=0.05,0.5", "--grid", "batch_size=30,100"]


def records(out):
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def numbers(record):
    """What the same seed must reproduce: everything but wall times and the host."""
    history = [{k: v for k, v in epoch.items() if k != "seconds"} for epoch in record["history"]]
    return {k: v for k, v in record.items() if k not in ("seconds", "host", "history")} | {"history": history}


def test_sweep_writes_results_and_map_then_a_rerun_skips_every_trial(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", *SMALL, *GRID, "--jobs", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "sweep: 4 trials, 1 epoch each" in printed and "running 4 trials on 2 local processes" in printed
    assert "batch_size \\ lr" in printed  # x: lr; y: the other axis
    found = records(out)
    assert sorted(tuple(r["axes"].values()) for r in found) == [
        ("0.05", "100"), ("0.05", "30"), ("0.5", "100"), ("0.5", "30")
    ]  # fmt: skip
    for record in found:
        assert list(record)[:4] == ["key", "axes", "outcome", "onset_step"]
        assert record["outcome"] in OUTCOMES and record["classes"] == 10
        assert record["config"]["hidden"] == [16] and record["config"]["limit_train"] == 300
        assert record["epochs"] == 1 and record["steps"] == {"30": 10, "100": 3}[record["axes"]["batch_size"]]
        assert 0 <= record["val_accuracy"] <= 1 and record["history"][0]["step"] == record["steps"]
    with Image.open(out / "map.png") as image:
        assert image.format == "PNG" and image.width > 300

    before = (out / "results.jsonl").read_bytes()
    started = time.perf_counter()
    assert main(["sweep", *SMALL, *GRID, "--jobs", "2", "--out", str(out)]) == 0
    assert time.perf_counter() - started < 5
    printed = capsys.readouterr().out
    assert f"skipped 4 finished trials (already in {out / 'results.jsonl'})" in printed
    assert "running" not in printed and f"map: {out / 'map.png'} (unchanged)" in printed
    assert (out / "results.jsonl").read_bytes() == before


def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", *SMALL, *GRID, "--jobs", "1", "--out", str(out)]) == 0
    complete = {r["key"]: r for r in records(out)}
    lines = (out / "results.jsonl").read_text().splitlines()
    (out / "results.jsonl").write_text(lines[0] + "\n" + lines[1][:40])  # killed while writing the second
    capsys.readouterr()
    assert main(["sweep", *SMALL, *GRID, "--jobs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "skipped 1 finished trials" in printed and "running 3 trials" in printed
    resumed = {}
    for line in (out / "results.jsonl").read_text().splitlines()[2:]:
        record = json.loads(line)
        resumed[record["key"]] = record
    assert set(resumed) | {json.loads(lines[0])["key"]} == set(complete)
    for key, record in resumed.items():  # the same seeds give the same numbers
        assert numbers(record) == numbers(complete[key])


def test_the_seed_2017_grid_shows_the_seeds_network_beside_the_fixed_one(tmp_path, capsys):
    out = tmp_path / "seed"
    narrow = ["--grid", "hidden=16", "--grid", "batch_size=50", "--grid", "lr=1"]
    assert main(["sweep", "--preset-grid", "seed-2017", *SMALL[:4], *narrow, "--jobs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "config=seed-2017, batch_size=50" in printed and "config=fixed, batch_size=50" in printed
    by_config = {r["axes"]["config"]: r["config"] for r in records(out)}
    assert (by_config["seed-2017"]["loss"], by_config["seed-2017"]["init"]) == ("mse", "uniform")
    assert (by_config["fixed"]["loss"], by_config["fixed"]["init"]) == ("ce", "glorot_uniform")
    assert by_config["fixed"]["activation"] == "sigmoid" and by_config["fixed"]["limit_train"] == 300


def test_a_trial_that_blows_up_stops_early():
    config = preset("default", limit_train=300, validation=100, hidden=(16,), batch_size=10, epochs=2, lr=50.0)
    result = run_trial(json.loads(config.to_json()))
    # Each batch's cross-entropy passes what float32 can represent within a few steps: the guard stops it.
    assert result["steps"] < 10 and result["stop_reason"].startswith("the loss diverged at step")
    assert result["diagnoses"][0]["symptom"] == "lr_too_high"


def test_the_guard_stops_a_diverging_fit_through_the_loop():
    # Least squares on unit-variance inputs diverges for lr > 2: at 2.2 the loss grows 1.44x a step, so the
    # first 1000-sample chunk past 3x the start (the first step's loss) ends the run, with finite weights.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 5)).astype(np.float32)
    t = x @ rng.normal(size=(5, 2)).astype(np.float32)
    net = mlp([5, 2], "identity", "identity", init="glorot_uniform", rng=0)
    guard = NonFiniteGuard("stop", settings={"batch_size": 256, "lr": 2.2})
    history = fit(net, "mse", optim.sgd(2.2), source(x, t) | batch(256), max_epochs(100), callbacks=[guard])
    assert guard.trend.chunk == 4 and history.last.step <= 12
    assert history.stop_reason.startswith("the loss diverged at step")
    assert guard.diagnosis.symptom == "lr_too_high" and guard.diagnosis.fix[0].changes == {"lr": 0.22}
    assert all(np.isfinite(p).all() for p in net.params.values())


def test_pool_workers_get_their_share_of_blas_threads():
    found = list(run_local([{}, {}], jobs=2, task=blas_variables))
    share = str(blas_threads(2))
    assert sorted(i for i, _ in found) == [0, 1]
    assert all(variables == dict.fromkeys(BLAS_VARIABLES, share) for _, variables in found)
    assert blas_variables() != dict.fromkeys(BLAS_VARIABLES, "not set by the pool")  # this process is untouched


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "sweep: nothing to vary; give --grid KEY=V1,V2 (such as --grid lr=0.01,0.1) or --preset-grid"),
        ([*GRID, "--x", "momentum"], "--x momentum: not an axis of this sweep; its axes are lr, batch_size"),
        ([*GRID, "--x", "batch-size", "--y", "batch_size"], "--y batch_size: already the other axis of the map"),
        ([*GRID, "--jobs", "0"], "--jobs must be >= 1, got 0"),
        ([*GRID, "--good", "2"], "--good must be in (0, 1], got 2"),
        ([*GRID, "--budget", "1week"], "--budget 1week: expected a count and a unit, such as 1epoch, 500steps"),
        (["--grid", "lr=0.1,zero"], "--grid lr: 'zero' is not a finite number"),
        (["--grid", "lr=0.1,-1"], "--lr must be > 0, got -1"),
        ([*GRID, "--repair"], "--repair: a sweep maps what each configuration does as given; leave --repair out"),
    ],
)
def test_bad_input_is_one_line(tmp_path, capsys, args, message):
    assert main(["sweep", *SMALL, *args, "--out", str(tmp_path / "s")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {message}") and error.count("\n") == 1
    assert not (tmp_path / "s" / "results.jsonl").exists()


def test_out_must_be_a_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["sweep", *SMALL, *GRID, "--out", str(tmp_path / "file")]) == 2
    assert (
        capsys.readouterr().err == f"error: --out {tmp_path / 'file'}: is a file, not a folder; choose another path\n"
    )
