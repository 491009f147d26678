"""``gradwise predict MODEL IMAGE ...``: the digit in each picture and its probability; ``gradwise predict MODEL
--data rows.csv``: each row's class name and its probability, for a model trained on a table."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gradwise.cli.errors import UsageError


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "predict",
        help="classify pictures of digits, or the rows of a table, with a trained model",
        description="Classify pictures (any size, grey or colour; they are centred and resized as MNIST expects), "
        "or with --data the rows of a table with the columns the model was trained on (the label column may be "
        "left out; when it is there, the accuracy is printed too).",
    )
    p.add_argument("model", help="a run folder or its model.npz")
    p.add_argument("images", nargs="*", help="image files (PNG, JPEG, ...)")
    p.add_argument("--data", "--dataset", dest="dataset", metavar="FILE", help="a table of rows to classify")
    p.add_argument("--label", help="the table's label column, if it has one (default: the model's)")
    p.add_argument("--json", action="store_true", help="print one JSON object per image or row")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gradwise.train.model_data import is_table_model
    from gradwise.train.model_file import load_model

    net, meta = load_model(args.model)
    if is_table_model(meta):
        if args.images or args.dataset is None:
            raise UsageError(
                f"{args.model}: the model was trained on the table {meta.get('dataset')}; give the rows to classify "
                "with --data FILE.csv"
            )
        return _predict_rows(args, net, meta)
    if args.dataset is not None or args.label is not None:
        raise UsageError(f"--data: {args.model} was trained on images; give picture files instead")
    if not args.images:
        raise UsageError("predict: give one or more picture files (see gradwise predict --help)")
    return _predict_images(args, net, meta)


def _predict_images(args: argparse.Namespace, net: Any, meta: dict[str, Any]) -> int:
    import numpy as np

    from gradwise.data.images import read_image, to_mnist

    if meta["sizes"][0] != 28 * 28:
        raise UsageError(
            f"{args.model}: the model takes {meta['sizes'][0]} inputs, but predict turns pictures into 28x28 = 784 "
            "pixels; use a model trained on 28x28 images such as MNIST"
        )
    scaling = meta.get("input", {"shift": 0.0, "scale": 255.0})
    # Read every picture first: one bad file fails before any output (ImageError -> one line, exit 2).
    pictures = [to_mnist(read_image(path), path) for path in args.images]
    x = (np.stack([p.reshape(-1) for p in pictures]) - scaling["shift"]) / scaling["scale"]
    probabilities = net.predict(x)
    for path, p in zip(args.images, probabilities, strict=True):
        digit = int(p.argmax())
        if args.json:
            print(json.dumps({"image": path, "prediction": digit, "probability": float(p[digit])}))
        else:
            print(f"{path}: {digit} (p={float(p[digit]):.3f})")
    return 0


def _predict_rows(args: argparse.Namespace, net: Any, meta: dict[str, Any]) -> int:
    """Each row's class name and probability; with the label column there, each row's label and the accuracy."""
    from gradwise.train.model_data import file_rows

    rows = file_rows(meta, args.dataset, args.label, net.dtype, labeled=args.label is not None)
    probabilities = net.predict(rows.x)
    predicted = probabilities.argmax(axis=1)
    for number, (p, k) in enumerate(zip(probabilities, predicted, strict=True), start=1):
        name, probability = rows.classes[k], float(p[k])
        truth = {} if rows.y is None else {"label": rows.classes[rows.y[number - 1]]}
        if args.json:
            print(json.dumps({"row": number, "prediction": name, "probability": probability, **truth}))
        else:
            given = f"  (label {truth['label']})" if truth else ""
            print(f"row {number}: {name} (p={probability:.3f}){given}")
    if rows.y is not None and not args.json:
        correct = int((predicted == rows.y).sum())
        print(f"accuracy: {correct / len(rows):.4f} ({correct} of {len(rows)} rows)")
    return 0
