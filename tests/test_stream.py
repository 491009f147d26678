"""Tests for gradwise.data.stream: laziness, batching, epochs, resume, determinism."""

import itertools
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradwise.data.stream as gs


def data(n: int, d: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """x row i is [i*d, i*d+1, ...] and y[i] = i, so a gathered batch reveals which samples it holds."""
    x = np.arange(n * d, dtype=np.float64).reshape(n, d)
    return x, np.arange(n, dtype=np.int64)


def ids(batches: Any) -> list[list[int]]:
    """The sample indices of each batch, read back from its labels."""
    return [yb.tolist() for _, yb in batches]


class Counter:
    """An upstream that records how many items were pulled from it."""

    def __init__(self, length: int | None = None) -> None:
        self.pulled = 0
        self.length = length

    def epoch(self, k: int) -> Iterator[tuple[int, int]]:
        for i in itertools.count() if self.length is None else range(self.length):
            self.pulled += 1
            yield (k, i)

    def stream(self) -> gs.Stream[tuple[int, int]]:
        return gs.from_epochs(self.epoch, self.length)


def raises(exc: type[Exception], message: str) -> Any:
    """pytest.raises matching the whole message exactly."""
    return pytest.raises(exc, match=f"^{re.escape(message)}$")


# ---- laziness --------------------------------------------------------------------------------------------


def test_building_a_pipeline_pulls_nothing() -> None:
    counter = Counter()
    orders: list[int] = []

    def order(k: int) -> np.ndarray:
        orders.append(k)
        return np.arange(10)

    x, y = data(10)
    samples = gs.SampleStream(x, y, 10, order)
    batches = samples | gs.shuffle(1) | gs.batch(3) | gs.map(lambda b: b) | gs.repeat(2) | gs.take(5)
    items = counter.stream() | gs.map(lambda item: item) | gs.take(4) | gs.repeat()
    iter(batches), iter(items), batches.start_at(1, 1)
    assert counter.pulled == 0
    assert orders == []


def test_take_pulls_at_most_n() -> None:
    counter = Counter()
    assert list(counter.stream() | gs.take(3)) == [(0, 0), (0, 1), (0, 2)]
    assert counter.pulled == 3


def test_take_zero_pulls_nothing_and_take_ends_an_endless_repeat() -> None:
    counter = Counter()
    assert list(counter.stream() | gs.take(0)) == []
    assert counter.pulled == 0
    finite = Counter(length=2)
    assert list(finite.stream() | gs.repeat() | gs.take(5)) == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]
    assert finite.pulled == 5


def test_batch_gathers_one_batch_at_a_time() -> None:
    x, y = data(10)
    batches = iter(gs.source(x, y) | gs.batch(4))
    xb, yb = next(batches)
    # Only the first batch exists so far; the stream holds an index order, not gathered data.
    assert xb.shape == (4, 2)
    assert yb.tolist() == [0, 1, 2, 3]


# ---- batching and length ---------------------------------------------------------------------------------


