"""Train on your own data: a CSV file with a label column, or a folder of the four MNIST-style IDX files.

    python examples/custom_data.py                           # writes a small generated CSV and trains on it
    python examples/custom_data.py iris.csv --label species  # any CSV: numeric features, labels of any text
    python examples/custom_data.py my-digits/                # train-images-idx3-ubyte, ... (raw or .gz)

A CSV goes through `gw.load_table`, the loader `gradwise train --data FILE.csv` uses: split 60/20/20 into
training, validation and test rows by class and seed, standardized with the training rows' statistics. It trains
with the same TrainConfig as `gradwise train`, the health monitor watching. An IDX folder goes through
`gradwise.train.runner.train`, exactly as `gradwise train --dataset FOLDER`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import gradwise as gw
from gradwise.data.tables import split_summary
from gradwise.train.config import build_network, build_optimizer, build_stop, settings_of
from gradwise.train.runner import train


def make_spirals(path: Path, rows: int = 600, seed: int = 0) -> None:
    """Three interleaved spirals named red, green and blue, plus two columns of noise: (rows, 4) features."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 3, size=rows)
    radius = rng.uniform(0.1, 1.0, size=rows)
    angle = 2 * np.pi * arm / 3 + 3.0 * radius + rng.normal(0, 0.15, size=rows)
    features = np.column_stack([radius * np.cos(angle), radius * np.sin(angle), rng.normal(size=(rows, 2))])
    names = np.array(["red", "green", "blue"])[arm]
    lines = ["x,y,noise_1,noise_2,colour"] + [
        ",".join([*(f"{v:.5f}" for v in row), name]) for row, name in zip(features, names, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def train_csv(path: Path, label: str | None, config: gw.TrainConfig) -> float:
    data = gw.load_table(path, label, normalize="standard", seed=config.seed)  # train/val/test: x (N, F), y (N,)
    rows = len(data.train) + len(data.val) + len(data.test)
    print(f"{path.name}: {rows} rows, {data.num_features} features, label {data.label!r}: {data.classes}")
    print(split_summary(data))
    x, t = data.train.x, gw.one_hot(data.train.y, data.num_classes)  # t: (N, classes) float32

    net = build_network(config, data.num_features, data.num_classes)
    batches = gw.source(x, t) | gw.shuffle(config.seed) | gw.batch(config.batch_size)
    monitor = gw.HealthMonitor(settings_of(config))
    for diagnosis in gw.static_checks(net, config.loss, x, t, settings_of(config), data.features, data.classes):
        monitor.add(diagnosis)
    history = gw.fit(
        net,
        config.loss,
        build_optimizer(config, len(batches)),
        batches,
        build_stop(config),  # max_epochs(epochs) | no_improvement(patience) on the validation loss
        validation=(data.val.x, gw.one_hot(data.val.y, data.num_classes)),
        callbacks=[monitor],
        rng=config.seed,
    )
    print(f"trained {len(history)} epochs: {history.stop_reason}")
    for d in monitor.diagnoses:
        print(f"  {d.headline()}: {d.cause} -> fix: {d.fix[0] if d.fix else '-'}")
    return gw.evaluate(net, config.loss, data.test.x, gw.one_hot(data.test.y, data.num_classes))[1]


def train_idx(folder: Path, config: gw.TrainConfig) -> float:
    images = len(gw.load_dataset(folder, validation=0).train)
    config = config.with_overrides(dataset=str(folder), validation=max(1, images // 6))
    result = train(config, None)  # out=None: no run folder; give a path to keep config.json and model.npz
    print(f"{folder}: trained {len(result.history)} epochs on {images - config.validation} images")
    for d in result.diagnoses:
        print(f"  {d.headline()} -> fix: {d.fix[0] if d.fix else '-'}")
    return result.test_accuracy


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", help="a CSV file or a folder of IDX files (none: a generated CSV)")
    parser.add_argument("--label", help="the CSV's label column (default: label/class/target, else the last)")
    parser.add_argument("--hidden", default="64", help="hidden sizes, e.g. 64 or 128,64 (default 64)")
    parser.add_argument("--epochs", type=int, default=100, help="at most this many epochs (default 100)")
    args = parser.parse_args(argv)
    config = gw.preset(
        "default",
        hidden=tuple(int(h) for h in args.hidden.split(",")),
        optimizer="adam",
        lr=0.01,
        batch_size=32,
        epochs=args.epochs,
        patience=10,
    )
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(args.data) if args.data else Path(scratch) / "spirals.csv"
        if not args.data:
            make_spirals(path)
            print(f"no data given: wrote {path}")
        accuracy = train_idx(path, config) if path.is_dir() else train_csv(path, args.label, config)
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
