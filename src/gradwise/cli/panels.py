"""How diagnoses look in a terminal: a short panel each (``gradwise.display``), and a summary at the end of a run."""

from __future__ import annotations

from collections.abc import Sequence

from gradwise.display import diagnosis_panel
from gradwise.health.diagnosis import Diagnosis

__all__ = ["diagnosis_panel", "summary_lines"]


def summary_lines(diagnoses: Sequence[Diagnosis], verdict: str | None = None) -> list[str]:
    """One line per diagnosis, and --repair's verdict; a single line when the run was healthy."""
    lines = [f"health: {len(diagnoses)} diagnos{'is' if len(diagnoses) == 1 else 'es'}"] if diagnoses else []
    lines += [f"  - {d.headline()}: fix {d.fix[0].flags() if d.fix else '(none)'}" for d in diagnoses]
    lines = lines or ["health: no problems found"]
    return [*lines, *([f"repair: {verdict}"] if verdict else [])]
