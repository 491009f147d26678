"""What ``verify`` returns: each tensor's status, the findings that name the bugs, and the health checks."""

from __future__ import annotations

import dataclasses
import html
import math
import re
from dataclasses import dataclass, field
from typing import Any

from gradwise.health.diagnosis import Diagnosis

KINDS = (
    "forward_mismatch",
    "non_finite",
    "missing_output_derivative",
    "extra_output_derivative",
    "derivative_at_output",
    "wrong_derivative",
    "wrong_upstream",
    "updated_weights_in_backprop",
    "wrong_input_in_weight_gradient",
    "transposed",
    "sign",
    "batch_scale",
    "constant_scale",
    "bias_reduction",
    "shape",
    "update",
    "unexplained",
)
NOTE_KINDS = frozenset({"constant_scale"})  # conventions: reported, but the verdict stays "correct"


@dataclass(frozen=True)
class Finding:
    """One named bug (or convention) at one tensor: the evidence, a sentence of explanation and the fix."""

    kind: str
    tensor: str
    layer: int | None
    evidence: dict[str, float | str]
    explanation: str
    fix: str
    bug: bool | None = None  # None: as its kind says (constant_scale is a convention); set when the walk knows

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}; one of: {', '.join(KINDS)}")

    def places(self) -> set[str]:
        """The tensor, and every other one where the same slip was found (``also_at``)."""
        also = str(self.evidence.get("also_at", ""))
        return {self.tensor, *(name for name in also.split(", ") if name)}

    def also(self, tensor: str) -> Finding:
        """The same finding, found at one more tensor."""
        also = str(self.evidence.get("also_at", ""))
        return dataclasses.replace(self, evidence={**self.evidence, "also_at": f"{also}, {tensor}" if also else tensor})

    def same_slip(self, other: Finding) -> bool:
        """``other`` is this slip again at another tensor (every gradient times B): one finding for both."""
        renamed = re.sub(rf"\b{re.escape(self.tensor)}\b", other.tensor, self.explanation)
        return self.kind == other.kind and renamed == other.explanation and "with" not in other.evidence

    @property
    def is_note(self) -> bool:
        return self.kind in NOTE_KINDS if self.bug is None else not self.bug

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tensor": self.tensor,
            "layer": self.layer,
            "evidence": {k: _json_float(v) if isinstance(v, float) else v for k, v in self.evidence.items()},
            "explanation": self.explanation,
            "fix": self.fix,
            "note": self.is_note,
        }

    def lines(self) -> list[str]:
        marker = "note" if self.is_note else "!!"
        evidence = ", ".join(f"{k} {_number(v)}" for k, v in self.evidence.items())
        return [
            f"{marker} {self.kind} at {self.tensor}",
            f"   evidence: {evidence}",
            f"   why:      {self.explanation}",
            f"   fix:      {self.fix}",
        ]


@dataclass(frozen=True)
class TensorCheck:
    """One tensor the user gave: ok, note (right up to a convention), wrong, downstream (inherits an error)."""

    name: str
    status: str
    relative_error: float | None  # against the float64 reference; None when it was not computed

    def to_json(self) -> dict[str, Any]:
        error = self.relative_error
        return {"name": self.name, "status": self.status, "relative_error": _json_float(error)}


