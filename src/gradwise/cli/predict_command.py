"""``gradwise predict MODEL IMAGE ...``: the digit in each picture and its probability."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gradwise.cli.errors import UsageError


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "predict",
        help="classify pictures of digits with a trained model",
        description="Classify pictures (any size, grey or colour); they are centred and resized as MNIST expects.",
    )
    p.add_argument("model", help="a run folder or its model.npz")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...)")
    p.add_argument("--json", action="store_true", help="print one JSON object per image")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from gradwise.data.images import read_image, to_mnist
    from gradwise.train.model_file import load_model

    net, meta = load_model(args.model)
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
