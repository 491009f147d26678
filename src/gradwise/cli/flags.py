"""The command line's words for settings: a ``TrainConfig`` field is a flag (``init_scale`` -> ``--init-scale``),
a fix is the flags that apply it, a configuration error names the flag to correct.

Everything below the CLI speaks in data (``Fix.changes``, ``ConfigError.fields``); only here do they become
flags. Python users read fixes as ``TrainConfig`` arguments (``Fix.python()``), scikit-learn users as the
estimator's parameters, and ``gradwise verify`` in plain words (``Fix.words()``).
"""

from __future__ import annotations

from typing import Any

from gradwise.files import WriteFailed
from gradwise.health.fixes import Fix
from gradwise.train.config import ConfigError


def option(name: str) -> str:
    """A setting's flag: ``option("init_scale")`` -> ``--init-scale``."""
    return "--" + name.replace("_", "-")


def flag(name: str, value: Any) -> str:
    """One setting as a command-line flag: ``flag("init_scale", 0.5)`` -> ``--init-scale 0.5``."""
    if isinstance(value, bool):
        return option(name) if value else f"--no-{name.replace('_', '-')}"
    if isinstance(value, tuple | list):
        return f"{option(name)} {','.join(str(v) for v in value)}"
    if isinstance(value, float):
        return f"{option(name)} {value:g}"
    return f"{option(name)} {value}"


def fix_flags(fix: Fix) -> str:
    """The fix as command-line flags (``--init he_normal --lr 0.01``), or its advice."""
    if not fix.changes:
        return fix.advice
    # A setting back to None drops its flag (e.g. --init-scale when the new init takes none).
    words = [flag(name, value) for name, value in fix.changes.items() if value is not None]
    dropped = [option(name) for name, value in fix.changes.items() if value is None]
    return " ".join(words) if words else "leave out " + " ".join(dropped)


def error_line(error: ConfigError | WriteFailed) -> str:
    """A configuration error naming the flags to correct (``--lr must be > 0, got 0``); a refused write saying
    the command that resumes the run once there is room."""
    if isinstance(error, WriteFailed):
        if error.resume is None:
            return str(error)
        return f"{error.what()}: free space and run `gradwise train --resume {error.resume}`"
    return error.phrased(option)
