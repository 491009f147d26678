"""Optimizer state stuck at subnormal numbers is flushed to zero, which slows nothing and changes no weight."""

import numpy as np
import pytest

import gradwise as gw
from gradwise.optim.subnormal import FLUSH_EVERY, flush_subnormals
from gradwise.train.loop import Run

TINY32 = np.finfo(np.float32).tiny


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_only_subnormals_become_zero_and_keep_their_sign(dtype):
    tiny = np.finfo(dtype).tiny
    values = np.array([tiny / 4, -tiny / 4, tiny, -tiny, 1.5, -2.0, 0.0, -0.0, np.inf, -np.inf, np.nan], dtype)
    before = values.copy()
    flush_subnormals({"m": values})
    assert values[0] == 0 and not np.signbit(values[0])
    assert values[1] == 0 and np.signbit(values[1])
    np.testing.assert_array_equal(values[2:], before[2:])  # normals, zeros, infinities and NaN as they were
    assert np.signbit(values[7])


def test_integer_and_read_only_arrays_are_left_alone():
    step = np.array([3], np.int64)
    frozen = np.full(4, TINY32 / 8, np.float32)
    frozen.flags.writeable = False
    flush_subnormals({"step": step, "frozen": frozen})
    assert step[0] == 3 and (frozen == TINY32 / 8).all()


def _dead_unit_run(momentum_of_dead: float) -> tuple[gw.Network, dict[str, np.ndarray]]:
    """A 6-8-3 ReLU network whose units 0-3 never fire (bias -1000), their momentum set to ``momentum_of_dead``:
    what a unit that learned and then died leaves behind. Trained for 2 * FLUSH_EVERY steps at batch 1."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 6), dtype=np.float32)
    t = gw.one_hot(rng.integers(0, 3, 64), 3)
    net = gw.mlp([6, 8, 3], "relu", "softmax", rng=1)
    net.params["0.b"][:4] = -1000
    optimizer = gw.optim.momentum(0.01, 0.9)
    run = Run(optimizer.init(net.params))
    run.opt_state["0/momentum/0.W"][:, :4] = momentum_of_dead
    stream = gw.source(x, t) | gw.batch(1)
    gw.fit(net, "ce", optimizer, stream, gw.max_steps(2 * FLUSH_EVERY), run=run, progress=False)
    return net, run.opt_state


def test_a_dead_units_momentum_ends_at_zero_instead_of_stuck_subnormal():
    """0.9 x rounds back to x for the smallest subnormals: without a flush these stay for the rest of the run."""
    _, state = _dead_unit_run(1e-30)
    dead = state["0/momentum/0.W"][:, :4]
    assert (dead == 0).all(), f"{np.count_nonzero(dead)} entries stuck at {dead[dead != 0][:3]}"
    live = state["0/momentum/0.W"][:, 4:]
    assert np.all((live == 0) | (np.abs(live) >= TINY32))


def test_flushing_changes_no_weight():
    flushed, _ = _dead_unit_run(1e-30)
    never_moving, _ = _dead_unit_run(0.0)
    for name, value in flushed.params.items():
        np.testing.assert_array_equal(value, never_moving.params[name], err_msg=name)
