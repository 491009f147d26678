"""Terminal output of a training run: the progress bar and per-epoch line that ``fit`` also shows (train/progress)."""

from __future__ import annotations

from gradwise.train.progress import EpochProgress, format_record

ConsoleProgress = EpochProgress  # the CLI's name for it

__all__ = ["ConsoleProgress", "format_record"]
