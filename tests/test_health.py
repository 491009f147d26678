"""The monitor, the static checks, the non-finite guard and `gradwise doctor` on real training."""

import json

import numpy as np
import pytest

from gradwise import mlp, optim
from gradwise.cli.flags import fix_flags
from gradwise.cli.main import main
from gradwise.data.stream import batch, source
from gradwise.health.monitor import EARLY_STEPS, HealthMonitor, early_probe_interval, probe_interval
from gradwise.health.static import static_checks
from gradwise.health.stats import LayerStats, backward_stats, forward_stats, parameter_stats, update_stats
from gradwise.health.trace import FirstNonFinite
from gradwise.nn.network import grad
from gradwise.train.loop import fit
from gradwise.train.recovery import NonFiniteGuard
from gradwise.train.stopping import max_epochs, max_steps

SMALL = ["--limit-train", "3000", "--validation", "500"]
PROBE = ["--seconds", "300"]  # the step budget decides, not the (shared, noisy) clock


def test_layer_statistics_are_counted_right():
    z = np.array([[6.0, -1.0, 0.5, -7.0], [0.0, -2.0, 5.5, 1.0]])
    stats = LayerStats(0, "sigmoid")
    forward_stats(stats, z, 1 / (1 + np.exp(-z)))
    assert stats.saturated == 3 / 8  # |z| > 5: 6, -7, 5.5
    assert stats.z_max_abs == 7.0
    relu = LayerStats(1, "relu")
    forward_stats(relu, z, np.maximum(z, 0))
    assert relu.dead == 1 / 4  # only unit 1 is zero for both samples
    backward_stats(relu, np.array([[1e-35, 0.0, 1.0, np.nan]]))
    assert relu.tiny_delta == 1 / 4 and relu.nonfinite["delta"] == 1


def test_static_checks_find_the_seeds_mistakes():
    rng = np.random.default_rng(0)
    net = mlp([784, 50, 10], "sigmoid", "softmax", init="uniform", rng=rng)
    raw_pixels = rng.integers(0, 256, size=(100, 784)).astype(np.float32)
    t = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 100)]
    found = {d.symptom: d for d in static_checks(net, "mse", raw_pixels, t, {"output": "softmax", "loss": "mse"})}
    assert set(found) >= {"output_loss_mismatch", "unnormalized_input"}
    assert found["output_loss_mismatch"].fix[0].changes == {"loss": "ce"}
    assert fix_flags(found["output_loss_mismatch"].fix[0]) == "--loss ce"
    assert found["unnormalized_input"].evidence["input_max_abs"] > 200


def test_static_checks_pass_a_sound_setup_and_catch_bad_labels():
    rng = np.random.default_rng(0)
    net = mlp([20, 16, 4], "relu", "softmax", rng=rng)
    x = rng.normal(size=(200, 20)).astype(np.float32)
    t = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 200)]
    assert static_checks(net, "ce", x, t, {}) == []
    one_class = np.eye(4, dtype=np.float32)[np.zeros(200, dtype=int)]
    assert [d.symptom for d in static_checks(net, "ce", x, one_class, {})] == ["bad_labels"]
    assert [d.symptom for d in static_checks(net, "ce", x, t[:, :3], {})] == ["bad_labels"]


def test_the_tracer_does_not_call_large_finite_logits_an_overflow():
    # The fused softmax cross-entropy subtracts the largest logit before exp: logits past exp's float32
    # range (88.7) still give a finite loss and gradient, so nothing is "entering exp" here.
    net = mlp([3, 4, 2], "relu", "softmax", rng=0)
    net.params["1.W"] *= 1e4
    tracer = FirstNonFinite(net)
    x = np.ones((2, 3), dtype=np.float32)
    value, _ = grad(net, "ce", x, np.eye(2, dtype=np.float32), probe=tracer)
    tracer.check_loss(value)
    assert np.isfinite(value) and tracer.found is None


def test_the_tracer_names_the_first_non_finite_tensor():
    net = mlp([3, 4, 2], "relu", "softmax", rng=0)
    net.params["0.W"][0, 0] = np.inf
    tracer = FirstNonFinite(net)
    tracer.step = 7
    with np.errstate(all="ignore"):
        grad(net, "ce", np.ones((2, 3), dtype=np.float32), np.eye(2, dtype=np.float32), probe=tracer)
    found = tracer.found
    assert (found.step, found.layer, found.tensor, found.direction) == (7, 0, "z", "forward")
    assert "layer 0 z (forward) first went bad: non_finite_count = " in found.sentence()


