"""A fix is data: the settings to change (``{"loss": "ce"}``), in words, and where it stands in the repair order.

Each reader phrases it in its own terms: the CLI as flags (``gradwise.cli.flags.fix_flags``: ``--loss ce``),
Python users as ``TrainConfig`` arguments (``python()``), ``gradwise verify`` in plain words (``words()``), the
scikit-learn estimator as its parameters (``fix_params``); ``--repair`` applies ``changes`` directly. Nothing
parses text back into a change.

Repair takes causes before symptoms, in one fixed order (after AUTOTRAINER, Zhang et al. ICSE 2021, which
fixes the output/loss pairing first, then the data, then dying ReLUs, exploding, vanishing and slow
convergence):

1. ``pairing``: the output activation and the loss, and the labels;
2. ``input``: the input's normalization;
3. ``init``: the initialization for the activation (and the initial bias);
4. ``activation``: a saturating hidden activation;
5. ``optimizer``: the optimizer, the learning rate (up or down), momentum, clipping, the batch size;
6. ``dropout``;
7. ``norm``: normalization layers between the hidden layers, last: they add layers to the user's network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gradwise.health.settings import Settings

REPAIR_ORDER = ("pairing", "input", "init", "activation", "optimizer", "dropout", "norm")

# Which stage of the repair order a setting belongs to.
STAGE_OF_SETTING = {
    "loss": "pairing",
    "output": "pairing",
    "normalize": "input",
    "init": "init",
    "init_scale": "init",
    "bias_init": "init",
    "activation": "activation",
    "optimizer": "optimizer",
    "lr": "optimizer",
    "momentum": "optimizer",
    "clip_norm": "optimizer",
    "schedule": "optimizer",
    "warmup_steps": "optimizer",
    "batch_size": "optimizer",
    "weight_decay": "optimizer",
    "dropout": "dropout",
    "norm": "norm",
}


@dataclass(frozen=True)
class Fix:
    """Settings to change, most important first (its first setting names its stage), and a sentence why.

    A fix with no ``changes`` is advice only (``"check the labels file"``): shown, never applied.
    """

    changes: Mapping[str, Any] = field(default_factory=dict)
    advice: str = ""
    stage_override: str | None = None  # when the first setting's stage is not the fix's (leaky units for a high rate)
    basis: Mapping[str, Any] = field(default_factory=dict)  # the settings a relative change was computed from
    suspect: bool = False  # it removes a cause found in the settings (raw input, heavy dropout), not a symptom

    @property
    def order(self) -> tuple[bool, int]:
        """Causes before symptoms: fixes of suspects in the settings first, each group in the repair order."""
        return (not self.suspect, self.rank)

    def fits(self, settings: Settings) -> bool:
        """True when the settings are still those a relative change was computed from (lr 0.1 -> 0.01 is
        not a fix for a run whose rate is now 0.001)."""
        return all(settings.value(k) == v for k, v in self.basis.items())

    @property
    def stage(self) -> str:
        if self.stage_override is not None:
            return self.stage_override
        first = next(iter(self.changes), None)
        return STAGE_OF_SETTING.get(first, "optimizer") if first is not None else "pairing"

    @property
    def rank(self) -> int:
        return REPAIR_ORDER.index(self.stage)

    def in_effect(self, settings: Settings) -> bool:
        """True when the run already has every one of these settings: proposing it would change nothing."""
        return bool(self.changes) and all(settings.value(k) == v for k, v in self.changes.items())

    def words(self) -> str:
        """The fix in plain words, for code written outside gradwise ("train with cross-entropy: ...")."""
        if not self.changes:
            return self.advice
        said = [setting_words(name, value, self.changes) for name, value in self.changes.items()]
        return "; ".join(w for w in said if w)

    def python(self) -> str:
        """The fix as ``TrainConfig`` arguments (``init="he_normal", lr=0.01``), or its advice."""
        if not self.changes:
            return self.advice
        return ", ".join(f"{name}={value!r}" for name, value in self.changes.items())

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"changes": dict(self.changes)}
        if self.advice:
            data["advice"] = self.advice
        if self.basis:
            data["basis"] = dict(self.basis)
        if self.suspect:
            data["suspect"] = True
        if self.stage_override is not None:
            data["stage"] = self.stage_override
        return data

    @classmethod
    def from_json(cls, data: Any) -> Fix:
        """Read ``to_json``'s form; an older record's flag text becomes advice (never parsed into changes)."""
        if isinstance(data, str):
            return cls({}, data)
        changes, advice = dict(data.get("changes") or {}), str(data.get("advice", ""))
        stage = data.get("stage")
        return cls(changes, advice, stage_override=stage if stage in REPAIR_ORDER else None,
                   basis=dict(data.get("basis") or {}), suspect=bool(data.get("suspect", False)))  # fmt: skip

    def __str__(self) -> str:
        return self.python()


# Each setting in words a hand-written network's author can act on, whatever their language.
LOSS_WORDS = {
    "ce": "train with cross-entropy: with a softmax output the output delta becomes a − t",
    "cross_entropy": "train with cross-entropy: with a softmax output the output delta becomes a − t",
    "bce": "train with binary cross-entropy: with a sigmoid output the output delta becomes a − t",
    "binary_cross_entropy": "train with binary cross-entropy: with a sigmoid output the output delta becomes a − t",
    "mse": "train with the squared error ½‖a − t‖²",
}
INIT_WORDS = {
    "glorot_uniform": "draw W from U(±√(6/(n_in + n_out))) (Glorot)",
    "glorot_normal": "draw W from N(0, 2/(n_in + n_out)) (Glorot)",
    "he_normal": "draw W from N(0, 2/n_in) (He)",
    "he_uniform": "draw W from U(±√(6/n_in)) (He)",
    "lecun_normal": "draw W from N(0, 1/n_in) (LeCun)",
    "zeros": "start W at 0",
}
NORMALIZE_WORDS = {
    "unit": "scale the inputs to [0, 1] (divide raw pixels by 255)",
    "standard": "standardize each input to mean 0 and standard deviation 1",
    "none": "feed the inputs unscaled",
}


def setting_words(name: str, value: Any, changes: Mapping[str, Any]) -> str:
    """One setting of a fix in plain words; "" for one another setting already says (init_scale beside init)."""
    if name == "loss":
        return LOSS_WORDS.get(str(value), f"train with {value}")
    if name == "init":
        scale = changes.get("init_scale")
        return INIT_WORDS.get(str(value), f"draw W from {value}" + (f" with scale {scale:g}" if scale else ""))
    if name == "init_scale":
        return "" if "init" in changes or value is None else f"scale the initial weights to {value:g}"
    if name == "normalize":
        return NORMALIZE_WORDS.get(str(value), f"normalize the inputs ({value})")
    return _other_setting_words(name, value)


def _other_setting_words(name: str, value: Any) -> str:
    if value is None:
        return {"clip_norm": "do not clip the gradient"}.get(name, f"drop the {name.replace('_', ' ')} setting")
    phrases = {
        "output": f"use a {value} output layer",
        "activation": f"use {value} in the hidden layers",
        "bias_init": f"start the biases at {value:g}"
        if isinstance(value, float | int)
        else f"start the biases at {value}",
        "optimizer": f"use {value} as the optimizer",
        "lr": f"use a learning rate of {value:g}"
        if isinstance(value, float | int)
        else f"use a learning rate of {value}",
        "momentum": f"use momentum {value}",
        "clip_norm": f"clip the gradient's norm at {value}",
        "batch_size": f"use batches of {value} samples",
        "weight_decay": "no weight decay" if value == 0 else f"use weight decay {value}",
        "dropout": f"drop units with probability {value}",
        "schedule": f"use a {value} learning-rate schedule",
        "warmup_steps": f"warm the learning rate up over {value} steps",
    }
    return phrases.get(name, f"set {name.replace('_', ' ')} to {value}")
