"""Each rule fires on a constructed case and stays silent on a healthy one."""

import math

import numpy as np
import pytest

from gradwise.health import rules
from gradwise.health import thresholds as T
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.explain import explain
from gradwise.health.stats import LayerStats, StepStats


def layer(i, activation="relu", **values):
    defaults = {"grad_norm": 0.5, "weight_norm": 10.0, "update_ratio": 1e-3}
    return LayerStats(i, activation, **{**defaults, **values})


def probe(step=300, layers=None, loss=1.0):
    return StepStats(step, loss, layers or [layer(0), layer(1, "softmax")])


def learning_losses(n=400, start=2.3):
    """A healthy loss curve: falls from 2.3 towards 0.1, with batch noise."""
    rng = np.random.default_rng(0)
    steps = np.arange(n)
    return list(0.1 + (start - 0.1) * np.exp(-steps / 80) + rng.normal(0, 0.02, n))


def stuck_losses(n=400, value=2.3):
    rng = np.random.default_rng(0)
    return list(value + rng.normal(0, 0.005, n))


def context(layers=None, losses=None, warmup=None):
    return rules.Context([probe(layers=layers)], losses if losses is not None else learning_losses(), warmup)


HEALTHY = [layer(0, "relu", dead=0.05), layer(1, "softmax")]


@pytest.mark.parametrize("name", rules.RULES)
def test_every_rule_is_silent_on_a_healthy_run(name):
    assert rules.RULES[name](context(HEALTHY)) == []


def test_saturation_needs_saturated_units_and_a_stalled_loss():
    saturated = [layer(0, "sigmoid", saturated=0.97, z_mean=40.0, z_max_abs=90.0), layer(1, "softmax")]
    [(where, evidence)] = rules.saturation(context(saturated, stuck_losses()))
    assert where == 0 and evidence["saturated_fraction"] == 0.97
    assert rules.saturation(context(saturated, learning_losses()))  # 97 %: an alarm even while learning
    half = [layer(0, "sigmoid", saturated=0.65), layer(1, "softmax")]
    assert rules.saturation(context(half, learning_losses())) == []  # Nielsen's 65 %, learning: no alarm
    assert rules.saturation(context(half, stuck_losses()))
    assert rules.saturation(context([layer(0, "sigmoid", saturated=0.2), layer(1)], stuck_losses())) == []


def test_dead_units():
    dead = [layer(0, "relu", dead=0.9, z_mean=-4.0), layer(1, "softmax")]
    assert rules.dead_units(context(dead))[0][0] == 0
    assert rules.dead_units(context([layer(0, dead=0.3), layer(1)])) == []


def test_underflow():
    tiny = [layer(0, "sigmoid", tiny_delta=0.2), layer(1)]
    assert rules.underflow(context(tiny))[0][1]["tiny_delta_fraction"] == 0.2
    assert rules.underflow(context([layer(0, tiny_a=0.001), layer(1)])) == []


def test_vanishing_gradient():
    vanishing = [layer(0, "sigmoid", grad_norm=1e-9), layer(1, "sigmoid", grad_norm=1e-3), layer(2, "softmax")]
    [(where, evidence)] = rules.vanishing_gradient(context(vanishing, stuck_losses()))
    assert where == 0 and evidence["first_to_last_ratio"] == pytest.approx(1e-9 / 0.5)
    assert rules.vanishing_gradient(context(vanishing, learning_losses())) == []


def test_exploding_gradient():
    exploding = [layer(0, grad_norm=5e4), layer(1, grad_norm=2e3)]
    rising = learning_losses()[:200] + [3.0 + 0.01 * i for i in range(200)]
    found = rules.exploding_gradient(context(exploding, rising, warmup=[0.5, 0.5]))
    assert [where for where, _ in found] == [0, 1]
    assert rules.exploding_gradient(context(exploding, learning_losses(), warmup=[0.5, 0.5])) == []
    # From a vanishing 1e-12 to 1e-9 is growth, not an explosion (the seed's run stalls, it does not explode).
    waking = [layer(0, grad_norm=1e-9), layer(1, grad_norm=0.5)]
    assert rules.exploding_gradient(context(waking, stuck_losses(), warmup=[1e-12, 0.5])) == []


