"""The links optimizers are chained from. Each updates ``updates`` (and its state) in place.

The formulas follow PyTorch's ``torch.optim`` so the two agree step for step; PyTorch's
tests in ``tests/test_optim_oracle.py`` hold them to it.
"""

from __future__ import annotations

import numpy as np

from gradwise.optim.base import Params, State, Transform
from gradwise.optim.schedules import Schedule, as_schedule


def _zeros_like(params: Params) -> State:
    return {k: np.zeros_like(v) for k, v in params.items()}


def _no_state(params: Params) -> State:
    return {}


def scale_by_learning_rate(lr: Schedule | float) -> Transform:
    """``u = -lr(t) * scale * u``: the descent step; ``lr`` is a rate or a schedule of the step count t.

    ``scale`` (state ``"lr_scale"``, 1 at first) is how a rollback lowers the rate mid-run.
    """
    schedule = as_schedule(lr)

    def init(params: Params) -> State:
        return {"count": np.zeros((), dtype=np.int64), "lr_scale": np.ones((), dtype=np.float64)}

    def update(updates: Params, state: State, params: Params) -> tuple[Params, State]:
        rate = descent_rate(schedule, state)
        for u in updates.values():
            u *= rate
        state["count"] += 1
        return updates, state

    return Transform(init, update)


def descent_rate(schedule: Schedule, state: State, prefix: str = "") -> float:
    """``-lr(t) * scale`` from ``scale_by_learning_rate``'s state (``count`` is t), its keys under ``prefix``."""
    return -schedule(int(state[prefix + "count"])) * float(state[prefix + "lr_scale"])


def add_decayed_weights(weight_decay: float) -> Transform:
    """``u = u + wd * p``: L2 decay before a scaling link, decoupled decay (AdamW) after it."""

    def update(updates: Params, state: State, params: Params) -> tuple[Params, State]:
        if weight_decay:
            for name, u in updates.items():
                u += weight_decay * params[name]
        return updates, state

    return Transform(_no_state, update)


def clip_by_global_norm(max_norm: float) -> Transform:
    """Scale all updates together so their joint L2 norm is at most ``max_norm`` (torch's clip_grad_norm_)."""

    def update(updates: Params, state: State, params: Params) -> tuple[Params, State]:
        norm = float(np.sqrt(sum(float(np.vdot(u, u)) for u in updates.values())))
        factor = min(1.0, max_norm / (norm + 1e-6))  # torch adds the same 1e-6
        if factor < 1.0:
            for u in updates.values():
                u *= factor
        return updates, state

    return Transform(_no_state, update)


def trace(decay: float, nesterov: bool = False) -> Transform:
    """Momentum: ``m = decay * m + u``; the update is ``m`` (or ``u + decay * m`` with Nesterov)."""

    def init(params: Params) -> State:
        return {f"momentum/{k}": v for k, v in _zeros_like(params).items()}

    def update(updates: Params, state: State, params: Params) -> tuple[Params, State]:
        for name, u in updates.items():
            m = state[f"momentum/{name}"]
            m *= decay  # starting from m = 0 gives m = u on the first step, as torch's buffer
            m += u
            if nesterov:
                u += decay * m
            else:
                u[...] = m
        return updates, state

    return Transform(init, update)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Transform:
    """Adam's direction ``m_hat / (sqrt(v_hat) + eps)`` with bias-corrected moments (Kingma & Ba, 2015)."""

    def init(params: Params) -> State:
        state: State = {"count": np.zeros((), dtype=np.int64)}
        for k, v in params.items():
            state[f"mu/{k}"] = np.zeros_like(v)
            state[f"nu/{k}"] = np.zeros_like(v)
        return state

    def update(updates: Params, state: State, params: Params) -> tuple[Params, State]:
        state["count"] += 1
        t = int(state["count"])
        correction1 = 1 - b1**t
        root_correction2 = np.sqrt(1 - b2**t)
        for name, u in updates.items():
            mu, nu = state[f"mu/{name}"], state[f"nu/{name}"]
            mu *= b1
            mu += (1 - b1) * u
            nu *= b2
            nu += (1 - b2) * (u * u)
            # torch's form: (m / c1) / (sqrt(v) / sqrt(c2) + eps)
            np.sqrt(nu, out=u)
            u /= root_correction2
            u += eps
            np.divide(mu, u, out=u)
            u /= correction1
        return updates, state

    return Transform(init, update)


def scale_by_rms(alpha: float = 0.99, eps: float = 1e-8) -> Transform:
    """RMSprop's direction ``u / (sqrt(v) + eps)``, ``v = alpha v + (1 - alpha) u^2`` (Hinton, 2012)."""

    def init(params: Params) -> State:
        return {f"nu/{k}": v for k, v in _zeros_like(params).items()}

    def update(updates: Params, state: State, params: Params) -> tuple[Params, State]:
        for name, u in updates.items():
            nu = state[f"nu/{name}"]
            nu *= alpha
            nu += (1 - alpha) * (u * u)
            u /= np.sqrt(nu) + eps
        return updates, state

    return Transform(init, update)


def scale_learning_rate(state: State, factor: float) -> None:
    """Multiply the learning rate of an optimizer's state by ``factor`` from the next step on, in place."""
    for key, value in state.items():
        if key == "lr_scale" or key.endswith("/lr_scale"):
            value *= factor


def learning_rate_scale(state: State) -> float:
    """The factor rollbacks have applied to the learning rate so far."""
    return next((float(v) for k, v in state.items() if k == "lr_scale" or k.endswith("/lr_scale")), 1.0)
