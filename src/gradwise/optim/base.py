"""Optimizers as composable transforms, in the style of optax.

A ``Transform`` is a pair of functions: ``init(params) -> state`` and
``update(updates, state, params) -> (updates, state)``. An optimizer is a chain of them
(Adam is ``chain(scale_by_adam(), scale_by_learning_rate(lr))``); clipping and weight
decay are just more links. State is a flat dict of named arrays, so it checkpoints with
``np.savez`` as it is.

Unlike optax, transforms work in place: ``update`` overwrites the incoming ``updates``
arrays and the state's arrays and returns them. A training step then allocates nothing;
the price is that ``move`` consumes the gradients it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

Array = np.ndarray
Params = dict[str, Array]
State = dict[str, Array]


class Sink(NamedTuple):
    """How an optimizer takes its gradients as they are computed, instead of from gradient arrays.

    ``target(params, state) -> (into, scale, decay)`` says where the gradient g of each parameter goes,
    ``into[name] = scale g + decay into[name]`` (its momentum, say; see ``gradwise.nn.layers.GradientSink``),
    and ``finish(params, state) -> state`` completes the step: together they are ``step``, to rounding.
    """

    target: Callable[[Params, State], tuple[Params, float, float]]
    finish: Callable[[Params, State], State]


@dataclass(frozen=True)
class Transform:
    """``init(params) -> state``; ``update(updates, state, params) -> (updates, state)``, in place.

    ``step(params, grads, state) -> state``, when present, is ``update`` and ``apply_updates`` in one
    (fewer passes over memory); it keeps the same state and must give the same parameters, to rounding.

    ``sink``, when present, lets the gradients skip their own arrays (see ``Sink``).
    """

    init: Callable[[Params], State]
    update: Callable[[Params, State, Params], tuple[Params, State]]
    step: Callable[[Params, Params, State], State] | None = None
    sink: Sink | None = None


def chain(*transforms: Transform) -> Transform:
    """Apply transforms in order; the state of link i is stored under keys ``"i/..."``."""

    def init(params: Params) -> State:
        state: State = {}
        for i, t in enumerate(transforms):
            state.update({f"{i}/{k}": v for k, v in t.init(params).items()})
        return state

    def update(updates: Params, state: State, params: Params) -> tuple[Params, State]:
        for i, t in enumerate(transforms):
            prefix = f"{i}/"
            own = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            updates, own = t.update(updates, own, params)
            state.update({prefix + k: v for k, v in own.items()})
        return updates, state

    return Transform(init, update)


def apply_updates(params: Params, updates: Params) -> None:
    """``p += u`` for every parameter, in place (the layers own ``params``' arrays)."""
    for name, p in params.items():
        p += updates[name]


def move(params: Params, grads: Params, optimizer: Transform, state: State) -> State:
    """One optimizer step (the seed's ``move``): turn ``grads`` into updates, apply them, return the state.

    ``grads`` is consumed: its arrays may be reused for the updates.
    """
    if optimizer.step is not None:
        return optimizer.step(params, grads, state)
    updates, state = optimizer.update(grads, state, params)
    apply_updates(params, updates)
    return state
