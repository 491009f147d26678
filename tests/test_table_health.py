"""The doctor on tables, before training: columns on scales far apart, a label that is an ID, skewed classes;
and the balanced accuracy that skewed classes call for."""

from pathlib import Path

import numpy as np
import pytest

from gradwise import load_dataset, mlp
from gradwise.health import thresholds as T
from gradwise.health.columns import column_names
from gradwise.health.static import static_checks
from gradwise.train.evaluation import accuracy, balanced_accuracy

FASHION = Path("/usr/share/datasets/fashion-mnist")
TABLE_SYMPTOMS = {"unscaled_columns", "id_like_label", "imbalanced_classes", "row_counter"}


def one_hot(labels, classes):
    return np.eye(classes, dtype=np.float32)[labels]


def checks(x, labels, classes=None, features=None, settings=None):
    """static_checks on a small ReLU network for this table, by symptom."""
    n_classes = int(labels.max()) + 1
    net = mlp([x.shape[1], 16, n_classes], rng=0)
    found = static_checks(net, "ce", x, one_hot(labels, n_classes), settings or {}, features, classes)
    return {d.symptom: d for d in found}


def table(width, rows=300, seed=0):
    """Columns that are permutations of one normal sample: their scales are exactly equal until multiplied."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=rows)
    return np.stack([rng.permutation(base) for _ in range(width)], axis=1)


def balanced_labels(rows, classes, seed=0):
    return np.random.default_rng(seed).permutation(np.arange(rows) % classes)


def standardized(x):
    return (x - x.mean(axis=0)) / x.std(axis=0)


# --- unscaled columns --------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [2, 5, 12, 40])
@pytest.mark.parametrize("ratio", [1e3, 1e4, 1e5, 1e6])
def test_columns_far_apart_are_named_with_the_ratio(width, ratio):
    x = table(width)
    wide = width - 1
    x[:, wide] *= ratio
    names = [f"feature_{j}" for j in range(width)]
    found = checks(x, balanced_labels(300, 3), features=names, settings={"normalize": "none"})
    # The column-level finding replaces unnormalized_input (a wide column also makes the initial loss large).
    assert "unscaled_columns" in found and "unnormalized_input" not in found
    assert set(found) <= {"unscaled_columns", "bad_initial_loss"}
    d = found["unscaled_columns"]
    assert d.evidence["widest_column"] == names[wide]
    assert d.evidence["std_ratio"] == pytest.approx(ratio, rel=1e-3)
    narrowest = d.evidence["narrowest_column"]
    assert narrowest != names[wide] and narrowest in names
    assert f"column '{names[wide]}' has a standard deviation of" in d.cause
    assert f"column '{narrowest}' of" in d.cause and f"{ratio:.3g}x less" in d.cause
    assert [f.changes for f in d.fix] == [{"normalize": "standard"}, {"normalize": "unit"}]
    assert checks(standardized(x), balanced_labels(300, 3), features=names) == {}


def test_a_narrow_column_is_named_too_and_columns_are_numbered_without_names():
    x = table(4) * 1000.0
    x[:, 2] /= 1e6  # column 3: a millionth of the others
    d = checks(x, balanced_labels(300, 3))["unscaled_columns"]
    assert d.evidence["narrowest_column"] == "column 3"
    assert d.evidence["widest_column"] in {"column 1", "column 2", "column 4"}
    assert d.evidence["std_ratio"] == pytest.approx(1e6, rel=1e-3)
    assert d.cause.endswith(
        "1e+06x less: the input columns are on scales 1000x or more apart: the wide column dominates every unit's "
        "input, and a learning rate small enough for its weights barely moves the narrow column's, so the network "
        "ignores it"
    )


def test_columns_just_short_of_the_threshold_are_silent():
    x = table(3)
    x[:, 0] /= 999.0
    assert checks(x, balanced_labels(300, 3)) == {}
    x[:, 0] /= 1.002
    assert set(checks(x, balanced_labels(300, 3))) == {"unscaled_columns"}


def test_large_columns_of_one_scale_are_unnormalized_not_unscaled():
    # Every column 1e4 wide: the whole input is far from unit scale, no column is far from another.
    found = checks(table(6) * 1e4, balanced_labels(300, 3), settings={"normalize": "none"})
    assert "unnormalized_input" in found and not TABLE_SYMPTOMS & set(found)


def test_a_constant_column_has_no_scale_to_compare():
    x = table(3)
    x[:, 1] = 5e-9
    x[:, 2] *= 2.0
    assert checks(x, balanced_labels(300, 3)) == {}


def test_feature_names_must_match_the_columns():
    assert column_names(None, 3) == ("column 1", "column 2", "column 3")
    with pytest.raises(ValueError, match="features names 2 columns, but the input has 3"):
        column_names(["a", "b"], 3)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("normalize", ["unit", "standard", "none"])
def test_pixels_share_one_scale_under_every_normalization(name, normalize):
    assert name == "mnist" or FASHION.exists(), (
        f"Fashion-MNIST is not in {FASHION}: `make test` installs Debian's dataset-fashion-mnist"
    )
    data = load_dataset(name if name == "mnist" else FASHION, normalize=normalize, validation=0)
    x, y = data.train.x[:3000], data.train.y[:3000]
    found = checks(x, y)
    assert not TABLE_SYMPTOMS & set(found)
    if normalize == "none":  # raw 0-255 pixels: the whole input is unscaled (and the initial loss with it)
        assert "unnormalized_input" in found
    else:
        assert found == {}


def test_pixels_standardized_one_column_at_a_time_are_not_unscaled():
    # A sparse border pixel standardized alone has values of hundreds of deviations: its deviation is still 1.
    data = load_dataset("mnist", normalize="none", validation=0)
    raw = data.train.x[:20000].astype(np.float64)
    std = raw.std(axis=0)
    x = (raw - raw.mean(axis=0)) / np.where(std > 0, std, 1.0)
    assert "unscaled_columns" not in checks(x[:2000], data.train.y[:2000])


# --- a label that is an ID ---------------------------------------------------------------------------


def classes_of(texts):
    """Label texts -> (class indices, class names), as a table's loader turns them into classes."""
    names, labels = np.unique(np.asarray(texts), return_inverse=True)
    return labels, tuple(str(n) for n in names)


