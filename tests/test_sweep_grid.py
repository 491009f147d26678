"""The sweep's grid: --grid parsing, budgets, spanning the trials, and the seed-2017 preset grid."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradwise.cli.flags import error_line
from gradwise.sweep.grid import PRESET_GRIDS, Axis, merge_axes, parse_axis, parse_budget, span
from gradwise.sweep.results import config_key
from gradwise.train.config import ConfigError, preset


def test_values_take_the_type_of_their_field():
    assert parse_axis("lr=0.01,0.1,1e1") == Axis("lr", ("0.01", "0.1", "10"), ({"lr": 0.01}, {"lr": 0.1}, {"lr": 10.0}))
    assert parse_axis("batch-size=1, 10").overrides == ({"batch_size": 1}, {"batch_size": 10})
    assert parse_axis("hidden=30,512x256").overrides == ({"hidden": (30,)}, {"hidden": (512, 256)})
    assert parse_axis("hidden=30,512x256").labels == ("30", "512x256")
    assert parse_axis("init=none,he_normal").overrides == ({"init": None}, {"init": "he_normal"})
    assert parse_axis("monitor=true,off").overrides == ({"monitor": True}, {"monitor": False})
    assert parse_axis("preset=default,seed-2017").labels == ("default", "seed-2017")


@given(st.lists(st.floats(min_value=1e-6, max_value=1e3), min_size=1, max_size=6, unique=True))
def test_float_labels_are_exact_and_distinct(values):
    axis = parse_axis("lr=" + ",".join(map(repr, values)))
    assert [o["lr"] for o in axis.overrides] == values
    assert [float(label) for label in axis.labels] == values  # 0.1234567 is not shown as 0.123457


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lr", "--grid lr: expected KEY=V1,V2,... such as lr=0.01,0.1,1"),
        ("lr=", "--grid lr: empty value in ''; list values like lr=V1,V2"),
        ("lr=0.1,,1", "--grid lr: empty value in '0.1,,1'; list values like lr=V1,V2"),
        ("lr=0.1,fast", "--grid lr: 'fast' is not a finite number"),
        ("lr=nan", "--grid lr: 'nan' is not a finite number"),
        ("batch_size=1.5", "--grid batch_size: '1.5' is not a whole number"),
        ("hidden=30,big", "--grid hidden: 'big' is not a size; write 100, or 512x256 for two layers"),
        ("lr=0.1,0.10", "--grid lr: 0.1 is listed twice; list each value once"),
        ("preset=nielsen,mine", "--grid preset: unknown 'mine'; choose from: default, nielsen, seed-2017, best"),
        ("monitor=maybe", "--grid monitor: 'maybe' is not true or false"),
    ],
)
def test_bad_axes_say_what_is_wrong(text, message):
    with pytest.raises(ConfigError) as error:
        parse_axis(text)
    assert str(error.value) == message


def test_an_unknown_key_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"^--grid learning_rate: unknown key; valid keys: activation, batch_size, "):
        parse_axis("learning-rate=0.1")


@pytest.mark.parametrize(
    ("text", "fields", "label"),
    [
        ("1epoch", {"epochs": 1, "max_steps": None, "time_budget": None}, "1 epoch"),
        ("3 epochs", {"epochs": 3, "max_steps": None, "time_budget": None}, "3 epochs"),
        ("500steps", {"epochs": 1_000_000, "max_steps": 500, "time_budget": None}, "500 steps"),
        ("30s", {"epochs": 1_000_000, "max_steps": None, "time_budget": 30.0}, "30 s"),
        ("2min", {"epochs": 1_000_000, "max_steps": None, "time_budget": 120.0}, "120 s"),
    ],
)
def test_budgets(text, fields, label):
    budget = parse_budget(text)
    assert (budget.fields, budget.label) == (fields, label)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1fortnight", "--budget 1fortnight: expected a count and a unit, such as 1epoch, 500steps, 30s or 2min"),
        ("0steps", "--budget 0steps: must be more than zero"),
        ("1.5epochs", "--budget 1.5epochs: count whole epochs, such as 2epochs"),
    ],
)
def test_bad_budgets(text, message):
    with pytest.raises(ConfigError) as error:
        parse_budget(text)
    assert str(error.value) == message


def test_span_is_the_product_first_axis_slowest_with_axes_over_flags():
    axes = [parse_axis("hidden=16,32"), parse_axis("lr=0.1,1,10")]
    trials = span("default", {"lr": 0.5, "limit_train": 100}, axes)
    assert [(t.config.hidden, t.config.lr) for t in trials] == [
        ((16,), 0.1), ((16,), 1.0), ((16,), 10.0), ((32,), 0.1), ((32,), 1.0), ((32,), 10.0)
    ]  # fmt: skip
    assert trials[4].axes == {"hidden": "32", "lr": "1"}
    assert all(t.config.limit_train == 100 and t.key == config_key(t.config) for t in trials)


def test_span_applies_a_preset_axis_and_shares_keys_of_equal_configurations():
    trials = span("default", {}, [parse_axis("preset=default,nielsen"), parse_axis("lr=0.05,3")])
    assert [(t.config.preset, t.config.activation, t.config.lr) for t in trials] == [
        ("default", "relu", 0.05), ("default", "relu", 3.0), ("nielsen", "sigmoid", 0.05), ("nielsen", "sigmoid", 3.0)
    ]  # fmt: skip
    same = span("default", {}, [parse_axis("lr=0.05,0.1"), Axis("config", ("a", "b"), ({}, {"lr": 0.05}))])
    assert [tuple(t.axes.values()) for t in same] == [("0.05", "a"), ("0.05", "b"), ("0.1", "a"), ("0.1", "b")]
    assert len({t.key for t in same}) == 2  # config b sets lr 0.05 whatever the lr axis says: one training


def test_span_reports_a_bad_value_like_the_flag():
    with pytest.raises(ConfigError, match=r"^lr must be > 0, got -1$") as error:  # in Python: the field
        span("default", {}, [parse_axis("lr=0.1,-1")])
    assert error_line(error.value) == "--lr must be > 0, got -1"  # the command line's words: the flag


def test_merge_replaces_a_named_axis_in_place():
    merged = merge_axes([parse_axis("hidden=1,2"), parse_axis("lr=1,2")], [parse_axis("hidden=5")])
    assert [(a.name, a.labels) for a in merged] == [("hidden", ("5",)), ("lr", ("1", "2"))]


def test_seed_2017_grid_is_the_seeds_network_beside_the_fixed_one():
    grid = PRESET_GRIDS["seed-2017"]
    trials = span(grid.preset, {**grid.defaults, **parse_budget(grid.budget).fields}, grid.axes)
    assert len(trials) == 2 * 3 * 3 * 4
    seed = [t.config for t in trials if t.axes["config"] == "seed-2017"]
    fixed = [t.config for t in trials if t.axes["config"] == "fixed"]
    assert {(c.activation, c.output, c.loss, c.init, c.optimizer) for c in seed} == {
        ("sigmoid", "softmax", "mse", "uniform", "sgd")
    }
    assert {(c.activation, c.output, c.loss, c.init, c.optimizer) for c in fixed} == {
        ("sigmoid", "softmax", "ce", "glorot_uniform", "sgd")
    }
    assert sorted({c.hidden[0] for c in seed}) == [30, 100, 1000]
    assert sorted({c.batch_size for c in seed}) == [1, 10, 100]
    assert sorted({c.lr for c in seed}) == [0.01, 0.1, 1.0, 10.0]
    assert preset("seed-2017").init_scale is None  # U(0, 1), as the seed drew them
