"""How diagnoses look in a terminal: a short panel each, and a summary at the end of a run."""

from __future__ import annotations

from collections.abc import Sequence

from gradwise.health.diagnosis import Diagnosis


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def diagnosis_panel(d: Diagnosis) -> str:
    """A few lines: the headline, the evidence, the cause, the fix."""
    evidence = ", ".join(f"{k} {_number(v)}" for k, v in d.evidence.items() if k != "first_bad")
    lines = [f"!! {d.headline()}"]
    if "first_bad" in d.evidence:
        lines.append(f"   where:    {d.evidence['first_bad']}")
    if evidence:
        lines.append(f"   evidence: {evidence}")
    if d.cause:
        lines.append(f"   cause:    {d.cause}")
    if d.fix:
        others = f"  (or: {'; '.join(f.flags() for f in d.fix[1:])})" if len(d.fix) > 1 else ""
        lines.append(f"   fix:      {d.fix[0].flags()}{others}")
    return "\n".join(lines)


def summary_lines(diagnoses: Sequence[Diagnosis], verdict: str | None = None) -> list[str]:
    """One line per diagnosis, and --repair's verdict; a single line when the run was healthy."""
    lines = [f"health: {len(diagnoses)} diagnos{'is' if len(diagnoses) == 1 else 'es'}"] if diagnoses else []
    lines += [f"  - {d.headline()}: fix {d.fix[0].flags() if d.fix else '(none)'}" for d in diagnoses]
    lines = lines or ["health: no problems found"]
    return [*lines, *([f"repair: {verdict}"] if verdict else [])]
