"""scikit-learn's stochastic solvers: ``update(params, grads)`` moves the arrays in place.

``learning_rate`` is the current rate (the schedules change it); ``epoch_ends(t)`` runs after each pass
over the data with ``t`` samples seen so far, and ``plateau()`` decides what a run without improvement does.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray

ADAPTIVE_FLOOR = 1e-6  # learning_rate="adaptive" stops once the rate is at or below this
ADAPTIVE_DIVISOR = 5.0  # ... and divides it by this on each plateau before that


class SGD:
    """SGD with momentum: v <- momentum v - lr g; the step is v, or momentum v - lr g with Nesterov."""

    def __init__(
        self, params: list[Array], learning_rate_init: float, schedule: str, momentum: float,
        nesterov: bool, power_t: float,
    ) -> None:  # fmt: skip
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.schedule, self.momentum, self.nesterov, self.power_t = schedule, momentum, nesterov, power_t
        self.velocities = [np.zeros_like(p) for p in params]

    def update(self, params: list[Array], grads: list[Array]) -> None:
        for param, velocity, grad in zip(params, self.velocities, grads, strict=True):
            velocity *= self.momentum
            velocity -= self.learning_rate * grad
            if self.nesterov:  # look ahead: the step uses the new velocity and the same gradient again
                param += self.momentum * velocity - self.learning_rate * grad
            else:
                param += velocity

    def epoch_ends(self, samples_seen: int) -> None:
        if self.schedule == "invscaling":  # lr_init / (t + 1)^power_t, t the samples seen so far
            self.learning_rate = self.learning_rate_init / (samples_seen + 1) ** self.power_t

    def plateau(self) -> tuple[bool, str]:
        """(stop?, what to add to the message) after n_iter_no_change epochs without improvement."""
        if self.schedule != "adaptive":
            return True, " Stopping."
        if self.learning_rate <= ADAPTIVE_FLOOR:
            return True, " Learning rate too small. Stopping."
        self.learning_rate /= ADAPTIVE_DIVISOR
        return False, f" Setting learning rate to {self.learning_rate:f}"


class Adam:
    """Adam (Kingma & Ba, 2014), the bias correction folded into the step size, as scikit-learn writes it."""

    def __init__(self, params: list[Array], learning_rate_init: float, beta_1: float, beta_2: float,
                 epsilon: float) -> None:  # fmt: skip
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.ms = [np.zeros_like(p) for p in params]
        self.vs = [np.zeros_like(p) for p in params]

    def update(self, params: list[Array], grads: list[Array]) -> None:
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        # lr_t = lr sqrt(1 - b2^t) / (1 - b1^t): the bias corrections of m and v in one factor
        self.learning_rate = self.learning_rate_init * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for param, m, v, grad in zip(params, self.ms, self.vs, grads, strict=True):
            m *= b1
            m += (1 - b1) * grad
            v *= b2
            v += (1 - b2) * grad**2
            param -= self.learning_rate * m / (np.sqrt(v) + self.epsilon)

    def epoch_ends(self, samples_seen: int) -> None:
        """Adam keeps its rate: no schedule."""

    def plateau(self) -> tuple[bool, str]:
        return True, " Stopping."
