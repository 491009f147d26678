"""One health flow: every alarm under every --on-nan policy, the guard's replay and skip, resume, batch sizes."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from gradwise import mlp, optim
from gradwise.cli.flags import fix_flags
from gradwise.cli.main import main
from gradwise.data.stream import batch, from_epochs, source
from gradwise.health import monitor as monitor_module
from gradwise.health.explain import explain
from gradwise.health.monitor import HealthMonitor
from gradwise.health.settings import Settings
from gradwise.health.stats import DeadUnits, LayerStats, forward_stats
from gradwise.health.symptoms import RULES
from gradwise.nn.losses import get_loss
from gradwise.train.config import TrainConfig, preset, settings_of
from gradwise.train.loop import Callback, Run, fit
from gradwise.train.recovery import MAX_REPLAY, NonFiniteGuard
from gradwise.train.runner import train
from gradwise.train.stopping import Progress, max_steps

SMALL = {"limit_train": 2000, "validation": 500, "hidden": (32,)}


@pytest.fixture(autouse=True)
def _runs_land_in_a_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `gradwise train` without --out writes runs/<name> in the working folder


def always(symptom):
    """A rule that finds its symptom at every probe (in layer 0 for per-layer symptoms)."""
    layer = None if symptom in ("lr_too_high", "lr_too_low", "oscillation", "plateau") else 0
    return lambda ctx: [(layer, {"forced": 1})]


@pytest.mark.parametrize("policy", ["rollback", "skip", "stop"])
@pytest.mark.parametrize("symptom", list(RULES))
def test_every_alarm_goes_through_the_runner_under_every_policy(symptom, policy, monkeypatch):
    # Before: a rollback requested from inside the monitor's loop over the rules cleared its streaks
    # mid-loop (KeyError: ('exploding_gradient', 1)). Now the runner acts after the step.
    # With a blow-up beside it (two alarms at one probe, as in the crash), except for plateau, which any
    # specific symptom silences.
    rules = {symptom: always(symptom)} | ({} if symptom == "plateau" else {"exploding_gradient": always("x")})
    monkeypatch.setattr(monitor_module, "RULES", rules)
    config = preset("default", **SMALL, batch_size=8, max_steps=150, on_nan=policy, health_interval=5)
    result = train(config, None)
    assert symptom in {d.symptom for d in result.diagnoses}
    rollbacks = [e for e in result.events if e["event"] == "rollback"]
    if policy == "rollback" and symptom != "plateau":
        assert rollbacks  # a blow-up without a NaN rolls back
    else:
        assert not rollbacks
    assert all(np.isfinite(p).all() for p in result.net.params.values())


def test_the_reported_rollback_crash_is_gone(capsys):
    argv = ["train", "--hidden", "32", "--batch-size", "4", "--limit-train", "2000", "--validation", "500",
            "--epochs", "2", "--dropout", "0.2", "--on-nan", "rollback", "--no-monitor", "--json"]  # fmt: skip
    assert main(argv) == 0  # without the monitor
    assert main([*argv[:-2], "--json"]) == 0  # with it: the crash came from the monitor's loop
    # Learned, well past chance (0.1): lr 0.05 with momentum at batch 4 is rough, and seeds 0-3 reach 0.33-0.71.
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["test_accuracy"] > 0.25


def blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    x = (rng.normal(0, 2, size=(3, 6))[labels] + rng.normal(size=(n, 6))).astype(np.float32)
    return x, np.eye(3, dtype=np.float32)[labels]


def test_skip_drops_each_bad_batch_once_and_keeps_the_epoch_loss_finite():
    x, t = blobs()
    x[2 * 2], x[6 * 2] = np.nan, np.nan  # batches of 2: the samples of steps 3 and 7 are NaN
    net = mlp([6, 16, 3], "relu", "softmax", rng=0)
    initial = {k: v.copy() for k, v in net.params.items()}
    guard = NonFiniteGuard("skip", snapshot_every=50)
    history = fit(net, "ce", optim.sgd(0.1), source(x, t) | batch(2), max_steps(20), callbacks=[guard])
    assert [(e["event"], e["step"]) for e in guard.events] == [("skip", 3), ("skip", 7)]
    # Before: the replay at step 7 ran step 3's batch again, found the NaN there and went back to the
    # snapshot, the initial weights. Now step 7 is undone alone, so the weights kept steps 1-2 and 4-6.
    assert not np.array_equal(net.params["0.W"], initial["0.W"])
    assert np.isfinite(history.last.train_loss)  # the skipped batches' NaN losses are not in the epoch's


def test_skip_undoes_only_the_bad_step():
    x, t = blobs()
    x[6 * 2] = np.nan
    nets = [mlp([6, 16, 3], "relu", "softmax", rng=0) for _ in range(2)]
    guard = NonFiniteGuard("skip", snapshot_every=50)
    fit(nets[0], "ce", optim.sgd(0.1), source(x, t) | batch(2), max_steps(7), callbacks=[guard])
    fit(nets[1], "ce", optim.sgd(0.1), source(x, t) | batch(2), max_steps(6))  # the same run, stopped before
    for name in nets[0].params:
        np.testing.assert_array_equal(nets[0].params[name], nets[1].params[name])


def test_a_stop_leaves_weights_and_optimizer_state_of_the_same_step():
    # Before: the replay moved the weights forward but left the optimizer state at the snapshot's, so a
    # checkpoint written at the stop mixed two steps.
    x, t = blobs()
    opt = optim.momentum(50.0)
    net = mlp([6, 32, 3], "relu", "softmax", rng=0)
    guard = NonFiniteGuard("stop", snapshot_every=10)
    fit(net, "ce", opt, source(x, t) | batch(20), max_steps(100), callbacks=[guard])
    stopped = guard.session.run
    assert 1 < stopped.step < 100
    twin = mlp([6, 32, 3], "relu", "softmax", rng=0)
    run = Run(opt.init(twin.params))
    fit(twin, "ce", opt, source(x, t) | batch(20), max_steps(stopped.step), run=run)  # the same steps, unguarded
    for name in net.params:
        np.testing.assert_array_equal(net.params[name], twin.params[name])
    for key in run.opt_state:
        np.testing.assert_array_equal(stopped.opt_state[key], run.opt_state[key])


def fake_session(net):
    return SimpleNamespace(net=net, run=Run(optim.sgd(0.1).init(net.params)), rng=np.random.default_rng(0),
                           loss=get_loss("ce"), batch_size=None, stop=None)  # fmt: skip


def test_the_replay_list_stays_bounded_while_the_loss_creeps_up():
    net = mlp([6, 8, 3], rng=0)
    guard = NonFiniteGuard("stop", snapshot_every=50, settings={"batch_size": 32})
    session = fake_session(net)
    guard.on_begin(session)
    for step in range(1, 6001):
        session.run.position = step
        guard.on_step(Progress(0, step, 0.0, None, False), 1.0 + step / 6000)  # 1.0 -> 2.0: rising, not 3x
        assert len(guard.snapshot.batches) <= (MAX_REPLAY + 1) * 50
    assert guard.diagnosis is None


def test_a_batch_one_run_is_not_stopped_by_its_noise(capsys):
    # Before: one sample's loss above 5x the first step's stopped this healthy run ("the loss diverged at
    # step 4692", accuracy 0.90 and climbing). Batch-1 losses swing tenfold from one sample to the next.
    argv = ["train", "--hidden", "64", "--batch-size", "1", "--optimizer", "sgd", "--lr", "0.01", "--epochs", "1",
            "--limit-train", "20000", "--validation", "1000", "--json"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["stop_reason"] == "reached 1 epochs" and summary["diagnoses"] == []
    assert summary["test_accuracy"] > 0.9


def test_dead_units_do_not_depend_on_the_batch_size(rng):
    # A healthy He-initialised 784-32 ReLU layer on MNIST-like inputs: half its units answer each sample.
    w = rng.normal(0, np.sqrt(2 / 784), (784, 32))
    x = rng.random((512, 784)) * (rng.random((512, 784)) < 0.2)
    z = x @ w - 0.05
    per_batch, window = {}, DeadUnits()
    for size in (1, 4, 128):
        stats = LayerStats(0, "relu")
        forward_stats(stats, z[:size], np.maximum(z[:size], 0))
        per_batch[size] = stats.dead
    assert per_batch[1] > 0.2 and per_batch[128] == 0  # a whole batch of 1 leaves many units silent
    for i in range(128):  # 128 probes of one sample each
        stats = LayerStats(0, "relu")
        alive = forward_stats(stats, z[i : i + 1], np.maximum(z[i : i + 1], 0))
        window.update(stats, alive)
    assert stats.dead_samples == 128 and stats.dead == per_batch[128]


def test_a_fix_is_never_what_the_run_already_has():
    # Before: the best preset (ReLU, default He init) was told to use --activation relu --init he_normal.
    best = settings_of(TrainConfig(activation="relu", init=None, output="softmax", loss="ce"))
    assert best.init == "he_normal"  # the default init, named
    for symptom in ("underflow", "vanishing_gradient", "dead_units"):
        _, fixes = explain(symptom, 4, best)
        assert not any(f.in_effect(best) for f in fixes)
        assert all(f.changes.get("activation") != "relu" and f.changes.get("init") != "he_normal" for f in fixes)
    _, fixes = explain("saturation", 0, Settings(activation="sigmoid", init="glorot_uniform", lr=0.1))
    assert [fix_flags(f) for f in fixes] == ["--activation relu --init he_normal", "--lr 0.01"]


class StopAt(Callback):
    """Ends the process's part of the run at a step, as a kill would (the checkpoint of that step is on disk)."""

    def __init__(self, step):
        self.step = step

    def on_step(self, progress, loss):
        if progress.step == self.step:
            raise KeyboardInterrupt


