"""Ready-made optimizers: chains of transforms with PyTorch's defaults and semantics.

``weight_decay`` is L2 decay (added to the gradient, as torch's ``weight_decay``) except
in ``adamw`` and wherever ``decoupled=True``, where it shrinks the weights directly
(Loshchilov & Hutter, 2019). ``clip_norm`` clips the gradients' global norm first.
"""

from __future__ import annotations

from collections.abc import Callable

from gradwise.blas import axpby, axpy
from gradwise.optim.base import Params, Sink, State, Transform, chain
from gradwise.optim.schedules import Schedule, as_schedule
from gradwise.optim.transforms import (
    add_decayed_weights,
    clip_by_global_norm,
    descent_rate,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    trace,
)


def _assemble(
    direction: list[Transform],
    lr: Schedule | float,
    weight_decay: float,
    decoupled: bool,
    clip_norm: float | None,
) -> Transform:
    if not callable(lr) and not lr > 0:  # a number of any type: np.float32(0) too
        raise ValueError(f"learning rate must be > 0, got {lr}")
    if weight_decay < 0:
        raise ValueError(f"weight decay must be >= 0, got {weight_decay}")
    links: list[Transform] = []
    if clip_norm is not None:
        if not clip_norm > 0:
            raise ValueError(f"clip norm must be > 0, got {clip_norm}")
        links.append(clip_by_global_norm(clip_norm))
    if weight_decay and not decoupled:
        links.append(add_decayed_weights(weight_decay))
    links += direction
    if weight_decay and decoupled:
        links.append(add_decayed_weights(weight_decay))
    links.append(scale_by_learning_rate(lr))
    return chain(*links)


def _descent(lr: Schedule | float, beta: float | None) -> Transform:
    """SGD (``beta`` None) or heavy-ball momentum, with ``step`` fused: the same chain and state as
    ``_assemble``, but one BLAS pass per parameter for SGD and two for momentum, instead of two and five.
    Through ``sink``, the gradient GEMM does the momentum's pass (SGD's whole update) itself."""
    links = [trace(beta)] if beta is not None else []
    optimizer = _assemble(links, lr, 0.0, False, None)
    schedule, lr_key = as_schedule(lr), f"{len(links)}/"

    def step(params: Params, grads: Params, state: State) -> State:
        rate = descent_rate(schedule, state, lr_key)
        for name, p in params.items():
            if beta is None:
                axpy(rate, grads[name], p)  # p -= lr g
            else:
                m = state[f"0/momentum/{name}"]
                axpby(1.0, grads[name], beta, m)  # m = beta m + g
                axpy(rate, m, p)  # p -= lr m
        state[lr_key + "count"] += 1
        return state

    def target(params: Params, state: State) -> tuple[Params, float, float]:
        if beta is None:
            return params, descent_rate(schedule, state, lr_key), 1.0  # p = -lr g + p, in the gradient's GEMM
        return {name: state[f"0/momentum/{name}"] for name in params}, 1.0, beta  # m = g + beta m

    def finish(params: Params, state: State) -> State:
        if beta is not None:
            rate = descent_rate(schedule, state, lr_key)
            for name, p in params.items():
                axpy(rate, state[f"0/momentum/{name}"], p)  # p -= lr m
        state[lr_key + "count"] += 1
        return state

    return Transform(optimizer.init, optimizer.update, step, Sink(target, finish))


def sgd(
    lr: Schedule | float,
    *,
    weight_decay: float = 0.0,
    decoupled: bool = False,
    clip_norm: float | None = None,
) -> Transform:
    """Plain gradient descent: ``p -= lr * g``."""
    if not weight_decay and clip_norm is None:
        return _descent(lr, None)
    return _assemble([], lr, weight_decay, decoupled, clip_norm)


def momentum(
    lr: Schedule | float,
    beta: float = 0.9,
    *,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    decoupled: bool = False,
    clip_norm: float | None = None,
) -> Transform:
    """SGD with heavy-ball momentum ``beta`` (torch.optim.SGD(momentum=beta))."""
    if not weight_decay and clip_norm is None and not nesterov:
        return _descent(lr, beta)
    return _assemble([trace(beta, nesterov)], lr, weight_decay, decoupled, clip_norm)


def nesterov(
    lr: Schedule | float,
    beta: float = 0.9,
    *,
    weight_decay: float = 0.0,
    decoupled: bool = False,
    clip_norm: float | None = None,
) -> Transform:
    """SGD with Nesterov momentum (torch.optim.SGD(momentum=beta, nesterov=True))."""
    return _assemble([trace(beta, nesterov=True)], lr, weight_decay, decoupled, clip_norm)


def adam(
    lr: Schedule | float = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    weight_decay: float = 0.0,
    decoupled: bool = False,
    clip_norm: float | None = None,
) -> Transform:
    """Adam (torch.optim.Adam); ``weight_decay`` is L2 unless ``decoupled``."""
    return _assemble([scale_by_adam(b1, b2, eps)], lr, weight_decay, decoupled, clip_norm)


def adamw(
    lr: Schedule | float = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    weight_decay: float = 0.01,
    clip_norm: float | None = None,
) -> Transform:
    """AdamW (torch.optim.AdamW): Adam with decoupled weight decay."""
    return _assemble([scale_by_adam(b1, b2, eps)], lr, weight_decay, True, clip_norm)


def rmsprop(
    lr: Schedule | float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    *,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    decoupled: bool = False,
    clip_norm: float | None = None,
) -> Transform:
    """RMSprop (torch.optim.RMSprop), optionally with momentum on the scaled step."""
    direction = [scale_by_rms(alpha, eps)] + ([trace(momentum)] if momentum else [])
    return _assemble(direction, lr, weight_decay, decoupled, clip_norm)


OPTIMIZERS: dict[str, Callable[..., Transform]] = {  # name -> factory(lr, ...); signatures differ
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adam": adam,
    "adamw": adamw,
    "rmsprop": rmsprop,
}
