"""How a loss meets the output activation: the output each loss is made for, and the loss of guessing.

One table for the library. The check before training (a mismatched pair), the fix it proposes, the monitor's
"no better than chance" and the divergence ceiling all read it.

=====================================  ===============  ==========================================
loss                                   made for         chance loss (C classes, one-hot targets)
=====================================  ===============  ==========================================
``cross_entropy``                      ``softmax``      ln C
``softmax_cross_entropy`` (logits)     ``identity``     ln C
``binary_cross_entropy``               ``sigmoid``      C ln 2
``binary_cross_entropy_from_logits``   ``identity``     C ln 2
``mse``                                any but          1/2 [(1 - g)^2 + (C - 1) g^2], g the output's
                                       ``softmax``      uniform guess (1/C softmax, 1/2 sigmoid, 0)
=====================================  ===============  ==========================================

Squared error on softmax outputs trains through the softmax Jacobian, which vanishes when the outputs are
confident, right or wrong. Sigmoid + mse is Nielsen's pairing: slower than cross-entropy, but it learns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gradwise.nn.losses import Loss, get_loss


@dataclass(frozen=True)
class Pairing:
    """The output activation a loss reads (None: any but ``poor_with``), and what kind of targets it compares."""

    made_for: str | None
    kind: str  # what it compares: "categorical" (chance ln C), "binary" (C ln 2) or "squared" (from the guess)
    poor_with: tuple[str, ...] = ()

    def matches(self, output: str) -> bool:
        return output == self.made_for if self.made_for is not None else output not in self.poor_with

    @property
    def cross_entropy(self) -> bool:
        """-log of a probability: a healthy step's loss stays below -ln(smallest float)."""
        return self.kind != "squared"


PAIRINGS: dict[str, Pairing] = {
    "mse": Pairing(None, "squared", poor_with=("softmax",)),
    "cross_entropy": Pairing("softmax", "categorical"),
    "softmax_cross_entropy": Pairing("identity", "categorical"),
    "binary_cross_entropy": Pairing("sigmoid", "binary"),
    "binary_cross_entropy_from_logits": Pairing("identity", "binary"),
}
UNIFORM_GUESS = {"sigmoid": 0.5, "tanh": 0.0, "identity": 0.0}  # each output's guess when it knows nothing


def pairing(loss: str | Loss) -> Pairing:
    """The pairing of ``loss`` (a name, an alias or a Loss); ValueError for a loss gradwise does not know."""
    return PAIRINGS[get_loss(loss).name]


def mismatched(loss: str | Loss, output: str) -> bool:
    """True when ``output`` is not what ``loss`` is made for (``mismatched("ce", "sigmoid")``)."""
    return not pairing(loss).matches(output)


def chance_loss(loss: str | Loss, output: str, classes: int) -> float | None:
    """The loss of a network that guesses uniformly (one-hot targets), or None when there is no such level."""
    kind = pairing(loss).kind
    if kind == "categorical":
        return math.log(classes)
    if kind == "binary":
        return classes * math.log(2)
    guess = 1 / classes if output == "softmax" else UNIFORM_GUESS.get(output)
    if guess is None:
        return None
    return 0.5 * ((1 - guess) ** 2 + (classes - 1) * guess**2)  # one target at 1, the rest at 0
