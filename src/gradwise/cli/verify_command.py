"""``gradwise verify TRACE``: check a hand-written backprop step, from any language, and name the bug."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "verify",
        help="check a hand-written backprop step (a trace folder) and name the bug",
        description="Recompute one traced training step in float64 from your own W, b and x, find the first "
        "wrong tensor, name the kind of bug, and run the static health checks. Exit 0 when every tensor "
        "matches, 1 when something is wrong, 2 for bad input. See docs/verify.md for the trace format.",
    )
    p.add_argument("trace", nargs="?", help="folder with network.json and one file per tensor (or trace.npz)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--example", metavar="DIR", help="write a correct trace of a small network to DIR, ready to edit")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gradwise.cli.errors import UsageError
    from gradwise.verify import verify as verify_trace
    from gradwise.verify import write_example

    if args.example is not None:
        if args.trace is not None:
            raise UsageError("gradwise verify: give a TRACE to check or --example DIR to write, not both")
        written = write_example(args.example)
        print(f"wrote a correct trace of a 4-3-2 tanh/softmax network to {args.example}/ ({len(written)} files)")
        print(f"check it with: gradwise verify {args.example}")
        return 0
    if args.trace is None:
        raise UsageError("gradwise verify: give the TRACE folder to check (or --example DIR to write one)")
    report = verify_trace(args.trace)
    print(json.dumps(report.to_json()) if args.json else report.text())
    return 0 if report.correct else 1
