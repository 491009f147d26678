"""gradwise.data.csv: tables with a label column, header and delimiter detection, and every bad file's message."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradwise.data.csv import CSVError, load_csv


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
        ("", {}, "data.csv: is empty; a CSV needs rows of features and a label"),
        ("1\n2\n", {}, "data.csv: line 1 has one column; a CSV needs features and a label column"),
        ("a,b,c\n1,2\n", {}, "data.csv: line 2 has 2 fields, but line 1 has 3"),
        ("a,b\n", {}, "data.csv: has a header but no rows of data"),
        (
            "a,b\n1,x\nfoo,y\n",
            {},
            "data.csv: line 3, column 'a': 'foo' is not a finite number; fix the value, drop the column, or pass "
            "label=",
        ),
        ("a,b\n1,x\nnan,y\n", {}, "data.csv: line 3, column 'a': 'nan' is not a finite number"),
        ("a,b\n1,x\n,y\n", {}, "data.csv: line 3, column 'a': '' is not a finite number"),
        ("a,b\n1,x\n2,\n", {}, "data.csv: line 3 has no label in column 'b'; fill it in or drop the row"),
        ("a,b\n1,x\n", {"label": "c"}, "data.csv: no column named 'c'; the header has: a, b"),
        ("1,x\n", {"label": 5}, "data.csv: label column 5 is out of range for 2 columns"),
        ("1,x\n", {"label": "b", "header": False}, "data.csv: label='b' names a column, but the file has no header"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path, text, kwargs, message):
    with pytest.raises(CSVError, match=message):
        load_csv(write(tmp_path, text), **kwargs)


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