def blobs(n=400, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    x = (rng.normal(0, 2, size=(3, 6))[labels] + rng.normal(size=(n, 6))).astype(np.float32)
    return x, np.eye(3, dtype=np.float32)[labels]


@pytest.mark.parametrize("policy", ["stop", "rollback", "skip"])
def test_guard_policies(policy):
    x, t = blobs()
    net = mlp([6, 32, 3], "relu", "softmax", rng=0)
    guard = NonFiniteGuard(policy, snapshot_every=10, max_retries=8)
    history = fit(net, "ce", optim.momentum(50.0), source(x, t) | batch(20), max_epochs(5), callbacks=[guard])
    # momentum at lr 50: the cross-entropy passes what float32 can represent (the true class's probability
    # underflows) within a few steps, with every tensor still finite: the loss diverged.
    assert guard.diagnosis is not None and guard.diagnosis.symptom == "lr_too_high"
    assert guard.diagnosis.evidence["loss"] > 87.3
    if policy == "stop":
        assert history.stop_reason.startswith("the loss diverged at step")
        assert [e["event"] for e in guard.events] == ["stop"]
    elif policy == "rollback":
        rollbacks = [e for e in guard.events if e["event"] == "rollback"]
        assert rollbacks and rollbacks[-1]["lr_scale"] == 0.5 ** len(rollbacks)
        assert history.stop_reason == "reached 5 epochs"
        assert history.epochs[-1].train_accuracy > 0.8  # rescued: trains at the lowered rate
        assert all(np.isfinite(p).all() for p in net.params.values())
    else:
        events = [e["event"] for e in guard.events]
        assert events[0] == "skip" and set(events) <= {"skip", "give_up"}
        assert all(e["lr_scale"] == 1.0 for e in guard.events)  # skipping never touches the rate
        assert all(np.isfinite(p).all() for p in net.params.values())


def test_monitor_writes_health_log(tmp_path):
    x, t = blobs()
    net = mlp([6, 16, 3], "tanh", "softmax", rng=0)
    monitor = HealthMonitor({}, interval=5, log_path=tmp_path / "health.jsonl")
    fit(net, "ce", optim.sgd(0.1), source(x, t) | batch(20), max_steps(40), callbacks=[monitor])
    lines = [json.loads(line) for line in (tmp_path / "health.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 5, 10, 15, 20, 25, 30, 35, 40]
    first = lines[0]["layers"][0]
    assert first["activation"] == "tanh" and first["grad_norm"] > 0 and first["update_ratio"] > 0
    assert monitor.healthy


def test_monitor_probes_densely_early_then_at_its_steady_interval():
    x, t = blobs()
    net = mlp([6, 16, 3], "tanh", "softmax", rng=0)
    monitor = HealthMonitor({"batch_size": 20})
    steps = EARLY_STEPS + 3 * 250
    fit(net, "ce", optim.sgd(0.1), source(x, t) | batch(20), max_steps(steps), callbacks=[monitor])
    early, steady = monitor.early_interval, monitor.interval
    assert early == early_probe_interval(net, 20) and steady == probe_interval(net, 20)
    assert 10 <= early < steady <= 250  # a tiny network: probes are dear next to its steps
    probed = [monitor.probe(step) is not None for step in range(1, steps + 1)]
    expected = [s == 1 or s % (early if s <= EARLY_STEPS else steady) == 0 for s in range(1, steps + 1)]
    assert probed == expected


def test_probe_intervals_follow_the_cost_of_a_probe_against_a_step():
    wide, tiny = mlp([784, 1000, 10]), mlp([784, 30, 10])
    assert probe_interval(wide, 512) < probe_interval(wide, 128) < probe_interval(wide, 1)
    assert probe_interval(tiny, 1) > probe_interval(wide, 128)
    assert early_probe_interval(tiny, 1) == 50 and early_probe_interval(wide, 128) == 10


def test_fast_statistics_match_their_definitions(rng):
    z = rng.normal(0, 3, (64, 300)).astype(np.float32)
    a = np.maximum(z, 0)
    a[:, 7] = 0  # one dead unit
    a[3, 5] = 1e-33  # tiny but not zero
    stats = LayerStats(0, "relu")
    forward_stats(stats, z, a)
    assert stats.z_max_abs == np.abs(z).max()
    assert stats.dead == 1 / 300
    assert stats.tiny_a == 1 / a.size
    assert stats.nonfinite == {"z": 0, "a": 0}
    z[0, 0], z[1, 1] = np.nan, -np.inf
    forward_stats(stats, z, np.maximum(z, 0))
    assert stats.nonfinite["z"] == 2 and stats.nonfinite["a"] == 1  # max(-inf, 0) = 0
    assert stats.z_max_abs == np.abs(z[np.isfinite(z)]).max()
    huge = np.full((4, 4), 3e38, np.float32)  # finite, but the sum overflows: the exact count decides
    with np.errstate(over="ignore"):
        forward_stats(stats, huge, huge)
    assert stats.nonfinite == {"z": 0, "a": 0}
    delta = rng.normal(0, 1e-3, (64, 300)).astype(np.float32)
    backward_stats(stats, delta)
    assert stats.delta_rms == pytest.approx(np.sqrt(np.mean(delta.astype(np.float64) ** 2)), rel=1e-5)
    backward_stats(stats, delta * np.float32(1e-20))  # squares underflow float32: summed in float64 instead
    assert stats.delta_rms == pytest.approx(1e-20 * np.sqrt(np.mean(delta.astype(np.float64) ** 2)), rel=1e-5)
    before, after = rng.normal(size=(50, 40)), rng.normal(size=(50, 40))
    grad_w = rng.normal(size=(50, 40))
    grad_w[2, 2] = np.nan
    parameter_stats(stats, grad_w, np.zeros(40), before)
    assert stats.nonfinite["gradient"] == 1 and np.isnan(stats.grad_norm)
    assert stats.weight_norm == pytest.approx(np.linalg.norm(before))
    expected_ratio = np.linalg.norm(after - before) / np.linalg.norm(before)
    update_stats(stats, before.copy(), after)
    assert stats.update_ratio == pytest.approx(expected_ratio) and stats.nonfinite["weight"] == 0


def test_doctor_explains_the_seed_run(capsys):
    assert main(["doctor", "--preset", "seed-2017", *SMALL, *PROBE, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["healthy"]
    found = {d["symptom"]: d for d in report["diagnoses"]}
    assert "saturation" in found or "vanishing_gradient" in found
    saturation = found.get("saturation") or found["vanishing_gradient"]
    assert saturation["layer"] == 0
    assert "U(0, 1)" in saturation["cause"] and saturation["fix"]
    assert "output_loss_mismatch" in found


def test_doctor_passes_a_healthy_configuration(capsys):
    assert main(["doctor", "--preset", "default", "--hidden", "100", *SMALL, *PROBE]) == 0
    assert capsys.readouterr().out.strip().endswith("healthy: no problems found")


@pytest.mark.parametrize(
    ("flags", "symptom"),
    [
        (["--bias-init", "-5"], "dead_units"),
        (["--normalize", "none"], "unnormalized_input"),
        (["--lr", "1e-6"], "lr_too_low"),
    ],
)
def test_doctor_names_the_symptom(flags, symptom, capsys):
    assert main(["doctor", "--hidden", "100", *SMALL, *PROBE, *flags, "--json"]) == 1
    symptoms = [d["symptom"] for d in json.loads(capsys.readouterr().out)["diagnoses"]]
    assert symptom in symptoms, symptoms


def test_rollback_rescues_a_relu_run_at_lr_10(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--lr", "10", "--on-nan", "rollback", "--hidden", "100", "--limit-train", "20000"]
    assert main([*argv, "--epochs", "2", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rollbacks"] >= 1 and summary["test_accuracy"] > 0.9
    events = [json.loads(line) for line in (out / "health.jsonl").read_text().splitlines()]
    rollbacks = [e for e in events if e.get("event") == "rollback"]
    assert len(rollbacks) == summary["rollbacks"]
    assert (out / "model.npz").is_file()


def test_stop_policy_never_writes_non_finite_weights(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--lr", "1e4", "--hidden", "50", *SMALL, "--epochs", "1", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["stop_reason"].startswith(("non-finite values at step", "the loss diverged at step"))
    assert summary["diagnoses"][0]["symptom"] in ("non_finite", "lr_too_high", "bad_initial_loss")
    if not summary["model_saved"]:
        assert not (out / "model.npz").exists()
    else:
        from gradwise.train.model_file import load_model

        net, _ = load_model(out)
        assert all(np.isfinite(p).all() for p in net.params.values())
