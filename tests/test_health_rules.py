"""Each rule fires on a constructed case and stays silent on a healthy one."""

import math
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

from gradwise.cli.flags import fix_flags
from gradwise.health import rules
from gradwise.health import thresholds as T
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.divergence import LossTrend, for_batch
from gradwise.health.explain import explain
from gradwise.health.fixes import Fix
from gradwise.health.settings import NOT_A_SETTING, Settings
from gradwise.health.stats import LayerStats, StepStats
from gradwise.health.symptoms import RULES
from gradwise.train.config import preset, settings_of


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


def trend_of(losses, chunk=50):
    trend = LossTrend(chunk)
    for value in losses:
        trend.add(value)
    return trend


def context(layers=None, losses=None, warmup=None):
    losses = losses if losses is not None else learning_losses()
    return rules.Context([probe(layers=layers)], losses, warmup, trend=trend_of(losses))


HEALTHY = [layer(0, "relu", dead=0.05), layer(1, "softmax")]


@pytest.mark.parametrize("name", RULES)
def test_every_rule_is_silent_on_a_healthy_run(name):
    assert RULES[name](context(HEALTHY)) == []


def test_saturation_needs_saturated_units_and_a_stalled_loss():
    saturated = [layer(0, "sigmoid", saturated=0.97, z_mean=40.0, z_max_abs=90.0), layer(1, "softmax")]
    [(where, evidence)] = rules.saturation(context(saturated, stuck_losses()))
    assert where == 0 and evidence["saturated_fraction"] == 0.97
    assert rules.saturation(context(saturated, learning_losses()))  # 97 %: an alarm even while learning, early
    late = rules.Context([probe(step=3384, layers=saturated)], learning_losses(), trend=trend_of(learning_losses()))
    assert rules.saturation(late) == []  # late in a learning run: confident features, not a disease (Nielsen)
    half = [layer(0, "sigmoid", saturated=0.65), layer(1, "softmax")]
    assert rules.saturation(context(half, learning_losses())) == []  # Nielsen's 65 %, learning: no alarm
    assert rules.saturation(context(half, stuck_losses()))
    assert rules.saturation(context([layer(0, "sigmoid", saturated=0.2), layer(1)], stuck_losses())) == []


def test_dead_units():
    dead = [layer(0, "relu", dead=0.9, dead_samples=128, z_mean=-4.0), layer(1, "softmax")]
    assert rules.dead_units(context(dead))[0][0] == 0
    assert rules.dead_units(context([layer(0, dead=0.3, dead_samples=128), layer(1)])) == []
    # Too few samples seen to call a unit dead: one sample leaves a healthy ReLU layer 40 % silent.
    assert rules.dead_units(context([layer(0, dead=0.9, dead_samples=8), layer(1)])) == []


def test_underflow():
    tiny = [layer(0, "sigmoid", tiny_delta=0.2), layer(1)]
    assert rules.underflow(context(tiny, stuck_losses()))[0][1]["tiny_delta_fraction"] == 0.2
    assert rules.underflow(context([layer(0, tiny_a=0.001), layer(1)], stuck_losses())) == []
    # A learning run's tiny output deltas are confident, correct softmax outputs (p - t ~ 1e-30): no alarm.
    confident = [layer(0), layer(1, "softmax", tiny_delta=0.014)]
    assert rules.underflow(context(confident, learning_losses())) == []


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
    rising = learning_losses()[:200] + [2.0 + 0.02 * i for i in range(200)]  # from 0.1 back up to 6
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
        ("lr_too_low", {"lr": 1e-6}, "--lr 1e-05", "tiny fraction"),
        ("lr_too_high", {"lr": 10.0}, "--lr 1", "overshoot"),
        ("output_loss_mismatch", {"output": "softmax", "loss": "mse"}, "--loss ce", "softmax Jacobian"),
        ("unnormalized_input", {}, "--normalize unit", "0-255"),
    ],
)
def test_causes_and_fixes_follow_the_settings(symptom, settings, first_fix, cause_words):
    cause, fix = explain(symptom, 0, Settings(**settings))
    assert fix_flags(fix[0]) == first_fix and cause_words in cause


def test_diagnosis_round_trip_and_unknown_symptoms():
    fix = Fix({"init": "glorot_uniform", "init_scale": None}, "scale by the fan-in")
    d = Diagnosis("saturation", 0, 217, {"saturated_fraction": 1.0}, "why", (fix,))
    assert Diagnosis.from_json(d.to_json()) == d
    assert d.to_json()["fix"] == [
        {"changes": {"init": "glorot_uniform", "init_scale": None}, "advice": "scale by the fan-in"}
    ]  # fmt: skip
    assert fix_flags(Diagnosis.from_json(d.to_json()).fix[0]) == "--init glorot_uniform"  # the CLI's words, from data
    old = Diagnosis.from_json({**d.to_json(), "fix": ["--init glorot_uniform"]})  # an older record's flag text
    assert old.fix == (Fix({}, "--init glorot_uniform"),)  # kept as advice, never parsed into a change
    assert d.headline() == "saturation in layer 0 since step 217"
    with pytest.raises(ValueError, match="unknown symptom 'sadness'"):
        Diagnosis("sadness", None, 0)


def brute_force_chunk_means(losses, chunk):
    return [float(np.mean(losses[i : i + chunk])) for i in range(0, len(losses) - chunk + 1, chunk)]


