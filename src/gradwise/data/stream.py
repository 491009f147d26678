"""Lazy, composable data streams in the spirit of Haskell's `pipes`.

A source is turned into a stream of batches by piping it through stages with `|`::

    batches = source(x, t) | shuffle(seed=0) | batch(32)
    for epoch in range(10):
        for xb, tb in batches.epoch(epoch): ...

`pipeline(source(x, t), shuffle(0), batch(32))` builds the same stream. Stages compose on their own too:
`shuffle(0) | batch(32)` is a stage.

Epochs. A stream is an immutable, reusable description; nothing is read until it is iterated.
`stream.epoch(k)` iterates epoch k, and epoch k's order depends only on (seed, k), so any epoch can be
produced without replaying the ones before it. `iter(stream)` is epoch 0 (or wherever `start_at` put it);
the same stream iterated twice gives the same order, so a training loop asks for `epoch(k)` or uses
`repeat`, which chains epochs 0, 1, 2, ... (each reshuffled with its own number). `start_at(epoch,
position)` resumes exactly at item `position` of `epoch`, e.g. from a checkpoint's (epoch, batch index).

Speed. Array streams carry index orders, not samples: an epoch's order is one permutation of N ints,
and a batch is gathered with a single `np.take(x, idx, axis=0)`, never a Python loop per sample.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

import numpy as np

from gradwise.seeds import order_rng

T = TypeVar("T")
U = TypeVar("U")
V = TypeVar("V")

# An (x, y) pair: one sample, or one batch with a leading batch axis.
Pair = tuple[np.ndarray, np.ndarray]


class Stream(Generic[T]):
    """A lazy, re-iterable sequence of items, organized in epochs."""

    # Where `iter()` begins; changed only through `start_at`, which copies the stream.
    _start: tuple[int, int] = (0, 0)
    # True once a `repeat` runs through several epochs in one iteration.
    spans_epochs: bool = False
    # Samples per item once a `batch` stage groups them (the last batch may be shorter); None before.
    batch_size: int | None = None

    def _run(self, epoch: int, position: int) -> Iterator[T]:
        """Items from `position` of `epoch` on (to the end of the epoch, or further for `repeat`)."""
        raise NotImplementedError

    def _items_before(self, epoch: int, position: int) -> int:
        """How many items an iteration from (0, 0) yields before reaching (epoch, position)."""
        return position

    def _epoch_len(self) -> int | None:
        """Items in one epoch, or None when unknown."""
        if self.spans_epochs:
            return None
        try:
            return len(self)
        except TypeError:
            return None

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} has no known length")

    def __iter__(self) -> Iterator[T]:
        return self._run(*self._start)

    def epoch(self, k: int, start: int = 0) -> Iterator[T]:
        """Iterate epoch `k` from item `start` (for a `repeat` stream: and the epochs after it)."""
        _check_coordinates(self, k, start)
        return self._run(k, start)

    def start_at(self, epoch: int, position: int = 0) -> Stream[T]:
        """A copy of this stream whose iteration begins at item `position` of `epoch`."""
        _check_coordinates(self, epoch, position)
        resumed = copy.copy(self)
        resumed._start = (epoch, position)
        return resumed

    def __or__(self, stage: Stage[T, U]) -> Stream[U]:
        if not isinstance(stage, Stage):
            return NotImplemented
        if self._start != (0, 0):
            raise ValueError("start_at: apply it to the finished pipeline; call it after the last stage")
        return stage(self)


class Stage(Generic[T, U]):
    """A named transformation Stream[T] -> Stream[U]; `a | b` composes stages left to right."""

    def __init__(self, name: str, apply: Callable[[Stream[T]], Stream[U]]) -> None:
        self.name = name
        self._apply = apply

    def __call__(self, stream: Stream[T]) -> Stream[U]:
        return self._apply(stream)

    def __or__(self, other: Stage[U, V]) -> Stage[T, V]:
        if not isinstance(other, Stage):
            return NotImplemented
        return Stage(f"{self.name} | {other.name}", lambda stream: other(self(stream)))

    def __repr__(self) -> str:
        return f"Stage({self.name})"


def pipeline(src: Stream[Any], *stages: Stage[Any, Any]) -> Stream[Any]:
    """`pipeline(s, a, b)` is `s | a | b`."""
    stream = src
    for stage in stages:
        stream = stream | stage
    return stream


def _check_coordinates(stream: Stream[Any], epoch: int, position: int) -> None:
    if epoch < 0 or position < 0:
        raise ValueError(f"start_at: epoch and position must be >= 0, got ({epoch}, {position})")
    length = stream._epoch_len()
    if length is not None and position > length:
        raise ValueError(
            f"start_at: position {position} is past the end of an epoch of {length} items; "
            "check that the batch size matches the checkpoint"
        )


def _check_count(stage: str, name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{stage}: {name} must be an integer >= {minimum}, got {value!r}")


def _need_samples(stage: str, stream: Stream[Any]) -> SampleStream:
    if not isinstance(stream, SampleStream):
        raise TypeError(
            f"{stage}: needs a sample stream from source(x, y), got {type(stream).__name__}; "
            f"put {stage} before map and repeat"
        )
    return stream


# ---- sources ----------------------------------------------------------------------------------------------


class SampleStream(Stream[Pair]):
    """Samples of in-memory arrays in a per-epoch index order; yields (x[i], y[i]) one sample at a time.

    x: (N, ...), y: (N,) or (N, C). Stages that batch, shuffle or take work on `order(epoch)` (M,) int64
    instead, so they never touch the samples one by one.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, size: int, order: Callable[[int], np.ndarray]) -> None:
        self.x = x
        self.y = y
        self._size = size
        self._order = order

    def order(self, epoch: int) -> np.ndarray:
        """Sample indices of `epoch`, in the order they are visited; (M,) int64."""
        return self._order(epoch)

    def derive(self, size: int, order: Callable[[int], np.ndarray]) -> SampleStream:
        """The same arrays visited in another order of `size` indices."""
        return SampleStream(self.x, self.y, size, order)

    def __len__(self) -> int:
        return self._size

    def _run(self, epoch: int, position: int) -> Iterator[Pair]:
        # One sample at a time is slow by nature; training should `batch` first.
        for i in self.order(epoch)[position:]:
            yield self.x[i].copy(), self.y[i].copy()


