"""``gradwise gradcheck``: compare analytic and finite-difference gradients and print a table."""

from __future__ import annotations

import argparse
from typing import Any

from gradwise.cli.errors import UsageError
from gradwise.health.gradcheck import TOLERANCE, Case, check_all, random_case


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "gradcheck",
        help="check every gradient against finite differences",
        description="Compare backprop's gradients with central finite differences in float64.",
    )
    p.add_argument("--all", action="store_true", help="every activation x every loss x 1-3 hidden layers")
    p.add_argument("--activation", default="relu", help="hidden activation for a single check (default relu)")
    p.add_argument("--output", default="softmax", help="output activation for a single check (default softmax)")
    p.add_argument("--loss", default="ce", help="loss for a single check (default ce)")
    p.add_argument("--depth", type=int, default=2, choices=(1, 2, 3), help="hidden layers (default 2)")
    p.add_argument("--seed", type=int, default=0, help="random shapes and values (default 0)")
    p.set_defaults(run=run)


def _row(case: Case) -> str:
    flag = "ok" if case.worst <= TOLERANCE else "FAIL"
    pairing = f"{case.output}+{case.loss}" + ("" if case.fuse else " (unfused)")
    shape = "-".join(map(str, case.sizes))
    return f"{case.hidden:<11} {pairing:<27} {shape:<13} {case.worst:9.2e}  {flag}"


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from gradwise.nn.activations import get_activation
    from gradwise.nn.losses import get_loss

    if args.all:
        cases = check_all(args.seed)
    else:
        try:
            hidden, output = get_activation(args.activation).name, get_activation(args.output).name
            get_loss(args.loss)
        except ValueError as error:
            raise UsageError(str(error)) from None
        cases = iter([random_case(np.random.default_rng(args.seed), hidden, output, args.loss, args.depth)])
    print(f"{'hidden':<11} {'output+loss':<27} {'sizes':<13} {'max rel err':>9}")
    worst, failures, total = 0.0, 0, 0
    for case in cases:
        total += 1
        print(_row(case), flush=True)
        worst = max(worst, case.worst)
        failures += case.worst > TOLERANCE
    print(f"{total} checks, {failures} above {TOLERANCE:g}; worst relative error {worst:.2e}")
    return 1 if failures else 0
