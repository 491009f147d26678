"""``gradwise train``: train a network from a preset and flags, write a run folder, report test accuracy."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from gradwise.cli.errors import UsageError


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected column names like a,b,c, got {text!r}")
    return names


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 1000 or 512,256, got {text!r}") from None
    if not sizes:
        raise argparse.ArgumentTypeError("expected at least one size")
    return sizes


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "train",
        help="train a network and write a run folder",
        description="Train a fully connected network. A preset sets every field; flags override it.",
        argument_default=argparse.SUPPRESS,  # only flags given on the command line override the preset
    )
    add_train_flags(p)
    run = p.add_argument_group("run")
    run.add_argument("--seed", type=int, help="seed for the weights, the data order and dropout")
    run.add_argument("--out", help="run folder (default runs/<preset>-<time>)")
    run.add_argument("--json", action="store_true", help="print one JSON object instead of progress")
    run.add_argument("--report", action="store_true", help="write OUT/report.html when the run ends (gradwise report)")
    run.add_argument("--tensorboard", metavar="DIR", help="write scalars and histograms for TensorBoard to DIR")
    run.add_argument("--checkpoint-every", type=int, help="save checkpoint.npz every N steps, for --resume")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint, exactly")
    p.set_defaults(run=run_train)


def add_train_flags(p: argparse.ArgumentParser) -> None:
    """``--preset`` and every hyperparameter flag but ``--seed``; ``gradwise sweep`` takes the same ones.

    ``p`` should use ``argument_default=argparse.SUPPRESS``, so only flags given override the preset.
    """
    from gradwise.train.config import BLAS, NORMS, PRESETS

    p.add_argument("--preset", default="default", choices=sorted(PRESETS), help="starting configuration")
    add_data_flags(p)
    model = p.add_argument_group("model")
    model.add_argument("--hidden", type=_hidden, help="hidden sizes: 1000 or 512,256")
    model.add_argument("--activation", help="identity sigmoid tanh relu leaky_relu elu softplus softmax")
    model.add_argument("--output", help="output activation (softmax, sigmoid, identity, ...)")
    model.add_argument("--loss", help="mse, bce or ce (softmax cross-entropy)")
    model.add_argument("--init", help="zeros constant normal uniform glorot_uniform glorot_normal he_normal ...")
    model.add_argument("--init-scale", type=float, help="std of normal, upper bound of uniform, value of constant")
    model.add_argument("--bias-init", type=float, help="constant initial bias")
    model.add_argument("--dropout", type=float, help="dropout probability after each hidden layer")
    model.add_argument(
        "--norm", choices=NORMS, help="batch (BatchNorm) or layer (LayerNorm) after each hidden layer; none: neither"
    )
    model.add_argument("--dtype", help="float32 or float64")
    model.add_argument(
        "--blas", choices=BLAS, help="GEMM library: auto (per shape, the faster, timed), openblas, mkl (gradwise[mkl])"
    )
    opt = p.add_argument_group("optimizer")
    opt.add_argument("--optimizer", help="sgd momentum nesterov adam adamw rmsprop")
    opt.add_argument("--lr", type=float, help="learning rate")
    opt.add_argument("--momentum", type=float, help="momentum (momentum, nesterov, rmsprop)")
    opt.add_argument("--weight-decay", type=float, help="L2 weight decay (decoupled for adamw)")
    opt.add_argument("--clip-norm", type=float, help="clip the gradients' global norm")
    opt.add_argument("--schedule", help="constant, step, exponential or cosine")
    opt.add_argument("--warmup-steps", type=int, help="linear learning-rate warm-up steps")
    opt.add_argument("--batch-size", type=int, help="samples per batch")
    stop = p.add_argument_group("stopping")
    stop.add_argument("--epochs", type=int, help="stop after this many epochs")
    stop.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    stop.add_argument("--time-budget", type=float, help="stop after this many seconds")
    stop.add_argument("--close-enough", type=float, help="stop when the epoch loss changes by less than this")
    stop.add_argument("--patience", type=int, help="stop after N epochs without a better validation loss")
    stop.add_argument("--target-accuracy", type=float, help="stop once validation accuracy reaches this")
    health = p.add_argument_group("health")
    health.add_argument("--on-nan", help="stop (default), rollback (restore, halve the lr, go on) or skip the batch")
    health.add_argument("--repair", action="store_true", help="probe, fix causes first, then train")
    health.add_argument("--no-monitor", dest="monitor", action="store_false", help="turn the health monitor off")
    health.add_argument("--health-interval", type=int, help="steps between the monitor's probes (default: by size)")


def add_data_flags(p: argparse.ArgumentParser) -> None:
    """Where the data comes from: an image data set, or a table and how to read and split it."""
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset", "--data", dest="dataset",
        help="mnist, fashion-mnist, a folder of the four IDX files, or a table: a .csv, .tsv or .txt with a header",
    )  # fmt: skip
    data.add_argument("--data-dir", help="where to look for fashion-mnist")
    data.add_argument(
        "--normalize",
        help="unit (pixels/255; a table's columns to [0, 1]), standard (mean 0, std 1), or none (as they are)",
    )
    data.add_argument("--validation", type=int, help="validation images, from the end of the training set")
    data.add_argument("--limit-train", type=int, help="train on the first N training images (or table rows) only")
    table = p.add_argument_group("table (with --data FILE.csv)")
    table.add_argument("--label", help="the label column (default: one named label, class or target, else the last)")
    table.add_argument("--features", type=_names, help="the feature columns: a,b,c (default: all but the label)")
    table.add_argument("--test-data", metavar="FILE", help="a separate test file with the same columns")
    table.add_argument("--val-fraction", type=float, help="share of rows for validation, stratified (default 0.2)")
    table.add_argument("--test-fraction", type=float, help="share of rows for testing without --test-data (0.2)")


def config_from_args(args: argparse.Namespace) -> Any:
    from gradwise.train.config import TrainConfig, preset

    fields = set(TrainConfig.__dataclass_fields__) - {"preset", "extra"}
    overrides = {k: v for k, v in vars(args).items() if k in fields}
    return preset(args.preset, **overrides)


def run_train(args: argparse.Namespace) -> int:
    from gradwise.cli.flags import fix_flags
    from gradwise.cli.panels import diagnosis_panel
    from gradwise.train.progress import EpochProgress
    from gradwise.train.runner import train

    resume = getattr(args, "resume", None)
    if resume is not None:
        config, out = resumed_config(args, Path(resume))
    else:
        config = config_from_args(args)
        out = Path(getattr(args, "out", None) or Path("runs") / f"{config.preset}-{time.strftime('%Y%m%d-%H%M%S')}")
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out}: is a file, not a folder; choose another path")
    as_json = getattr(args, "json", False)
    callbacks: list[Any] = []
    if getattr(args, "tensorboard", None):
        from gradwise.report.tensorboard import TensorBoardLog, missing

        if (why := missing()) is not None:
            raise UsageError(f"--tensorboard: {why}")
        callbacks.append(TensorBoardLog(args.tensorboard, out))
    if not as_json:
        rows = announce_data(config)
        callbacks.append(EpochProgress(config.epochs, -(-rows // config.batch_size)))
        print(f"training {describe(config)} -> {out}", flush=True)

    def announce(diagnosis: Any) -> None:
        if not as_json:
            print(diagnosis_panel(diagnosis), flush=True)

    def event(text: str) -> None:
        if not as_json:
            print(text, flush=True)

    def applied(diagnosis: Any, fix: Any) -> None:
        event(f"repair: {diagnosis.headline()} -> {fix_flags(fix)}")

    result = train(config, out, callbacks, on_diagnosis=announce, on_event=event, on_fix=applied,
                   resume=resume is not None)  # fmt: skip
    if result.repair is not None:
        event(result.repair.verdict)
    report = None
    if getattr(args, "report", False):  # also after a run that stopped on a diagnosis: that is when it helps most
        from gradwise.report.write import write_report

        report = write_report(out, fix_flags)
    _print_result(result, report, as_json)
    return 0


def _print_result(result: Any, report: Path | None, as_json: bool) -> None:
    """The run's summary: one JSON object, or the health lines, the verdict and the test figures."""
    from gradwise.cli.flags import fix_flags
    from gradwise.cli.panels import summary_lines
    from gradwise.health.fixes import Fix

    if as_json:
        repairs = [{**c, "flags": fix_flags(Fix(c["changes"]))} for c in result.repairs]  # in the CLI's words too
        summary = {**result.summary(), "repairs": repairs}
        print(json.dumps({**summary, **({"report": str(report)} if report else {})}, default=str))
        return
    for line in summary_lines(result.diagnoses, result.repair.verdict if result.repair else None):
        print(line)
    if result.model_error:
        print(f"warning: {result.model_error}")
    print(f"test loss: {result.test_loss:.4f}  ({result.seconds:.1f}s)")
    print(f"test accuracy: {result.test_accuracy:.4f}")
    if report is not None:
        print(f"report: {report}")