def source(x: np.ndarray, y: np.ndarray) -> SampleStream:
    """A stream over paired arrays x (N, ...) and y (N,) or (N, C), in their stored order."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError("source: x and y need a leading sample axis; pass arrays of shape (N, ...)")
    if len(x) != len(y):
        raise ValueError(f"source: x has {len(x)} rows but y has {len(y)}; give one label row per sample")
    n = len(x)
    return SampleStream(x, y, n, lambda epoch: np.arange(n, dtype=np.int64))


class _Epochs(Stream[T]):
    def __init__(self, make: Callable[[int], Iterable[T]], length: int | None) -> None:
        self._make = make
        self._length = length

    def __len__(self) -> int:
        if self._length is None:
            return super().__len__()
        return self._length

    def _run(self, epoch: int, position: int) -> Iterator[T]:
        # Arbitrary iterables cannot seek, so resuming skips `position` items of the epoch.
        yield from itertools.islice(self._make(epoch), position, None)


def from_epochs(make: Callable[[int], Iterable[T]], length: int | None = None) -> Stream[T]:
    """A stream whose epoch k is `make(k)`; give `length` (items per epoch) if it is known."""
    return _Epochs(make, length)


# ---- index stages: shuffle, batch -------------------------------------------------------------------------


def shuffle(seed: int) -> Stage[Pair, Pair]:
    """Visit samples in a fresh random order each epoch, drawn from (seed, epoch) alone."""
    _check_count("shuffle", "seed", seed, 0)

    def apply(stream: Stream[Pair]) -> Stream[Pair]:
        samples = _need_samples("shuffle", stream)

        def order(epoch: int) -> np.ndarray:
            # Drawn from (seed, epoch) alone: any epoch is reproducible without replaying earlier ones.
            rng = order_rng(seed, epoch)
            upstream = samples.order(epoch)
            return upstream[rng.permutation(len(upstream))]

        return samples.derive(len(samples), order)

    return Stage(f"shuffle({seed})", apply)


class BatchStream(Stream[Pair]):
    """Batches (x_batch (B, ...), y_batch (B,) or (B, C)) gathered from a sample stream's order."""

    def __init__(self, samples: SampleStream, size: int, drop_last: bool, reuse_buffer: bool) -> None:
        self._samples = samples
        self._size = self.batch_size = size
        self._drop_last = drop_last
        self._reuse_buffer = reuse_buffer

    def _count(self, n: int) -> int:
        return n // self._size if self._drop_last else -(-n // self._size)

    def __len__(self) -> int:
        return self._count(len(self._samples))

    def _run(self, epoch: int, position: int) -> Iterator[Pair]:
        x, y, size = self._samples.x, self._samples.y, self._size
        order = self._samples.order(epoch)
        if self._reuse_buffer:
            # Allocated per iteration, not per stage, so two iterations never overwrite each other.
            xbuf = np.empty((size, *x.shape[1:]), dtype=x.dtype)
            ybuf = np.empty((size, *y.shape[1:]), dtype=y.dtype)
        for b in range(position, self._count(len(order))):
            idx = order[b * size : (b + 1) * size]
            if self._reuse_buffer:
                k = len(idx)
                # mode="clip": mode="raise" makes np.take buffer `out`, and idx is in range by construction.
                yield (
                    np.take(x, idx, axis=0, out=xbuf[:k], mode="clip"),
                    np.take(y, idx, axis=0, out=ybuf[:k], mode="clip"),
                )
            else:
                yield np.take(x, idx, axis=0), np.take(y, idx, axis=0)


