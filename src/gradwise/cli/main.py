"""The ``gradwise`` command line: one sub-command per module in this folder."""

from __future__ import annotations

import argparse
import sys

from gradwise.cli import gradcheck_command


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2, no traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints the whole usage block; one line naming the flag is easier to act on.
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gradwise", description="Train small networks and find out why they fail.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    gradcheck_command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
