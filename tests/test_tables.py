"""gradwise.data.tables: a CSV/TSV as a Dataset, split by class and seed, scaled by the training rows alone."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradwise as gw
from gradwise.data import TABLE_SUFFIXES, CSVError, is_table, load_table, scale_columns, split_summary
from gradwise.data.datasets import SplitRecipe


def write(folder, lines, name="data.csv"):
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def blobs(folder, counts, name="data.csv", delimiter=",", seed=0):
    """A table of two feature columns ("a" in 0..1, "b" in 0..1000) and a label "kind" with counts[k] rows of k."""
    rng = np.random.default_rng(seed)
    kinds = np.repeat([f"k{i}" for i in range(len(counts))], counts)
    rng.shuffle(kinds)
    rows = [delimiter.join([f"{rng.uniform():.6f}", f"{rng.uniform(0, 1000):.3f}", kind]) for kind in kinds]
    return write(folder, [delimiter.join(["a", "b", "kind"]), *rows], name)


def raw_rows(data, split):
    """A split's raw rows, undoing the scaling with the data set's own shift and scale."""
    return getattr(data, split).x.astype(np.float64) * data.scale + data.shift


def test_suffixes_say_what_is_a_table():
    assert TABLE_SUFFIXES == (".csv", ".tsv", ".txt")
    assert is_table("iris.csv") and is_table("data/IRIS.TSV") and is_table("rows.txt")
    assert not is_table("mnist") and not is_table("fashion-mnist") and not is_table("digits/") and not is_table("a.gz")


def test_string_labels_make_a_table_dataset(tmp_path):
    path = blobs(tmp_path, [50, 50, 50], name="iris.csv")
    data = load_table(path, "kind")
    assert (data.name, data.num_classes, data.num_features, data.image_shape) == ("iris.csv", 3, 2, None)
    assert (data.classes, data.features, data.label) == (("k0", "k1", "k2"), ("a", "b"), "kind")
    assert (len(data.train), len(data.val), len(data.test)) == (90, 30, 30)
    assert data.split == SplitRecipe(seed=0, val_fraction=0.2, test_fraction=0.2, test_path=None)
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int64
    assert data.shift.shape == data.scale.shape == (2,) and data.shift.dtype == np.float64
    assert split_summary(data) == (
        "iris.csv: 150 rows, 2 features, label 'kind' (3 classes) -> 90 train, 30 validation, 30 test, "
        "stratified, seed 0"
    )
    assert gw.load_table is load_table


def test_numeric_labels_are_classes_in_numeric_order(tmp_path):
    lines = ["x,y,digit"] + [f"{i},{i * i},{d}" for i, d in enumerate([10, 9, 10, 9, 2, 2, 9, 10, 2, 9])]
    data = load_table(write(tmp_path, lines), val_fraction=0, test_fraction=0, normalize="none")
    assert data.classes == ("2", "9", "10") and data.label == "digit"
    # with no cuts every row trains, in file order: classes 2, 1, 2, 1, 0, 0, 1, 2, 0, 1
    assert data.train.y.tolist() == [2, 1, 2, 1, 0, 0, 1, 2, 0, 1]
    np.testing.assert_array_equal(data.train.x[:, 1], np.arange(10) ** 2)
    assert len(data.val) == len(data.test) == 0


def test_tsv_quoted_fields_and_a_header_with_spaces(tmp_path):
    lines = ["sepal length\tpetal width\tspecies"] + [f'{i}.5\t{i % 3}\t"iris, {"ab"[i % 2]}"' for i in range(10)]
    data = load_table(write(tmp_path, lines, "flowers.tsv"), "species", val_fraction=0, test_fraction=0)
    assert data.features == ("sepal length", "petal width") and data.classes == ("iris, a", "iris, b")
    assert data.train.y.tolist() == [0, 1] * 5


def test_features_pick_and_order_the_columns(tmp_path):
    path = write(tmp_path, ["a,b,c,label", *(f"{i},{10 * i},{100 * i},{i % 2}" for i in range(8))])
    data = load_table(path, features=["c", "a"], val_fraction=0, test_fraction=0, normalize="none")
    assert data.features == ("c", "a") and data.num_features == 2
    np.testing.assert_array_equal(data.train.x, [[100 * i, i] for i in range(8)])


def test_each_class_keeps_its_share_of_every_split_within_one_row(tmp_path):
    counts = [37, 23, 90, 5]
    data = load_table(blobs(tmp_path, counts), "kind", val_fraction=0.15, test_fraction=0.25, seed=4)
    for split, fraction in (("val", 0.15), ("test", 0.25), ("train", 0.6)):
        got = np.bincount(getattr(data, split).y, minlength=len(counts))
        assert np.all(np.abs(got - fraction * np.array(counts)) <= 1), (split, got)
    assert len(data.train) + len(data.val) + len(data.test) == sum(counts)


def test_the_seed_decides_the_split(tmp_path):
    path = blobs(tmp_path, [40, 40])
    first, again, other = (load_table(path, "kind", normalize="none", seed=s) for s in (7, 7, 8))
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(first, split).x, getattr(again, split).x)
        np.testing.assert_array_equal(getattr(first, split).y, getattr(again, split).y)
    assert not np.array_equal(first.test.x, other.test.x)
    assert split_summary(other).endswith("-> 48 train, 16 validation, 16 test, stratified, seed 8")


def test_splits_are_disjoint_and_cover_every_row(tmp_path):
    path = blobs(tmp_path, [30, 12])
    data = load_table(path, "kind", normalize="none", dtype=np.float64, seed=3)
    everything = np.concatenate([data.train.x, data.val.x, data.test.x])
    full = load_table(path, "kind", normalize="none", dtype=np.float64, val_fraction=0, test_fraction=0)
    np.testing.assert_array_equal(np.sort(everything, axis=0), np.sort(full.train.x, axis=0))
    assert len(np.unique(everything, axis=0)) == 42
    position = {b: i for i, b in enumerate(full.train.x[:, 1].tolist())}  # column b has no ties
    for split in (data.train, data.val, data.test):
        order = [position[b] for b in split.x[:, 1].tolist()]
        assert order == sorted(order)  # each split keeps its rows in the file's order


def test_a_class_of_one_or_two_rows_trains_first(tmp_path):
    path = write(tmp_path, ["a,kind", *(f"{i},big" for i in range(20)), "100,one", "200,two", "201,two"])
    data = load_table(path, "kind", normalize="none")
    assert np.bincount(data.train.y).tolist() == [12, 1, 2]  # big: 20 - 4 - 4; one and two: all trained
    assert np.bincount(data.val.y, minlength=3).tolist() == [4, 0, 0] == np.bincount(data.test.y, minlength=3).tolist()


def test_a_requested_split_gets_at_least_one_row(tmp_path):
    path = write(tmp_path, ["a,kind", "1,x", "2,x", "3,y", "4,y", "5,y"])
    data = load_table(path, "kind", val_fraction=0.1, test_fraction=0.1, normalize="none")
    # 0.1 of 2 or 3 rows rounds to none; the first class with the most rows to spare gives one: y to
    # validation (3 rows), then x to test (2 rows each left, x first)
    assert (len(data.train), len(data.val), len(data.test)) == (3, 1, 1)
    assert (data.val.y.tolist(), data.test.y.tolist(), data.train.y.tolist()) == ([1], [0], [0, 1, 1])


def test_a_split_may_lend_a_row_to_the_other(tmp_path):
    path = write(tmp_path, ["a,kind", "1,x", "2,x", "3,y", "4,y"])
    data = load_table(path, "kind", val_fraction=0.3, test_fraction=0.1, normalize="none")
    # 0.3 of 2 rounds to 1 validation row per class, leaving each class one training row and none to spare
    assert (len(data.train), len(data.val), len(data.test)) == (2, 1, 1)
    assert sorted(data.train.y.tolist()) == [0, 1]


def test_unit_scaling_uses_the_training_rows_only(tmp_path):
    raw = load_table(blobs(tmp_path, [25, 25]), "kind", normalize="none", dtype=np.float64)
    data = load_table(tmp_path / "data.csv", "kind", normalize="unit", dtype=np.float64)
    low, high = raw.train.x.min(axis=0), raw.train.x.max(axis=0)
    np.testing.assert_array_equal(data.shift, low)
    np.testing.assert_array_equal(data.scale, high - low)
    np.testing.assert_allclose(data.train.x.min(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(data.train.x.max(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(data.test.x, (raw.test.x - low) / (high - low), rtol=1e-12)
    assert (raw.shift.tolist(), raw.scale.tolist()) == ([0.0, 0.0], [1.0, 1.0])


def test_standard_scaling_uses_the_training_rows_only(tmp_path):
    raw = load_table(blobs(tmp_path, [25, 25]), "kind", normalize="none", dtype=np.float64)
    data = load_table(tmp_path / "data.csv", "kind", normalize="standard", dtype=np.float64)
    np.testing.assert_allclose(data.shift, raw.train.x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(data.scale, raw.train.x.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(data.train.x.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(data.train.x.std(axis=0), 1, rtol=1e-12)
    assert not np.allclose(data.val.x.mean(axis=0), 0, atol=1e-3)  # not refitted on the other splits
    np.testing.assert_allclose(raw_rows(data, "val"), raw.val.x, rtol=1e-12)


def test_a_worked_example_of_each_scaling(tmp_path):
    # training rows only (no cuts): a = 1, 3, 5, 7; c is constant 4
    path = write(tmp_path, ["a,c,label", "1,4,0", "3,4,1", "5,4,0", "7,4,1"])
    unit = load_table(path, val_fraction=0, test_fraction=0, normalize="unit")
    # a: shift = min 1, scale = 7 - 1 = 6 -> 0, 1/3, 2/3, 1; c: shift 4, scale 1 -> 0
    assert unit.shift.tolist() == [1.0, 4.0] and unit.scale.tolist() == [6.0, 1.0]
    np.testing.assert_allclose(unit.train.x, [[0, 0], [1 / 3, 0], [2 / 3, 0], [1, 0]], rtol=1e-6)
    standard = load_table(path, val_fraction=0, test_fraction=0, normalize="standard")
    # a: mean 4, std sqrt((9 + 1 + 1 + 9) / 4) = sqrt(5); c: mean 4, std 0 -> 1
    np.testing.assert_allclose(standard.shift, [4.0, 4.0])
    np.testing.assert_allclose(standard.scale, [np.sqrt(5), 1.0])


def test_scale_columns_is_the_one_scaling(tmp_path):
    data = load_table(blobs(tmp_path, [10, 10]), "kind", normalize="standard", dtype=np.float64)
    raw = raw_rows(data, "test")
    np.testing.assert_allclose(scale_columns(raw, data.shift.tolist(), data.scale.tolist(), np.float64), data.test.x)
    out = scale_columns([[3.0, 10.0]], [1.0, 0.0], [2.0, 5.0])
    assert out.dtype == np.float32 and out.tolist() == [[1.0, 2.0]]
    with pytest.raises(ValueError) as error:
        scale_columns(np.ones((2, 3)), [0.0, 0.0], [1.0, 1.0])
    assert str(error.value) == (
        "rows of shape (2, 3) do not fit a scaling of 2 shifts and 2 scales; give one of each per column"
    )


def test_a_separate_test_file(tmp_path):
    path = blobs(tmp_path, [20, 20], name="train.csv")
    test_path = write(tmp_path, ["a,b,kind", "0.5,10,k1", "0.25,20,k0", "2,30,k1"], "held-out.csv")
    data = load_table(path, "kind", test_path=test_path, val_fraction=0.25, normalize="unit", dtype=np.float64)
    assert (len(data.train), len(data.val), len(data.test)) == (30, 10, 3)
    assert data.test.y.tolist() == [1, 0, 1]
    np.testing.assert_allclose(raw_rows(data, "test"), [[0.5, 10], [0.25, 20], [2, 30]], rtol=1e-12)
    assert data.split == SplitRecipe(seed=0, val_fraction=0.25, test_fraction=0.0, test_path=str(test_path))
    assert split_summary(data) == (
        "train.csv: 40 rows, 2 features, label 'kind' (2 classes) -> 30 train, 10 validation, 3 test "
        "(from held-out.csv), stratified, seed 0"
    )


def test_a_test_file_with_other_column_order_and_numeric_spelling(tmp_path):
    path = write(tmp_path, ["a,b,label", *(f"{i},{-i},{i % 2}" for i in range(10))])
    test_path = write(tmp_path, ["label;b;a", "1.0;-5;5", "0;-4;4"], "test.csv")
    data = load_table(path, test_path=test_path, val_fraction=0, normalize="none")
    assert data.test.y.tolist() == [1, 0] and data.test.x.tolist() == [[5, -5], [4, -4]]


def test_a_test_file_of_a_table_without_a_header(tmp_path):
    path = write(tmp_path, [f"{i},{i % 3}.5,{'xy'[i % 2]}" for i in range(12)])
    test_path = write(tmp_path, ["7,1.5,y"], "test.csv")
    data = load_table(path, test_path=test_path, val_fraction=0, normalize="none")
    assert data.features == ("column 1", "column 2") and data.test.x.tolist() == [[7, 1.5]]


def bad(tmp_path, lines, name="data.csv"):
    return write(tmp_path, lines, name) if lines is not None else tmp_path / name


@pytest.mark.parametrize(
    ("lines", "kwargs", "message"),
    [
        (
            ["a,kind", "1,x", "oops,y"],
            {},
            "line 3, column 'a': 'oops' is not a number; fix the value, leave the column out of the features, or "
            "make it the label",
        ),
        (["a,kind", "1,x"], {"label": "species"}, "no column named 'species'; the header has: a, kind"),
        ([""], {}, "is empty; a CSV needs rows of features and a label"),
        (["a,b,kind", "1,2,x", "3,y"], {}, "line 3 has 2 fields, but line 1 has 3"),
        (
            ["a,b,kind", "1,nan,x", "inf,2,y", "3,,x", "4,NA,y", "5,6,x"],
            {},
            "4 cells are empty, NaN or Inf: line 2 column 'b' ('nan'), line 3 column 'a' ('inf'), line 4 column 'b' "
            "(''), and 1 more; fill them in or drop those rows",
        ),
        (
            ["a,b,kind", "1,2,x"],
            {"label": "kind", "features": ["a", "kind"]},
            "column 'kind' is the label and cannot also be a feature; leave it out of the features or choose "
            "another label",
        ),
        (
            ["a,kind", "1,x", "2,x", "3,x"],
            {},
            "every one of its 3 rows has the label 'x' in column 'kind'; a classifier needs two classes or more: "
            "choose another label column",
        ),
        (
            ["a,kind", "1,x", "2,x", "3,y"],
            {},
            "3 rows (2 'x', 1 'y') are too few for a training row of each class and a validation and a test row; "
            "add rows, or pass --val-fraction 0 or --test-fraction 0",
        ),
        (
            ["a,kind", "1,x", "2,y"],
            {},
            "2 rows (1 'x', 1 'y') are too few for a training row of each class and a validation and a test row; "
            "add rows, or pass --val-fraction 0 and --test-fraction 0",
        ),
        (
            ["a,kind", "1,x", "2,y"],
            {"val_fraction": 0.0},
            "2 rows (1 'x', 1 'y') are too few for a training row of each class and a test row; add rows, or pass "
            "--test-fraction 0",
        ),
        (
            ["a,kind", "1,x", "2,y"],
            {"test_fraction": 0.0},
            "2 rows (1 'x', 1 'y') are too few for a training row of each class and a validation row; add rows, or "
            "pass --val-fraction 0",
        ),
    ],
)
def test_bad_tables_say_what_is_wrong_in_one_line(tmp_path, lines, kwargs, message):
    path = bad(tmp_path, lines)
    with pytest.raises(CSVError) as error:
        load_table(path, **kwargs)
    assert str(error.value) == f"{path}: {message}" and "\n" not in message


def test_a_test_file_with_an_unknown_class_names_its_line(tmp_path):
    path = blobs(tmp_path, [10, 10])
    test_path = write(tmp_path, ["a,b,kind", "0.5,1,k0", "", "0.5,2,k7"], "test.csv")
    with pytest.raises(CSVError) as error:
        load_table(path, "kind", test_path=test_path)
    assert str(error.value) == (
        f"{test_path}: line 4, column 'kind': 'k7' is not a class of data.csv (k0, k1); fix the label or drop the row"
    )


def test_a_test_file_missing_a_feature_column(tmp_path):
    path = blobs(tmp_path, [10, 10])
    test_path = write(tmp_path, ["a,kind", "0.5,k0"], "test.csv")
    with pytest.raises(CSVError) as error:
        load_table(path, "kind", test_path=test_path)
    assert str(error.value) == f"{test_path}: no column named 'b'; the header has: a, kind"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"normalize": "minmax"}, "unknown normalize='minmax'; use one of unit, standard, none"),
        ({"val_fraction": 1.0}, "val_fraction=1.0 is out of range; give a fraction from 0 up to (not including) 1"),
        ({"test_fraction": -0.1}, "test_fraction=-0.1 is out of range; give a fraction from 0 up to (not including) 1"),
        (
            {"val_fraction": 0.5, "test_fraction": 0.5},
            "val_fraction=0.5 and test_fraction=0.5 leave no training rows; make them add up to less than 1",
        ),
    ],
)
def test_bad_options(tmp_path, kwargs, message):
    with pytest.raises(ValueError) as error:
        load_table(blobs(tmp_path, [10, 10]), "kind", **kwargs)
    assert str(error.value) == message


def test_image_data_sets_keep_their_meaning():
    data = gw.load_dataset("mnist", validation=100)
    assert (data.image_shape, data.num_features, data.shift, data.scale) == ((28, 28), 784, 0.0, 255.0)
    assert (data.classes, data.features, data.label, data.split) == (None, None, None, None)
    assert split_summary(data) == "mnist: 784 features, 10 classes -> 59900 train, 100 validation, 10000 test"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(1, 30), min_size=2, max_size=5),
    st.sampled_from([0.0, 0.1, 0.2, 0.3]),
    st.sampled_from([0.0, 0.1, 0.25]),
    st.integers(0, 3),
)
def test_every_row_lands_in_one_split_and_every_class_trains(tmp_path_factory, counts, val, test, seed):
    path = blobs(tmp_path_factory.mktemp("t"), counts, seed=seed)
    try:
        data = load_table(path, "kind", val_fraction=val, test_fraction=test, seed=seed, normalize="none")
    except CSVError as error:  # only when the splits asked for cannot each get a row
        spare = sum(counts) - len(counts)
        assert "are too few" in str(error) and spare < (val > 0) + (test > 0)
        return
    assert len(data.train) + len(data.val) + len(data.test) == sum(counts)
    assert np.bincount(data.train.y, minlength=len(counts)).min() >= 1
    assert (len(data.val) > 0) == (val > 0) and (len(data.test) > 0) == (test > 0)
    rows = np.concatenate([data.train.x, data.val.x, data.test.x])
    assert len(np.unique(rows, axis=0)) == sum(counts)
