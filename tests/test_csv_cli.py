"""Your own table from the command line: ``--data iris.csv --label species`` through train, evaluate, predict,
doctor, sweep and report, and every bad table as one line, exit code 2 and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

from gradwise.cli.main import build_parser, main
from gradwise.train.archive import CheckpointError
from gradwise.train.model_file import load_model

COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
QUICK = ["--label", "species", "--hidden", "16", "--batch-size", "16", "--epochs", "10"]
SUMMARY = "iris.csv: 150 rows, 4 features, label 'species' (3 classes) -> 90 train, 30 validation, 30 test, " \
    "stratified, seed 0"  # fmt: skip


def write_iris(path: Path, delimiter: str = ",", rows: slice = slice(None), label: bool = True) -> Path:
    """scikit-learn's iris as a table with a header and a species text column (or without it)."""
    iris = load_iris(as_frame=False)
    lines = [delimiter.join([*COLUMNS, *(["species"] if label else [])])]
    for x, y in list(zip(iris.data, iris.target, strict=True))[rows]:
        species = [str(iris.target_names[y])] if label else []
        lines.append(delimiter.join([*(f"{v:g}" for v in x), *species]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iris")
    data = write_iris(folder / "iris.csv")
    out = folder / "run"
    assert main(["train", "--data", str(data), *QUICK, "--out", str(out), "--json"]) == 0
    return data, out


def fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command: exit code 2 and exactly one line on stderr; -> that line without 'error: '."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err[len("error: ") : -1]


def test_data_is_a_second_spelling_of_dataset():
    for command in ("train", "doctor", "sweep", "evaluate"):
        args = build_parser().parse_args([command, *(["run"] if command == "evaluate" else []), "--data", "x.csv"])
        assert args.dataset == "x.csv"
    assert build_parser().parse_args(["predict", "run", "--data", "x.csv"]).dataset == "x.csv"


def test_train_announces_the_split_and_evaluate_gives_the_same_test_rows_by_name(tmp_path, capsys):
    data = write_iris(tmp_path / "iris.csv")
    assert main(["train", "--data", str(data), *QUICK, "--out", str(tmp_path / "run")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == SUMMARY
    assert lines[1].startswith(f"training {data}, hidden 16 relu")
    trained = float(lines[-1].split()[-1])
    assert main(["evaluate", str(tmp_path / "run"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert round(report["test_accuracy"], 4) == trained > 0.8  # the same 30 test rows, read again from the file
    assert report["classes"] == ["setosa", "versicolor", "virginica"]
    assert np.array(report["confusion"]).sum(axis=1).tolist() == [10, 10, 10]  # stratified: 10 of each
    assert 0 < report["balanced_accuracy"] <= 1
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    text = capsys.readouterr().out
    assert "per class: setosa:" in text and "\n    setosa " in text and "balanced accuracy: " in text


def test_the_model_file_records_columns_classes_scaling_and_split(iris_run):
    data, out = iris_run
    _, meta = load_model(out)
    assert meta["features"] == list(COLUMNS) and meta["label"] == "species"
    assert meta["classes"] == ["setosa", "versicolor", "virginica"]
    assert len(meta["input"]["shift"]) == len(meta["input"]["scale"]) == 4
    assert meta["split"] == {"dataset": str(data.resolve()), "label": "species", "val_fraction": 0.2,
                             "test_fraction": 0.2, "seed": 0, "test_data": None}  # fmt: skip


def test_a_model_file_with_a_zero_column_scale_is_refused(iris_run, tmp_path):
    _, out = iris_run
    with np.load(out / "model.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays["__meta__"]))
    meta["input"]["scale"][2] = 0
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "model.npz", **arrays)
    with pytest.raises(CheckpointError, match=r"input must hold 4 finite shifts and 4 finite non-zero scales"):
        load_model(tmp_path / "model.npz")


def test_predict_gives_each_row_its_class_name_with_or_without_the_label(iris_run, tmp_path, capsys):
    _, out = iris_run
    rows = write_iris(tmp_path / "rows.csv", rows=slice(0, 150, 25), label=False)  # two flowers of each
    assert main(["predict", str(out), "--data", str(rows)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("row 1: setosa (p=0.") and len(lines) == 6
    labeled = write_iris(tmp_path / "labeled.csv", rows=slice(0, 150, 25))
    assert main(["predict", str(out), "--data", str(labeled), "--json"]) == 0
    predictions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line.split()[2] for line in lines] == [p["prediction"] for p in predictions]  # the label column ignored
    assert [p["label"] for p in predictions] == ["setosa"] * 2 + ["versicolor"] * 2 + ["virginica"] * 2
    correct = sum(p["label"] == p["prediction"] for p in predictions)
    assert correct >= 5
    assert main(["predict", str(out), "--data", str(labeled)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"accuracy: {correct / 6:.4f} ({correct} of 6 rows)"


def test_a_tsv_trains_and_a_separate_test_file_is_the_test_split(tmp_path, capsys):
    tsv = write_iris(tmp_path / "iris.tsv", delimiter="\t")
    assert main(["train", "--data", str(tsv), *QUICK, "--out", str(tmp_path / "tsv")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == SUMMARY.replace("iris.csv", "iris.tsv")
    train = write_iris(tmp_path / "train.csv", rows=slice(0, None, 2))  # 75 rows: 25 of each
    test = write_iris(tmp_path / "test.csv", rows=slice(1, None, 2))
    argv = ["train", "--data", str(train), "--test-data", str(test), *QUICK, "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "train.csv: 75 rows, 4 features, label 'species' (3 classes) -> 60 train, 15 validation, 75 test "
        "(from test.csv), stratified, seed 0"
    )
    assert main(["evaluate", str(tmp_path / "run"), "--json"]) == 0
    assert np.array(json.loads(capsys.readouterr().out)["confusion"]).sum() == 75


def test_evaluate_on_another_file_by_the_models_class_names(iris_run, tmp_path, capsys):
    _, out = iris_run
    other = write_iris(tmp_path / "other.csv", rows=slice(100, 150))  # virginica only
    assert main(["evaluate", str(out), "--data", str(other), "--json"]) == 0
    confusion = np.array(json.loads(capsys.readouterr().out)["confusion"])
    assert confusion.sum(axis=1).tolist() == [0, 0, 50]


def test_numeric_labels_are_one_class_whatever_their_spelling(tmp_path, capsys):
    """A run trained on labels 0, 1, 2 is evaluated on a file that writes them 0.0, 1.0, 2.0: the same classes,
    as a separate --test-data file already reads them."""
    iris = load_iris(as_frame=False)
    header = ",".join([*COLUMNS, "code"])

    def write(path: Path, spelling: str) -> Path:
        pairs = zip(iris.data, iris.target, strict=True)
        rows = [",".join([*(f"{v:g}" for v in x), spelling.format(y)]) for x, y in pairs]
        path.write_text("\n".join([header, *rows]) + "\n")
        return path

    data, other = write(tmp_path / "codes.csv", "{}"), write(tmp_path / "spelled.csv", "{}.0")
    flags = ["--label", "code", "--hidden", "16", "--batch-size", "16", "--epochs", "2"]
    assert main(["train", "--data", str(data), *flags, "--out", str(tmp_path / "run"), "--json"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(other), "--json"]) == 0
    confusion = np.array(json.loads(capsys.readouterr().out)["confusion"])
    assert confusion.sum(axis=1).tolist() == [50, 50, 50]


def test_report_on_a_table_run_draws_no_digits(iris_run, capsys):
    _, out = iris_run
    assert main(["report", str(out)]) == 0
    drawn = sorted(p.name for p in out.glob("report-*.png"))
    assert "report-confusion.png" in drawn
    assert "report-misclassified.png" not in drawn and "report-first-layer-weights.png" not in drawn


def test_a_sweep_over_two_learning_rates_on_a_table(tmp_path, capsys):
    data = write_iris(tmp_path / "iris.csv")
    argv = ["sweep", "--data", str(data), "--label", "species", "--grid", "lr=0.01,0.1", "--epochs", "3",
            "--hidden", "8", "--jobs", "1", "--out", str(tmp_path / "sweep")]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == SUMMARY
    records = [json.loads(line) for line in (tmp_path / "sweep" / "results.jsonl").read_text().splitlines()]
    assert sorted(r["axes"]["lr"] for r in records) == ["0.01", "0.1"]
    assert all(r["config"]["label"] == "species" and r["classes"] == 3 for r in records)


def test_doctor_names_an_unscaled_column_and_is_silent_once_standardized(tmp_path, capsys):
    iris = load_iris(as_frame=False)
    wide = tmp_path / "wide.csv"
    lines = ["sepal_length,petal_width_um,species"]  # one column in micrometres: about 10^4 times the other
    lines += [f"{x[0]:g},{x[3] * 10_000:g},{iris.target_names[y]}" for x, y in zip(iris.data, iris.target, strict=True)]
    wide.write_text("\n".join(lines) + "\n")
    argv = ["doctor", "--data", str(wide), "--label", "species", "--hidden", "16", "--steps", "50", "--json"]
    main([*argv, "--normalize", "none"])
    found = json.loads(capsys.readouterr().out)["diagnoses"]
    unscaled = [d for d in found if d["symptom"] == "unscaled_columns"]
    assert unscaled and "petal_width_um" in json.dumps(unscaled[0]) and "sepal_length" in json.dumps(unscaled[0])
    main([*argv, "--normalize", "standard"])
    assert "unscaled_columns" not in capsys.readouterr().out


BAD_TABLES = {
    "non-numeric cell": ("a,b,species\n1,2,x\n3,oops,y\n5,6,x\n7,8,y\n",
                         "line 3, column 'b': 'oops' is not a number; fix the value, leave the column out of the "
                         "features, or make it the label"),
    "missing label column": ("a,b,kind\n1,2,x\n3,4,y\n", "no column named 'species'; the header has: a, b, kind"),
    "empty file": ("", "is empty; a CSV needs rows of features and a label"),
    "ragged rows": ("a,b,species\n1,2,x\n3,4\n", "line 3 has 2 fields, but line 1 has 3"),
    "NaN and Inf cells": ("a,b,species\n1,nan,x\n3,inf,y\n5,6,x\n7,,y\n",
                          "3 cells are empty, NaN or Inf: line 2 column 'b' ('nan'), line 3 column 'b' ('inf'), "
                          "line 5 column 'b' (''); fill them in or drop those rows"),
    "one class": ("a,b,species\n1,2,x\n3,4,x\n5,6,x\n",
                  "every one of its 3 rows has the label 'x' in column 'species'; a classifier needs two classes or "
                  "more: choose another label column"),
    "too few rows": ("a,b,species\n1,2,x\n3,4,y\n",
                     "2 rows (1 'x', 1 'y') are too few for a training row of each class and a validation and a test "
                     "row; add rows, or pass --val-fraction 0 and --test-fraction 0"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
def test_a_bad_table_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    text, problem = BAD_TABLES[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    out = tmp_path / "run"
    argv = ["train", "--data", str(path), "--label", "species", "--out", str(out)]
    assert fails(argv, capsys) == f"{path}: {problem}"
    assert not out.exists()
    assert fails(["doctor", "--data", str(path), "--label", "species"], capsys) == f"{path}: {problem}"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--features", "a,species"], "--features lists 'species', the --label column; leave it out of --features"),
        (["--val-fraction", "1.5"], "--val-fraction must be in [0, 1), got 1.5"),
        (["--val-fraction", "0.5", "--test-fraction", "0.5"],
         "--val-fraction + --test-fraction must leave rows for training (sum < 1), got 0.5 + 0.5"),
    ],
)  # fmt: skip
def test_a_bad_table_setting_names_its_flag(flags, message, tmp_path, capsys):
    data = write_iris(tmp_path / "iris.csv")
    out = tmp_path / "run"
    assert fails(["train", "--data", str(data), "--label", "species", *flags, "--out", str(out)], capsys) == message
    assert not out.exists()


def test_table_flags_on_image_data_and_crossed_models_are_refused(iris_run, tmp_path, capsys):
    _, out = iris_run
    assert fails(["train", "--label", "species", "--out", str(tmp_path / "r")], capsys) == (
        "--label is for a table --dataset (a .csv, .tsv or .txt file), not mnist; give the table's path, or leave "
        "--label out"
    )
    assert fails(["train", "--data", "grades.xlsx", "--label", "passed"], capsys) == (
        "--label is for a table --dataset (a .csv, .tsv or .txt file), not grades.xlsx; save the spreadsheet as CSV "
        "and give that file"
    )
    assert fails(["predict", str(out), "x.png"], capsys) == (
        f"{out}: the model was trained on the table iris.csv; give the rows to classify with --data FILE.csv"
    )
    assert fails(["evaluate", str(out), "--data", "mnist"], capsys) == (
        f"--data mnist: {out} was trained on the table iris.csv; give a table with its columns"
    )
    unknown = tmp_path / "unknown.csv"
    unknown.write_text(",".join([*COLUMNS, "species"]) + "\n5.1,3.5,1.4,0.2,daisy\n")
    assert fails(["evaluate", str(out), "--data", str(unknown)], capsys) == (
        f"{unknown}: line 2, column 'species': 'daisy' is not a class the model knows (setosa, versicolor, "
        "virginica); fix the label or drop the row"
    )


def write_skewed(path: Path, rows: int, *, sorted_by_class: bool) -> Path:
    """Two separable classes, 'rare' in a tenth of the rows (or, sorted, at the end of the file)."""
    rng = np.random.default_rng(0)
    rare = rng.random(rows) < 0.1
    if sorted_by_class:
        rare = np.sort(rare)
    x = rng.normal(size=(rows, 3)) + 3.0 * rare[:, None]
    lines = ["a,b,c,kind"] + [
        ",".join([*(f"{v:.4f}" for v in row), "rare" if r else "common"]) for row, r in zip(x, rare, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_skewed_classes_are_a_note_and_the_run_is_still_healthy(tmp_path, capsys):
    """The class shares are advice on how to judge the run, not a problem of it: the doctor exits 0."""
    data = write_skewed(tmp_path / "skewed.csv", 600, sorted_by_class=False)
    flags = ["--label", "kind", "--hidden", "16", "--batch-size", "16", "--optimizer", "adam", "--lr", "0.003"]
    assert main(["doctor", "--data", str(data), *flags]) == 0
    out = capsys.readouterr().out
    assert "!! imbalanced_classes" in out and "'common' 91.1%, 'rare' 8.89%" in out
    assert out.rstrip().endswith("healthy: no problems found; 1 note on the data above")


def test_a_table_sorted_by_class_is_checked_on_rows_from_all_of_it(tmp_path, capsys):
    """More rows than the checks before training read: a file sorted by class is sampled across its length, so
    its first class alone does not read as one class (or a skew it does not have)."""
    data = write_skewed(tmp_path / "sorted.csv", 6000, sorted_by_class=True)
    flags = ["--label", "kind", "--hidden", "16", "--batch-size", "64", "--optimizer", "adam", "--lr", "0.003"]
    assert main(["doctor", "--data", str(data), *flags, "--json"]) in (0, 1)
    found = {d["symptom"]: d for d in json.loads(capsys.readouterr().out)["diagnoses"]}
    assert "bad_labels" not in found
    assert found["imbalanced_classes"]["evidence"]["smallest_share"] == pytest.approx(0.1, abs=0.02)


def test_an_id_column_among_the_features_is_named_and_leaving_it_out_is_healthy(tmp_path, capsys):
    """Kaggle's Iris.csv: an Id column counting the rows of a file sorted by species. It gives the class away."""
    iris = load_iris(as_frame=False)
    lines = [",".join(["Id", *COLUMNS, "species"])] + [
        ",".join([str(i + 1), *(f"{v:g}" for v in x), str(iris.target_names[y])])
        for i, (x, y) in enumerate(zip(iris.data, iris.target, strict=True))
    ]
    data = tmp_path / "Iris.csv"
    data.write_text("\n".join(lines) + "\n")
    flags = ["--label", "species", "--hidden", "16", "--batch-size", "16"]
    assert main(["doctor", "--data", str(data), *flags]) == 1
    out = capsys.readouterr().out
    assert "!! row_counter" in out and "column 'Id' rises with every one of the 90 rows" in out
    assert main(["doctor", "--data", str(data), *flags, "--features", ",".join(COLUMNS)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("healthy: no problems found")


def test_a_table_saved_with_its_row_index_names_that_column_by_number(tmp_path, capsys):
    """pandas' to_csv writes the index first, under an empty name: it is 'column 1', and it counts the rows."""
    lines = [",".join(["", *COLUMNS, "species"])] + [
        ",".join([str(i), *(f"{v:g}" for v in x), "abc"[y]])
        for i, (x, y) in enumerate(zip(load_iris().data, load_iris().target, strict=True))
    ]
    data = tmp_path / "saved.csv"
    data.write_text("\n".join(lines) + "\n")
    assert main(["doctor", "--data", str(data), "--label", "species", "--hidden", "16", "--json"]) == 1
    found = {d["symptom"]: d for d in json.loads(capsys.readouterr().out)["diagnoses"]}
    assert found["row_counter"]["evidence"]["column"] == "column 1"
