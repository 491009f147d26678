"""gradwise's own optimizers as extra ``solver`` values, behind the interface of ``optimizers.SGD`` / ``Adam``.

``"rmsprop"`` is ``gradwise.optim.rmsprop`` and ``"adamw"`` is ``gradwise.optim.adamw``, whose decoupled weight
decay is ``alpha`` (then not added to the gradient as well). Their rate stays ``learning_rate_init``: the
``learning_rate`` schedules belong to ``"sgd"``; on a plateau they stop, as Adam does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwise.nn.network import param_name
from gradwise.optim import Transform, adamw, move, rmsprop

Array = np.ndarray
EXTRA_SOLVERS = ("rmsprop", "adamw")


def decoupled_decay(solver: str) -> bool:
    """Whether ``alpha`` is this solver's own weight decay rather than an L2 term in the loss."""
    return solver == "adamw"


class GradwiseSolver:
    """A ``gradwise.optim`` transform updating the estimator's lists of arrays in place."""

    def __init__(self, estimator: Any, params: list[Array]) -> None:
        lr = float(estimator.learning_rate_init)
        self.transform: Transform = (
            adamw(lr, estimator.beta_1, estimator.beta_2, estimator.epsilon, weight_decay=float(estimator.alpha))
            if estimator.solver == "adamw"
            else rmsprop(lr, eps=estimator.epsilon)
        )
        layers = len(params) // 2  # coefs_ then intercepts_, as the loop passes them
        self.names = [param_name(i % layers, "W" if i < layers else "b") for i in range(len(params))]
        self.state = self.transform.init(dict(zip(self.names, params, strict=True)))
        self.learning_rate = lr

    def update(self, params: list[Array], grads: list[Array]) -> None:
        named = dict(zip(self.names, params, strict=True))
        self.state = move(named, dict(zip(self.names, grads, strict=True)), self.transform, self.state)

    def epoch_ends(self, samples_seen: int) -> None:
        """No schedule: the rate stays learning_rate_init."""

    def plateau(self) -> tuple[bool, str]:
        return True, " Stopping."
