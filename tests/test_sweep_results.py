"""results.jsonl: keys from configurations, append-only lines, a torn last line survived."""

import json
import math

import numpy as np
import pytest

from gradwise.sweep.results import Results, config_key, jsonable
from gradwise.train.config import TrainConfig, preset


def test_the_key_is_the_configuration_not_its_preset_label():
    a = preset("default", lr=0.1, hidden=(16,))
    assert config_key(a) == config_key(preset("default", lr=0.1, hidden=(16,)))
    assert config_key(a) == config_key(TrainConfig(lr=0.1, hidden=(16,), preset="mine"))
    assert config_key(a) != config_key(preset("default", lr=0.1, hidden=(16,), seed=1))
    assert config_key(a) != config_key(preset("default", lr=0.1, hidden=(16, 16)))
    assert len(config_key(a)) == 16 and int(config_key(a), 16) >= 0


def test_append_then_load_by_key(tmp_path):
    results = Results(tmp_path)
    assert results.load() == {}
    results.append({"key": "a", "outcome": "trained", "val_accuracy": 0.9})
    results.append({"key": "b", "outcome": "non_finite", "val_accuracy": math.nan, "loss": np.float32("inf")})
    assert results.load() == {
        "a": {"key": "a", "outcome": "trained", "val_accuracy": 0.9},
        "b": {"key": "b", "outcome": "non_finite", "val_accuracy": None, "loss": None},
    }
    lines = results.path.read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["a", "b"]


def test_a_torn_last_line_is_skipped_and_closed_off(tmp_path):
    results = Results(tmp_path)
    results.append({"key": "a"})
    with open(results.path, "ab") as f:
        f.write(b'{"key": "b", "outc')  # a crash in the middle of an append
    assert list(results.load()) == ["a"]
    Results(tmp_path).append({"key": "c"})
    assert list(Results(tmp_path).load()) == ["a", "c"]
    assert results.path.read_text().splitlines()[-1] == '{"key":"c"}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"x": [1, np.int64(2), np.float32(0.5), math.inf, (np.nan,)]}, {"x": [1, 2, 0.5, None, [None]]}),
        ({"ok": True, "n": None, "s": "inf"}, {"ok": True, "n": None, "s": "inf"}),
    ],
)
def test_jsonable(value, expected):
    assert jsonable(value) == expected