@pytest.mark.parametrize("length", [0, 49, 50, 51, 100, 149, 150, 377])
def test_loss_trend_keeps_chunk_means_as_a_pass_over_all_losses_would(length):
    rng = np.random.default_rng(length)
    losses = list(2 + rng.normal(0, 0.5, length))
    if length > 120:
        losses[60] = math.nan  # a non-finite chunk never counts as the best
    trend = trend_of(losses)
    means = brute_force_chunk_means(losses, 50)
    finite = [m for m in means if math.isfinite(m)]
    assert trend.best == pytest.approx(min(finite) if finite else math.inf, rel=1e-12)
    if means:
        assert trend.recent == pytest.approx(means[-1], rel=1e-12, nan_ok=True)
    else:
        assert math.isnan(trend.recent)
    if length >= 10:
        assert trend.start == pytest.approx(np.mean(losses[:10]), rel=1e-12)


def test_diverging_compares_the_newest_chunk_with_the_best_and_the_start():
    losses = [1.0] * 100 + [0.5] * 100 + [2.0] * 50  # best chunk 0.5; the newest 50 steps at 2.0: 4x
    assert trend_of(losses).diverging and context(losses=losses).rising() == pytest.approx(4.0)
    assert not trend_of(losses[:200]).diverging and context(losses=losses[:200]).rising() is None
    # From 0.001 to 0.004 is noise late in training, not a blow-up: the best counts as 0.1 x the start.
    late = [2.3] * 50 + [0.001] * 100 + [0.004] * 50
    assert not trend_of(late).diverging
    # Blown up from the first steps on: above 3x where the run began, though no chunk was ever better.
    assert trend_of([2.3] * 10 + [30.0] * 40).diverging
    # One step past what float32 can represent as a cross-entropy: diverged at once.
    ceiling = LossTrend(50, ceiling=87.3)
    assert not ceiling.add(2.3) and ceiling.add(90.0) and ceiling.diverging and ceiling.onset == 2


def test_batch_one_noise_does_not_diverge(rng):
    # Batch-1 cross-entropies of a healthy run: mostly small, a confident mistake now and then (tenfold swings).
    losses = np.where(rng.random(50_000) < 0.03, rng.uniform(3, 12, 50_000), rng.exponential(0.1, 50_000))
    losses[:100] = rng.exponential(2.3, 100)
    trend = for_batch(1, ceiling=87.3)
    assert not any(trend.add(float(v)) and trend.diverging for v in losses)
    assert trend.chunk == 500 and for_batch(128).chunk == 8 and for_batch(2000).chunk == 1


def test_settings_are_typed_and_unknown_is_none():
    settings = Settings.of({"activation": "relu", "lr": 0.1, "hidden": (100,), "dataset": "mnist"})
    assert settings == Settings(activation="relu", lr=0.1)  # what is not a setting is left out
    assert settings.value("hidden") is NOT_A_SETTING and settings.value("init") is None
    assert settings.known() == {"activation": "relu", "lr": 0.1}
    with pytest.raises(FrozenInstanceError):
        settings.lr = 1.0  # type: ignore[misc]


def test_a_configs_initializer_is_known_by_its_own_name():
    # Before: a run with --init kaiming (He by another name) was told to switch to --init he_normal.
    for init in ("kaiming", "He", None):
        settings = settings_of(preset("default", activation="relu", init=init))
        assert settings.init == "he_normal"
        _, fixes = explain("vanishing_gradient", 1, settings)
        assert all(f.changes.get("init") != "he_normal" for f in fixes)
    assert settings_of(preset("default", activation="tanh", init=None)).init == "glorot_uniform"


def test_the_symptom_table_is_whole():
    from gradwise.health.fixes import Fix as FixType
    from gradwise.health.suspects import suspect_fixes
    from gradwise.health.symptoms import FAMILIES, SYMPTOMS, of_family, silenced

    stages = {"pairing", "input", "init", "activation", "momentum", "clipping", "decay", "dropout", "recipe"}
    for name, row in SYMPTOMS.items():
        assert row.family in FAMILIES and set(row.suspects) <= stages and set(row.silenced_by) <= set(FAMILIES)
        cause, fixes = row.remedy(Settings(), None)
        assert cause and all(isinstance(f, FixType) for f in fixes), name
        suspect_fixes(Settings(normalize="none", init="uniform", activation="sigmoid"), row.suspects)
    assert set(RULES) == {n for n, row in SYMPTOMS.items() if row.rule is not None}
    assert of_family("diverging") == ("exploding_gradient", "lr_too_high")
    assert silenced("plateau", {"plateau", "oscillation"}) and not silenced("plateau", {"plateau"})
    assert silenced("lr_too_low", {"dead_units"}) and not silenced("lr_too_low", {"oscillation", "plateau"})
    with pytest.raises(ValueError, match="unknown symptom"):
        Diagnosis("sadness", None, 0)


def test_a_fix_keeps_its_stage_through_json():
    # Before: to_json dropped stage_override, so a resumed run's leaky-ReLU fix moved from "optimizer" to "activation".
    _, fixes = explain("dead_units", 0, Settings(bias_init=0.0, lr=0.5, activation="relu"))
    leaky = next(f for f in fixes if f.changes == {"activation": "leaky_relu"})
    assert leaky.stage == "optimizer"
    assert Fix.from_json(leaky.to_json()) == leaky and Fix.from_json(leaky.to_json()).stage == "optimizer"
    assert Fix.from_json({**leaky.to_json(), "stage": "nonsense"}).stage == "activation"  # an unknown stage: ignored
