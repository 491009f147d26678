"""``gradwise evaluate RUN_DIR|model.npz``: accuracy, loss, balanced accuracy, per-class accuracy and the confusion
matrix, by class name for a model trained on a table."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gradwise.cli.errors import UsageError


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "evaluate",
        help="test a trained model",
        description="Evaluate a trained model on the test split of its data set (or another one). A model trained "
        "on a table is tested on the same test rows again, read from the file its run recorded.",
    )
    p.add_argument("model", help="a run folder or its model.npz")
    p.add_argument(
        "--dataset", "--data", dest="dataset",
        help="data set to test on (default: the one it was trained on); a table: every row is a test row",
    )  # fmt: skip
    p.add_argument("--data-dir", help="where to look for fashion-mnist")
    p.add_argument("--label", help="a table's label column (default: the one the model was trained with)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from gradwise.data.datasets import one_hot
    from gradwise.train.evaluation import evaluate, mean_recall
    from gradwise.train.model_file import load_model

    net, meta = load_model(args.model)
    x, labels, names = _test_rows(args, net, meta)
    classes = len(names)
    loss, acc = evaluate(net, meta.get("loss", "ce"), x, one_hot(labels, classes, net.dtype))
    predicted = net.predict(x).argmax(axis=1)
    balanced = mean_recall(predicted, labels)  # from the same predictions as the confusion matrix
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    if args.json:
        report = {
            "test_accuracy": acc,
            "test_loss": loss,
            "balanced_accuracy": balanced,
            "classes": list(names),
            "per_class_accuracy": per_class.round(6).tolist(),
            "confusion": confusion.tolist(),
        }
        print(json.dumps(report))
        return 0
    print(f"test accuracy: {acc:.4f}\ntest loss: {loss:.4f}\nbalanced accuracy: {balanced:.4f}\n")
    print("per class: " + "  ".join(f"{c}:{a:.3f}" for c, a in zip(names, per_class, strict=True)))
    print("\nconfusion (rows: true class, columns: predicted)")
    label_width = max(4, *(len(name) for name in names))
    width = max(5, len(str(confusion.max())) + 1, *(len(name) + 1 for name in names))
    print(" " * (label_width + 1) + "".join(f"{c:>{width}}" for c in names))
    for name, row in zip(names, confusion, strict=True):
        print(f"{name:>{label_width}} " + "".join(f"{v:>{width}}" for v in row))
    return 0


def _test_rows(args: argparse.Namespace, net: Any, meta: dict[str, Any]) -> tuple[Any, Any, list[str]]:
    """(x scaled as in training, labels, class names): a table's test rows, or an image data set's test split."""
    from gradwise.data.tables import is_table
    from gradwise.train.model_data import file_rows, is_table_model, recorded_test_rows

    table_model = is_table_model(meta)
    if args.dataset is not None and is_table(args.dataset) != table_model:
        raise UsageError(_mismatch(args.model, meta, args.dataset))
    if table_model:
        if args.dataset is None:
            rows = recorded_test_rows(meta, net.dtype)
        else:
            rows = file_rows(meta, args.dataset, args.label, net.dtype, labeled=True)
        assert rows.y is not None
        return rows.x, rows.y, list(rows.classes)
    if args.label is not None:
        raise UsageError(f"--label is for a model trained on a table; {args.model} was trained on images")
    return _image_rows(args, net, meta)


def _image_rows(args: argparse.Namespace, net: Any, meta: dict[str, Any]) -> tuple[Any, Any, list[str]]:
    from gradwise.data.datasets import load_dataset

    data = load_dataset(args.dataset or meta.get("dataset", "mnist"), args.data_dir, validation=0, normalize="none")
    n_in, n_out = meta["sizes"][0], meta["sizes"][-1]
    if (n_in, n_out) != (data.num_features, data.num_classes):
        raise UsageError(
            f"{args.model}: the model takes {n_in} inputs and predicts {n_out} classes, but {data.name} has "
            f"{data.num_features} pixels per image and {data.num_classes} classes; give --dataset the data set "
            "it was trained on"
        )
    scaling = meta.get("input", {"shift": 0.0, "scale": 255.0})
    x = ((data.test.x - scaling["shift"]) / scaling["scale"]).astype(net.dtype)
    return x, data.test.y, [str(c) for c in range(data.num_classes)]


def _mismatch(model: str, meta: dict[str, Any], data: str) -> str:
    """A table given to an image model, or images to a table model."""
    from gradwise.train.model_data import is_table_model

    if is_table_model(meta):
        return f"--data {data}: {model} was trained on the table {meta.get('dataset')}; give a table with its columns"
    return f"--data {data}: {model} was trained on images ({meta.get('dataset', 'mnist')}); give an image data set"