def resumed_config(args: argparse.Namespace, folder: Path) -> tuple[Any, Path]:
    """The saved configuration of the run in ``folder``; hyperparameter flags cannot change it."""
    from gradwise.train.config import TrainConfig
    from gradwise.train.run_folder import CHECKPOINT_FILE, CONFIG_FILE, RunFolder

    if not folder.is_dir():
        raise UsageError(f"--resume {folder}: no such run folder; give the --out folder of an earlier run")
    if not (folder / CHECKPOINT_FILE).is_file():
        raise UsageError(f"--resume {folder}: holds no {CHECKPOINT_FILE}; start runs with --checkpoint-every N")
    fields = set(TrainConfig.__dataclass_fields__) - {"extra"}
    given = sorted(k for k in vars(args) if k in (fields | {"out"}) - {"preset"})
    given += ["preset"] if args.preset != "default" else []
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise UsageError(f"--resume continues a run as it was configured; drop {flags}")
    config = TrainConfig.from_dict(RunFolder(folder).read_config(), str(folder / CONFIG_FILE))
    return config, folder


def train_command_line(config: Any) -> str:
    """The ``gradwise train`` command that runs ``config``: its preset and the flags that differ from it."""
    from dataclasses import fields

    from gradwise.cli.flags import flag
    from gradwise.train.config import TrainConfig, preset

    base = preset(config.preset)
    words = ["gradwise train", *([f"--preset {config.preset}"] if config.preset != "default" else [])]
    for field in fields(TrainConfig):
        value = getattr(config, field.name)
        if field.name not in ("preset", "extra", "repair") and value != getattr(base, field.name) and value is not None:
            words.append(flag(field.name, value))
    return " ".join(words)


def announce_data(config: Any) -> int:
    """Print a table's split (its rows, features, classes and split sizes) and return the training rows per epoch;
    a bad table is its one-line error here, before anything is written."""
    if not config.is_table:
        return min(config.limit_train or 10**9, 60_000 - config.validation)
    from gradwise.data.tables import split_summary
    from gradwise.train.runner import load_data

    data = load_data(config)
    print(split_summary(data), flush=True)
    return len(data.train)


def describe(config: Any) -> str:
    return (
        f"{config.dataset}, hidden {','.join(map(str, config.hidden))} {config.activation}"
        f"{'' if config.norm == 'none' else f' + {config.norm} norm'}, "
        f"output {config.output}, loss {config.loss}, "
        f"{config.optimizer} lr {config.lr:g}, batch {config.batch_size}"
    )
