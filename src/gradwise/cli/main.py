"""The ``gradwise`` command line: one sub-command per module in this folder."""

from __future__ import annotations

import argparse
import sys

from gradwise.cli import (
    doctor_command,
    evaluate_command,
    gradcheck_command,
    predict_command,
    report_command,
    sweep_command,
    train_command,
    verify_command,
)
from gradwise.cli.errors import Parser, user_errors


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="gradwise", description="Train small networks and find out why they fail.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    train_command.add_parser(commands)
    doctor_command.add_parser(commands)
    evaluate_command.add_parser(commands)
    predict_command.add_parser(commands)
    gradcheck_command.add_parser(commands)
    sweep_command.add_parser(commands)
    report_command.add_parser(commands)
    verify_command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args))
    except user_errors() as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _one_line(error: BaseException) -> str:
    from gradwise.cli.flags import error_line
    from gradwise.files import WriteFailed
    from gradwise.train.config import ConfigError

    text = error_line(error) if isinstance(error, ConfigError | WriteFailed) else str(error)
    return " ".join(text.split()) or type(error).__name__
