"""Errors the command line turns into one line on stderr and exit code 2."""

from __future__ import annotations

import argparse


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2, no traceback."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one UsageError line naming it instead of the whole usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def user_errors() -> tuple[type[BaseException], ...]:
    """Every error type that means bad input (a file, a flag, a folder), not a bug."""
    from gradwise.data.csv import CSVError
    from gradwise.data.datasets import DatasetNotFound
    from gradwise.data.idx import IdxError
    from gradwise.data.images import ImageError
    from gradwise.files import WriteFailed
    from gradwise.train.archive import CheckpointError
    from gradwise.train.config import ConfigError
    from gradwise.verify.files import TraceError

    return (
        UsageError, ConfigError, CheckpointError, IdxError, CSVError, DatasetNotFound, ImageError, TraceError,
        WriteFailed,
    )  # fmt: skip
