"""A diagnosis: what went wrong, where, since when, the numbers that show it, why, and what to change."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gradwise import looks
from gradwise.health.fixes import Fix
from gradwise.health.symptoms import SYMPTOMS, is_advice


@dataclass(frozen=True)
class Diagnosis:
    """One finding of the health rules.

    ``layer`` is the Dense layer's position (as in parameter names ``"0.W"``) or None for the
    whole network; ``step`` is the optimizer step of onset (0: before training); ``fix`` lists
    structured changes (``Fix``), in the repair order: causes before symptoms.
    """

    symptom: str
    layer: int | None
    step: int
    evidence: dict[str, float | int | str] = field(default_factory=dict)
    cause: str = ""
    fix: tuple[Fix, ...] = ()

    def __post_init__(self) -> None:
        if self.symptom not in SYMPTOMS:
            raise ValueError(f"unknown symptom {self.symptom!r}; one of: {', '.join(SYMPTOMS)}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fix"] = [f.to_json() for f in self.fix]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diagnosis:
        return cls(**{**data, "fix": tuple(Fix.from_json(f) for f in data.get("fix", ()))})

    def headline(self) -> str:
        where = f"layer {self.layer}" if self.layer is not None else "network"
        return f"{self.symptom} in {where} since step {self.step}"

    def __repr__(self) -> str:
        """As the doctor prints it, the fix as ``TrainConfig`` arguments."""
        return looks.text(self)

    def _repr_html_(self) -> str:
        return looks.html(self)


def problems(diagnoses: list[Diagnosis]) -> list[Diagnosis]:
    """The diagnoses that are problems of the run, not notes on its data (``is_advice``): a run with none is healthy."""
    return [d for d in diagnoses if not is_advice(d.symptom)]
