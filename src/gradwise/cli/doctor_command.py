"""``gradwise doctor [train flags]``: a short probe run, then what is wrong with the configuration and how to fix it.

With ``--repair`` it goes on: it applies the fixes in the repair order, probes each change, and prints the
``gradwise train`` command line that probed healthy (or what it tried and what remains).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from gradwise.health.diagnosis import problems
from gradwise.health.symptoms import is_advice
from gradwise.train.doctor import CHECKUP_SECONDS, CHECKUP_STEPS


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
    p.add_argument("--steps", type=int, default=CHECKUP_STEPS, help=f"probe steps (default {CHECKUP_STEPS})")
    p.add_argument("--seconds", type=float, default=CHECKUP_SECONDS, help=f"time limit (default {CHECKUP_SECONDS:g})")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def config_from_flags(flags: list[str]) -> Any:
    """A TrainConfig from ``gradwise doctor`` (or train) flags as a shell splits them: ``["--preset", "x"]``."""
    from gradwise.cli.errors import Parser
    from gradwise.cli.train_command import config_from_args

    parser = Parser(prog="gradwise")
    add_parser(parser.add_subparsers(dest="command", required=True, parser_class=Parser))
    return config_from_args(parser.parse_args(["doctor", *flags]))


def run(args: argparse.Namespace) -> int:
    from gradwise.cli.errors import UsageError
    from gradwise.cli.train_command import announce_data, config_from_args, describe
    from gradwise.train.doctor import doctor

    if args.steps < 1 or args.seconds <= 0:
        raise UsageError("--steps must be >= 1 and --seconds > 0")
    config = config_from_args(args)
    as_json = getattr(args, "json", False)
    steps = min(args.steps, config.max_steps or args.steps)
    seconds = min(args.seconds, config.time_budget or args.seconds)
    if not as_json:
        announce_data(config)
    if config.repair:
        def announce(candidate: Any) -> None:
            if not as_json:
                print(f"probing {describe(candidate)} for up to {steps} steps", flush=True)

        found = doctor(config, steps=steps, seconds=seconds, repair=True, on_probe=announce,
                       on_fix=None if as_json else _say_fix)  # fmt: skip
        return _print_repair(found, as_json)
    if not as_json:
        print(f"probing {describe(config)} for up to {steps} steps / {seconds:g} s", flush=True)
    found = doctor(config, steps=steps, seconds=seconds)
    if as_json:
        print(json.dumps({"healthy": found.healthy, "diagnoses": [d.to_json() for d in found.diagnoses]}, default=str))
    else:
        for line in probe_lines(found):
            print(line)
    return 0 if found.healthy else 1


def probe_lines(found: Any) -> list[str]:
    """The probe's loss, a panel per diagnosis and the verdict, as the doctor prints them."""
    from gradwise.cli.panels import diagnosis_panel

    last = found.probe.history.last
    lines = [f"probed {last.step if last else 0} steps: training loss {last.train_loss if last else float('nan'):.4f}"]
    lines += [diagnosis_panel(d) for d in found.diagnoses]
    return [*lines, health_line(found.healthy, found.diagnoses)]


def health_line(healthy: bool, diagnoses: list[Any]) -> str:
    """``healthy: no problems found`` (with how many notes on the data), or how many problems."""
    count = len(problems(diagnoses))
    notes = len(diagnoses) - count
    if healthy:
        return "healthy: no problems found" + (f"; {notes} note{'s' * (notes > 1)} on the data above" if notes else "")
    return f"unhealthy: {count} problem(s)"


def _print_repair(found: Any, as_json: bool) -> int:
    """Each attempt and the command line that worked, or what it tried and what remains."""
    from gradwise.cli.flags import fix_flags
    from gradwise.cli.panels import diagnosis_panel
    from gradwise.cli.train_command import train_command_line

    plan = found.plan
    final = plan.chosen
    command = train_command_line(plan.config)
    attempts = [
        {"changes": [fix_flags(f) for _, f in a.applied], "diagnoses": [d.to_json() for d in a.diagnoses],
         "accuracy": a.accuracy, "steps": a.steps}
        for a in plan.attempts
    ]  # fmt: skip
    if as_json:
        report = {"healthy": plan.attempts[0].healthy, "diagnoses": attempts[0]["diagnoses"],
                  "repair": {"healthy": final.healthy, "command": command, "attempts": attempts}}  # fmt: skip
        print(json.dumps(report, default=str))
        return 0 if final.healthy else 1
    for number, attempt in enumerate(plan.attempts):
        changed = "; ".join(fix_flags(f) for _, f in attempt.applied) or "as given"
        verdict = "healthy" if attempt.healthy else ", ".join(d.headline() for d in attempt.diagnoses)
        kept = "  (kept)" if attempt.kept else ""
        print(f"attempt {number} ({changed}): {attempt.steps} steps, accuracy {attempt.accuracy:.4f}: {verdict}{kept}")
    for d in final.diagnoses:
        if final.healthy == is_advice(d.symptom):  # a healthy run's notes, else its problems
            print(diagnosis_panel(d))
    if final.healthy and not plan.applied:
        print(f"healthy: nothing to repair; as given:\n  {command}")
        return 0
    if final.healthy:
        print(f"repaired: this command line probed healthy:\n  {command}")
        return 0
    tried = "; ".join(fix_flags(f) for _, f in plan.applied) or "nothing"
    remaining = ", ".join(d.headline() for d in problems(final.diagnoses))
    print(f"not repaired: tried {tried}; what remains is {remaining}")
    return 1


def _say_fix(diagnosis: Any, fix: Any) -> None:
    from gradwise.cli.flags import fix_flags

    print(f"repair: {diagnosis.headline()} -> {fix_flags(fix)}")