@pytest.mark.parametrize(
    "texts",
    [
        [str(1000 + i) for i in range(200)],  # a numeric ID, one per row
        [f"customer-{i:04d}" for i in range(120)],  # a text ID
        [f"row{i}" for i in range(40)],
        [str(i // 2) if i < 20 else str(i) for i in range(80)],  # most classes one row, a few two
    ],
)
def test_an_id_for_a_label_is_named(texts):
    labels, names = classes_of(texts)
    found = checks(table(4, rows=len(texts)), labels, names)
    assert set(found) == {"id_like_label"}  # not bad_labels, not imbalanced_classes
    d = found["id_like_label"]
    single = int(np.sum(np.bincount(labels) == 1))
    assert d.evidence == {"rows": len(texts), "classes": len(names), "single_row_classes": single}
    assert d.cause.startswith(
        f"{len(texts)} rows hold {len(names)} different classes, {single} of them with a single row: the label looks "
        "like an index, an ID or a measurement, not a class;"
    )
    assert [f.changes for f in d.fix] == [{}]  # advice only: repair has nothing to apply


@pytest.mark.parametrize(
    "rows, classes",
    [(150, 3), (100, 10), (200, 50), (400, 150)],  # many classes, but each seen in several rows
)
def test_many_classes_with_several_rows_each_are_not_an_id(rows, classes):
    assert checks(table(4, rows=rows), balanced_labels(rows, classes)) == {}


def test_a_few_rows_are_not_judged():
    labels = np.arange(T.LABEL_MIN_ROWS - 1)
    assert checks(table(4, rows=len(labels)), labels) == {}


# --- classes so skewed that accuracy misleads ------------------------------------------------------------


def skewed(counts, seed=0):
    labels = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(labels)


@pytest.mark.parametrize(
    "counts, largest, smallest",
    [
        ((90, 10), 0, 1),  # binary 90/10
        ((40, 360), 1, 0),  # binary 10/90, the large class second
        ((160, 30, 10), 0, 2),  # three classes 80/15/5
        ((150, 40, 10), 0, 2),  # 75/20/5
        ((120, 68, 12), 0, 2),  # 60/34/6: no class holds 70%, but one is 10x another
        ((30, 300, 100, 70), 1, 0),  # four classes, the 10x pair among them
    ],
)
def test_skewed_classes_are_named_with_their_shares(counts, largest, smallest):
    names = tuple(f"kind_{c}" for c in "abcd"[: len(counts)])
    labels = skewed(counts)
    found = checks(table(3, rows=len(labels)), labels, names)
    assert set(found) == {"imbalanced_classes"}  # bad_labels no longer speaks for a 90/10 split
    d = found["imbalanced_classes"]
    rows = sum(counts)
    assert d.evidence == {
        "largest_class": repr(names[largest]),
        "largest_share": round(counts[largest] / rows, 4),
        "smallest_class": repr(names[smallest]),
        "smallest_share": round(counts[smallest] / rows, 4),
        "class_ratio": float(f"{counts[largest] / counts[smallest]:.3g}"),
    }
    order = np.argsort([-c for c in counts], kind="stable")
    shares = ", ".join(f"'{names[i]}' {100 * counts[i] / rows:.3g}%" for i in order)
    assert d.cause.startswith(f"class shares of the rows: {shares}: accuracy mostly measures the largest class")
    assert [f.changes for f in d.fix] == [{}]
    assert "balanced accuracy" in d.fix[0].advice and "gradwise evaluate" in d.fix[0].advice


def test_the_shares_message_reads_well():
    d = checks(table(3, rows=100), skewed((90, 10)), ("no", "yes"))["imbalanced_classes"]
    assert d.cause == (
        "class shares of the rows: 'no' 90%, 'yes' 10%: accuracy mostly measures the largest class; always "
        "answering it scores its share, and a class the network never predicts hardly lowers accuracy"
    )
    many = checks(table(3, rows=1000), skewed((400, *[70] * 8, 40)))["imbalanced_classes"]
    assert many.cause.startswith("class 0 holds 40% of the rows, class 9 4%: ")


@pytest.mark.parametrize(
    "counts",
    [(50, 50), (60, 40), (68, 32), (34, 33, 33), (50, 30, 20), (55, 30, 15), tuple([30] * 10), (80, 60, 40, 20)],
)
def test_balanced_or_mildly_skewed_classes_are_silent(counts):
    labels = skewed(counts)
    assert checks(table(3, rows=len(labels)), labels) == {}


def test_thin_classes_are_not_compared_by_chance():
    # 400 classes over 2000 rows: 5 rows each on average; by chance one holds 1 and another 13.
    labels = np.random.default_rng(0).integers(0, 400, 2000)
    counts = np.bincount(labels)
    assert counts.max() >= 10 * counts[counts > 0].min()
    assert not TABLE_SYMPTOMS & set(checks(table(3, rows=2000), labels))


def test_one_class_alone_is_still_bad_labels():
    labels = np.zeros(100, dtype=np.int64)
    net = mlp([3, 8, 2], rng=0)
    found = static_checks(net, "ce", table(3, rows=100), one_hot(labels, 2), {})
    assert [d.symptom for d in found] == ["bad_labels"]
    assert found[0].evidence == {"majority_class_share": 1.0}


def test_one_sigmoid_output_reads_its_column_as_two_classes():
    net = mlp([3, 8, 1], output="sigmoid", rng=0)
    x = table(3, rows=100)
    even = (np.arange(100) % 2).astype(np.float32)[:, None]
    assert static_checks(net, "bce", x, even, {}) == []
    rare = (np.arange(100) % 10 == 0).astype(np.float32)[:, None]
    assert [d.symptom for d in static_checks(net, "bce", x, rare, {})] == ["imbalanced_classes"]


# --- balanced accuracy ---------------------------------------------------------------------------------------


def test_balanced_accuracy_is_the_mean_recall_of_the_classes_present():
    net = mlp([4, 4], output="identity", rng=0)  # no hidden layer: the output is x itself
    net.params["0.W"][...] = np.eye(4)
    net.params["0.b"][...] = 0.0
    predicted = np.array([0, 0, 0, 1, 1, 0, 2, 3])
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    x = one_hot(predicted, 4)
    # class 0: 3 of its 4 rows right; class 1: 1 of 2; class 2: 1 of 2; class 3 is predicted but never a label
    assert balanced_accuracy(net, x, labels) == pytest.approx((3 / 4 + 1 / 2 + 1 / 2) / 3)
    assert balanced_accuracy(net, x, one_hot(labels, 4)) == pytest.approx(7 / 12)
    assert accuracy(x, labels) == 5 / 8
    assert balanced_accuracy(net, x, labels, batch_size=3) == pytest.approx(7 / 12)  # in chunks, the same


def test_answering_the_largest_class_always_scores_one_over_the_classes():
    net = mlp([2, 2], output="identity", rng=0)
    net.params["0.W"][...] = 0.0
    net.params["0.b"][...] = np.array([1.0, 0.0])  # always class 0
    labels = skewed((90, 10))
    x = np.zeros((100, 2), dtype=np.float32)
    assert accuracy(net.forward(x)[0], labels) == 0.9
    assert balanced_accuracy(net, x, labels) == 0.5
    assert np.isnan(balanced_accuracy(net, x[:0], labels[:0]))


# --- a row counter among the features ------------------------------------------------------------------


def with_counter(x, start, step, at):
    """x with a column that counts the rows (start, start + step, ...) inserted at position ``at``."""
    counter = start + step * np.arange(len(x), dtype=np.float64)
    return np.insert(x, at, counter, axis=1)


@pytest.mark.parametrize(("start", "step", "at"), [(0, 1, 0), (1, 1, 0), (1001, 1, 3), (0, 7, 2), (1.7e9, 60, 5)])
def test_a_column_counting_the_rows_is_named(start, step, at):
    """Kaggle's Iris.csv ``Id``, a table saved with its row index, a time stamp in a file sorted by it; in rows
    sorted by class, as such files often are."""
    labels = np.sort(balanced_labels(150, 3))
    names = [f"f{i}" for i in range(5)]
    names.insert(at, "Id")
    found = checks(with_counter(table(5, rows=150), start, step, at), labels, features=names)
    assert found["row_counter"].evidence == {"column": "Id", "rows": 150}
    assert found["row_counter"].cause.startswith("column 'Id' rises with every one of the 150 rows")


def test_a_counter_in_shuffled_rows_or_a_sorted_measurement_with_ties_is_not_named():
    x = with_counter(table(4), 0, 1, 0)
    shuffled = np.random.default_rng(1).permutation(len(x))
    assert "row_counter" not in checks(x[shuffled], balanced_labels(300, 3)[shuffled])
    ages = np.sort(np.random.default_rng(2).integers(18, 80, 300)).astype(np.float64)  # sorted, with ties
    assert "row_counter" not in checks(np.column_stack([ages, table(3)]), balanced_labels(300, 3))


def test_a_curve_fit_on_one_rising_input_is_not_a_row_counter():
    """x = linspace is the input of a regression, and of a one-column table: nothing else to learn from."""
    net = mlp([1, 16, 1], "tanh", "identity", rng=0)
    x = np.linspace(0, 6, 200)[:, None]
    assert "row_counter" not in {d.symptom for d in static_checks(net, "mse", x, np.sin(x))}
    assert "row_counter" not in checks(x, balanced_labels(200, 2))


def test_a_counter_over_fewer_rows_than_the_threshold_is_not_judged():
    x = with_counter(table(3, rows=T.ROW_COUNTER_ROWS - 1), 0, 1, 0)
    assert "row_counter" not in checks(x, balanced_labels(T.ROW_COUNTER_ROWS - 1, 2))
    x = with_counter(table(3, rows=T.ROW_COUNTER_ROWS), 0, 1, 0)
    assert "row_counter" in checks(x, balanced_labels(T.ROW_COUNTER_ROWS, 2))
