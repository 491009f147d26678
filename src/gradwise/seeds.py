"""One seed, independent random streams: the weights, each epoch's data order, dropout.

Each stream is a child of ``np.random.SeedSequence(seed)``: the weights are child 0, the data order
child 1 (epoch k's order is its k-th child, so any epoch is drawn without replaying the ones before),
dropout child 2. Spawned children are independent of each other and of the root. Seeding
``default_rng([seed, k])`` instead is not: ``[seed, 0]`` gives the same state as ``seed``. Each
generator is built from its spawn key, which is the state ``SeedSequence(seed).spawn`` would give,
without keeping a parent around. See docs/training.md, "Randomness".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_WEIGHTS, _ORDER, _DROPOUT = 0, 1, 2
# Written into checkpoints: a checkpoint from before these streams cannot continue its data order exactly.
STREAMS = "seed-sequence-spawn-1"


def _child(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def weights_rng(seed: int) -> np.random.Generator:
    """The generator the initial weights are drawn from."""
    return _child(seed, _WEIGHTS)


def order_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator epoch ``epoch``'s (0-based) data order is drawn from."""
    return _child(seed, _ORDER, epoch)


def dropout_rng(seed: int) -> np.random.Generator:
    """The generator dropout masks are drawn from, one mask after another through the run."""
    return _child(seed, _DROPOUT)


def generator(
    rng: np.random.Generator | int | None, stream: Callable[[int], np.random.Generator]
) -> np.random.Generator:
    """``rng`` itself, a fresh generator for None, or for an int seed that seed's ``stream`` (``weights_rng``...)."""
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return stream(int(rng))
    return np.random.default_rng(rng)
