"""Causes and fixes: what a diagnosis says, given the run's settings (``health.settings.Settings``).

A diagnosis's fixes are the suspects in the settings that can cause its symptom (``health.suspects``), in
the repair order of ``fixes.py``, then the symptom's own remedies (``health.remedies``), as the symptom
table (``health.symptoms``) pairs them. A fix the run already has is never proposed.
"""

from __future__ import annotations

from gradwise.health.fixes import Fix
from gradwise.health.remedies import init_words
from gradwise.health.settings import Settings
from gradwise.health.suspects import suspect_fixes
from gradwise.health.symptoms import SYMPTOMS


def explain(symptom: str, layer: int | None, settings: Settings) -> tuple[str, tuple[Fix, ...]]:
    """(cause, fixes) for a symptom in a run with these settings: suspects first, then remedies."""
    row = SYMPTOMS[symptom]
    cause, remedies = row.remedy(settings, init_words(settings))
    fixes: list[Fix] = []
    for fix in [*suspect_fixes(settings, row.suspects), *remedies]:
        if fix.in_effect(settings) or any(f.changes == fix.changes for f in fixes):
            continue  # a fix must change something, and each is proposed once
        fixes.append(fix)
    fixes.sort(key=lambda f: f.order)  # stable: within a stage, the order written below
    return cause, tuple(fixes)
