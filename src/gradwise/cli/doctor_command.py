"""``gradwise doctor [train flags]``: a short probe run, then what is wrong with the configuration and how to fix it."""

from __future__ import annotations

import argparse
import json
from typing import Any

PROBE_STEPS = 600  # enough for the loss-trend rules (a 200-step window, 3 probes in a row)
PROBE_SECONDS = 20.0


def add_parser(commands: Any) -> None:
    from gradwise.cli.train_command import add_train_flags

    p = commands.add_parser(
        "doctor",
        help="probe a configuration for training problems",
        description="Train briefly with the health monitor and report each problem with its cause and fix. "
        "Exit code 0 when healthy, 1 when not.",
        argument_default=argparse.SUPPRESS,
    )
    add_train_flags(p)
    p.add_argument("--seed", type=int, help="seed for the weights, the data order and dropout")
    p.add_argument("--steps", type=int, default=PROBE_STEPS, help=f"probe steps (default {PROBE_STEPS})")
    p.add_argument("--seconds", type=float, default=PROBE_SECONDS, help=f"time limit (default {PROBE_SECONDS:g})")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gradwise.cli.errors import UsageError
    from gradwise.cli.panels import diagnosis_panel
    from gradwise.cli.train_command import config_from_args, describe
    from gradwise.train.runner import train

    if args.steps < 1 or args.seconds <= 0:
        raise UsageError("--steps must be >= 1 and --seconds > 0")
    config = config_from_args(args)
    steps = min(args.steps, config.max_steps or args.steps)
    seconds = min(args.seconds, config.time_budget or args.seconds)
    config = config.with_overrides(max_steps=steps, time_budget=seconds, epochs=max(config.epochs, 1), monitor=True)
    as_json = getattr(args, "json", False)
    if not as_json:
        print(f"probing {describe(config)} for up to {steps} steps / {seconds:g} s", flush=True)
    result = train(config, None)
    healthy = not result.diagnoses
    if as_json:
        print(json.dumps({"healthy": healthy, "diagnoses": [d.to_json() for d in result.diagnoses]}, default=str))
    else:
        last = result.history.last
        print(f"probed {last.step if last else 0} steps: training loss {last.train_loss if last else float('nan'):.4f}")
        for d in result.diagnoses:
            print(diagnosis_panel(d))
        print("healthy: no problems found" if healthy else f"unhealthy: {len(result.diagnoses)} problem(s)")
    return 0 if healthy else 1
