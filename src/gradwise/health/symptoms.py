"""Every symptom gradwise names, in one table: the rule that watches for it during training (None: it is
checked before the first step, in ``static.py``, or by the guard), its family, the stages of the repair
order whose settings can cause it, its own cause and remedies, and what it means for the run.

A new symptom is one row here, its rule in ``rules.py`` and its remedy in ``remedies.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradwise.health import remedies, rules
from gradwise.health.remedies import Remedy
from gradwise.health.rules import Rule

FAMILIES = {
    "non_finite": "a value became NaN or Inf",
    "saturating": "units pass no signal (saturated, dead, underflowing): updates shrink to nothing",
    "diverging": "the gradients or the loss grow",
    "stalling": "the loss stopped falling",
    "unsteady": "the loss jumps up and down",
    "setup": "found before the first step: the data, the labels, the output and the loss",
}
EVERY_FAMILY = tuple(FAMILIES)


@dataclass(frozen=True)
class Symptom:
    """One row of the table."""

    name: str
    family: str  # a key of FAMILIES
    suspects: tuple[str, ...]  # the repair stages (and momentum, clipping, decay) whose settings can cause it
    remedy: Remedy  # (settings, words on the init) -> (cause, its own fixes)
    rule: Rule | None = None  # watched during training: the monitor checks rules in the table's order
    silenced_by: tuple[str, ...] = ()  # families that explain it better: said only when none of them is present
    blow_up: bool = False  # the run blew up without a NaN: under --on-nan rollback it rolls back
    advice: bool = False  # a note on the data that no setting of the run changes: repair builds on a run with it


_ROWS = (
    Symptom("saturation", "saturating", ("input", "init", "activation"), remedies.saturation, rules.saturation),
    Symptom("dead_units", "saturating", ("input", "init", "momentum", "dropout"), remedies.dead_units,
            rules.dead_units, blow_up=True),
    Symptom("underflow", "saturating", ("pairing", "init", "activation"), remedies.underflow, rules.underflow),
    Symptom("vanishing_gradient", "saturating", ("pairing", "init", "activation", "decay"),
            remedies.vanishing_gradient, rules.vanishing_gradient),
    Symptom("exploding_gradient", "diverging", ("input", "init", "momentum"), remedies.exploding_gradient,
            rules.exploding_gradient, blow_up=True),
    Symptom("lr_too_high", "diverging", ("input", "init", "momentum"), remedies.lr_too_high, rules.lr_too_high,
            blow_up=True),
    # Tiny updates are what saturated or dead units produce: blame them, not the rate.
    Symptom("lr_too_low", "stalling", ("pairing", "clipping", "decay", "dropout"), remedies.lr_too_low,
            rules.lr_too_low, silenced_by=("saturating",)),
    Symptom("oscillation", "unsteady", ("momentum", "dropout"), remedies.oscillation, rules.oscillation),
    # The last resort: a stall that nothing more specific explains.
    Symptom("plateau", "stalling", ("pairing", "input", "init", "activation", "clipping", "decay", "dropout"),
            remedies.plateau, rules.plateau, silenced_by=EVERY_FAMILY),
    Symptom("shrinking_signal", "saturating", ("init",), remedies.shrinking_signal),
    # Repair's yardstick: a quiet run far below the healthy recipe on the same layers (train/repair.py).
    Symptom("slow_learning", "stalling", ("pairing", "input", "init", "recipe", "clipping", "decay", "dropout"),
            remedies.slow_learning),
    Symptom("non_finite", "non_finite", ("pairing", "input", "init", "momentum"), remedies.non_finite),
    Symptom("bad_initial_loss", "setup", ("pairing", "input", "init"), remedies.bad_initial_loss),
    Symptom("unnormalized_input", "setup", ("input",), remedies.unnormalized_input),
    Symptom("output_loss_mismatch", "setup", ("pairing",), remedies.output_loss_mismatch),
    Symptom("bad_labels", "setup", (), remedies.bad_labels),
    # A table's data (health/columns.py, health/classes.py): named before training, with no fix repair can try
    # but the inputs' normalization.
    Symptom("unscaled_columns", "setup", (), remedies.unscaled_columns),
    Symptom("id_like_label", "setup", (), remedies.id_like_label),
    Symptom("row_counter", "setup", (), remedies.row_counter),
    Symptom("imbalanced_classes", "setup", (), remedies.imbalanced_classes, advice=True),
)  # fmt: skip
SYMPTOMS: dict[str, Symptom] = {row.name: row for row in _ROWS}


def is_advice(symptom: str) -> bool:
    """A note on the data (``Symptom.advice``), not a problem of the run: a run with only notes is healthy."""
    return SYMPTOMS[symptom].advice
# What the monitor watches during training, in the order it checks: the rows with a rule.
RULES: dict[str, Rule] = {row.name: row.rule for row in _ROWS if row.rule is not None}


def of_family(family: str) -> tuple[str, ...]:
    """The symptoms of one family (``of_family("diverging")``: exploding_gradient, lr_too_high)."""
    return tuple(row.name for row in _ROWS if row.family == family)


def silenced(symptom: str, present: set[str]) -> bool:
    """True when another symptom ``present`` belongs to a family that explains ``symptom`` better."""
    families = SYMPTOMS[symptom].silenced_by
    return any(other != symptom and SYMPTOMS[other].family in families for other in present)
