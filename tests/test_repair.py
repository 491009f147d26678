"""--repair: causes before symptoms, every pre-training fix before the first step, never the same change twice."""

import html
import json

import pytest

from gradwise.cli.flags import fix_flags
from gradwise.cli.main import main
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.explain import explain
from gradwise.health.fixes import REPAIR_ORDER, Fix
from gradwise.train.config import preset
from gradwise.train.repair import architecture_limit, choose_fixes, find_repair

SMALL = ["--limit-train", "3000", "--validation", "500"]


@pytest.fixture(autouse=True)
def _runs_land_in_a_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `gradwise train` without --out writes runs/<name> in the working folder


def diagnosis(symptom, step, settings, layer=0):
    cause, fixes = explain(symptom, layer, settings)
    return Diagnosis(symptom, layer, step, {}, cause, fixes)


def settings(config):
    from gradwise.train.config import settings_of

    return settings_of(config)


def test_the_suspects_come_first_in_the_repair_order():
    config = preset("default", normalize="none", init="normal", activation="tanh", momentum=0.995, lr=0.5)
    _, fixes = explain("non_finite", 1, settings(config))
    stages = [f.stage for f in fixes]
    assert stages == sorted(stages, key=REPAIR_ORDER.index)
    assert [fix_flags(f) for f in fixes[:2]] == ["--normalize unit", "--init glorot_uniform"]
    assert "--momentum 0.9" in [fix_flags(f) for f in fixes]


def test_checks_before_training_all_apply_at_once_causes_first():
    config = preset("default", normalize="none", output="sigmoid", loss="ce", optimizer="sgd", lr=1e-4)
    found = [diagnosis("unnormalized_input", 0, settings(config)),
             diagnosis("output_loss_mismatch", 0, settings(config), layer=1),
             diagnosis("lr_too_low", 200, settings(config), layer=None)]  # fmt: skip
    chosen = choose_fixes(found, config, set())
    assert [f.changes for _, f in chosen] == [{"output": "softmax"}, {"normalize": "unit"}]  # pairing first


def test_one_fix_at_a_time_after_training_began_and_never_one_in_effect_or_tried():
    config = preset("default", hidden=(30,), activation="identity", output="identity", loss="mse", init="normal",
                    optimizer="sgd", lr=3.0, batch_size=10)  # fmt: skip
    found = [diagnosis("non_finite", 3, settings(config), layer=1)]
    [(_, first)] = choose_fixes(found, config, set())
    assert first.changes == {"init": "glorot_uniform", "init_scale": None}  # the init before the learning rate
    tried = {tuple(sorted((k, repr(v)) for k, v in first.changes.items()))}
    [(_, second)] = choose_fixes(found, config, tried)
    assert second.changes == {"lr": 0.3}
    # A relative change is a fix only for the rate it was computed from: at lr 0.3, "lr 0.3" is stale.
    [(_, third)] = choose_fixes(found, config.with_overrides(lr=0.3), tried)
    assert third.changes == {"clip_norm": 1.0}


def test_the_hidden_sizes_are_never_changed():
    config = preset("default")
    d = Diagnosis("plateau", None, 100, {}, "", (Fix({"hidden": (256,)}), Fix({"lr": 0.01}, basis={"lr": 0.05})))
    assert [f.changes for _, f in choose_fixes([d], config, set())] == [{"lr": 0.01}]


def test_find_repair_never_repeats_a_change_and_stops_when_nothing_is_left():
    # A fake probe: always unhealthy with the same plateau, whatever the configuration.
    calls = []

    class Result:
        def __init__(self, config):
            self.diagnoses = [diagnosis("plateau", 100, settings(config), layer=None)]
            self.test_accuracy = 0.1
            self.history = type("H", (), {"last": None})()
            self.net = type("N", (), {"n_outputs": 10})()

    def probe(config, stop_for):
        calls.append(config)
        return Result(config)

    plan = find_repair(preset("default", lr=0.05, optimizer="sgd"), probe, max_attempts=5)
    changes = [tuple(sorted(f.changes.items())) for _, f in plan.applied]
    assert len(changes) == len(set(changes))
    assert len(calls) <= 6


def test_train_repair_applies_the_pairing_fix_before_the_first_step(tmp_path, capsys):
    # Before: the static check said "fix --output softmax" at step 0 and the broken network trained on to 0.12.
    out = tmp_path / "run"
    argv = ["train", "--hidden", "50,50,50,50", "--output", "relu", "--loss", "ce", "--optimizer", "adam",
            "--lr", "0.0001", "--repair", "--epochs", "1", *SMALL, "--out", str(out), "--json"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["repairs"][0]["changes"] == {"output": "softmax"} and summary["repairs"][0]["step"] == 0
    config = json.loads((out / "config.json").read_text())
    assert config["output"] == "softmax"
    verdict = json.loads((out / "repair.json").read_text())
    assert verdict["verdict"] == summary["verdict"] and isinstance(summary["repaired"], bool)
    assert summary["verdict"].startswith(("repaired: accuracy", "not repaired: tried"))
    if summary["repaired"]:  # 24 steps: the healthy recipe's own probe is the measure of what they can reach
        assert verdict["yardstick"] is not None and summary["test_accuracy"] >= verdict["yardstick"] - 0.05
    from gradwise.report.write import write_report

    page = write_report(out, fix_flags).read_text()  # as gradwise report and train --report write it
    assert html.escape(f"repair: {summary['verdict']}") in page and "--output softmax" in page


def test_train_repair_of_a_healthy_run_changes_nothing(capsys):
    argv = ["train", "--hidden", "64", *SMALL, "--epochs", "1", "--json"]
    assert main([*argv, "--repair"]) == 0
    repaired = json.loads(capsys.readouterr().out)
    assert repaired["repairs"] == [] and repaired["verdict"].startswith("nothing to repair")
    assert main(argv) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["test_accuracy"] == repaired["test_accuracy"]  # the same run, bit for bit


def test_doctor_repair_prints_a_command_line_it_probed_healthy(capsys):
    assert main(["doctor", "--preset", "seed-2017", *SMALL, "--repair", "--seconds", "300"]) == 0
    printed = capsys.readouterr().out
    assert "repaired: this command line probed healthy:" in printed
    command = printed.strip().splitlines()[-1].strip()
    assert command.startswith("gradwise train --preset seed-2017") and "--loss ce" in command
    words = command.split()[2:]
    assert main(["doctor", *words, *SMALL, "--seconds", "300"]) == 0  # it is healthy, probed again


def test_doctor_repair_json(capsys):
    assert main(["doctor", "--preset", "seed-2017", *SMALL, "--repair", "--seconds", "300", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert not report["healthy"] and report["repair"]["healthy"]
    assert report["repair"]["attempts"][1]["changes"] == ["--loss ce", "--init glorot_uniform"]


def test_the_verdict_says_when_the_architecture_is_the_limit():
    assert architecture_limit((5,) * 15, 10).endswith("a hidden layer of 5 units is narrower than the 10 classes")
    assert architecture_limit((16,) * 12, 10).endswith("12 hidden layers of at most 16 units")
    assert architecture_limit((100,), 10) is None
