"""``gradwise report RUN_DIR|SWEEP_DIR``: a self-contained report.html with its PNGs beside it."""

from __future__ import annotations

import argparse
import time
from typing import Any


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "report",
        help="draw a run's or a sweep's report.html",
        description=(
            "Write FOLDER/report.html, one self-contained page (images embedded, nothing fetched), with the PNGs "
            "beside it. For a run folder: loss and accuracy, per-layer gradient norms, saturated and dead units, "
            "activation histograms over time, update/weight ratios, the diagnoses on the timeline, the confusion "
            "matrix, the most confident mistakes and the first-layer weights. For a sweep folder: its stability "
            "map and a table of the trials."
        ),
    )
    p.add_argument("folder", help="a run folder (gradwise train --out) or a sweep folder (gradwise sweep --out)")
    p.add_argument("--tensorboard", metavar="DIR", help="also write the run's scalars and histograms to DIR")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gradwise.cli.flags import fix_flags
    from gradwise.report.write import write_report

    started = time.perf_counter()
    path = write_report(args.folder, fix_flags)  # the command line's report: fixes as flags
    print(f"report: {path}  ({time.perf_counter() - started:.1f}s)")
    if args.tensorboard:
        from gradwise.report.tensorboard import export_run

        written = export_run(args.folder, args.tensorboard)
        print(f"tensorboard: {written}")
    return 0