def test_learning_rate_too_high_and_too_low():
    rising = learning_losses()[:200] + [2.0 + 0.02 * i for i in range(200)]
    fast = [layer(0, update_ratio=0.3), layer(1, update_ratio=0.2)]
    assert rules.lr_too_high(context(fast, rising))[0][1]["max_update_ratio"] == 0.3
    assert rules.lr_too_high(context(fast, learning_losses())) == []
    slow = [layer(0, update_ratio=1e-8), layer(1, update_ratio=2e-8)]
    assert rules.lr_too_low(context(slow, stuck_losses()))[0][1]["max_update_ratio"] == 2e-8
    assert rules.lr_too_low(context(slow, learning_losses())) == []


def test_oscillation_and_plateau():
    # The loss swings between 1.0 and 2.0 once per chunk of the window (20 chunks): chunk means alternate.
    chunk = T.WINDOW_STEPS // 20
    swinging = [1.0 if (i // chunk) % 2 else 2.0 for i in range(400)]
    assert rules.oscillation(context(HEALTHY, swinging))
    assert rules.oscillation(context(HEALTHY, stuck_losses())) == []
    assert rules.plateau(context(HEALTHY, stuck_losses()))
    assert rules.plateau(context(HEALTHY, learning_losses())) == []


def test_failing_needs_a_full_window():
    assert not rules.Context([probe()], stuck_losses(T.WINDOW_STEPS - 1)).failing()
    assert rules.Context([probe()], stuck_losses(T.WINDOW_STEPS)).failing()
    assert rules.Context([probe()], [math.nan] * T.WINDOW_STEPS).failing()


@pytest.mark.parametrize(
    ("symptom", "settings", "first_fix", "cause_words"),
    [
        ("saturation", {"init": "uniform", "activation": "sigmoid"}, "--init glorot_uniform", "U(0, 1)"),
        ("saturation", {"normalize": "none", "activation": "tanh"}, "--normalize unit", "0-255"),
        ("dead_units", {"bias_init": -5.0, "lr": 0.1}, "--bias-init 0", "-5"),
        ("dead_units", {"bias_init": 0.0, "lr": 0.5}, "--lr 0.05", "large updates"),
        ("lr_too_low", {"lr": 1e-6}, "--lr 0.0001", "tiny fraction"),
        ("lr_too_high", {"lr": 10.0}, "--lr 1", "overshoot"),
        ("output_loss_mismatch", {"output": "softmax", "loss": "mse"}, "--loss ce", "softmax Jacobian"),
        ("unnormalized_input", {}, "--normalize unit", "0-255"),
    ],
)
def test_causes_and_fixes_follow_the_settings(symptom, settings, first_fix, cause_words):
    cause, fix = explain(symptom, 0, settings)
    assert fix[0] == first_fix and cause_words in cause


def test_diagnosis_round_trip_and_unknown_symptoms():
    d = Diagnosis("saturation", 0, 217, {"saturated_fraction": 1.0}, "why", ("--init glorot_uniform",))
    assert Diagnosis.from_json(d.to_json()) == d
    assert d.headline() == "saturation in layer 0 since step 217"
    with pytest.raises(ValueError, match="unknown symptom 'sadness'"):
        Diagnosis("sadness", None, 0)


def brute_force_best_chunk(losses):
    """The best finite mean of the RISE_CHUNK-step chunks that ended before the newest step."""
    chunk = T.RISE_CHUNK
    means = [float(np.mean(losses[i : i + chunk])) for i in range(0, len(losses) - chunk, chunk)]
    return min((m for m in means if math.isfinite(m)), default=math.inf)


@pytest.mark.parametrize("length", [0, 49, 50, 51, 100, 101, 149, 150, 377])
def test_loss_history_keeps_the_best_chunk_mean_as_a_pass_over_all_losses_would(length):
    rng = np.random.default_rng(length)
    losses = list(2 + rng.normal(0, 0.5, length))
    if length > 120:
        losses[60] = math.nan  # a non-finite chunk never counts as the best
        losses[110] = math.inf
    history = rules.LossHistory()
    for i, value in enumerate(losses, start=1):
        history.append(value)
        assert history.best_chunk_mean() == pytest.approx(brute_force_best_chunk(losses[:i]), rel=1e-12)
    assert list(history) == losses
    assert rules.LossHistory(losses).best_chunk_mean() == history.best_chunk_mean()


def test_rising_compares_the_recent_chunk_with_the_best_one():
    losses = [1.0] * 100 + [0.5] * 100 + [2.0] * 50  # best chunk 0.5; the newest 50 steps at 2.0
    assert context(losses=losses).rising() == pytest.approx(4.0)
    assert context(losses=losses[:200]).rising() is None  # at the best: not rising
