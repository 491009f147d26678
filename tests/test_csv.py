"""gradwise.data.csv: tables with a label column, header and delimiter detection, and every bad file's message."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradwise.data.csv import CSVError, load_csv, load_features


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_header_names_and_string_labels(tmp_path):
    rows = ["sepal,petal,species", "5.1,1.4,setosa", "7.0,4.7,versicolor", "6.3,6.0,virginica", "4.9,1.4,setosa"]
    path = write(tmp_path, "\n".join(rows) + "\n")
    table = load_csv(path)  # "species" is not a label name: the last column is the label
    assert table.features == ("sepal", "petal") and table.label == "species"
    assert table.classes == ("setosa", "versicolor", "virginica")
    assert table.y.tolist() == [0, 1, 2, 0] and table.y.dtype == np.int64
    assert table.x.dtype == np.float32 and table.x.shape == (4, 2) and len(table) == 4
    np.testing.assert_allclose(table.x[1], [7.0, 4.7], rtol=1e-6)


def test_label_column_by_name_index_or_known_name(tmp_path):
    path = write(tmp_path, "label,a,b\n1,0.5,2\n0,1.5,3\n")
    assert load_csv(path).features == ("a", "b")  # "label" is found wherever it is
    table = load_csv(path, label="b")
    assert table.features == ("label", "a") and table.classes == ("2", "3")
    assert load_csv(path, label=1).label == "a"


def test_no_header_semicolons_and_numeric_labels_in_numeric_order(tmp_path):
    path = write(tmp_path, "0.1;0.2;10\n0.3;0.4;9\n0.5;0.6;10\n")
    table = load_csv(path)
    assert table.features == ("column 1", "column 2") and table.label == "column 3"
    assert table.classes == ("9", "10") and table.y.tolist() == [1, 0, 1]


def test_quotes_blank_lines_and_float64(tmp_path):
    path = write(tmp_path, 'x,"name, with comma"\n\n1.5,"a, b"\n2.5,c\n')
    table = load_csv(path, dtype=np.float64)
    assert table.classes == ("a, b", "c") and table.x.dtype == np.float64


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("", {}, "is empty; a CSV needs rows of features and a label"),
        ("\n  \n", {}, "is empty; a CSV needs rows of features and a label"),
        ("1\n2\n", {}, "line 1 has one column; a CSV needs features and a label column"),
        ("a,b,c\n1,2\n", {}, "line 2 has 2 fields, but line 1 has 3"),
        ("a,b,c\n1,2,3\n\n4,5,6,7\n", {}, "line 4 has 4 fields, but line 1 has 3"),
        ("a,b\n", {}, "has a header but no rows of data"),
        (
            "a,b\n1,x\nfoo,y\n",
            {},
            "line 3, column 'a': 'foo' is not a number; fix the value, leave the column out of the features, "
            "or make it the label",
        ),
        (  # text wins over a missing value: it is the likelier mistake (a wrong label column, a stray header)
            "a,b,c\n1,,x\n2,two,y\n",
            {},
            "line 3, column 'b': 'two' is not a number; fix the value, leave the column out of the features, "
            "or make it the label",
        ),
        ("a,b\n1,x\nnan,y\n", {}, "1 cell is empty, NaN or Inf: line 3 column 'a' ('nan'); fill it in or drop the row"),
        (  # a European spreadsheet's CSV: semicolons between fields, commas in the numbers
            "a;b;label\n5,1;3;x\n",
            {},
            "line 2, column 'a': '5,1' is not a number; write decimals with a point (5.1): save the file with '.' "
            "as decimal mark",
        ),
        (
            "a,b,c\n1,,x\nNA,inf,y\n3,4,z\n-Infinity,NaN,x\n,2,y\n",
            {},
            "6 cells are empty, NaN or Inf: line 2 column 'b' (''), line 3 column 'a' ('NA'), line 3 column 'b' "
            "('inf'), and 3 more; fill them in or drop those rows",
        ),
        ("a,b\n1,x\n2,\n", {}, "line 3 has no label in column 'b'; fill it in or drop the row"),
        ("a,b\n1,x\n", {"label": "c"}, "no column named 'c'; the header has: a, b"),
        ("label,b\n1,x\n", {"label": "B"}, "no column named 'B'; the header has: label, b"),
        ("1,x\n", {"label": 5}, "label column 5 is out of range for 2 columns"),
        (
            "1,x\n",
            {"label": "b", "header": False},
            "label='b' names a column, but the file has no header row; give its index",
        ),
        ("a,b,c\n1,2,x\n", {"features": ["a", "d"]}, "no column named 'd'; the header has: a, b, c"),
        (
            "a,b,c\n1,2,x\n",
            {"label": "c", "features": ["a", "c"]},
            "column 'c' is the label and cannot also be a feature; leave it out of the features or choose another "
            "label",
        ),
        (  # label=None takes a known label name before the last column
            "a,label,c\n1,2,3\n",
            {"features": ["label", "c"]},
            "column 'label' is the label and cannot also be a feature; leave it out of the features or choose "
            "another label",
        ),
        (
            "a,b,c\n1,2,x\n",
            {"features": ["a", "b", "a"]},
            "column 'a' is listed twice in the features; name each column once",
        ),
        ("a,b,c\n1,2,x\n", {"features": []}, "features=[] must name one column or more, e.g. ['a', 'b']"),
        ("a,b,c\n1,2,x\n", {"features": "a"}, "features='a' must name one column or more, e.g. ['a', 'b']"),
    ],
)
def test_bad_files_say_what_is_wrong_in_one_line(tmp_path, text, kwargs, message):
    path = write(tmp_path, text)
    with pytest.raises(CSVError) as error:
        load_csv(path, **kwargs)
    assert str(error.value) == f"{path}: {message}"


def test_features_select_and_order_columns_and_a_tsv_is_tab_separated(tmp_path):
    path = write(tmp_path, 'sepal length\tpetal width\tnote\tspecies\n1.5\t2\t"a, b"\tsetosa\n', "iris.tsv")
    table = load_csv(path, "species", features=["petal width", "sepal length"])
    assert table.features == ("petal width", "sepal length") and table.x.tolist() == [[2.0, 1.5]]
    assert table.lines.tolist() == [2] and table.header


def test_label_none_takes_the_last_column_not_among_the_features(tmp_path):
    path = write(tmp_path, "a,b,kind,c\n1,2,x,3\n4,5,y,6\n")
    table = load_csv(path, features=["a", "c"])
    assert table.label == "kind" and table.features == ("a", "c") and table.x.tolist() == [[1, 3], [4, 6]]


def test_line_numbers_count_blank_lines_and_the_header(tmp_path):
    table = load_csv(write(tmp_path, "a,b\n\n1,x\n\n\n2,y\n"))
    assert table.lines.tolist() == [3, 6]


def test_load_features_reads_rows_with_or_without_the_label(tmp_path):
    path = write(tmp_path, "b,a\n1,2\n\n3,4\n")
    x, lines = load_features(path, ["a", "b"], dtype=np.float64)
    assert x.tolist() == [[2, 1], [4, 3]] and x.dtype == np.float64 and lines.tolist() == [2, 4]
    x, _ = load_features(write(tmp_path, "1,2,cat\n3,4,dog\n", "plain.csv"), ["column 2"])
    assert x.tolist() == [[2], [4]]
    x, _ = load_features(write(tmp_path, "5\n6\n", "one.csv"), ["column 1"])
    assert x.tolist() == [[5], [6]]


@pytest.mark.parametrize(
    ("text", "features", "message"),
    [
        ("a,b\n1,2\n", ["c"], "no column named 'c'; the header has: a, b"),
        ("a,b\n1,2\n", ["a", "a"], "column 'a' is listed twice in the features; name each column once"),
        ("a,b\n", ["a"], "has a header but no rows of data"),
        ("a,b\n1,\n", ["b"], "1 cell is empty, NaN or Inf: line 2 column 'b' (''); fill it in or drop the row"),
        (
            "a,b\n1,x\n",
            ["a", "b"],
            "line 2, column 'b': 'x' is not a number; fix the value, leave the column out of the features, or make "
            "it the label",
        ),
    ],
)
def test_load_features_bad_files(tmp_path, text, features, message):
    path = write(tmp_path, text)
    with pytest.raises(CSVError) as error:
        load_features(path, features)
    assert str(error.value) == f"{path}: {message}"


def test_missing_file(tmp_path):
    with pytest.raises(CSVError, match="nope.csv: does not exist; give the path of a CSV file"):
        load_csv(tmp_path / "nope.csv")


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 20).flatmap(
        lambda rows: st.tuples(
            st.lists(
                st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=3, max_size=3),
                min_size=rows,
                max_size=rows,
            ),
            st.lists(st.sampled_from(["cat", "dog", "7"]), min_size=rows, max_size=rows),
        )
    ),
    st.sampled_from([",", ";", "\t"]),
)
def test_round_trip(tmp_path_factory, table, delimiter):
    values, labels = table
    lines = [delimiter.join(["f1", "f2", "f3", "label"])]
    lines += [delimiter.join([*(repr(v) for v in row), label]) for row, label in zip(values, labels, strict=True)]
    path = write(tmp_path_factory.mktemp("csv"), "\n".join(lines) + "\n")
    loaded = load_csv(path)
    np.testing.assert_array_equal(loaded.x, np.array(values, dtype=np.float32).reshape(-1, 3))
    assert [loaded.classes[i] for i in loaded.y] == labels
