"""``gradwise evaluate RUN_DIR|model.npz``: accuracy, loss, per-class accuracy and the confusion matrix."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gradwise.cli.errors import UsageError


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "evaluate",
        help="test a trained model",
        description="Evaluate a trained model on the test split of its data set (or another one).",
    )
    p.add_argument("model", help="a run folder or its model.npz")
    p.add_argument("--dataset", help="data set to test on (default: the one it was trained on)")
    p.add_argument("--data-dir", help="where to look for fashion-mnist")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from gradwise.data.datasets import load_dataset, one_hot
    from gradwise.train.evaluation import evaluate
    from gradwise.train.model_file import load_model

    net, meta = load_model(args.model)
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
    labels = data.test.y
    classes = data.num_classes
    loss, acc = evaluate(net, meta.get("loss", "ce"), x, one_hot(labels, classes, net.dtype))
    predicted = net.predict(x).argmax(axis=1)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    if args.json:
        print(
            json.dumps(
                {
                    "test_accuracy": acc,
                    "test_loss": loss,
                    "per_class_accuracy": per_class.round(6).tolist(),
                    "confusion": confusion.tolist(),
                }
            )
        )
        return 0
    print(f"test accuracy: {acc:.4f}\ntest loss: {loss:.4f}\n")
    print("per class: " + "  ".join(f"{c}:{a:.3f}" for c, a in enumerate(per_class)))
    print("\nconfusion (rows: true class, columns: predicted)")
    width = max(5, len(str(confusion.max())) + 1)
    print("     " + "".join(f"{c:>{width}}" for c in range(classes)))
    for c, row in enumerate(confusion):
        print(f"{c:>4} " + "".join(f"{v:>{width}}" for v in row))
    return 0