@dataclass(frozen=True)
class Report:
    """The verdict on one traced step: ``verdict`` is "correct" or "wrong"; ``first_wrong`` a tensor name or None."""

    verdict: str
    first_wrong: str | None
    findings: tuple[Finding, ...]
    tensors: tuple[TensorCheck, ...]
    health: tuple[Diagnosis, ...] = ()
    notes: tuple[str, ...] = field(default=())  # conventions assumed: orientation, delta per sample, ...
    network: str = ""  # "784-1000-10 sigmoid/softmax, mse (mean)"
    source: str = ""
    conventions: dict[str, Any] = field(default_factory=dict)  # every convention assumed (see verify.conventions)

    @property
    def correct(self) -> bool:
        return self.verdict == "correct"

    def kinds(self) -> list[str]:
        return [f.kind for f in self.findings]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object: verdict, first_wrong, findings, tensors, health, notes, conventions."""
        return {
            "verdict": self.verdict,
            "first_wrong": self.first_wrong,
            "findings": [f.to_json() for f in self.findings],
            "tensors": [t.to_json() for t in self.tensors],
            "health": [d.to_json() for d in self.health],
            "notes": list(self.notes),
            "conventions": self.conventions,
        }

    def text(self) -> str:
        """The report as the terminal shows it: tensors, findings, notes, then health."""
        lines = [f"verify {self.source}: {self.network}"]
        lines += [f"  {t.name:<10} {t.status:<10} {_error(t.relative_error)}" for t in self.tensors]
        for finding in self.findings:
            lines += finding.lines()
        lines += [f"note: {note}" for note in self.notes]
        if self.conventions:
            lines.append(f"read as: {conventions_line(self.conventions)}")
        headline = "correct: every tensor matches the float64 reference"
        if not self.correct:
            headline = f"wrong: the first wrong tensor is {self.first_wrong}"
        lines.append(headline)
        if self.health:
            lines.append("health at these weights (why it may not learn):")
            lines += [_panel(d) for d in self.health]
        return "\n".join(lines)

    def __repr__(self) -> str:
        kinds = ", ".join(f"{f.kind} at {f.tensor}" for f in self.findings) or "no findings"
        health = ", ".join(d.symptom for d in self.health) or "healthy"
        return f"<verify {self.verdict}: first wrong {self.first_wrong}; {kinds}; health: {health}>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(t.name)}</code></td><td>{t.status}</td><td>{_error(t.relative_error)}</td></tr>"
            for t in self.tensors
        )
        findings = "".join(
            f"<li><b>{html.escape(f.kind)}</b> at <code>{html.escape(f.tensor)}</code>: "
            f"{html.escape(f.explanation)} <i>Fix:</i> {html.escape(f.fix)}</li>"
            for f in self.findings
        )
        health = "".join(f"<li>{html.escape(d.headline())}: {html.escape(d.cause)}</li>" for d in self.health)
        return (
            f"<div><p><b>verify: {self.verdict}</b> ({html.escape(self.network)})"
            f"{'' if self.correct else f', first wrong <code>{html.escape(str(self.first_wrong))}</code>'}</p>"
            f"<ul>{findings}</ul><table><tr><th>tensor</th><th>status</th><th>relative error</th></tr>{rows}</table>"
            f"{f'<p>health:</p><ul>{health}</ul>' if health else ''}</div>"
        )


def conventions_line(conventions: dict[str, Any]) -> str:
    """The conventions in one line: "W in × out, samples as rows, mean, ..."."""
    parts = [
        f"W {str(conventions.get('weights', '')).replace('_', ' × ')}",
        f"samples as {conventions.get('samples')}",
        str(conventions.get("reduction")),
        f"deltas {conventions.get('deltas')}",
        f"update {conventions.get('update')}",
        f"bias {'/'.join(conventions.get('bias', []))}",
        conventions.get("precision", ""),
    ]
    l2 = conventions.get("l2", {})
    if l2.get("declared") or l2.get("found"):
        found = ", ".join(f"{k} {v:.3g}" for k, v in l2.get("found", {}).items())
        parts.append(f"L2 {l2.get('declared') or found}")
    if conventions.get("update_checked") is False:
        parts.append(f"update not checked ({conventions.get('optimizer')})")
    return ", ".join(p for p in parts if p)


def _panel(d: Diagnosis) -> str:
    fix = f"\n   fix:      {d.fix[0].words()}" if d.fix else ""
    evidence = ", ".join(f"{k} {_number(v)}" for k, v in d.evidence.items())
    return f"!! {d.headline().replace(' since step 0', '')}\n   evidence: {evidence}\n   cause:    {d.cause}{fix}"


def _number(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _error(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


def _json_float(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return str(value)  # JSON has no inf or nan