def test_resume_continues_the_monitor_and_the_guard(tmp_path):
    config = preset("default", **SMALL, activation="sigmoid", normalize="none", batch_size=32, epochs=2,
                    checkpoint_every=10, health_interval=10)  # fmt: skip
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config, out, [StopAt(60)])
    before = [json.loads(line) for line in (out / "health.jsonl").read_text().splitlines()]
    found = [(d["diagnosis"]["symptom"], d["diagnosis"]["layer"]) for d in before if "diagnosis" in d]
    assert ("unnormalized_input", 0) in found
    resumed = train(config, out, resume=True)
    lines = [json.loads(line) for line in (out / "health.jsonl").read_text().splitlines()]
    keys = [(d["diagnosis"]["symptom"], d["diagnosis"]["layer"]) for d in lines if "diagnosis" in d]
    assert len(keys) == len(set(keys))  # before: the static checks and the rules fired again after --resume
    assert {(d.symptom, d.layer) for d in resumed.diagnoses} >= set(found)


def test_a_run_the_guard_stopped_stays_stopped_on_resume(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--lr", "1e4", "--hidden", "50", "--limit-train", "3000", "--validation", "500"]
    assert main([*argv, "--epochs", "3", "--checkpoint-every", "1", "--out", str(out), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["stop_reason"].startswith("the loss diverged")
    metrics = (out / "metrics.jsonl").read_text()
    assert main(["train", "--resume", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["steps"] == first["steps"] and again["stop_reason"] == first["stop_reason"]
    assert (out / "metrics.jsonl").read_text() == metrics  # before: it trained on from the stop


def test_monitor_state_round_trips():
    x, t = blobs()
    net = mlp([6, 16, 3], "tanh", "softmax", rng=0)
    monitor = HealthMonitor({"batch_size": 20}, interval=5)
    fit(net, "ce", optim.sgd(0.1), source(x, t) | batch(20), max_steps(60), callbacks=[monitor])
    state = json.loads(json.dumps(monitor.state()))
    copy = HealthMonitor({"batch_size": 20}, interval=5)
    copy.restore_state = state
    copy.on_begin(SimpleNamespace(net=net, loss=get_loss("ce"), batch_size=20))
    assert copy.state() == state


def test_the_watchers_take_the_loss_and_the_batch_size_from_the_run():
    # Before: a bare HealthMonitor judged an mse run as cross-entropy (its chance loss ln 3), and both
    # watchers sized their loss trend for batch 32 whatever the stream's batch(n) said.
    x, t = blobs()
    net = mlp([6, 16, 3], "tanh", "softmax", rng=0)
    monitor, guard = HealthMonitor(), NonFiniteGuard("stop")
    fit(net, "mse", optim.sgd(0.1), source(x, t) | batch(250), max_steps(3), callbacks=[monitor, guard])
    assert monitor.chance_loss == pytest.approx(0.5 * ((2 / 3) ** 2 + 2 * (1 / 3) ** 2))  # mse of a 1/3 guess
    assert monitor.trend.chunk == guard.trend.chunk == 4  # 1000 samples a chunk at batch 250
    assert monitor.trend.ceiling == guard.trend.ceiling == float("inf")  # mse has no overflow ceiling
    unbatched = HealthMonitor({"batch_size": 20})  # a stream that declares no batch size: the settings say
    fit(net, "mse", optim.sgd(0.1), from_epochs(lambda e: batch_pairs(x, t, 20)), max_steps(3), callbacks=[unbatched])
    assert unbatched.trend.chunk == 50


def batch_pairs(x, t, size):
    return [(x[i : i + size], t[i : i + size]) for i in range(0, len(x), size)]


def test_the_replay_takes_the_step_training_takes(monkeypatch):
    # Before: the guard replayed with its own grad + move, a second definition of one training step.
    from gradwise.train import loop, recovery

    replayed = []

    def counted(*args, **kwargs):
        replayed.append(kwargs.get("probe"))
        return loop.train_step(*args, **kwargs)

    monkeypatch.setattr(recovery, "train_step", counted)
    x, t = blobs()
    net = mlp([6, 32, 3], "relu", "softmax", rng=0)
    guard = NonFiniteGuard("stop", snapshot_every=10)
    fit(net, "ce", optim.momentum(50.0), source(x, t) | batch(20), max_steps(100), callbacks=[guard])
    assert guard.diagnosis is not None and replayed and all(p is not None for p in replayed)