def batch(size: int, drop_last: bool = False, reuse_buffer: bool = False) -> Stage[Pair, Pair]:
    """Group samples into batches of `size`; the last one is shorter unless `drop_last` drops it.

    With `reuse_buffer=True` every batch is written into the same two arrays: a yielded batch is only
    valid until the next one is requested (copy it to keep it). The default yields fresh arrays.
    """
    _check_count("batch", "size", size, 1)

    def apply(stream: Stream[Pair]) -> Stream[Pair]:
        return BatchStream(_need_samples("batch", stream), size, drop_last, reuse_buffer)

    return Stage(f"batch({size})", apply)


# ---- item stages: map, take, repeat -----------------------------------------------------------------------


class _Mapped(Stream[U]):
    def __init__(self, upstream: Stream[T], fn: Callable[[T], U]) -> None:
        self._upstream = upstream
        self._fn = fn
        self.spans_epochs, self.batch_size = upstream.spans_epochs, upstream.batch_size

    def __len__(self) -> int:
        return len(self._upstream)

    def _epoch_len(self) -> int | None:
        return self._upstream._epoch_len()

    def _items_before(self, epoch: int, position: int) -> int:
        return self._upstream._items_before(epoch, position)

    def _run(self, epoch: int, position: int) -> Iterator[U]:
        for item in self._upstream._run(epoch, position):
            yield self._fn(item)


# Named after the pipes/Haskell stage; it shadows the builtin only inside this module, which never uses it.
def map(fn: Callable[[T], U]) -> Stage[T, U]:
    """Apply `fn` to every item, e.g. normalize or one-hot a batch."""
    return Stage(f"map({getattr(fn, '__name__', 'fn')})", lambda stream: _Mapped(stream, fn))


class _Taken(Stream[T]):
    def __init__(self, upstream: Stream[T], n: int) -> None:
        self._upstream = upstream
        self._n = n
        self.spans_epochs, self.batch_size = upstream.spans_epochs, upstream.batch_size

    def __len__(self) -> int:
        return min(self._n, len(self._upstream))

    def _items_before(self, epoch: int, position: int) -> int:
        return min(self._n, self._upstream._items_before(epoch, position))

    def _run(self, epoch: int, position: int) -> Iterator[T]:
        left = max(0, self._n - self._upstream._items_before(epoch, position))
        # islice stops after `left` items without asking upstream for one more.
        yield from itertools.islice(self._upstream._run(epoch, position), left)


def take(n: int) -> Stage[T, T]:
    """Keep the first `n` items of each epoch (of the whole run after `repeat`); pulls no more than `n`."""
    _check_count("take", "n", n, 0)

    def apply(stream: Stream[T]) -> Stream[T]:
        if isinstance(stream, SampleStream):
            # On arrays, taking is cutting the index order: still no sample is touched.
            samples = stream
            cut: Stream[Any] = samples.derive(min(n, len(samples)), lambda epoch: samples.order(epoch)[:n])
            return cut
        return _Taken(stream, n)

    return Stage(f"take({n})", apply)


class _Repeated(Stream[T]):
    spans_epochs = True

    def __init__(self, upstream: Stream[T], times: int | None) -> None:
        self._upstream = upstream
        self._times = times
        self.batch_size = upstream.batch_size

    def __len__(self) -> int:
        if self._times is None:
            raise TypeError("repeat() without times is infinite and has no length")
        return self._times * len(self._upstream)

    def _epoch_len(self) -> int | None:
        return self._upstream._epoch_len()

    def _items_before(self, epoch: int, position: int) -> int:
        # Epoch 0 needs no length, so take() after an endless repeat() of unknown length still works.
        return position if epoch == 0 else epoch * len(self._upstream) + position

    def _run(self, epoch: int, position: int) -> Iterator[T]:
        epochs = itertools.count(epoch) if self._times is None else range(epoch, self._times)
        for k in epochs:
            yield from self._upstream._run(k, position if k == epoch else 0)


def repeat(times: int | None = None) -> Stage[T, T]:
    """Chain upstream epochs 0, 1, ..., times - 1 (forever if None), each with its own epoch number."""
    if times is not None:
        _check_count("repeat", "times", times, 0)

    def apply(stream: Stream[T]) -> Stream[T]:
        if stream.spans_epochs:
            raise TypeError("repeat: the stream already repeats; use a single repeat(times)")
        return _Repeated(stream, times)

    return Stage(f"repeat({times})", apply)
