"""Repair that finishes the job: the yardstick, every cause's fix, init by activation and depth, never worse."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from gradwise.cli.main import main
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.explain import explain
from gradwise.health.static import static_checks
from gradwise.nn.network import mlp
from gradwise.train.config import build_schedule, preset, settings_of
from gradwise.train.repair import find_repair, verdict, yardstick_config


def sample(rows=400):
    rng = np.random.default_rng(1)
    x = (rng.random((rows, 784)) * (rng.random((rows, 784)) < 0.2)).astype(np.float32)  # sparse, in [0, 1]
    return x, np.eye(10, dtype=np.float32)[rng.integers(0, 10, rows)]


# --- init by activation and depth: measured at initialization, not counted ---------------------------------


@pytest.mark.parametrize("depth", [10, 16, 25, 40])
@pytest.mark.parametrize(
    "activation, init", [("relu", "glorot_uniform"), ("relu", "glorot_normal"), ("leaky_relu", "lecun_normal")]
)
def test_deep_relu_stacks_with_glorot_weights_are_found_before_the_first_step(depth, activation, init):
    config = preset("default", hidden=(64,) * depth, activation=activation, init=init)
    net = mlp([784, *config.hidden, 10], activation, "softmax", init=init, rng=depth)
    found = {d.symptom: d for d in static_checks(net, "ce", *sample(), settings_of(config))}
    shrinking = found["shrinking_signal"]
    assert shrinking.step == 0 and shrinking.evidence["rms_last_hidden"] < 0.1 * shrinking.evidence["rms_first_hidden"]
    assert shrinking.fix[0].changes == {"init": "he_normal", "init_scale": None} and shrinking.fix[0].suspect
    assert "ReLU units pass only half of it on" in shrinking.cause


@pytest.mark.parametrize("depth", [2, 10, 40])
@pytest.mark.parametrize(
    "activation, init",
    [("relu", "he_normal"), ("relu", None), ("leaky_relu", "he_uniform"), ("tanh", "glorot_uniform"),
     ("sigmoid", None), ("elu", None)],
)  # fmt: skip
def test_matched_initializations_raise_no_alarm(depth, activation, init):
    config = preset("default", hidden=(64,) * depth, activation=activation, init=init)
    net = mlp([784, *config.hidden, 10], activation, "softmax", init=init, rng=depth)
    assert "shrinking_signal" not in {d.symptom for d in static_checks(net, "ce", *sample(), settings_of(config))}


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_a_shallow_glorot_relu_network_stays_in_range(depth):
    config = preset("default", hidden=(64,) * depth, init="glorot_uniform")
    net = mlp([784, *config.hidden, 10], "relu", "softmax", init="glorot_uniform", rng=depth)
    assert "shrinking_signal" not in {d.symptom for d in static_checks(net, "ce", *sample(), settings_of(config))}


def test_glorot_under_relu_is_an_init_suspect_like_the_unscaled_ones():
    settings = settings_of(preset("default", activation="relu", init="xavier"))
    _, fixes = explain("vanishing_gradient", 3, settings)
    assert fixes[0].changes == {"init": "he_normal", "init_scale": None} and fixes[0].suspect
    _, fixes = explain("saturation", 0, settings_of(preset("default", activation="tanh", init="he_normal")))
    assert fixes[0].changes == {"init": "glorot_uniform", "init_scale": None}


# --- the yardstick and the policy, with probes whose accuracy is a function of the configuration -----------


def fake_probe(accuracy_of, diagnoses_of=lambda config: []):
    """A probe that trains nothing: its accuracy and diagnoses follow from the configuration."""
    calls = []

    def probe(config, stop_for):
        calls.append(config)
        accuracy = accuracy_of(config)
        record = SimpleNamespace(val_accuracy=accuracy, train_accuracy=accuracy, step=300)
        return SimpleNamespace(
            diagnoses=diagnoses_of(config),
            test_accuracy=accuracy,
            history=SimpleNamespace(last=record),
            net=SimpleNamespace(n_outputs=10),
        )

    probe.calls = calls
    return probe


def learns(config):
    """Accuracy that rewards each part of the healthy recipe: matched softmax + ce, the init for the units, a
    sound rate."""
    accuracy = 0.1  # chance
    accuracy += 0.25 if (config.output, config.loss) == ("softmax", "ce") else 0.0
    accuracy += 0.15 if config.init in (None, "he_normal") else 0.0
    accuracy += 0.45 if config.optimizer == "adam" and config.lr >= 1e-3 else 0.0
    return accuracy


@pytest.mark.parametrize(
    "given",
    [
        dict(loss="mse", optimizer="adam", lr=1e-5),  # softmax + mse, Adam far too slow: pairing plus rate
        dict(loss="mse", optimizer="adam", lr=1e-4),
        dict(optimizer="sgd", lr=1e-3),  # a slow optimizer after a sound pairing
        dict(output="sigmoid", loss="mse", init="glorot_uniform", optimizer="sgd", lr=0.01),  # init plus pairing
        dict(output="identity", loss="mse", activation="identity", optimizer="sgd", lr=0.01),  # a linear network
    ],
)
def test_a_quiet_probe_far_below_the_yardstick_is_not_repaired_yet(given):
    config = preset("default", hidden=(100,), **given)
    probe = fake_probe(learns)
    plan = find_repair(config, probe, max_attempts=5)
    assert plan.yardstick is not None and plan.yardstick.config == yardstick_config(config)
    assert not plan.far_below(plan.chosen), [a.accuracy for a in plan.attempts]
    assert plan.chosen.accuracy > plan.attempts[0].accuracy
    assert {d.symptom for d, _ in plan.applied} == {"slow_learning"}
    changed = [tuple(f.changes) for _, f in plan.applied]
    rank = {"output": 0, "loss": 0, "init": 1, "optimizer": 2}  # the repair order: causes first
    assert changed == sorted(changed, key=lambda keys: rank[keys[0]])


def test_a_healthy_run_near_its_yardstick_is_left_alone():
    config = preset("default", hidden=(100,), optimizer="sgd", lr=0.05)
    probe = fake_probe(lambda c: 0.9 if c.optimizer == "sgd" else 0.93)
    plan = find_repair(config, probe, max_attempts=5)
    assert plan.config == config and plan.applied == [] and len(probe.calls) == 2  # the probe and the yardstick


def test_every_diagnosed_cause_is_tried_even_after_a_quiet_probe():
    # The first probe names the pairing and a high rate; cutting the rate quiets the probe first, but the
    # pairing the checks named is still tried, and kept because it learns more.
    config = preset("default", hidden=(100,), output="sigmoid", loss="ce", optimizer="sgd", lr=5.0)

    def diagnoses_of(c):
        s = settings_of(c)
        found = []
        if c.output == "sigmoid":
            cause, fixes = explain("output_loss_mismatch", 1, s)
            found.append(Diagnosis("output_loss_mismatch", 1, 0, {}, cause, fixes))
        if c.lr > 1:
            cause, fixes = explain("lr_too_high", None, s)
            found.append(Diagnosis("lr_too_high", None, 20, {}, cause, fixes))
        return found

    probe = fake_probe(lambda c: 0.5 + 0.3 * (c.output == "softmax") + 0.1 * (c.lr <= 1), diagnoses_of)
    plan = find_repair(config, probe, max_attempts=5)
    assert plan.config.output == "softmax" and plan.config.lr <= 1
    assert {d.symptom for d, _ in plan.applied} == {"output_loss_mismatch", "lr_too_high"}


def test_a_repair_that_would_lower_accuracy_is_refused():
    # The given run is unhealthy but learns; every change repair can try probes lower. It trains the given one.
    config = preset("default", hidden=(100,), optimizer="sgd", lr=0.3)

    def diagnoses_of(c):
        if c.lr != 0.3:
            return []
        cause, fixes = explain("oscillation", None, settings_of(c))
        return [Diagnosis("oscillation", None, 100, {}, cause, fixes)]

    probe = fake_probe(lambda c: 0.9 if c.lr == 0.3 and c.optimizer == "sgd" else 0.7, diagnoses_of)
    plan = find_repair(config, probe, max_attempts=5)
    assert plan.reverted and plan.config == config and plan.applied == []
    final = SimpleNamespace(test_accuracy=0.91, diagnoses=[], net=SimpleNamespace(n_outputs=10), config=config)
    report = verdict(plan, final)
    assert not report.repaired and "probed below the given configuration" in report.verdict
    assert "trained as given" in report.verdict


def test_after_a_cut_rate_quiets_a_blow_up_the_rate_between_is_tried():
    # A tenfold cut overshoots: 20 and 2 blow up, 0.2 is quiet but slow, 0.632 (between 2 and 0.2) learns best.
    config = preset("default", hidden=(100,), optimizer="sgd", lr=20.0)

    def diagnoses_of(c):
        if c.lr < 1:
            return []
        cause, fixes = explain("lr_too_high", None, settings_of(c))
        return [Diagnosis("lr_too_high", None, 10, {}, cause, fixes)]

    probe = fake_probe(lambda c: {0.632: 0.93, 0.2: 0.85}.get(c.lr, 0.1), diagnoses_of)
    plan = find_repair(config, probe, max_attempts=5)
    assert [f.changes for _, f in plan.applied] == [{"lr": 2.0}, {"lr": 0.2}, {"lr": 0.632}]
    assert plan.config.lr == 0.632 and plan.config.optimizer == "sgd"


# --- the probe follows the run's own schedule -----------------------------------------------------------------


def test_the_schedule_spans_the_run_that_ends_first_by_epochs_or_steps():
    # Before: --epochs 1 --max-steps 300 at 24 steps an epoch spread the cosine over 300 steps; the run ended at 24
    # with the rate still near its top. A probe (a step cap on a longer run) so learned faster than the run.
    config = preset("default", epochs=1, max_steps=300, lr=0.1)
    schedule = build_schedule(config, steps_per_epoch=24)
    assert schedule(0) == pytest.approx(0.1) and schedule(23) < 0.01 * 0.1 + 1e-3
    longer = build_schedule(preset("default", epochs=3, max_steps=None, lr=0.1), steps_per_epoch=24)
    assert longer(36) == pytest.approx(0.05, rel=0.05)


# --- end to end: a deep plain ReLU stack with Glorot weights ---------------------------------------------------


def test_train_repair_fixes_a_deep_glorot_relu_stack_and_beats_the_unrepaired_run(tmp_path, capsys):
    flags = ["--hidden", ",".join(["32"] * 12), "--init", "glorot_uniform", "--optimizer", "sgd", "--lr", "0.05",
             "--limit-train", "4000", "--validation", "500", "--epochs", "2", "--json"]  # fmt: skip
    assert main(["train", *flags, "--out", str(tmp_path / "plain")]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["train", *flags, "--repair", "--out", str(tmp_path / "repaired")]) == 0
    repaired = json.loads(capsys.readouterr().out)
    first = repaired["repairs"][0]
    assert first["symptom"] == "shrinking_signal" and first["changes"] == {"init": "he_normal", "init_scale": None}
    assert repaired["repaired"] and "init='he_normal'" in repaired["verdict"] and "yardstick" in repaired["verdict"]
    assert repaired["test_accuracy"] > plain["test_accuracy"] + 0.05