def test_batch_sizes_and_drop_last() -> None:
    x, y = data(10)
    # 10 samples in batches of 3: 3 + 3 + 3 + 1, the short one dropped with drop_last.
    assert ids(gs.source(x, y) | gs.batch(3)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert ids(gs.source(x, y) | gs.batch(3, drop_last=True)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert ids(gs.source(x, y) | gs.batch(5, drop_last=True)) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def test_batch_gathers_matching_rows_for_2d_targets() -> None:
    x, _ = data(6, d=3)
    t = np.eye(6, dtype=np.float32)[:, :4]  # (N, C) targets
    for xb, tb in gs.source(x, t) | gs.shuffle(0) | gs.batch(4):
        rows = (xb[:, 0] // 3).astype(int)
        np.testing.assert_array_equal(tb, t[rows])
        assert xb.dtype == x.dtype and tb.dtype == t.dtype


def test_len() -> None:
    x, y = data(10)
    src = gs.source(x, y)
    assert len(src) == 10
    assert len(src | gs.shuffle(0)) == 10
    assert len(src | gs.batch(3)) == 4  # ceil(10 / 3)
    assert len(src | gs.batch(3, drop_last=True)) == 3  # floor(10 / 3)
    assert len(src | gs.batch(3) | gs.map(lambda b: b)) == 4
    assert len(src | gs.batch(3) | gs.take(2)) == 2
    assert len(src | gs.batch(3) | gs.take(9)) == 4
    assert len(src | gs.take(4) | gs.batch(3)) == 2
    assert len(src | gs.batch(3) | gs.repeat(5)) == 20
    for stream in (src | gs.batch(3) | gs.repeat(5), src | gs.take(7), src | gs.batch(4, drop_last=True)):
        assert len(list(stream)) == len(stream)


def test_streams_of_unknown_length_raise_type_error_on_len() -> None:
    x, y = data(10)
    with raises(TypeError, "repeat() without times is infinite and has no length"):
        len(gs.source(x, y) | gs.batch(3) | gs.repeat())
    with raises(TypeError, "_Epochs has no known length"):
        len(Counter().stream() | gs.map(lambda item: item))
    assert len(gs.from_epochs(lambda k: range(3), length=3)) == 3


# ---- shuffle ---------------------------------------------------------------------------------------------


def test_shuffle_is_deterministic_per_seed_and_differs_per_epoch() -> None:
    x, y = data(50)
    shuffled = gs.source(x, y) | gs.shuffle(7)
    again = gs.source(x, y) | gs.shuffle(7)
    np.testing.assert_array_equal(shuffled.order(0), again.order(0))
    assert ids(shuffled | gs.batch(8)) == ids(again | gs.batch(8))
    assert shuffled.order(0).tolist() != shuffled.order(1).tolist()
    assert shuffled.order(0).tolist() != (gs.source(x, y) | gs.shuffle(8)).order(0).tolist()


def test_shuffled_epoch_is_a_permutation() -> None:
    x, y = data(50)
    batches = gs.source(x, y) | gs.shuffle(3) | gs.batch(8)
    for k in range(3):
        seen = sorted(itertools.chain.from_iterable(ids(batches.epoch(k))))
        assert seen == list(range(50))
    assert ids(batches.epoch(0))[0] != list(range(8))


def test_epoch_order_does_not_depend_on_earlier_epochs() -> None:
    x, y = data(30)
    batches = gs.source(x, y) | gs.shuffle(5) | gs.batch(4)
    fresh = ids(batches.epoch(3))
    for k in range(3):
        list(batches.epoch(k))
    assert ids(batches.epoch(3)) == fresh
    # Iterating the same stream twice gives the same epoch: streams hold no hidden state.
    assert ids(batches) == ids(batches) == ids(batches.epoch(0))


def test_shuffle_after_take_stays_within_the_taken_samples() -> None:
    x, y = data(20)
    order = (gs.source(x, y) | gs.take(6) | gs.shuffle(0)).order(0)
    assert sorted(order.tolist()) == list(range(6))


# ---- repeat and start_at ---------------------------------------------------------------------------------


def test_repeat_chains_epochs_each_with_its_own_order() -> None:
    x, y = data(10)
    batches = gs.source(x, y) | gs.shuffle(2) | gs.batch(4)
    expected = ids(batches.epoch(0)) + ids(batches.epoch(1)) + ids(batches.epoch(2))
    order = (gs.source(x, y) | gs.shuffle(2)).order
    assert expected == [order(k)[i : i + 4].tolist() for k in range(3) for i in range(0, 10, 4)]
    assert expected[0:3] != expected[3:6] != expected[6:9]
    assert ids(batches | gs.repeat(3)) == expected
    assert ids(batches | gs.repeat() | gs.take(9)) == expected[:9]
    assert list(batches | gs.repeat(0)) == []


def test_start_at_equals_skipping_within_an_epoch() -> None:
    x, y = data(23)
    batches = gs.source(x, y) | gs.shuffle(4) | gs.batch(5)
    for epoch, position in [(0, 0), (0, 3), (2, 1), (2, 5)]:
        assert ids(batches.start_at(epoch, position)) == ids(batches.epoch(epoch))[position:]
        assert ids(batches.epoch(epoch, start=position)) == ids(batches.epoch(epoch))[position:]


def test_start_at_equals_skipping_across_repeated_epochs() -> None:
    x, y = data(23)
    repeated = gs.source(x, y) | gs.shuffle(4) | gs.batch(5) | gs.map(lambda b: b) | gs.repeat(4)
    whole = ids(repeated)
    for epoch, position in [(0, 2), (1, 0), (2, 3), (3, 5)]:
        assert ids(repeated.start_at(epoch, position)) == whole[epoch * 5 + position :]


def test_start_at_with_take_after_repeat_counts_from_the_first_epoch() -> None:
    x, y = data(10)
    limited = gs.source(x, y) | gs.shuffle(1) | gs.batch(4) | gs.repeat() | gs.take(8)
    whole = ids(limited)
    assert len(whole) == 8
    assert ids(limited.start_at(1, 1)) == whole[3 + 1 :]
    assert ids(limited.start_at(2, 2)) == whole[8:] == []


def test_start_at_on_a_generic_stream_skips_items() -> None:
    counter = Counter(length=5)
    assert list(counter.stream().start_at(2, 3)) == [(2, 3), (2, 4)]
    resumed = (counter.stream() | gs.repeat(3)).start_at(1, 4)
    assert list(resumed) == [(1, 4), (2, 0), (2, 1), (2, 2), (2, 3), (2, 4)]


def test_start_at_bad_coordinates() -> None:
    x, y = data(10)
    batches = gs.source(x, y) | gs.batch(3)
    with raises(ValueError, "start_at: epoch and position must be >= 0, got (-1, 0)"):
        batches.start_at(-1, 0)
    with raises(
        ValueError,
        "start_at: position 5 is past the end of an epoch of 4 items; "
        "check that the batch size matches the checkpoint",
    ):
        (batches | gs.repeat()).start_at(1, 5)
    assert list(batches.start_at(0, 4)) == []  # a checkpoint taken at the end of an epoch
    with raises(ValueError, "start_at: apply it to the finished pipeline; call it after the last stage"):
        batches.start_at(1, 1) | gs.repeat()


# ---- map, operators, per-sample iteration ----------------------------------------------------------------


def test_map_applies_to_every_batch() -> None:
    x, y = data(10)
    one_hot = gs.map(lambda b: (b[0] / 10.0, np.eye(10)[b[1]]))
    batches = list(gs.source(x, y) | gs.batch(4) | one_hot)
    assert [tb.shape for _, tb in batches] == [(4, 10), (4, 10), (2, 10)]
    np.testing.assert_array_equal(batches[2][0], x[8:] / 10.0)
    np.testing.assert_array_equal(batches[2][1].argmax(axis=1), [8, 9])


def test_operator_pipeline_and_stage_composition_agree() -> None:
    x, y = data(17)
    by_operator = gs.source(x, y) | gs.shuffle(9) | gs.take(13) | gs.batch(4) | gs.repeat(2)
    by_function = gs.pipeline(gs.source(x, y), gs.shuffle(9), gs.take(13), gs.batch(4), gs.repeat(2))
    by_stage = gs.source(x, y) | (gs.shuffle(9) | gs.take(13) | gs.batch(4) | gs.repeat(2))
    assert ids(by_operator) == ids(by_function) == ids(by_stage)
    assert len(ids(by_operator)) == 8
    assert repr(gs.shuffle(9) | gs.batch(4)) == "Stage(shuffle(9) | batch(4))"


def test_source_alone_yields_copied_samples() -> None:
    x, y = data(3)
    samples = list(gs.source(x, y) | gs.shuffle(0))
    assert sorted(int(s[1]) for s in samples) == [0, 1, 2]
    samples[0][0][:] = -1.0
    assert (x >= 0).all()


# ---- buffer reuse ----------------------------------------------------------------------------------------


def test_default_batches_are_independent_copies() -> None:
    x, y = data(10)
    batches = list(gs.source(x, y) | gs.shuffle(0) | gs.batch(4))
    assert not np.shares_memory(batches[0][0], batches[1][0])
    assert not np.shares_memory(batches[0][0], x)


def test_reused_buffer_is_overwritten_by_the_next_batch() -> None:
    x, y = data(10)
    safe = [(xb.copy(), yb.copy()) for xb, yb in gs.source(x, y) | gs.shuffle(0) | gs.batch(4)]
    reused = iter(gs.source(x, y) | gs.shuffle(0) | gs.batch(4, reuse_buffer=True))
    first = next(reused)
    np.testing.assert_array_equal(first[0], safe[0][0])
    second = next(reused)
    # The first batch now shows the second's data: it was valid only until the next request.
    assert np.shares_memory(first[0], second[0]) and np.shares_memory(first[1], second[1])
    np.testing.assert_array_equal(first[0], safe[1][0])
    last = next(reused)
    assert last[0].shape == (2, 2)
    np.testing.assert_array_equal(last[0], safe[2][0])
    np.testing.assert_array_equal(last[1], safe[2][1])


# ---- bad input -------------------------------------------------------------------------------------------


def test_bad_input_messages() -> None:
    x, y = data(5)
    with raises(ValueError, "source: x has 5 rows but y has 4; give one label row per sample"):
        gs.source(x, y[:4])
    with raises(ValueError, "source: x and y need a leading sample axis; pass arrays of shape (N, ...)"):
        gs.source(np.float64(1.0), y)
    with raises(ValueError, "batch: size must be an integer >= 1, got 0"):
        gs.batch(0)
    with raises(ValueError, "shuffle: seed must be an integer >= 0, got -1"):
        gs.shuffle(-1)
    with raises(ValueError, "take: n must be an integer >= 0, got 2.5"):
        gs.take(2.5)
    with raises(ValueError, "repeat: times must be an integer >= 0, got True"):
        gs.repeat(True)
    with raises(
        TypeError,
        "batch: needs a sample stream from source(x, y), got _Mapped; put batch before map and repeat",
    ):
        gs.source(x, y) | gs.map(lambda s: s) | gs.batch(2)
    with raises(TypeError, "repeat: the stream already repeats; use a single repeat(times)"):
        gs.source(x, y) | gs.batch(2) | gs.repeat(2) | gs.repeat(2)


# ---- every sample exactly once ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 200),
    size=st.integers(1, 64),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
    epoch=st.integers(0, 1000),
)
def test_every_sample_once_per_epoch(n: int, size: int, drop_last: bool, seed: int, epoch: int) -> None:
    x, y = data(n)
    batches = gs.source(x, y) | gs.shuffle(seed) | gs.batch(size, drop_last=drop_last)
    got = list(batches.epoch(epoch))
    assert len(got) == len(batches) == (n // size if drop_last else -(-n // size))
    assert all(len(yb) == size for _, yb in got[:-1])
    seen = [i for _, yb in got for i in yb.tolist()]
    assert len(seen) == len(set(seen)) == (n - n % size if drop_last else n)
    for xb, yb in got:
        np.testing.assert_array_equal(xb, x[yb])
