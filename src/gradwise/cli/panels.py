"""How diagnoses look in a terminal: a short panel each (``gradwise.display``), and a summary at the end of a run."""

from __future__ import annotations

from collections.abc import Sequence

from gradwise.cli.flags import fix_flags
from gradwise.display import diagnosis_panel as panel
from gradwise.health.diagnosis import Diagnosis


def diagnosis_panel(d: Diagnosis) -> str:
    """The diagnosis as the command line shows it: its fixes as flags."""
    return panel(d, fix_flags)


def summary_lines(diagnoses: Sequence[Diagnosis], verdict: str | None = None) -> list[str]:
    """One line per diagnosis, and --repair's verdict; a single line when the run was healthy."""
    lines = [f"health: {len(diagnoses)} diagnos{'is' if len(diagnoses) == 1 else 'es'}"] if diagnoses else []
    lines += [f"  - {d.headline()}: fix {fix_flags(d.fix[0]) if d.fix else '(none)'}" for d in diagnoses]
    lines = lines or ["health: no problems found"]
    return [*lines, *([f"repair: {verdict}"] if verdict else [])]
