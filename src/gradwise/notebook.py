"""Everything the CLI does, from Python: ``gw.doctor``, ``gw.train`` and ``gw.report`` return what the CLI prints.

Each returns an object a notebook shows as HTML: the doctor's findings, the run's ``Result``, the report page.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradwise.callable_package import register
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.fixes import Fix
from gradwise.train import runner
from gradwise.train.callbacks import Callback
from gradwise.train.config import TrainConfig
from gradwise.train.doctor import CHECKUP_SECONDS, CHECKUP_STEPS, DoctorReport
from gradwise.train.doctor import doctor as _doctor
from gradwise.train.progress import EpochProgress, interactive
from gradwise.train.result import Result

if TYPE_CHECKING:
    from gradwise.report.notebook import InlineReport


def as_config(config_or_flags: TrainConfig | str | Sequence[str]) -> TrainConfig:
    """A TrainConfig as given, or from ``gradwise train`` flags (``"--preset seed-2017 --lr 0.1"``)."""
    if isinstance(config_or_flags, TrainConfig):
        return config_or_flags
    import shlex

    from gradwise.cli.doctor_command import config_from_flags  # the CLI owns its flags; only their parser is used

    words = shlex.split(config_or_flags) if isinstance(config_or_flags, str) else list(config_or_flags)
    config: TrainConfig = config_from_flags(words)
    return config


def doctor(
    config_or_flags: TrainConfig | str | Sequence[str],
    *,
    repair: bool = False,
    steps: int = CHECKUP_STEPS,
    seconds: float = CHECKUP_SECONDS,
) -> DoctorReport:
    """``gradwise doctor``: probe the configuration, and with ``repair`` fix it causes first.

    ``doctor(...).config`` is the configuration to train (the repaired one with ``repair``).
    """
    shown = interactive()
    return _doctor(as_config(config_or_flags), steps=steps, seconds=seconds, repair=repair,
                   on_fix=_say_fix if shown else None)  # fmt: skip


def train(
    config_or_flags: TrainConfig | str | Sequence[str], out: str | Path | None = None, *, progress: bool | None = None
) -> Result:
    """``gradwise train``: the whole run (``config.repair`` first repairs it); ``out`` keeps a run folder for
    ``report``. ``progress`` as in ``fit``: a bar and a line per epoch where output is watched."""
    config = as_config(config_or_flags)
    shown = progress or (progress is None and interactive())
    callbacks: list[Callback] = [EpochProgress(config.epochs)] if shown else []
    result = runner.train(config, out, callbacks, on_event=print if shown else None, on_fix=_say_fix if shown else None)
    if shown and result.repair is not None:
        print(result.repair.verdict)
    return result


def _say_fix(diagnosis: Diagnosis, fix: Fix) -> None:
    print(f"repair: {diagnosis.headline()} -> {fix.python()}")


def report(run: Result | str | Path) -> InlineReport:
    """``gradwise report``: write the report of a run folder, a sweep folder or a Result with one, shown inline."""
    from gradwise.report.notebook import report as inline_report  # matplotlib only when a report is drawn

    return inline_report(run)


register("gradwise.train", train)  # gw.train(config)
register("gradwise.report", report)  # gw.report(run)

__all__: list[Any] = ["as_config", "doctor", "report", "train"]
